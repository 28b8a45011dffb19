//! The recorded run: what `book/src/record/run.json` holds, and how it is read from criterion's
//! output directory and the probes' files.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// The version of the record's layout; a reader of an older layout fails with a clear line.
pub const FORMAT: u32 = 1;

/// One run of the benchmarks, as the book quotes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// A sentence for whoever opens the file: what it is and how its times are counted.
    pub about: String,
    /// [`FORMAT`] at the time of writing.
    pub format: u32,
    /// When and from which commit the run was recorded.
    pub recorded: Recorded,
    /// The machine the run measured.
    pub machine: Machine,
    /// Seconds `cargo bench` spent measuring (without the build), if the script timed it.
    pub measuring_seconds: Option<u64>,
    /// The memory of idle workers, one entry per shape the probes measured.
    pub idle_workers: Vec<IdleWorkers>,
    /// Every criterion point, sorted by id.
    pub points: Vec<Point>,
}

/// When the run was recorded and from what source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recorded {
    /// UTC, `YYYY-MM-DD HH:MM UTC`.
    pub date: String,
    /// `git rev-parse --short HEAD`, if the tree is a git checkout.
    pub commit: Option<String>,
    /// Whether the tree had uncommitted changes.
    pub dirty: Option<bool>,
}

/// What the run ran on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// The CPU's model name from `/proc/cpuinfo`.
    pub cpu: Option<String>,
    /// Cores available to the process.
    pub cores: usize,
    /// `uname -sr`.
    pub os: Option<String>,
    /// `rustc -V`.
    pub rustc: Option<String>,
    /// `go version`, if Go is installed.
    pub go: Option<String>,
}

/// One criterion benchmark: its id and criterion's estimates, in nanoseconds per run of the
/// benchmarked routine (a run does `elements` jobs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// The full id, `group/function/value` with absent parts left out.
    pub id: String,
    /// Criterion's group.
    pub group: String,
    /// The function id (the contender), if the benchmark has one.
    pub function: Option<String>,
    /// The parameter (`W2/Q100`, a worker count, a route), if it has one.
    pub value: Option<String>,
    /// Jobs per run (criterion's `Throughput::Elements`); 1 for a benchmark without throughput.
    pub elements: u64,
    /// Criterion's median of the per-run times, ns.
    pub median_ns: f64,
    /// The low end of the median's confidence interval, ns.
    pub median_low_ns: f64,
    /// The high end of the median's confidence interval, ns.
    pub median_high_ns: f64,
    /// The interval's confidence level (0.95 by default).
    pub confidence_level: f64,
    /// The median absolute deviation of the per-run times, ns.
    pub median_abs_dev_ns: f64,
    /// How many samples criterion took.
    pub samples: usize,
    /// The fastest sample, per run, ns.
    pub fastest_ns: Option<f64>,
    /// The slowest sample, per run, ns.
    pub slowest_ns: Option<f64>,
}

impl Point {
    /// The contender's name within the group: the function id, or the parameter where the
    /// benchmark has only that (`BenchmarkId::from_parameter`), or both.
    pub fn contender(&self) -> &str {
        match (&self.function, &self.value) {
            (Some(function), _) => function,
            (None, Some(value)) => value,
            (None, None) => &self.group,
        }
    }

    /// Median time per job, ns.
    pub fn per_job(&self) -> f64 {
        self.median_ns / self.elements as f64
    }

    /// Fastest sample per job, ns.
    pub fn fastest_per_job(&self) -> Option<f64> {
        self.fastest_ns.map(|nanos| nanos / self.elements as f64)
    }

    /// Slowest sample per job, ns.
    pub fn slowest_per_job(&self) -> Option<f64> {
        self.slowest_ns.map(|nanos| nanos / self.elements as f64)
    }
}

/// The memory of idle workers of one shape, as `idle-workers` or `go-reference -idle` printed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdleWorkers {
    /// `threads`, `tasks` or `goroutines`.
    pub shape: String,
    /// How many waited at once.
    pub workers: u64,
    /// Resident memory before they started, MiB (as printed, one decimal).
    pub rss_before_mib: f64,
    /// Peak resident memory while they waited, MiB.
    pub peak_rss_mib: f64,
    /// (peak − before) / workers, bytes.
    pub per_worker_bytes: u64,
}

impl Record {
    /// The point with this full id.
    pub fn point(&self, id: &str) -> Option<&Point> {
        self.points.iter().find(|point| point.id == id)
    }

    /// The record as the file holds it: pretty JSON, fields in declaration order, points sorted.
    pub fn to_json(&self) -> Result<String, String> {
        let mut sorted = self.clone();
        sorted.points.sort_by(|a, b| a.id.cmp(&b.id));
        serde_json::to_string_pretty(&sorted)
            .map(|json| json + "\n")
            .map_err(|error| format!("cannot write the record as JSON: {error}"))
    }

    /// Reads a record written by [`Record::to_json`].
    pub fn from_json(text: &str) -> Result<Record, String> {
        let record: Record =
            serde_json::from_str(text).map_err(|error| format!("not a run record: {error}"))?;
        if record.format != FORMAT {
            return Err(format!(
                "the record has format {}, this tool reads format {FORMAT}",
                record.format
            ));
        }
        Ok(record)
    }
}

/// The sentence at the top of every record.
pub const ABOUT: &str = "One run of `cargo bench` (scripts/compare-with-go.sh), recorded by \
    `cargo run -p bench-report -- record`. Times are criterion's, in nanoseconds per run of a \
    benchmark; a run does `elements` jobs, so a time per job is the time divided by `elements`. \
    The book's tables in this directory are rendered from this file.";

// --- criterion's files ----------------------------------------------------------------------

/// `new/benchmark.json`: the parts of criterion's `BenchmarkId` this tool reads.
#[derive(Deserialize)]
struct BenchmarkFile {
    group_id: String,
    function_id: Option<String>,
    value_str: Option<String>,
    /// `{"Elements": n}`, another kind of throughput, or null.
    throughput: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct ConfidenceInterval {
    confidence_level: f64,
    lower_bound: f64,
    upper_bound: f64,
}

#[derive(Deserialize)]
struct Estimate {
    confidence_interval: ConfidenceInterval,
    point_estimate: f64,
}

/// `new/estimates.json`: criterion's estimates of the per-iteration time, in ns.
#[derive(Deserialize)]
struct EstimatesFile {
    median: Estimate,
    median_abs_dev: Estimate,
}

/// `new/sample.json`: each sample's iteration count and total time, in ns.
#[derive(Deserialize)]
struct SampleFile {
    iters: Vec<f64>,
    times: Vec<f64>,
}

/// A point read from criterion's directory, with the time its estimates were written.
#[derive(Debug, Clone)]
pub struct Measured {
    /// The point.
    pub point: Point,
    /// When criterion wrote its estimates.
    pub written: SystemTime,
}

/// Every point under criterion's output directory (`target/criterion`): each `new/` directory
/// that holds a `benchmark.json` and an `estimates.json`. Criterion's `base/` and `change/`
/// directories, and its HTML reports, are left alone.
pub fn read_criterion(dir: &Path) -> Result<Vec<Measured>, String> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let entries = fs::read_dir(&current)
            .map_err(|error| format!("cannot read {}: {error}", current.display()))?;
        for entry in entries.flatten() {
            let path = entry.path();
            if !path.is_dir() {
                continue;
            }
            if path.file_name().is_some_and(|name| name == "new") {
                if path.join("benchmark.json").is_file() && path.join("estimates.json").is_file() {
                    found.push(read_point(&path)?);
                }
            } else if path.file_name().is_none_or(|name| name != "report") {
                pending.push(path);
            }
        }
    }
    found.sort_by(|a, b| a.point.id.cmp(&b.point.id));
    Ok(found)
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, String> {
    let text = fs::read_to_string(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    serde_json::from_str(&text).map_err(|error| format!("cannot parse {}: {error}", path.display()))
}

/// Five significant figures: criterion's estimates carry noise in their last digits, and the
/// record is easier to read (and to diff between runs) without it.
fn keep_five_figures(value: f64) -> f64 {
    if value == 0.0 || !value.is_finite() {
        return value;
    }
    let scale = 10f64.powi(value.abs().log10().floor() as i32 - 4);
    (value / scale).round() * scale
}

fn read_point(new_dir: &Path) -> Result<Measured, String> {
    let benchmark: BenchmarkFile = read_json(&new_dir.join("benchmark.json"))?;
    let estimates: EstimatesFile = read_json(&new_dir.join("estimates.json"))?;
    // Per-sample times are a bonus (the fastest and slowest sample); a point without them is
    // still a point.
    let samples: Option<SampleFile> = read_json(&new_dir.join("sample.json")).ok();
    let per_run: Vec<f64> = samples
        .iter()
        .flat_map(|file| file.iters.iter().zip(&file.times))
        .filter(|(iters, _)| **iters > 0.0)
        .map(|(iters, time)| time / iters)
        .collect();
    let elements = benchmark
        .throughput
        .as_ref()
        .and_then(|throughput| throughput.get("Elements"))
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(1)
        .max(1);
    let id = [
        Some(benchmark.group_id.as_str()),
        benchmark.function_id.as_deref(),
        benchmark.value_str.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join("/");
    let written = fs::metadata(new_dir.join("estimates.json"))
        .and_then(|metadata| metadata.modified())
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let median = &estimates.median;
    Ok(Measured {
        point: Point {
            id,
            group: benchmark.group_id,
            function: benchmark.function_id,
            value: benchmark.value_str,
            elements,
            median_ns: keep_five_figures(median.point_estimate),
            median_low_ns: keep_five_figures(median.confidence_interval.lower_bound),
            median_high_ns: keep_five_figures(median.confidence_interval.upper_bound),
            confidence_level: median.confidence_interval.confidence_level,
            median_abs_dev_ns: keep_five_figures(estimates.median_abs_dev.point_estimate),
            samples: per_run.len(),
            fastest_ns: per_run
                .iter()
                .copied()
                .reduce(f64::min)
                .map(keep_five_figures),
            slowest_ns: per_run
                .iter()
                .copied()
                .reduce(f64::max)
                .map(keep_five_figures),
        },
        written,
    })
}

// --- the probes' files in target/bench-extra -----------------------------------------------

/// The shapes of idle worker the probes measure, and the file each one's output is saved in.
pub const IDLE_SHAPES: [(&str, &str); 3] = [
    ("threads", "idle-workers-threads.txt"),
    ("goroutines", "idle-workers-goroutines.txt"),
    ("tasks", "idle-workers-tasks.txt"),
];

/// The file in which scripts/compare-with-go.sh saves how long the measuring took, in seconds.
pub const MEASURING_SECONDS_FILE: &str = "measuring-seconds.txt";

/// Parses the output of `idle-workers threads|tasks` or `go-reference -idle N`:
///
/// ```text
/// shape: threads
/// workers: 10000
/// rss before: 2.7 MiB
/// peak rss: 97.8 MiB
/// per worker: 9968 bytes (9.7 KiB)
/// ```
pub fn parse_idle_workers(text: &str) -> Result<IdleWorkers, String> {
    let fields: BTreeMap<&str, &str> = text
        .lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(key, value)| (key.trim(), value.trim()))
        .collect();
    let field = |key: &str| {
        fields
            .get(key)
            .copied()
            .ok_or_else(|| format!("the probe's output has no `{key}:` line"))
    };
    let first_number = |key: &str| -> Result<f64, String> {
        let value = field(key)?;
        value
            .split_whitespace()
            .next()
            .and_then(|number| number.parse().ok())
            .ok_or_else(|| format!("`{key}: {value}` does not start with a number"))
    };
    Ok(IdleWorkers {
        shape: field("shape")?.to_owned(),
        workers: first_number("workers")? as u64,
        rss_before_mib: first_number("rss before")?,
        peak_rss_mib: first_number("peak rss")?,
        per_worker_bytes: first_number("per worker")? as u64,
    })
}

/// The idle-memory figures and the measuring time saved under `dir` (`target/bench-extra`);
/// whatever is absent is left out, and the tables name it as missing.
pub fn read_extras(dir: &Path) -> Result<(Vec<IdleWorkers>, Option<u64>), String> {
    let mut idle = Vec::new();
    for (_, file) in IDLE_SHAPES {
        let path = dir.join(file);
        if let Ok(text) = fs::read_to_string(&path) {
            idle.push(
                parse_idle_workers(&text)
                    .map_err(|error| format!("{}: {error}", path.display()))?,
            );
        }
    }
    let seconds = fs::read_to_string(dir.join(MEASURING_SECONDS_FILE))
        .ok()
        .and_then(|text| text.trim().parse().ok());
    Ok((idle, seconds))
}

// --- the machine and the source -------------------------------------------------------------

fn command_line(program: &str, args: &[&str], cwd: &Path) -> Option<String> {
    let output = std::process::Command::new(program)
        .args(args)
        .current_dir(cwd)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    (output.status.success() && !text.is_empty()).then_some(text)
}

/// The machine this process runs on.
pub fn this_machine(root: &Path) -> Machine {
    let cpu = fs::read_to_string("/proc/cpuinfo").ok().and_then(|text| {
        text.lines()
            .find(|line| line.starts_with("model name"))
            .and_then(|line| line.split_once(':'))
            .map(|(_, model)| model.split_whitespace().collect::<Vec<_>>().join(" "))
    });
    Machine {
        cpu,
        cores: std::thread::available_parallelism().map_or(1, usize::from),
        os: command_line("uname", &["-sr"], root),
        rustc: command_line("rustc", &["-V"], root),
        go: command_line("go", &["version"], root),
    }
}

/// Now, and the checkout's commit and state.
pub fn recorded_now(root: &Path) -> Recorded {
    let commit = command_line("git", &["rev-parse", "--short", "HEAD"], root);
    let dirty = commit.as_ref().map(|_| {
        std::process::Command::new("git")
            .args(["status", "--porcelain"])
            .current_dir(root)
            .output()
            .map(|output| !output.stdout.is_empty())
            .unwrap_or(true)
    });
    Recorded {
        date: utc_date(SystemTime::now()),
        commit,
        dirty,
    }
}

/// `YYYY-MM-DD HH:MM UTC` for a moment, without a date library (days to civil date as in
/// Howard Hinnant's `civil_from_days`).
pub fn utc_date(moment: SystemTime) -> String {
    let seconds = moment
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs()) as i64;
    let (days, of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        of_day / 3_600,
        of_day % 3_600 / 60
    )
}

/// The workspace root: the nearest ancestor of `start` whose Cargo.toml has a `[workspace]`.
pub fn workspace_root(start: &Path) -> Option<PathBuf> {
    start.ancestors().find_map(|dir| {
        let manifest = fs::read_to_string(dir.join("Cargo.toml")).ok()?;
        manifest
            .lines()
            .any(|line| line.trim() == "[workspace]")
            .then(|| dir.to_path_buf())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dates_are_utc_civil_dates() {
        assert_eq!(utc_date(SystemTime::UNIX_EPOCH), "1970-01-01 00:00 UTC");
        let leap_day = SystemTime::UNIX_EPOCH + Duration::from_secs(1_709_210_096);
        assert_eq!(utc_date(leap_day), "2024-02-29 12:34 UTC");
    }

    #[test]
    fn the_idle_probes_output_parses() {
        let threads = "shape: threads\nworkers: 10000\nrss before: 2.7 MiB\npeak rss: 97.8 MiB\n\
                       per worker: 9968 bytes (9.7 KiB)\n";
        let parsed = parse_idle_workers(threads).expect("parses");
        assert_eq!(parsed.shape, "threads");
        assert_eq!(parsed.workers, 10_000);
        assert_eq!(parsed.peak_rss_mib, 97.8);
        assert_eq!(parsed.per_worker_bytes, 9_968);
        assert!(parse_idle_workers("shape: threads\n").is_err());
    }
}
