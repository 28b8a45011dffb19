//! A small criterion tree in criterion 0.8's file format, and the probes' files beside it: a run
//! with every group of benches/pools.rs (Go included, the tuned Go program not yet).

use std::fs;
use std::path::Path;

fn estimate(point: f64) -> String {
    format!(
        r#"{{"confidence_interval":{{"confidence_level":0.95,"lower_bound":{},"upper_bound":{}}},"point_estimate":{point},"standard_error":{}}}"#,
        point * 0.97,
        point * 1.04,
        point * 0.01
    )
}

/// One point as criterion 0.8 writes it: `new/benchmark.json`, `new/estimates.json` (times in
/// ns per iteration, `slope` null under flat sampling) and `new/sample.json`.
fn write_point(
    criterion: &Path,
    group: &str,
    function: Option<&str>,
    value: Option<&str>,
    elements: Option<u64>,
    per_run_ns: f64,
) {
    let safe = |part: &str| part.replace('/', "_");
    let mut dir = criterion.join(safe(group));
    for part in [function, value].into_iter().flatten() {
        dir = dir.join(safe(part));
    }
    let new = dir.join("new");
    fs::create_dir_all(&new).expect("a point's directory");
    let quoted =
        |part: Option<&str>| part.map_or_else(|| "null".to_owned(), |part| format!("\"{part}\""));
    let full_id = [Some(group), function, value]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("/");
    let throughput =
        elements.map_or_else(|| "null".to_owned(), |n| format!(r#"{{"Elements":{n}}}"#));
    fs::write(
        new.join("benchmark.json"),
        format!(
            r#"{{"group_id":"{group}","function_id":{},"value_str":{},"throughput":{throughput},"full_id":"{full_id}","directory_name":"{}","title":"{full_id}"}}"#,
            quoted(function),
            quoted(value),
            safe(&full_id)
        ),
    )
    .expect("benchmark.json");
    fs::write(
        new.join("estimates.json"),
        format!(
            r#"{{"mean":{},"median":{},"median_abs_dev":{},"slope":null,"std_dev":{}}}"#,
            estimate(per_run_ns * 1.02),
            estimate(per_run_ns),
            estimate(per_run_ns * 0.05),
            estimate(per_run_ns * 0.08)
        ),
    )
    .expect("estimates.json");
    // Ten samples of 3 iterations each, from 0.8 to 1.25 times the median per run.
    let factors = [0.8, 0.9, 0.95, 0.98, 1.0, 1.0, 1.02, 1.05, 1.1, 1.25];
    let times: Vec<String> = factors
        .iter()
        .map(|factor| (3.0 * per_run_ns * factor).to_string())
        .collect();
    fs::write(
        new.join("sample.json"),
        format!(
            r#"{{"sampling_mode":"Flat","iters":[{}],"times":[{}]}}"#,
            ["3.0"; 10].join(","),
            times.join(",")
        ),
    )
    .expect("sample.json");
    // Criterion keeps the previous run in base/ (and writes a report/): neither is this run.
    let base = dir.join("base");
    fs::create_dir_all(&base).expect("base");
    fs::write(base.join("benchmark.json"), "not read").expect("base file");
}

/// A run with every group of benches/pools.rs (Go included, the tuned Go program not yet), and
/// the probes' files.
pub fn write_fixture(criterion: &Path, probes: &Path) {
    let side = [
        ("stage-1-basic", 331.0),
        ("stage-2-metadata", 230.0),
        ("stage-3-cancel", 372.0),
        ("stage-4-fixed", 399.0),
        ("stage-4-autoscaled", 411.0),
        ("stage-5-http", 1_834.0),
        ("fast-pool", 8.04),
        ("peer-mpsc-mutex", 856.0),
        ("go-reference", 113.0),
    ];
    for (contender, per_job) in side {
        write_point(
            criterion,
            "side-by-side",
            None,
            Some(contender),
            Some(1_000_000),
            per_job * 1e6,
        );
    }
    for (contender, per_job) in [
        ("fast-pool-step-1-batched-jobs", 119.0),
        ("fast-pool-step-2-local-results", 132.0),
        ("peer-sequential", 0.34),
        ("peer-rayon-par-iter", 0.254),
        ("peer-rayon-spawn", 362.0),
    ] {
        write_point(
            criterion,
            "side-by-side",
            Some(contender),
            None,
            Some(1_000_000),
            per_job * 1e6,
        );
    }
    write_point(
        criterion,
        "side-by-side",
        Some("peer-thread-per-job"),
        None,
        Some(10_000),
        94_020.0 * 1e4,
    );
    for (contender, base) in [
        ("stage-1-basic", 342.0),
        ("stage-2-metadata", 357.0),
        ("stage-3-cancel", 388.0),
        ("stage-4-fixed", 408.0),
        ("stage-4-autoscaled", 451.0),
        ("stage-5-http", 1_900.0),
        ("fast-pool", 7.4),
        ("peer-mpsc-mutex", 842.0),
        ("go-reference", 140.0),
    ] {
        for workers in [1, 2, 4] {
            for queue in [0, 1, 100, 1024] {
                let jobs = if queue <= 1 { 2_000 } else { 100_000 };
                let tight = if queue <= 1 { 50.0 } else { 1.0 };
                let per_job = base * tight * (1.0 + 0.1 * workers as f64);
                let value = format!("W{workers}/Q{queue}");
                write_point(
                    criterion,
                    "reference",
                    Some(contender),
                    Some(&value),
                    Some(jobs),
                    per_job * jobs as f64,
                );
            }
        }
    }
    for (work, jobs) in [
        (0, 100_000),
        (1_000, 20_000),
        (10_000, 2_000),
        (100_000, 200),
    ] {
        for (contender, overhead, parallel) in [
            ("peer-sequential", 0.18, 1.0),
            ("peer-rayon-par-iter", 0.81, 2.0),
            ("stage-1-basic", 274.0, 1.9),
            ("fast-pool", 6.7, 2.0),
            ("peer-mpsc-mutex", 674.0, 1.7),
        ] {
            let per_job = work as f64 / parallel + overhead;
            write_point(
                criterion,
                "job-cost",
                Some(contender),
                Some(&work.to_string()),
                Some(jobs),
                per_job * jobs as f64,
            );
        }
    }
    write_point(
        criterion,
        "http",
        Some("stage-5-http"),
        Some("no-latency"),
        Some(2_000),
        60e6,
    );
    write_point(
        criterion,
        "http",
        Some("stage-5-http"),
        Some("20ms-latency"),
        Some(2_000),
        673.4e6,
    );
    for (workers, latency) in [(1, 330e3), (2, 320e3), (4, 350e3), (8, 510e3)] {
        write_point(
            criterion,
            "cancellation",
            Some("stage-3-cancel"),
            Some(&workers.to_string()),
            None,
            latency,
        );
    }
    // A group that no table knows yet: it gets a table of its own.
    for queue in ["Q2", "Q4", "Q6"] {
        write_point(
            criterion,
            "queue-sweep",
            Some("stage-1-basic"),
            Some(queue),
            Some(100_000),
            300.0 * 1e5,
        );
    }
    fs::create_dir_all(criterion.join("report")).expect("report dir");
    fs::write(criterion.join("report/index.html"), "<html></html>").expect("report");

    fs::create_dir_all(probes).expect("probes dir");
    fs::write(
        probes.join("idle-workers-threads.txt"),
        "shape: threads\nworkers: 10000\nrss before: 2.7 MiB\npeak rss: 97.8 MiB\nper worker: 9968 bytes (9.7 KiB)\n",
    )
    .expect("threads");
    fs::write(
        probes.join("idle-workers-tasks.txt"),
        "shape: tasks\nworkers: 10000\nrss before: 2.9 MiB\npeak rss: 8.9 MiB\nper worker: 620 bytes (0.6 KiB)\n",
    )
    .expect("tasks");
    fs::write(probes.join("measuring-seconds.txt"), "297\n").expect("seconds");
}
