//! Turning a [`TableSpec`] and a record into tables: rows and columns found, every cell read in
//! each run from that run's points alone, and whatever the record lacks named as missing.

use std::collections::BTreeSet;

use super::Table;
use super::cell::Cell;
use super::read::{CellReading, Keys, missing_point, read_cell};
use super::spec::{Column, Each, Header, Rows, TableSpec};
use super::templates::{COL, EACH, ROW, fill, keys_fitting, natural_order};
use crate::across_runs::{AcrossRuns, Reading};
use crate::format;
use crate::labels;
use crate::record::Record;
use crate::run::Point;

/// The tables `spec` makes from `record`: one, or one per key of its family. `shown` is every
/// group that some table of the book shows.
pub fn make_tables(spec: &TableSpec, record: &Record, shown: &BTreeSet<&str>) -> Vec<Table> {
    let ids: BTreeSet<&str> = record
        .every_point()
        .map(|point| point.id.as_str())
        .collect();
    let each_keys: Vec<Option<String>> = match spec.each {
        None => vec![None],
        Some(Each::Found(template)) => {
            let mut keys = keys_fitting(template, EACH, ids.iter().copied());
            keys.sort_by_key(|key| labels::book_order(key));
            keys.into_iter().map(Some).collect()
        }
        Some(Each::OtherGroup) => record
            .every_point()
            .map(|point| point.group.as_str())
            .filter(|group| !shown.contains(group))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .map(|group| Some(group.to_owned()))
            .collect(),
    };
    each_keys
        .iter()
        .map(|each| make_table(spec, record, &ids, each.as_deref()))
        .collect()
}

/// One column of a table once its header's keys are found.
struct Placed<'a> {
    header: String,
    column: &'a Column,
    key: Option<String>,
}

/// One table: its rows and columns placed, its cells read, the rows and columns without a figure
/// left out and named as missing.
fn make_table(
    spec: &TableSpec,
    record: &Record,
    ids: &BTreeSet<&str>,
    each: Option<&str>,
) -> Table {
    let rows = row_keys(spec.rows, record, ids, each);
    let columns = place_columns(spec.columns, &rows, ids, each);
    let cells = read_cells(record, &rows, &columns, each);
    let is_figure = |reading: &CellReading| matches!(reading.cell, Cell::Figure(_));
    let keep_row: Vec<bool> = cells
        .iter()
        .map(|line| line.iter().any(is_figure))
        .collect();
    let keep_column: Vec<bool> = (0..columns.len())
        .map(|index| {
            cells
                .iter()
                .zip(&keep_row)
                .filter(|(_, keep)| **keep)
                .any(|(line, _)| matches!(line[index].cell, Cell::Figure(_) | Cell::Text(_)))
        })
        .collect();
    // A dash in a grid whose rows or columns are found is a point the bench does not measure
    // (a sparse grid); a dash where both are fixed is a point the table expects.
    let rows_fixed = matches!(spec.rows, Rows::Fixed(_));
    let mut missing = Vec::new();
    let mut shown_rows = Vec::new();
    for ((line, keep), (key, label)) in cells.into_iter().zip(&keep_row).zip(&rows) {
        if !keep {
            missing.extend(missing_row(&columns, each, key, line));
            continue;
        }
        let mut shown = vec![Cell::Text(label.clone())];
        for ((reading, keep), placed) in line.into_iter().zip(&keep_column).zip(&columns) {
            missing.extend(reading.partial);
            let expected = rows_fixed && matches!(placed.column.header, Header::Fixed(_));
            if !*keep || expected {
                missing.extend(reading.absent);
            }
            if *keep {
                shown.push(reading.cell);
            }
        }
        shown_rows.push(shown);
    }
    let idle_workers = idle_worker_count(record);
    let each_label = each
        .map(labels::short_label)
        .unwrap_or_default()
        .replace('`', "");
    let fill_names = |text: &str| {
        text.replace("{each label}", &each_label)
            .replace("{idle workers}", &idle_workers)
            .replace(EACH, each.unwrap_or_default())
    };
    let mut headers = vec![fill_names(spec.corner)];
    headers.extend(
        columns
            .iter()
            .zip(&keep_column)
            .filter(|(_, keep)| **keep)
            .map(|(placed, _)| placed.header.clone()),
    );
    let mut unique = BTreeSet::new();
    missing.retain(|line| unique.insert(line.clone()));
    Table {
        name: fill_names(spec.name),
        title: fill_names(spec.title),
        headers,
        rows: shown_rows,
        missing,
    }
}

/// Every cell of the grid, row by row: a dash where the column does not apply to the row.
fn read_cells(
    record: &Record,
    rows: &[(String, String)],
    columns: &[Placed<'_>],
    each: Option<&str>,
) -> Vec<Vec<CellReading>> {
    let mut cells = Vec::new();
    for (index, (key, _)) in rows.iter().enumerate() {
        let above = index.checked_sub(1).map(|above| rows[above].0.as_str());
        let line = columns
            .iter()
            .map(|placed| {
                let applies = placed
                    .column
                    .only
                    .is_none_or(|prefixes| prefixes.iter().any(|prefix| key.starts_with(prefix)));
                if !applies {
                    return CellReading::of(Cell::Dash);
                }
                let keys = Keys {
                    each,
                    row: key,
                    above,
                    col: placed.key.as_deref(),
                };
                read_cell(placed.column.value, record, &keys)
            })
            .collect();
        cells.push(line);
    }
    cells
}

/// A row the record has no figure for is named once, by its points with `*` for a found
/// column's key, rather than cell by cell.
fn missing_row(
    columns: &[Placed<'_>],
    each: Option<&str>,
    row: &str,
    line: Vec<CellReading>,
) -> Vec<String> {
    let mut lines = Vec::new();
    for (placed, reading) in columns.iter().zip(line) {
        match placed.column.value.templates().first() {
            Some(template) => {
                let col = match placed.column.header {
                    Header::Found(_) => Some("*"),
                    Header::Fixed(_) => None,
                };
                lines.push(missing_point(&fill(template, each, Some(row), col)));
            }
            None => lines.extend(reading.absent),
        }
    }
    lines
}

/// The rows' keys and labels.
fn row_keys(
    rows: Rows,
    record: &Record,
    ids: &BTreeSet<&str>,
    each: Option<&str>,
) -> Vec<(String, String)> {
    match rows {
        Rows::Fixed(fixed) => fixed
            .iter()
            .map(|(key, label)| ((*key).to_owned(), (*label).to_owned()))
            .collect(),
        Rows::Found { template, label } => {
            keys_fitting(&fill(template, each, None, None), ROW, ids.iter().copied())
                .into_iter()
                .map(|key| {
                    let text = label(&key);
                    (key, text)
                })
                .collect()
        }
        Rows::ByTime { group, label } => {
            let group = fill(group, each, None, None);
            let points: Vec<&Point> = record
                .every_point()
                .filter(|point| point.group == group)
                .collect();
            let most_common = labels::most_common_job_count(points.iter().copied());
            let mut keys: Vec<(f64, String, String)> = Vec::new();
            for point in &points {
                let key = point
                    .id
                    .strip_prefix(&format!("{group}/"))
                    .unwrap_or(&point.id);
                if keys.iter().any(|(_, known, _)| known == key) {
                    continue;
                }
                let per_job: Vec<Reading> = record
                    .point_in_each_run(&point.id)
                    .flatten()
                    .map(|point| Reading::exact(point.per_job()))
                    .collect();
                let median = AcrossRuns::of(&per_job).map_or(f64::INFINITY, |runs| runs.median);
                let mut text = label(key);
                if let Some(note) = labels::unusual_job_count(point, most_common) {
                    text.push_str(&format!(", {note}"));
                }
                keys.push((median, key.to_owned(), text));
            }
            keys.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| natural_order(&a.1, &b.1)));
            keys.into_iter().map(|(_, key, text)| (key, text)).collect()
        }
    }
}

/// The columns, a found header's made one per key that some row's template fits.
fn place_columns<'a>(
    columns: &'a [Column],
    rows: &[(String, String)],
    ids: &BTreeSet<&str>,
    each: Option<&str>,
) -> Vec<Placed<'a>> {
    let mut placed = Vec::new();
    for column in columns {
        match column.header {
            Header::Fixed(header) => placed.push(Placed {
                header: header.to_owned(),
                column,
                key: None,
            }),
            Header::Found(label) => {
                let Some(template) = column.value.templates().first().copied() else {
                    continue;
                };
                let mut keys: Vec<String> = rows
                    .iter()
                    .flat_map(|(row, _)| {
                        keys_fitting(
                            &fill(template, each, Some(row), None),
                            COL,
                            ids.iter().copied(),
                        )
                    })
                    .collect();
                keys.sort_by(|a, b| natural_order(a, b));
                keys.dedup();
                placed.extend(keys.into_iter().map(|key| Placed {
                    header: label(&key),
                    column,
                    key: Some(key),
                }));
            }
        }
    }
    placed
}

/// How many idle workers the probes started: "10 000", or "N" if the runs started different
/// numbers.
fn idle_worker_count(record: &Record) -> String {
    let counts: BTreeSet<u64> = record
        .runs
        .iter()
        .flat_map(|run| &run.idle_workers)
        .map(|idle| idle.workers)
        .collect();
    match counts.iter().collect::<Vec<_>>().as_slice() {
        [one] => format::group_thousands(&one.to_string()),
        _ => "N".to_owned(),
    }
}
