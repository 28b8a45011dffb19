//! The record end to end: a small criterion tree written here, in criterion 0.8's file format,
//! read, recorded, rendered and printed by the program; and the book held to its record.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use bench_report::{RECORD_DIR, RECORD_FILE, Record};

const PROGRAM: &str = env!("CARGO_BIN_EXE_bench-report");

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .expect("the crate lives in <root>/crates/bench-report")
}

/// A directory of its own under the system's temp dir, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("bench-report-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("a temp dir");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

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
fn write_fixture(criterion: &Path, extra: &Path) {
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

    fs::create_dir_all(extra).expect("extra dir");
    fs::write(
        extra.join("idle-workers-threads.txt"),
        "shape: threads\nworkers: 10000\nrss before: 2.7 MiB\npeak rss: 97.8 MiB\nper worker: 9968 bytes (9.7 KiB)\n",
    )
    .expect("threads");
    fs::write(
        extra.join("idle-workers-tasks.txt"),
        "shape: tasks\nworkers: 10000\nrss before: 2.9 MiB\npeak rss: 8.9 MiB\nper worker: 620 bytes (0.6 KiB)\n",
    )
    .expect("tasks");
    fs::write(extra.join("measuring-seconds.txt"), "297\n").expect("seconds");
}

fn run(args: &[&str], criterion: &Path, extra: &Path, out: &Path) -> Output {
    Command::new(PROGRAM)
        .args(args)
        .arg("--criterion")
        .arg(criterion)
        .arg("--extra")
        .arg(extra)
        .arg("--out")
        .arg(out)
        .output()
        .expect("the program runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn a_run_is_printed_recorded_and_rendered_again_from_the_record_alone() {
    let scratch = Scratch::new("end-to-end");
    let (criterion, extra, out) = (
        scratch.0.join("criterion"),
        scratch.0.join("extra"),
        scratch.0.join("record"),
    );
    write_fixture(&criterion, &extra);

    // The reader's own tables: printed, nothing written.
    let shown = run(&[], &criterion, &extra, &out);
    assert!(
        shown.status.success(),
        "{}",
        String::from_utf8_lossy(&shown.stderr)
    );
    let text = stdout(&shown);
    for expected in [
        "stage 1",
        "331 ns",
        "41× faster",
        "2.9× slower",
        "94 µs",
        "673 ms",
        "97.8 MiB",
        "missing: side-by-side/go-tuned (Go not installed? run scripts/compare-with-go.sh)",
        "missing: idle memory of goroutines",
        "queue-sweep: per job",
    ] {
        assert!(text.contains(expected), "no {expected:?} in:\n{text}");
    }
    assert!(!out.exists(), "printing writes nothing");

    // Recorded: run.json and every table.
    let recorded = run(&["record"], &criterion, &extra, &out);
    assert!(
        recorded.status.success(),
        "{}",
        String::from_utf8_lossy(&recorded.stderr)
    );
    let record = bench_report::read_record(&out.join(RECORD_FILE)).expect("a record");
    assert_eq!(record.points.len(), 15 + 9 * 12 + 20 + 2 + 4 + 3);
    assert_eq!(record.measuring_seconds, Some(297));
    let stage_1 = record.point("side-by-side/stage-1-basic").expect("stage 1");
    assert_eq!((stage_1.elements, stage_1.median_ns), (1_000_000, 331e6));
    assert_eq!(stage_1.samples, 10);
    assert_eq!(stage_1.fastest_ns, Some(331e6 * 0.8));
    let thread_per_job = record
        .point("side-by-side/peer-thread-per-job")
        .expect("a point");
    assert_eq!(thread_per_job.elements, 10_000);
    let cancellation = record
        .point("cancellation/stage-3-cancel/8")
        .expect("a point");
    assert_eq!(cancellation.elements, 1, "no throughput: time per run");
    let on_disk = fs::read_to_string(out.join(RECORD_FILE)).expect("run.json");
    assert_eq!(
        record.to_json().expect("json"),
        on_disk,
        "the record is written as it reads"
    );

    let rendered = bench_report::render(&record).expect("renders");
    let names: BTreeSet<String> = rendered.keys().cloned().collect();
    assert_eq!(
        bench_report::rendered_files_in(&out).expect("listing"),
        names
    );
    for name in [
        "side-by-side.md",
        "side-by-side.svg",
        "fast-pool-steps.md",
        "reference-queue.md",
        "reference-workers.md",
        "stage-costs.md",
        "job-cost.md",
        "http.md",
        "cancellation.md",
        "stage-4-monitoring.md",
        "reference-stage-1-basic.md",
        "reference-stage-3-cancel.md",
        "idle-memory.md",
        "machine.md",
        "group-queue-sweep.md",
    ] {
        assert!(names.contains(name), "{name} is not rendered: {names:?}");
    }
    let side_by_side = &rendered["side-by-side.md"];
    assert!(
        side_by_side
            .contains("| the tuned pool (`fast-pool`) | 8.04 ns | 41× faster | 14× faster |"),
        "{side_by_side}"
    );
    assert!(
        side_by_side.contains("| stage 1 | 331 ns | — | 2.9× slower |"),
        "{side_by_side}"
    );
    assert!(
        side_by_side.contains("a thread per job (`peers::thread_per_job`), N = 10 000 | 94 µs")
    );
    assert!(
        !side_by_side.contains("vs Go, tuned"),
        "no column for a baseline not measured"
    );
    let http = &rendered["http.md"];
    assert!(
        http.contains("| a route that takes 20 ms | 673 ms | 337 µs | 2 970 | 625 ms | 93% |"),
        "{http}"
    );
    assert!(rendered["machine.md"].contains("297 s of measuring"));
    let svg = &rendered["side-by-side.svg"];
    assert!(svg.starts_with("<svg") && svg.contains("thread per job (N = 10 000)"));

    // Rendering again from the record alone, after a hand edit and with no criterion tree,
    // gives back exactly the same files, and removes one the record does not render.
    fs::write(out.join("side-by-side.md"), "edited by hand").expect("an edit");
    fs::write(out.join("old-table.md"), "from a group that went away").expect("a stale file");
    let gone = scratch.0.join("no-criterion-here");
    let again = run(&["render"], &gone, &gone, &out);
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    for (name, contents) in &rendered {
        assert_eq!(
            &fs::read_to_string(out.join(name)).expect("a rendered file"),
            contents,
            "{name}"
        );
    }
    assert!(!out.join("old-table.md").exists());
}

#[test]
fn without_results_it_says_to_run_the_benches_first() {
    let scratch = Scratch::new("empty");
    let empty = scratch.0.join("criterion");
    fs::create_dir_all(&empty).expect("an empty dir");
    for dir in [&empty, &scratch.0.join("absent")] {
        let output = run(&[], dir, dir, &scratch.0.join("record"));
        assert_eq!(output.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(
            stderr.starts_with("error: no benchmark results in ")
                && stderr.contains("run `cargo bench`")
        );
    }
}

// ---- The book against its record ----------------------------------------------------------
//
// The tests below read the recorded run, book/src/record/run.json, which the repository keeps.

fn recorded_run() -> Record {
    let path = workspace_root().join(RECORD_DIR).join(RECORD_FILE);
    bench_report::read_record(&path).unwrap_or_else(|error| {
        panic!(
            "{}: {error}; the book's figures come from this record. Record a run with \
             scripts/compare-with-go.sh, then `cargo run -p bench-report -- record`",
            path.display()
        )
    })
}

#[test]
fn the_rendered_files_are_what_the_record_renders() {
    let record = recorded_run();
    let dir = workspace_root().join(RECORD_DIR);
    let rendered = bench_report::render(&record).expect("the record renders");
    let on_disk = bench_report::rendered_files_in(&dir).expect("the record directory");
    let expected: BTreeSet<String> = rendered.keys().cloned().collect();
    assert_eq!(
        on_disk, expected,
        "book/src/record/ should hold exactly what the record renders; run \
         `cargo run -p bench-report -- render`"
    );
    for (name, contents) in &rendered {
        let file = fs::read_to_string(dir.join(name)).expect("a rendered file");
        assert!(
            &file == contents,
            "book/src/record/{name} is not what run.json renders (edited by hand, or the \
             renderer changed): run `cargo run -p bench-report -- render`"
        );
    }
}

#[test]
fn every_figure_in_the_prose_is_one_of_the_record() {
    let record = recorded_run();
    let rendered = bench_report::render(&record).expect("the record renders");
    let unbacked =
        bench_report::check_prose(&workspace_root(), &rendered).expect("the chapters read");
    let lines: Vec<String> = unbacked.iter().map(ToString::to_string).collect();
    assert!(
        lines.is_empty(),
        "{} measured figures in the prose are not in the recorded run (quote the record's \
         tables, or, for a parameter, add the phrase to bench_report::figures::ALLOWED):\n{}",
        lines.len(),
        lines.join("\n")
    );
}

#[test]
fn every_allowed_phrase_is_still_in_its_chapter() {
    // Part of the book-wide check: an allowance whose words are gone from the prose would
    // otherwise sit in the list unnoticed.
    let files = bench_report::prose_files(&workspace_root()).expect("the chapters read");
    let stale: Vec<String> = bench_report::figures::ALLOWED
        .iter()
        .filter(|allowed| {
            !files
                .iter()
                .any(|(name, text)| name == allowed.file && text.contains(allowed.phrase))
        })
        .map(|allowed| format!("{}: {:?}", allowed.file, allowed.phrase))
        .collect();
    assert!(
        stale.is_empty(),
        "allowed phrases no longer in their chapter (remove them from figures::ALLOWED):\n{}",
        stale.join("\n")
    );
}
