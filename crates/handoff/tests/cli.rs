//! The handoff probe as scripts/compare-with-go.sh runs it, on a small N: the lines bench-report
//! reads, pinned and not, and its answers to bad input.

use std::collections::BTreeMap;
use std::process::Command;

use test_support::stdout_of;

fn program() -> Command {
    Command::new(env!("CARGO_BIN_EXE_handoff"))
}

/// The `key: value` lines of a report, in order.
fn fields(report: &str) -> Vec<(String, String)> {
    report
        .lines()
        .map(|line| {
            let (key, value) = line
                .split_once(": ")
                .unwrap_or_else(|| panic!("not a `key: value` line: {line:?}"));
            (key.to_owned(), value.to_owned())
        })
        .collect()
}

fn first_number(value: &str) -> f64 {
    value
        .split_whitespace()
        .next()
        .and_then(|number| number.parse().ok())
        .unwrap_or_else(|| panic!("{value:?} does not start with a number"))
}

#[test]
fn a_run_reports_its_time_and_switches_in_the_probes_lines() {
    let report = stdout_of(program().args(["--workers", "2", "--queue", "10", "--jobs", "5000"]));
    let fields = fields(&report);
    let keys: Vec<&str> = fields.iter().map(|(key, _)| key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "design",
            "workers",
            "queue",
            "jobs",
            "cpus",
            "ns per job",
            "voluntary switches",
            "involuntary switches"
        ],
        "{report}"
    );
    let values: BTreeMap<&str, &str> = fields
        .iter()
        .map(|(key, value)| (key.as_str(), value.as_str()))
        .collect();
    assert_eq!(values["design"], "stage-1-basic");
    assert_eq!(
        (values["workers"], values["queue"], values["jobs"]),
        ("2", "10", "5000")
    );
    assert!(first_number(values["ns per job"]) > 0.0, "{report}");
    for switches in ["voluntary switches", "involuntary switches"] {
        assert!(
            values[switches].ends_with(" per 1000 jobs)"),
            "{switches}: {report}"
        );
        assert!(first_number(values[switches]) >= 0.0);
    }
}

#[test]
fn pinned_the_process_runs_on_one_cpu() {
    let report = stdout_of(program().args(["--cores", "one", "--workers", "4", "--jobs", "2000"]));
    assert!(report.contains("\ncpus: 1\n"), "{report}");
    assert!(report.contains("\nworkers: 4\n"), "{report}");
}

#[test]
fn runs_before_the_timed_one_and_a_fixed_mmap_threshold_are_reported() {
    let report = stdout_of(
        program()
            .args(["--workers", "2", "--jobs", "2000", "--runs-before", "3"])
            .env("MALLOC_MMAP_THRESHOLD_", "131072"),
    );
    assert!(
        report.contains("\nruns before: 3\nmmap threshold: 131072\nns per job: "),
        "{report}"
    );
    let plain = stdout_of(
        program()
            .args(["--jobs", "2000"])
            .env_remove("MALLOC_MMAP_THRESHOLD_"),
    );
    assert!(
        !plain.contains("runs before") && !plain.contains("mmap threshold"),
        "{plain}"
    );
}

#[test]
fn a_bad_flag_is_one_line_and_exit_code_2() {
    for args in [
        &["--workers", "0"][..],
        &["--jobs", "0"],
        &["--jobs", "many"],
        &["--cores", "three"],
        &["--runs-before", "101"],
    ] {
        let output = program().args(args).output().expect("the probe runs");
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let error = String::from_utf8_lossy(&output.stderr);
        assert_eq!(error.lines().count(), 1, "{args:?}: {error}");
        assert!(error.starts_with("error: "), "{error}");
        assert!(output.stdout.is_empty());
    }
}
