//! The book's benchmark tables: every one described as data in [`BOOK_TABLES`], in the
//! table language of `spec.rs`, and made from the record by one mechanism (`evaluate.rs`). A
//! figure is read in each run from that run's points alone (a ratio's two points always from the
//! same run), then written as the median across the runs, with their range where they disagree
//! (see [`crate::across_runs`]). A point the record does not have is named as missing, never
//! made up.

mod book;
mod cell;
mod evaluate;
mod read;
mod spec;
mod templates;

use std::collections::BTreeSet;

pub use book::BOOK_TABLES;
pub use cell::{Cell, Figure, Quantity, Spread};

use crate::record::Record;
use crate::render::RENDERED_NOTICE;

/// A table ready to print or to write as markdown.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The file stem under `book/src/record/` (`side-by-side` for `side-by-side.md`).
    pub name: String,
    /// What the table shows, for the terminal (the chapter has its own sentence).
    pub title: String,
    /// Column headers.
    pub headers: Vec<String>,
    /// The cells, row by row, the row's label first.
    pub rows: Vec<Vec<Cell>>,
    /// What this table would show and the record does not have.
    pub missing: Vec<String>,
}

impl Table {
    /// A markdown table under the rendered-file notice, ranges across runs under their figures,
    /// and a line that says what the small figures are where the table has any.
    pub fn to_markdown(&self, runs: usize) -> String {
        let mut text = format!("{RENDERED_NOTICE}\n\n");
        let line = |cells: &[String]| format!("| {} |\n", cells.join(" | "));
        text.push_str(&line(&self.headers));
        text.push_str(&format!("|{}\n", "---|".repeat(self.headers.len())));
        for row in &self.rows {
            let cells: Vec<String> = row
                .iter()
                .map(|cell| cell.to_markdown(Spread::AcrossRuns))
                .collect();
            text.push_str(&line(&cells));
        }
        if self.has_ranges(Spread::AcrossRuns) {
            text.push_str(&format!(
                "\nEach figure is the median of {runs} runs; under it, where the runs disagree by \
                 more than one run's own noise (criterion's 95% confidence interval), the lowest \
                 and the highest of them.\n"
            ));
        }
        text
    }

    /// Columns padded to line up in a terminal, code marks dropped.
    pub fn to_text(&self, spread: Spread) -> String {
        let plain = |cell: &Cell| cell.to_text(spread).replace('`', "");
        let headers: Vec<String> = self
            .headers
            .iter()
            .map(|header| header.replace('`', ""))
            .collect();
        let rows: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|row| row.iter().map(plain).collect())
            .collect();
        let mut widths = vec![0; headers.len()];
        for row in std::iter::once(&headers).chain(&rows) {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let mut text = format!("{}\n", self.title);
        for row in std::iter::once(&headers).chain(&rows) {
            let cells: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(cell, width)| {
                    let pad = width.saturating_sub(cell.chars().count());
                    format!("{cell}{}", " ".repeat(pad))
                })
                .collect();
            text.push_str(&format!("  {}\n", cells.join("  ").trim_end()));
        }
        text
    }

    /// Whether any figure shows a range.
    fn has_ranges(&self, spread: Spread) -> bool {
        self.figures()
            .any(|figure| figure.range_text(spread).is_some())
    }

    /// Every figure of the table.
    pub fn figures(&self) -> impl Iterator<Item = &Figure> {
        self.rows.iter().flatten().filter_map(|cell| match cell {
            Cell::Figure(figure) => Some(figure),
            _ => None,
        })
    }
}

/// The groups that some table of the book shows by name; any other group gets a table of its
/// own.
fn shown_groups() -> BTreeSet<&'static str> {
    BOOK_TABLES.iter().flat_map(|spec| spec.groups()).collect()
}

/// Every table, with those the record has no row for kept for what they name as missing.
fn every_table(record: &Record) -> Vec<Table> {
    let shown = shown_groups();
    BOOK_TABLES
        .iter()
        .flat_map(|spec| evaluate::make_tables(spec, record, &shown))
        .collect()
}

/// Every table the record can fill, in the book's order.
pub fn tables(record: &Record) -> Vec<Table> {
    every_table(record)
        .into_iter()
        .filter(|table| !table.rows.is_empty())
        .collect()
}

/// Everything the tables would show and the record lacks, each named once, and the whole groups
/// the record has no point of.
pub fn missing(record: &Record) -> Vec<String> {
    let mut seen = BTreeSet::new();
    // Without a single hand-off probe, the probes are named once rather than setup by setup.
    let no_handoff = record.runs.iter().all(|run| run.handoff.is_empty());
    let mut lines: Vec<String> = every_table(record)
        .into_iter()
        .flat_map(|table| table.missing)
        .filter(|line| !(no_handoff && line.starts_with("handoff/")))
        .filter(|line| seen.insert(line.clone()))
        .collect();
    if no_handoff {
        lines.push(format!(
            "handoff/* (the hand-off probes; target/bench-extra/{}: run scripts/compare-with-go.sh)",
            crate::probes::HANDOFF_FILE
        ));
    }
    for (group, hint) in [
        ("side-by-side", "run `cargo bench`"),
        ("reference", "run `cargo bench`"),
        ("job-cost", "run `cargo bench`"),
        ("http", "run `cargo bench`"),
        (
            "distributed",
            "install redis-server and run `cargo bench -p stage-6-distributed`",
        ),
        ("cancellation", "run `cargo bench`"),
    ] {
        if !record.has_group(group) {
            lines.push(format!("{group}/* (the whole group; {hint})"));
        }
    }
    lines
}
