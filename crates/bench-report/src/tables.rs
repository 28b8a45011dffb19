//! The book's benchmark tables, as data: which points each table shows, in which rows and
//! columns, under which labels. Adding a contender, a column or a whole table is an entry in one
//! of the lists below; a point the record does not have is named as missing, never made up.

use std::collections::BTreeSet;

use crate::format;
use crate::record::{IDLE_SHAPES, Point, Record};

/// A table ready to print or to write as markdown.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The file stem under `book/src/record/` (`side-by-side` for `side-by-side.md`).
    pub name: String,
    /// What the table shows, for the terminal (the chapter has its own sentence).
    pub title: String,
    /// Column headers.
    pub headers: Vec<String>,
    /// The cells, row by row.
    pub rows: Vec<Vec<String>>,
    /// The points (or figures) this table would show and the record does not have.
    pub missing: Vec<String>,
}

impl Table {
    /// A markdown table, with a comment that says where it comes from.
    pub fn to_markdown(&self) -> String {
        let mut text = String::from(
            "<!-- Rendered from record/run.json by `cargo run -p bench-report -- render`; \
             do not edit. -->\n\n",
        );
        let line = |cells: &[String]| format!("| {} |\n", cells.join(" | "));
        text.push_str(&line(&self.headers));
        text.push_str(&format!("|{}\n", "---|".repeat(self.headers.len())));
        for row in &self.rows {
            text.push_str(&line(row));
        }
        text
    }

    /// Columns padded to line up in a terminal, code marks dropped.
    pub fn to_text(&self) -> String {
        let plain = |cell: &String| cell.replace('`', "");
        let mut widths = vec![0; self.headers.len()];
        for row in std::iter::once(&self.headers).chain(&self.rows) {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(plain(cell).chars().count());
            }
        }
        let mut text = format!("{}\n", self.title);
        for row in std::iter::once(&self.headers).chain(&self.rows) {
            let cells: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(cell, width)| {
                    let cell = plain(cell);
                    let pad = width.saturating_sub(cell.chars().count());
                    format!("{cell}{}", " ".repeat(pad))
                })
                .collect();
            text.push_str(&format!("  {}\n", cells.join("  ").trim_end()));
        }
        text
    }
}

/// A contender's id in the benches, its label in a list, and its label in a grid's header.
const CONTENDERS: &[(&str, &str, &str)] = &[
    ("stage-1-basic", "stage 1", "stage 1"),
    ("stage-2-metadata", "stage 2", "stage 2"),
    ("stage-3-cancel", "stage 3", "stage 3"),
    ("stage-4-fixed", "stage 4, fixed size", "stage 4, fixed"),
    (
        "stage-4-autoscaled",
        "stage 4, autoscaled",
        "stage 4, autoscaled",
    ),
    ("stage-5-http", "stage 5 (tokio tasks)", "stage 5"),
    ("fast-pool", "the tuned pool (`fast-pool`)", "tuned pool"),
    (
        "fast-pool-step-1-batched-jobs",
        "tuned pool, step 1: batches of jobs",
        "tuned pool, step 1",
    ),
    (
        "fast-pool-step-2-local-results",
        "tuned pool, step 2: outputs kept per worker",
        "tuned pool, step 2",
    ),
    (
        "peer-sequential",
        "a plain loop, no threads (`peers::sequential`)",
        "plain loop",
    ),
    (
        "peer-rayon-par-iter",
        "rayon, `par_iter` (`peers::rayon_par_iter`)",
        "rayon `par_iter`",
    ),
    (
        "peer-rayon-spawn",
        "rayon, a `spawn` per job (`peers::rayon_spawn_per_job`)",
        "rayon `spawn`",
    ),
    (
        "peer-thread-per-job",
        "a thread per job (`peers::thread_per_job`)",
        "thread per job",
    ),
    (
        "peer-mpsc-mutex",
        "`std::sync::mpsc` + `Arc<Mutex<Receiver>>` (`peers::mpsc_mutex_pool`)",
        "`mpsc` + `Mutex`",
    ),
    ("go-reference", "the Go program (`go-reference`)", "Go"),
    (
        "go-http-client",
        "the Go HTTP client (`go-reference -http-client`)",
        "Go client",
    ),
    (
        "go-tuned",
        "the Go program, tuned (`go-tuned`)",
        "Go, tuned",
    ),
];

/// A contender's label in a list; an id the list above does not know shows as code.
pub fn long_label(contender: &str) -> String {
    CONTENDERS
        .iter()
        .find(|(id, _, _)| *id == contender)
        .map_or_else(
            || format!("`{contender}`"),
            |(_, long, _)| (*long).to_owned(),
        )
}

/// A contender's short label, for grids and the chart.
pub fn short_label(contender: &str) -> String {
    CONTENDERS
        .iter()
        .find(|(id, _, _)| *id == contender)
        .map_or_else(
            || format!("`{contender}`"),
            |(_, _, short)| (*short).to_owned(),
        )
}

/// Why a point may be missing, for the line that names it.
fn missing_point(id: &str) -> String {
    let hint = if id.contains("go-") {
        "Go not installed? run scripts/compare-with-go.sh"
    } else {
        "not in this run: run `cargo bench`"
    };
    format!("{id} ({hint})")
}

/// The contenders whose Go counterpart is the tuned Go program: like is compared with like.
const TUNED: &[&str] = &["fast-pool", "go-tuned"];

/// A column of a list table, computed from the row's point.
#[derive(Debug, Clone, Copy)]
enum Column {
    /// The median time per job.
    PerJob(&'static str),
    /// The median time per run (all of a run's jobs).
    PerRun(&'static str),
    /// The fastest sample, per job.
    Fastest(&'static str),
    /// The slowest sample, per job.
    Slowest(&'static str),
    /// How many times faster or slower than `baseline` (a full point id), per job. With
    /// `only`, just for contenders whose id starts with one of those (like against like).
    Versus {
        header: &'static str,
        baseline: &'static str,
        only: Option<&'static [&'static str]>,
    },
    /// The difference per job from the row above.
    ChangeFromAbove(&'static str),
    /// Jobs (requests) a second.
    PerSecond(&'static str),
    /// Jobs (requests) a second of another point, `baseline`, beside the row's own: in the rows
    /// whose key starts with one of `only`.
    PerSecondOf {
        header: &'static str,
        baseline: &'static str,
        only: &'static [&'static str],
    },
    /// The row's jobs a second as a share of another point's, `baseline`: how close the row
    /// comes to a ceiling measured in the same run.
    ShareOf {
        header: &'static str,
        baseline: &'static str,
    },
    /// The ideal time of a run of a route of the `http` group, and the share of it the median
    /// reached: (route, latency in ns, workers).
    Ideal(&'static [(&'static str, f64, u64)]),
    /// The row's note (what a stage adds).
    Note(&'static str),
}

/// Where a list table's rows come from.
#[derive(Debug, Clone, Copy)]
enum Rows {
    /// Every point of a group, fastest first, each under its contender's label.
    GroupByTime(&'static str),
    /// These points, in this order: (full id, label, note).
    Fixed(&'static [(&'static str, &'static str, &'static str)]),
    /// Every point whose id fits the template, `{row}` standing for the part that varies,
    /// numbers in numeric order, each labelled by the function.
    Matching(&'static str, fn(&str) -> String),
}

/// A table with a row per point.
struct ListTable {
    name: &'static str,
    title: &'static str,
    label_header: &'static str,
    rows: Rows,
    columns: &'static [Column],
}

/// One axis of a grid: fixed (label, key) pairs, or the keys found in the record.
#[derive(Debug, Clone, Copy)]
enum Axis {
    Fixed(&'static [(&'static str, &'static str)]),
    Found(fn(&str) -> String),
}

/// A table with a point per cell: the id is `template` with `{row}` and then `{col}` replaced
/// by the keys (a row key may itself hold `{col}`).
struct GridTable {
    name: &'static str,
    title: &'static str,
    corner: &'static str,
    template: &'static str,
    rows: Axis,
    columns: Axis,
}

fn work_per_job(nanos: &str) -> String {
    match nanos.parse::<f64>() {
        Ok(0.0) => "0".to_owned(),
        Ok(nanos) => format::duration(nanos),
        Err(_) => nanos.to_owned(),
    }
}

fn queue_column(key: &str) -> String {
    format!("Q = {key}")
}

fn workers_column(key: &str) -> String {
    format!("W = {key}")
}

fn workers_row(key: &str) -> String {
    match key {
        "1" => "1 worker".to_owned(),
        _ => format!("{key} workers"),
    }
}

fn route_row(key: &str) -> String {
    match key {
        "no-latency" => "a route that answers at once".to_owned(),
        "20ms-latency" => "a route that takes 20 ms".to_owned(),
        _ => format!("`{key}`"),
    }
}

const SIDE_BY_SIDE_BASELINE: &str = "side-by-side/stage-1-basic";

/// The ratios a side-by-side row is read by: against stage 1, against the article's design in
/// Go, and, for the tuned pool and its steps only, against the same design in Go.
const SIDE_BY_SIDE_RATIOS: [Column; 3] = [
    Column::Versus {
        header: "vs stage 1",
        baseline: SIDE_BY_SIDE_BASELINE,
        only: None,
    },
    Column::Versus {
        header: "vs Go",
        baseline: "side-by-side/go-reference",
        only: None,
    },
    Column::Versus {
        header: "vs Go, tuned",
        baseline: "side-by-side/go-tuned",
        only: Some(TUNED),
    },
];

/// The tables with a row per point.
const LISTS: &[ListTable] = &[
    ListTable {
        name: "side-by-side",
        title: "side-by-side: W = 2, Q = 100, N = 1 000 000 (a thread per job: N = 10 000), per job",
        label_header: "what",
        rows: Rows::GroupByTime("side-by-side"),
        columns: &[
            Column::PerJob("per job"),
            SIDE_BY_SIDE_RATIOS[0],
            SIDE_BY_SIDE_RATIOS[1],
            SIDE_BY_SIDE_RATIOS[2],
        ],
    },
    ListTable {
        name: "fast-pool-steps",
        title: "the tuned pool step by step (side-by-side group), per job",
        label_header: "",
        rows: Rows::Fixed(&[
            ("side-by-side/stage-1-basic", "stage 1", ""),
            (
                "side-by-side/fast-pool-step-1-batched-jobs",
                "step 1: batches of jobs",
                "",
            ),
            (
                "side-by-side/fast-pool-step-2-local-results",
                "step 2: outputs kept per worker",
                "",
            ),
            (
                "side-by-side/fast-pool",
                "step 3: workers serve themselves (`fast_pool::run_pool`)",
                "",
            ),
            ("side-by-side/go-reference", "Go", ""),
            ("side-by-side/go-tuned", "Go, tuned", ""),
        ]),
        columns: &[
            Column::PerJob("per job (median)"),
            Column::Fastest("fastest sample"),
            Column::Slowest("slowest sample"),
            SIDE_BY_SIDE_RATIOS[0],
            SIDE_BY_SIDE_RATIOS[1],
            SIDE_BY_SIDE_RATIOS[2],
        ],
    },
    ListTable {
        name: "stage-costs",
        title: "what each stage's features cost (reference group, W = 2, Q = 100), per job",
        label_header: "stage",
        rows: Rows::Fixed(&[
            ("reference/stage-1-basic/W2/Q100", "1", ""),
            (
                "reference/stage-2-metadata/W2/Q100",
                "2",
                "a clock read and a `JobResult` with the worker's id instead of a bare number",
            ),
            (
                "reference/stage-3-cancel/W2/Q100",
                "3",
                "a cancellation check, `catch_unwind` around the work, an `Outcome` per job",
            ),
            (
                "reference/stage-4-fixed/W2/Q100",
                "4, fixed size",
                "a queued-at stamp, a second clock read, two durations recorded per worker",
            ),
            (
                "reference/stage-4-autoscaled/W2/Q100",
                "4, autoscaled",
                "an autoscaler thread looking at the pool every millisecond",
            ),
            (
                "reference/stage-5-http/W2/Q100",
                "5",
                "an async mutex, a task per job (to catch panics), tokio's scheduler",
            ),
        ]),
        columns: &[
            Column::PerJob("per job"),
            Column::ChangeFromAbove("vs the row above"),
            Column::Note("what it adds per job"),
        ],
    },
    ListTable {
        name: "http",
        title: "http: stage 5, 64 workers, demo server on loopback; a run is 20 000 requests to \
                the route that answers at once, 2 000 to the one that takes 20 ms",
        label_header: "route",
        rows: Rows::Matching("http/stage-5-http/{row}", route_row),
        columns: &[
            Column::PerRun("per run"),
            Column::PerJob("per request"),
            Column::PerSecond("requests a second"),
            // benches/pools.rs: the Go client, on the same server, at the route with no latency.
            Column::PerSecondOf {
                header: "Go client, requests a second",
                baseline: "http/go-http-client/no-latency",
                only: &["no-latency"],
            },
            Column::Versus {
                header: "time vs Go client",
                baseline: "http/go-http-client/no-latency",
                only: Some(&["no-latency"]),
            },
            // benches/pools.rs: 64 workers, and the route that takes 20 ms.
            Column::Ideal(&[("20ms-latency", 20e6, 64)]),
        ],
    },
    ListTable {
        name: "distributed",
        title: "distributed: stage 6's worker processes draining 20 000 trivial jobs from a \
                private Redis on a unix socket, each process with as many workers as its read \
                count; and redis-benchmark's pipelined `XADD`s on the same server",
        label_header: "worker processes × read count",
        rows: Rows::Fixed(&[
            ("distributed/1-processes/read-1", "1 × 1", ""),
            ("distributed/1-processes/read-10", "1 × 10", ""),
            ("distributed/1-processes/read-100", "1 × 100", ""),
            ("distributed/2-processes/read-1", "2 × 1", ""),
            ("distributed/2-processes/read-10", "2 × 10", ""),
            ("distributed/2-processes/read-100", "2 × 100", ""),
            ("distributed/4-processes/read-1", "4 × 1", ""),
            ("distributed/4-processes/read-10", "4 × 10", ""),
            ("distributed/4-processes/read-100", "4 × 100", ""),
            (
                "distributed/redis-benchmark/pipelined-xadd",
                "redis-benchmark, `XADD` 50 to a pipeline",
                "",
            ),
        ]),
        columns: &[
            Column::PerJob("per job"),
            Column::PerSecond("jobs a second"),
            Column::ShareOf {
                header: "of the `XADD` ceiling",
                baseline: "distributed/redis-benchmark/pipelined-xadd",
            },
        ],
    },
    ListTable {
        name: "cancellation",
        title: "cancellation: from the deadline to every stage-3 worker joined, every worker mid-job",
        label_header: "workers",
        rows: Rows::Matching("cancellation/stage-3-cancel/{row}", workers_row),
        columns: &[
            Column::PerRun("median"),
            Column::Fastest("fastest sample"),
            Column::Slowest("slowest sample"),
        ],
    },
];

/// The tables with a point per cell.
const GRIDS: &[GridTable] = &[
    GridTable {
        name: "reference-queue",
        title: "reference: W = 2, per job, by queue capacity",
        corner: "",
        template: "reference/{row}/W2/Q{col}",
        rows: Axis::Fixed(&[
            ("stage 1", "stage-1-basic"),
            ("`mpsc` + `Mutex`", "peer-mpsc-mutex"),
            ("tuned pool", "fast-pool"),
            ("Go", "go-reference"),
            ("Go, tuned", "go-tuned"),
        ]),
        columns: Axis::Found(queue_column),
    },
    GridTable {
        name: "reference-queue-w4",
        title: "reference: W = 4, per job, by queue capacity",
        corner: "",
        template: "reference/{row}/W4/Q{col}",
        rows: Axis::Fixed(&[
            ("stage 1", "stage-1-basic"),
            ("tuned pool", "fast-pool"),
            ("Go", "go-reference"),
            ("Go, tuned", "go-tuned"),
        ]),
        columns: Axis::Found(queue_column),
    },
    GridTable {
        name: "reference-workers",
        title: "reference: per job, by number of workers",
        corner: "",
        template: "reference/{row}",
        rows: Axis::Fixed(&[
            ("stage 1, Q = 100", "stage-1-basic/W{col}/Q100"),
            ("stage 3, Q = 100", "stage-3-cancel/W{col}/Q100"),
            ("Go, Q = 100", "go-reference/W{col}/Q100"),
            ("Go, tuned, Q = 100", "go-tuned/W{col}/Q100"),
            ("tuned pool, Q = 100", "fast-pool/W{col}/Q100"),
            ("tuned pool, Q = 1024", "fast-pool/W{col}/Q1024"),
        ]),
        columns: Axis::Found(workers_column),
    },
    GridTable {
        name: "job-cost",
        title: "job-cost: W = 2, Q = 100, per job, by CPU work per job",
        corner: "work per job",
        template: "job-cost/{col}/{row}",
        rows: Axis::Found(work_per_job),
        columns: Axis::Fixed(&[
            ("plain loop", "peer-sequential"),
            ("rayon `par_iter`", "peer-rayon-par-iter"),
            ("stage 1", "stage-1-basic"),
            ("tuned pool", "fast-pool"),
            ("`mpsc` + `Mutex`", "peer-mpsc-mutex"),
        ]),
    },
];

/// Groups that the tables above show; any other group gets a table of its own, `group-<name>`.
const SHOWN_GROUPS: &[&str] = &[
    "side-by-side",
    "reference",
    "job-cost",
    "http",
    "distributed",
    "cancellation",
];

/// `key` compared as a number where it is one, so that Q = 100 comes before Q = 1024.
fn numeric_order(key: &str) -> (u8, f64, String) {
    let digits: String = key
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    match digits.parse::<f64>() {
        Ok(number) if !digits.is_empty() => (0, number, key.to_owned()),
        _ => (1, 0.0, key.to_owned()),
    }
}

fn sort_keys(keys: &mut Vec<String>) {
    keys.sort_by(|a, b| {
        let (a, b) = (numeric_order(a), numeric_order(b));
        a.0.cmp(&b.0)
            .then(a.1.total_cmp(&b.1))
            .then_with(|| a.2.cmp(&b.2))
    });
    keys.dedup();
}

/// The parts that `{hole}` stands for in the record's ids that fit `template`.
fn keys_fitting(record: &Record, template: &str, hole: &str) -> Vec<String> {
    let Some((prefix, suffix)) = template.split_once(hole) else {
        return Vec::new();
    };
    let mut keys: Vec<String> = record
        .points
        .iter()
        .filter_map(|point| {
            let middle = point.id.strip_prefix(prefix)?.strip_suffix(suffix)?;
            (!middle.is_empty() && !middle.contains('/')).then(|| middle.to_owned())
        })
        .collect();
    sort_keys(&mut keys);
    keys
}

struct Row<'a> {
    key: String,
    label: String,
    note: &'static str,
    point: &'a Point,
}

fn list_rows<'a>(record: &'a Record, rows: Rows, missing: &mut Vec<String>) -> Vec<Row<'a>> {
    match rows {
        Rows::GroupByTime(group) => {
            let mut points: Vec<&Point> = record
                .points
                .iter()
                .filter(|point| point.group == group)
                .collect();
            points.sort_by(|a, b| a.per_job().total_cmp(&b.per_job()));
            // A contender that ran a different number of jobs from the rest says so.
            let usual = usual_elements(&points);
            points
                .into_iter()
                .map(|point| {
                    let mut label = long_label(point.contender());
                    if Some(point.elements) != usual {
                        label.push_str(&format!(
                            ", N = {}",
                            format::group_thousands(&point.elements.to_string())
                        ));
                    }
                    Row {
                        key: point.contender().to_owned(),
                        label,
                        note: "",
                        point,
                    }
                })
                .collect()
        }
        Rows::Fixed(fixed) => fixed
            .iter()
            .filter_map(|(id, label, note)| match record.point(id) {
                Some(point) => Some(Row {
                    key: point.contender().to_owned(),
                    label: (*label).to_owned(),
                    note,
                    point,
                }),
                None => {
                    missing.push(missing_point(id));
                    None
                }
            })
            .collect(),
        Rows::Matching(template, label) => keys_fitting(record, template, "{row}")
            .into_iter()
            .filter_map(|key| {
                let point = record.point(&template.replace("{row}", &key))?;
                Some(Row {
                    label: label(&key),
                    key,
                    note: "",
                    point,
                })
            })
            .collect(),
    }
}

/// The number of jobs most of these points ran.
pub fn usual_elements(points: &[&Point]) -> Option<u64> {
    let mut counts: Vec<(u64, usize)> = Vec::new();
    for point in points {
        match counts
            .iter_mut()
            .find(|(elements, _)| *elements == point.elements)
        {
            Some((_, count)) => *count += 1,
            None => counts.push((point.elements, 1)),
        }
    }
    counts
        .into_iter()
        .max_by_key(|(elements, count)| (*count, *elements))
        .map(|(elements, _)| elements)
}

/// Jobs (requests) a point did a second, at its median.
fn per_second(point: &Point) -> f64 {
    point.elements as f64 / (point.median_ns / 1e9)
}

fn list_table(record: &Record, table: &ListTable) -> Option<Table> {
    let mut missing = Vec::new();
    let rows = list_rows(record, table.rows, &mut missing);
    if rows.is_empty() {
        return Some(Table {
            name: table.name.to_owned(),
            title: table.title.to_owned(),
            headers: Vec::new(),
            rows: Vec::new(),
            missing,
        });
    }
    // A comparison with a baseline the run did not measure is left out, and the baseline named.
    let columns: Vec<Column> = table
        .columns
        .iter()
        .copied()
        .filter(|column| match column {
            Column::Versus { baseline, .. }
            | Column::PerSecondOf { baseline, .. }
            | Column::ShareOf { baseline, .. }
                if record.point(baseline).is_none() =>
            {
                if !missing.contains(&missing_point(baseline)) {
                    missing.push(missing_point(baseline));
                }
                false
            }
            _ => true,
        })
        .collect();
    let mut headers = vec![table.label_header.to_owned()];
    for column in &columns {
        match column {
            Column::Ideal(_) => {
                headers.push("ideal".to_owned());
                headers.push("of the ideal".to_owned());
            }
            Column::PerJob(header)
            | Column::PerRun(header)
            | Column::Fastest(header)
            | Column::Slowest(header)
            | Column::Versus { header, .. }
            | Column::ChangeFromAbove(header)
            | Column::PerSecond(header)
            | Column::PerSecondOf { header, .. }
            | Column::ShareOf { header, .. }
            | Column::Note(header) => headers.push((*header).to_owned()),
        }
    }
    let mut cells = Vec::new();
    for (index, row) in rows.iter().enumerate() {
        let point = row.point;
        let mut line = vec![row.label.clone()];
        for column in &columns {
            match column {
                Column::PerJob(_) => line.push(format::duration(point.per_job())),
                Column::PerRun(_) => line.push(format::duration(point.median_ns)),
                Column::Fastest(_) => line.push(
                    point
                        .fastest_per_job()
                        .map_or_else(|| "—".to_owned(), format::duration),
                ),
                Column::Slowest(_) => line.push(
                    point
                        .slowest_per_job()
                        .map_or_else(|| "—".to_owned(), format::duration),
                ),
                Column::Versus { baseline, only, .. } => {
                    let applies = only.is_none_or(|prefixes| {
                        prefixes.iter().any(|prefix| row.key.starts_with(prefix))
                    });
                    let cell = match record.point(baseline) {
                        Some(base) if applies && base.id != point.id => {
                            format::versus(point.per_job(), base.per_job())
                        }
                        _ => "—".to_owned(),
                    };
                    line.push(cell);
                }
                Column::ChangeFromAbove(_) => line.push(match index.checked_sub(1) {
                    Some(above) => {
                        format::difference(point.per_job() - rows[above].point.per_job())
                    }
                    None => String::new(),
                }),
                Column::PerSecond(_) => line.push(format::count(per_second(point))),
                Column::PerSecondOf { baseline, only, .. } => {
                    let applies = only.iter().any(|prefix| row.key.starts_with(prefix));
                    line.push(match record.point(baseline) {
                        Some(base) if applies => format::count(per_second(base)),
                        _ => "—".to_owned(),
                    });
                }
                Column::ShareOf { baseline, .. } => line.push(match record.point(baseline) {
                    Some(base) if base.id != point.id => {
                        format!("{:.0}%", 100.0 * per_second(point) / per_second(base))
                    }
                    _ => "—".to_owned(),
                }),
                Column::Ideal(routes) => {
                    match routes.iter().find(|(route, _, _)| *route == row.key) {
                        Some((_, latency, workers)) => {
                            let ideal = point.elements as f64 * latency / *workers as f64;
                            line.push(format::duration(ideal));
                            line.push(format!("{:.0}%", 100.0 * ideal / point.median_ns));
                        }
                        None => {
                            line.push("—".to_owned());
                            line.push("—".to_owned());
                        }
                    }
                }
                Column::Note(_) => line.push(row.note.to_owned()),
            }
        }
        cells.push(line);
    }
    Some(Table {
        name: table.name.to_owned(),
        title: table.title.to_owned(),
        headers,
        rows: cells,
        missing,
    })
}

/// The (label, key) pairs of a fixed axis.
fn fixed_keys(fixed: &[(&str, &str)]) -> Vec<(String, String)> {
    fixed
        .iter()
        .map(|(label, key)| ((*label).to_owned(), (*key).to_owned()))
        .collect()
}

/// The keys of a found axis: what `hole` stands for in the ids that fit the template once the
/// other (fixed) axis is filled in with each of its keys.
fn found_keys(
    record: &Record,
    label: fn(&str) -> String,
    templates: impl Iterator<Item = String>,
    hole: &str,
) -> Vec<(String, String)> {
    let mut keys: Vec<String> = templates
        .flat_map(|template| keys_fitting(record, &template, hole))
        .collect();
    sort_keys(&mut keys);
    keys.into_iter().map(|key| (label(&key), key)).collect()
}

fn grid_table(record: &Record, table: &GridTable) -> Option<Table> {
    let (rows, columns) = match (table.rows, table.columns) {
        (Axis::Fixed(rows), Axis::Found(label)) => {
            let templates = rows
                .iter()
                .map(|(_, row)| table.template.replace("{row}", row));
            (
                fixed_keys(rows),
                found_keys(record, label, templates, "{col}"),
            )
        }
        (Axis::Found(label), Axis::Fixed(columns)) => {
            let templates = columns
                .iter()
                .map(|(_, column)| table.template.replace("{col}", column));
            (
                found_keys(record, label, templates, "{row}"),
                fixed_keys(columns),
            )
        }
        (Axis::Fixed(rows), Axis::Fixed(columns)) => (fixed_keys(rows), fixed_keys(columns)),
        (Axis::Found(_), Axis::Found(_)) => return None,
    };
    let id = |row: &str, column: &str| {
        table
            .template
            .replace("{row}", row)
            .replace("{col}", column)
    };
    let found: Vec<Vec<Option<&Point>>> = rows
        .iter()
        .map(|(_, row)| {
            columns
                .iter()
                .map(|(_, column)| record.point(&id(row, column)))
                .collect()
        })
        .collect();
    // A row or a column the run has no point for at all is left out and named as a whole; a
    // single missing cell shows as a dash and is named on its own.
    let keep_row: Vec<bool> = found
        .iter()
        .map(|cells| cells.iter().any(Option::is_some))
        .collect();
    let keep_column: Vec<bool> = (0..columns.len())
        .map(|index| found.iter().any(|cells| cells[index].is_some()))
        .collect();
    let mut missing = Vec::new();
    for (index, (_, row)) in rows.iter().enumerate() {
        if !keep_row[index] {
            missing.push(missing_point(&id(row, "*")));
        }
    }
    for (index, (_, column)) in columns.iter().enumerate() {
        if !keep_column[index] {
            missing.push(missing_point(&id("*", column)));
        }
    }
    let mut headers = vec![table.corner.to_owned()];
    headers.extend(
        columns
            .iter()
            .zip(&keep_column)
            .filter(|(_, keep)| **keep)
            .map(|((label, _), _)| label.clone()),
    );
    let mut cells = Vec::new();
    for (((row_label, row), points), _) in rows
        .iter()
        .zip(&found)
        .zip(&keep_row)
        .filter(|(_, keep)| **keep)
    {
        let mut line = vec![row_label.clone()];
        for (((_, column), point), _) in columns
            .iter()
            .zip(points)
            .zip(&keep_column)
            .filter(|(_, keep)| **keep)
        {
            line.push(match point {
                Some(point) => format::duration(point.per_job()),
                None => {
                    missing.push(missing_point(&id(row, column)));
                    "—".to_owned()
                }
            });
        }
        cells.push(line);
    }
    Some(Table {
        name: table.name.to_owned(),
        title: table.title.to_owned(),
        headers,
        rows: cells,
        missing,
    })
}

/// `W2/Q100` as (2, 100).
fn workers_and_queue(value: &str) -> Option<(u64, u64)> {
    let (workers, queue) = value.split_once('/')?;
    Some((
        workers.strip_prefix('W')?.parse().ok()?,
        queue.strip_prefix('Q')?.parse().ok()?,
    ))
}

/// One grid per contender of the `reference` group, W by Q: `reference-<contender>`.
fn reference_grids(record: &Record) -> Vec<Table> {
    let mut contenders: Vec<&str> = record
        .points
        .iter()
        .filter(|point| point.group == "reference")
        .filter_map(|point| point.function.as_deref())
        .collect();
    // In the order the book introduces them; contenders it does not know yet come last.
    contenders.sort_by_key(|contender| {
        let known = CONTENDERS.iter().position(|(id, _, _)| id == contender);
        (known.unwrap_or(CONTENDERS.len()), *contender)
    });
    contenders.dedup();
    let mut tables = Vec::new();
    for contender in contenders {
        let sizes: Vec<((u64, u64), &Point)> = record
            .points
            .iter()
            .filter(|point| {
                point.group == "reference" && point.function.as_deref() == Some(contender)
            })
            .filter_map(|point| Some((workers_and_queue(point.value.as_deref()?)?, point)))
            .collect();
        let workers: BTreeSet<u64> = sizes.iter().map(|((workers, _), _)| *workers).collect();
        let queues: BTreeSet<u64> = sizes.iter().map(|((_, queue), _)| *queue).collect();
        let headers = std::iter::once("W".to_owned())
            .chain(queues.iter().map(|queue| format!("Q = {queue}")))
            .collect();
        let rows = workers
            .iter()
            .map(|workers| {
                std::iter::once(workers.to_string())
                    .chain(queues.iter().map(|queue| {
                        sizes
                            .iter()
                            .find(|(size, _)| *size == (*workers, *queue))
                            .map_or_else(
                                || "—".to_owned(),
                                |(_, point)| format::duration(point.per_job()),
                            )
                    }))
                    .collect()
            })
            .collect();
        tables.push(Table {
            name: format!("reference-{contender}"),
            title: format!(
                "reference: {}, per job, W by Q",
                short_label(contender).replace('`', "")
            ),
            headers,
            rows,
            missing: Vec::new(),
        });
    }
    tables
}

/// Stage 3 beside stage 4 at a fixed size at every size of the `reference` group: what
/// monitoring costs.
fn monitoring(record: &Record) -> Option<Table> {
    let (plain, monitored) = ("stage-3-cancel", "stage-4-fixed");
    let mut sizes: Vec<(u64, u64)> = record
        .points
        .iter()
        .filter(|point| point.group == "reference" && point.function.as_deref() == Some(monitored))
        .filter_map(|point| workers_and_queue(point.value.as_deref()?))
        .collect();
    sizes.sort_unstable();
    let mut missing = Vec::new();
    let rows: Vec<Vec<String>> = sizes
        .into_iter()
        .filter_map(|(workers, queue)| {
            let id = |contender: &str| format!("reference/{contender}/W{workers}/Q{queue}");
            let Some(base) = record.point(&id(plain)) else {
                missing.push(missing_point(&id(plain)));
                return None;
            };
            let with = record.point(&id(monitored))?;
            Some(vec![
                format!("{workers}, {queue}"),
                format::duration(base.per_job()),
                format::duration(with.per_job()),
                format::ratio(with.per_job(), base.per_job()),
            ])
        })
        .collect();
    (!rows.is_empty()).then(|| Table {
        name: "stage-4-monitoring".to_owned(),
        title: "reference: stage 3 and stage 4 at a fixed size, per job, and their ratio"
            .to_owned(),
        headers: ["W, Q", "stage 3", "stage 4, fixed size", "ratio"]
            .map(str::to_owned)
            .to_vec(),
        rows,
        missing,
    })
}

/// The memory of idle workers, from the probes' files.
fn idle_memory(record: &Record) -> Option<Table> {
    let labels = [
        ("threads", "threads (stages 1–4)"),
        ("goroutines", "goroutines (Go)"),
        ("tasks", "tokio tasks (stage 5)"),
    ];
    let mut missing = Vec::new();
    let mut rows = Vec::new();
    let mut workers = BTreeSet::new();
    for (shape, label) in labels {
        match record.idle_workers.iter().find(|idle| idle.shape == shape) {
            Some(idle) => {
                workers.insert(idle.workers);
                rows.push(vec![
                    label.to_owned(),
                    format::mebibytes(idle.peak_rss_mib),
                    format::kibibytes(idle.per_worker_bytes),
                ]);
            }
            None => {
                let file = IDLE_SHAPES
                    .iter()
                    .find(|(name, _)| *name == shape)
                    .map_or("", |(_, file)| file);
                let hint = if shape == "goroutines" {
                    "Go not installed? run scripts/compare-with-go.sh"
                } else {
                    "run scripts/compare-with-go.sh"
                };
                missing.push(format!(
                    "idle memory of {shape} (target/bench-extra/{file}; {hint})"
                ));
            }
        }
    }
    let count = match workers.len() {
        1 => workers.iter().next().map_or_else(String::new, |workers| {
            format::group_thousands(&workers.to_string())
        }),
        _ => "N".to_owned(),
    };
    (!rows.is_empty()).then(|| Table {
        name: "idle-memory".to_owned(),
        title: format!("the memory of {count} idle workers"),
        headers: vec![
            format!("{count} idle workers"),
            "peak RSS".to_owned(),
            "per worker".to_owned(),
        ],
        rows,
        missing,
    })
}

/// A table for a group that no table above shows (a new sweep, say): contenders by parameter
/// when its points have both, else one row per point, fastest first.
fn other_group(record: &Record, group: &str) -> Table {
    let points: Vec<&Point> = record
        .points
        .iter()
        .filter(|point| point.group == group)
        .collect();
    let both = points
        .iter()
        .all(|point| point.function.is_some() && point.value.is_some());
    let (headers, rows) = if both {
        let mut functions: Vec<String> = points
            .iter()
            .filter_map(|point| point.function.clone())
            .collect();
        functions.dedup();
        let mut values: Vec<String> = points
            .iter()
            .filter_map(|point| point.value.clone())
            .collect();
        sort_keys(&mut values);
        let headers = std::iter::once(String::new())
            .chain(values.iter().cloned())
            .collect();
        let rows = functions
            .iter()
            .map(|function| {
                std::iter::once(short_label(function))
                    .chain(values.iter().map(|value| {
                        record
                            .point(&format!("{group}/{function}/{value}"))
                            .map_or_else(
                                || "—".to_owned(),
                                |point| format::duration(point.per_job()),
                            )
                    }))
                    .collect()
            })
            .collect();
        (headers, rows)
    } else {
        let mut points = points;
        points.sort_by(|a, b| a.per_job().total_cmp(&b.per_job()));
        let rows = points
            .iter()
            .map(|point| {
                let name = point
                    .id
                    .strip_prefix(&format!("{group}/"))
                    .unwrap_or(&point.id);
                vec![format!("`{name}`"), format::duration(point.per_job())]
            })
            .collect();
        (vec![String::new(), "per job".to_owned()], rows)
    };
    Table {
        name: format!("group-{group}"),
        title: format!("{group}: per job"),
        headers,
        rows,
        missing: Vec::new(),
    }
}

/// Every table the record can fill, in the order the book meets them.
pub fn tables(record: &Record) -> Vec<Table> {
    every_table(record)
        .into_iter()
        .filter(|table| !table.rows.is_empty())
        .collect()
}

/// Every table, with those the record has no row for kept for what they name as missing.
fn every_table(record: &Record) -> Vec<Table> {
    let mut tables = Vec::new();
    tables.extend(
        LISTS
            .iter()
            .take(2)
            .filter_map(|table| list_table(record, table)),
    );
    tables.extend(GRIDS.iter().filter_map(|table| grid_table(record, table)));
    tables.extend(
        LISTS
            .iter()
            .skip(2)
            .filter_map(|table| list_table(record, table)),
    );
    tables.extend(monitoring(record));
    tables.extend(reference_grids(record));
    tables.extend(idle_memory(record));
    let mut others: Vec<&str> = record
        .points
        .iter()
        .map(|point| point.group.as_str())
        .filter(|group| !SHOWN_GROUPS.contains(group))
        .collect();
    others.sort_unstable();
    others.dedup();
    tables.extend(others.into_iter().map(|group| other_group(record, group)));
    tables
}

/// Everything the tables would show and the record lacks, each named once.
pub fn missing(record: &Record) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut lines = Vec::new();
    for table in every_table(record) {
        for line in table.missing {
            if seen.insert(line.clone()) {
                lines.push(line);
            }
        }
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
        if !record.points.iter().any(|point| point.group == group) {
            lines.push(format!("{group}/* (the whole group; {hint})"));
        }
    }
    lines
}

/// The machine and the run, one line for the chapters: `record/machine.md`.
pub fn machine_line(record: &Record) -> String {
    let machine = &record.machine;
    let mut parts = vec![format!(
        "{} cores{}",
        machine.cores,
        machine
            .cpu
            .as_ref()
            .map_or_else(String::new, |cpu| format!(" of {cpu}"))
    )];
    parts.extend(machine.os.clone());
    parts.extend(machine.rustc.clone());
    parts.extend(machine.go.clone());
    let mut line = parts.join(", ");
    line.push_str(&format!("; recorded {}", record.recorded.date));
    if let Some(commit) = &record.recorded.commit {
        line.push_str(&format!(" at commit `{commit}`"));
        if record.recorded.dirty == Some(true) {
            line.push_str(" with uncommitted changes");
        }
    }
    if let Some(seconds) = record.measuring_seconds {
        line.push_str(&format!(
            "; {} of measuring",
            format::duration(seconds as f64 * 1e9)
        ));
    }
    line
}
