//! Reading criterion's output directory (`target/criterion`): a point per benchmark.

use std::fs;
use std::path::Path;
use std::time::SystemTime;

use serde::Deserialize;

use crate::format::round_significant;
use crate::run::Point;

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

/// A point read from criterion's directory, with the time criterion wrote it: a point older
/// than the run is left over from an earlier one.
#[derive(Debug, Clone)]
pub struct CriterionPoint {
    /// The point.
    pub point: Point,
    /// When criterion wrote its estimates.
    pub written: SystemTime,
}

/// Every point under criterion's output directory: each `new/` directory that holds a
/// `benchmark.json` and an `estimates.json`. Criterion's `base/` and `change/` directories, and
/// its HTML reports, are left alone.
pub fn read_criterion(dir: &Path) -> Result<Vec<CriterionPoint>, String> {
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

/// Five significant figures: criterion's estimates carry noise in their last digits, and a run
/// file is easier to read (and to diff against another run) without it.
fn five_figures(value: f64) -> f64 {
    round_significant(value, 5)
}

fn read_point(new_dir: &Path) -> Result<CriterionPoint, String> {
    let benchmark: BenchmarkFile = read_json(&new_dir.join("benchmark.json"))?;
    let estimates: EstimatesFile = read_json(&new_dir.join("estimates.json"))?;
    // Per-sample times are a bonus (the fastest and slowest sample); a point without them is
    // still a point.
    let samples: Option<SampleFile> = read_json(&new_dir.join("sample.json")).ok();
    let per_iteration: Vec<f64> = samples
        .iter()
        .flat_map(|file| file.iters.iter().zip(&file.times))
        .filter(|(iters, _)| **iters > 0.0)
        .map(|(iters, time)| time / iters)
        .collect();
    let jobs_per_iteration = benchmark
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
    // A benchmark named by its parameter alone (`BenchmarkId::from_parameter`) has the
    // contender in its parameter; one with neither part is named by its group.
    let (contender, parameter) = match (benchmark.function_id, benchmark.value_str) {
        (Some(function), value) => (function, value),
        (None, Some(value)) => (value, None),
        (None, None) => (benchmark.group_id.clone(), None),
    };
    let written = fs::metadata(new_dir.join("estimates.json"))
        .and_then(|metadata| metadata.modified())
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let median = &estimates.median;
    Ok(CriterionPoint {
        point: Point {
            id,
            group: benchmark.group_id,
            contender,
            parameter,
            jobs_per_iteration,
            median_ns: five_figures(median.point_estimate),
            median_low_ns: five_figures(median.confidence_interval.lower_bound),
            median_high_ns: five_figures(median.confidence_interval.upper_bound),
            confidence_level: median.confidence_interval.confidence_level,
            median_abs_dev_ns: five_figures(estimates.median_abs_dev.point_estimate),
            samples: per_iteration.len(),
            fastest_ns: per_iteration
                .iter()
                .copied()
                .reduce(f64::min)
                .map(five_figures),
            slowest_ns: per_iteration
                .iter()
                .copied()
                .reduce(f64::max)
                .map(five_figures),
        },
        written,
    })
}
