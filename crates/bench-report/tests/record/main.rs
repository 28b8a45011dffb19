//! The record end to end: a small criterion tree written here, read, recorded, rendered and
//! printed by the program; a second run added beside the first; and the book held to its record
//! (in `book.rs`).

mod book;
mod fixture;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use bench_report::Record;
use bench_report::record::{self, RUNS_DIR};

const PROGRAM: &str = env!("CARGO_BIN_EXE_bench-report");

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

/// The fixture's three directories: criterion's, the probes', the record's.
struct Places {
    _scratch: Scratch,
    criterion: PathBuf,
    probes: PathBuf,
    record: PathBuf,
}

fn places(name: &str) -> Places {
    let scratch = Scratch::new(name);
    let places = Places {
        criterion: scratch.0.join("criterion"),
        probes: scratch.0.join("probes"),
        record: scratch.0.join("record"),
        _scratch: scratch,
    };
    fixture::write_fixture(&places.criterion, &places.probes);
    places
}

fn run(args: &[&str], places: &Places) -> Output {
    Command::new(PROGRAM)
        .args(args)
        .arg("--criterion")
        .arg(&places.criterion)
        .arg("--probes")
        .arg(&places.probes)
        .arg("--record-dir")
        .arg(&places.record)
        .output()
        .expect("the program runs")
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_readers_run_is_printed_with_the_spread_of_its_samples_and_nothing_written() {
    let places = places("show");
    let text = stdout(&run(&[], &places));
    for expected in [
        "In brackets: the fastest and the slowest sample of the run.",
        "stage 1",
        // The fixture's samples run from 0.8 to 1.25 times the median.
        "331 ns (265–414 ns)",
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
    assert!(!places.record.exists(), "printing writes nothing");
}

#[test]
fn points_older_than_the_run_are_left_out_and_named() {
    let places = places("old-points");
    // The script touches `started` before the benches run; a point criterion wrote before
    // that is left over from an earlier run. Here the run started in 1970, after one point.
    let at = |seconds| std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(seconds);
    let touch = |path: &Path, seconds| {
        fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .and_then(|file| file.set_modified(at(seconds)))
            .expect("a file's time set");
    };
    touch(&places.probes.join("started"), 2_000);
    touch(
        &places
            .criterion
            .join("side-by-side/stage-1-basic/new/estimates.json"),
        1_000,
    );
    let text = stdout(&run(&[], &places));
    assert!(
        text.contains(
            "left out: side-by-side/stage-1-basic (measured before the last \
             scripts/compare-with-go.sh run, at 1970-01-01 00:16 UTC)"
        ),
        "{text}"
    );
    assert!(
        !text.contains("vs stage 1"),
        "no baseline, no column:\n{text}"
    );
}

#[test]
fn a_run_is_recorded_rendered_and_rendered_again_from_the_record_alone() {
    let places = places("record");
    let text = stdout(&run(&["record"], &places));
    assert!(text.contains("run 1 of the record"), "{text}");
    assert!(
        text.contains("the record holds 1 run; the book wants 3"),
        "{text}"
    );

    let record = Record::read_for_the_book(&places.record).expect("a record");
    let [run_file] = record.runs.as_slice() else {
        panic!("one run: {record:?}");
    };
    assert_eq!(run_file.points.len(), 15 + 9 * 12 + 20 + 2 + 4 + 3);
    assert_eq!(run_file.measuring_seconds, Some(297));
    let stage_1 = run_file
        .point("side-by-side/stage-1-basic")
        .expect("stage 1");
    assert_eq!(
        stage_1.contender, "stage-1-basic",
        "named by its parameter alone"
    );
    assert_eq!(stage_1.parameter, None);
    assert_eq!(
        (stage_1.jobs_per_iteration, stage_1.median_ns),
        (1_000_000, 331e6)
    );
    assert_eq!(
        (stage_1.samples, stage_1.fastest_ns),
        (10, Some(331e6 * 0.8))
    );
    let reference = run_file
        .point("reference/fast-pool/W2/Q100")
        .expect("a point");
    assert_eq!(reference.parameter.as_deref(), Some("W2/Q100"));
    let cancellation = run_file
        .point("cancellation/stage-3-cancel/8")
        .expect("a point");
    assert_eq!(
        cancellation.jobs_per_iteration, 1,
        "no throughput: time per iteration"
    );
    let file = places.record.join(RUNS_DIR).join(run_file.file_name());
    let on_disk = fs::read_to_string(&file).expect("the run's file");
    assert_eq!(
        run_file.to_json().expect("json"),
        on_disk,
        "written as it reads"
    );

    let rendered = bench_report::render(&record).expect("renders");
    let names: std::collections::BTreeSet<String> = rendered.keys().cloned().collect();
    assert_eq!(
        bench_report::render::rendered_files_in(&places.record).expect("listing"),
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
    for row in [
        "| the tuned pool (`fast-pool`) | 8.04 ns | 41× faster | 14× faster |",
        "| stage 1 | 331 ns | — | 2.9× slower |",
        "a thread per job (`peers::thread_per_job`), N = 10 000 | 94 µs",
    ] {
        assert!(side_by_side.contains(row), "no {row:?} in {side_by_side}");
    }
    assert!(
        !side_by_side.contains("vs Go, tuned"),
        "no column for a baseline not measured"
    );
    assert!(
        !side_by_side.contains("<small>"),
        "one run has no range across runs"
    );
    let http = &rendered["http.md"];
    assert!(
        http.contains("| a route that takes 20 ms | 673 ms | 337 µs | 2 970 | 625 ms | 93% |"),
        "{http}"
    );
    assert!(rendered["machine.md"].contains("297 s of measuring"));
    let svg = &rendered["side-by-side.svg"];
    assert!(svg.starts_with("<!-- Rendered") && svg.contains("thread per job (N = 10 000)"));

    // Rendering again from the record alone, after a hand edit and with no criterion tree,
    // gives back exactly the same files, and removes one the record does not render.
    fs::write(places.record.join("side-by-side.md"), "edited by hand").expect("an edit");
    fs::write(
        places.record.join("old-table.md"),
        "from a group that went away",
    )
    .expect("stale");
    fs::remove_dir_all(&places.criterion).expect("criterion's tree removed");
    stdout(&run(&["render"], &places));
    for (name, contents) in &rendered {
        let file = fs::read_to_string(places.record.join(name)).expect("a rendered file");
        assert_eq!(&file, contents, "{name}");
    }
    assert!(!places.record.join("old-table.md").exists());
}

#[test]
fn recording_the_same_results_twice_is_refused_and_a_new_set_starts_over() {
    let places = places("twice");
    stdout(&run(&["record"], &places));
    let again = run(&["record"], &places);
    assert_eq!(again.status.code(), Some(1));
    let error = stderr(&again);
    assert_eq!(error.lines().count(), 1, "one line: {error}");
    assert!(
        error.contains("the record already holds these results"),
        "{error}"
    );

    let fresh = stdout(&run(&["record", "--new-set"], &places));
    assert!(
        fresh.contains("started a new set: removed 1 recorded runs"),
        "{fresh}"
    );
    let record = Record::read_for_the_book(&places.record).expect("a record");
    assert_eq!(record.runs.len(), 1);
}

#[test]
fn a_second_run_adds_its_range_and_its_machine_line() {
    let places = places("second");
    stdout(&run(&["record"], &places));
    let first = Record::read_for_the_book(&places.record)
        .expect("a record")
        .runs[0]
        .clone();
    // A day later, the tuned pool twice as slow, everything else as before.
    let mut second = first.clone();
    second.recorded.date = "2026-12-31 23:59 UTC".to_owned();
    for point in second
        .points
        .iter_mut()
        .filter(|point| point.contender == "fast-pool")
    {
        for time in [
            &mut point.median_ns,
            &mut point.median_low_ns,
            &mut point.median_high_ns,
        ] {
            *time *= 2.0;
        }
    }
    record::add_run(&places.record, &second).expect("a second run");
    let mut bigger = second.clone();
    bigger.machine.cores = 64;
    bigger.recorded.date = "2027-01-01 00:00 UTC".to_owned();
    let refused = record::add_run(&places.record, &bigger).expect_err("another size of machine");
    assert!(refused.contains("another number of cores"), "{refused}");

    stdout(&run(&["render"], &places));
    let side_by_side = fs::read_to_string(places.record.join("side-by-side.md")).expect("table");
    // The median of 8.04 and 16.1 ns, the range under it, and the ratio to stage 1 computed in
    // each run before the median: 41× and 21× faster.
    assert!(
        side_by_side.contains(
            "| the tuned pool (`fast-pool`) | 12.1 ns<br><small>8.04–16.1 ns</small> | \
             27× faster<br><small>21–41× faster</small> |"
        ),
        "{side_by_side}"
    );
    assert!(
        side_by_side.contains("| stage 1 | 331 ns | — | 2.9× slower |"),
        "{side_by_side}"
    );
    assert!(side_by_side.contains("Each figure is the median of 2 runs"));
    let machines = fs::read_to_string(places.record.join("machine.md")).expect("machine.md");
    assert_eq!(machines.lines().count(), 2, "{machines}");
    assert!(machines.contains("recorded 2026-12-31 23:59 UTC"));
}

#[test]
fn check_lists_what_the_prose_says_and_the_record_does_not_hold() {
    let places = places("check");
    stdout(&run(&["record"], &places));
    // A workspace of its own: the program finds the chapters from CARGO_MANIFEST_DIR.
    let root = places.record.join("workspace");
    fs::create_dir_all(root.join("book/src")).expect("a book");
    fs::write(root.join("Cargo.toml"), "[workspace]\n").expect("a manifest");
    fs::write(
        root.join("README.md"),
        "In the `side-by-side` group stage 1 costs 331 ns a job, and the tuned pool is 41× \
         faster than stage 1.\n",
    )
    .expect("a README");
    fs::write(
        root.join("book/src/performance.md"),
        "# Performance\n\nStage 1 costs 999 ns.\nHere stage 1 is faster than Go.\n",
    )
    .expect("a chapter");
    let checked = Command::new(PROGRAM)
        .args(["check", "--record-dir"])
        .arg(&places.record)
        .env("CARGO_MANIFEST_DIR", &root)
        .output()
        .expect("the program runs");
    assert_eq!(checked.status.code(), Some(1), "{}", stderr(&checked));
    let text = String::from_utf8_lossy(&checked.stdout);
    assert_eq!(
        text.lines().take(3).collect::<Vec<_>>(),
        [
            "performance.md:3: \"999 ns\" is not a figure of the record",
            "performance.md:4: \"stage 1 faster than Go\" holds in no run of the record",
            "2 figures or comparisons in the prose that the record does not back",
        ],
        "{text}"
    );
}

#[test]
fn without_results_it_says_to_run_the_benches_first() {
    let scratch = Scratch::new("empty");
    let empty = scratch.0.join("criterion");
    fs::create_dir_all(&empty).expect("an empty dir");
    for dir in [&empty, &scratch.0.join("absent")] {
        let output = Command::new(PROGRAM)
            .arg("--criterion")
            .arg(dir)
            .arg("--probes")
            .arg(dir)
            .output()
            .expect("the program runs");
        assert_eq!(output.status.code(), Some(1));
        let error = stderr(&output);
        assert_eq!(error.lines().count(), 1, "one line: {error}");
        assert!(
            error.starts_with("error: no benchmark results in ")
                && error.contains("run `cargo bench`")
        );
    }
}

#[test]
fn render_and_check_without_runs_say_how_to_record_one() {
    let scratch = Scratch::new("no-runs");
    for command in ["render", "check"] {
        let output = Command::new(PROGRAM)
            .args([command, "--record-dir"])
            .arg(&scratch.0)
            .output()
            .expect("the program runs");
        assert_eq!(output.status.code(), Some(1));
        let error = stderr(&output);
        assert!(error.starts_with("error: no recorded runs in "), "{error}");
        assert!(
            error.contains("`cargo run -p bench-report -- record`"),
            "{error}"
        );
    }
}

/// The workspace root, two folders above this crate.
fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("the crate lives in <root>/crates/bench-report")
}
