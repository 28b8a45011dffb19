//! The stage-2 program as a user runs it: its output, its help, and its answers to bad flags.

use std::path::{Path, PathBuf};
use std::process::Command;

use insta::{assert_snapshot, with_settings};
use insta_cmd::{assert_cmd_snapshot, get_cargo_bin};
use test_support::{
    TimelineShape, assert_unwritable_timeline_is_refused, check_transcript, number_after,
    read_book_output, run_with_timeline, sort_lines_by_key, stdout_of,
};

fn program() -> Command {
    Command::new(get_cargo_bin("stage-2-metadata"))
}

/// Results arrive in the order the workers finish. This sorts them by job id (the summary stays
/// last) and hides what depends on the scheduler and the clock: which worker ran a job, the time
/// of day, the seconds since the start, and the run's length. The ideal time stays: it is
/// arithmetic, not a measurement.
fn assert_default_run_snapshot(output: &str) {
    let by_job = sort_lines_by_key(output, |line| {
        number_after(line, "job ").unwrap_or(u64::MAX)
    });
    let filters = vec![
        (r"worker \d+:", "worker [W]:"),
        (r"at \d\d:\d\d:\d\d", "at [HH:MM:SS]"),
        (r"\+\d+\.\d\ds", "+[SINCE_START]"),
        (r"in \d+\.\d\ds", "in [ELAPSED]"),
    ];
    with_settings!({ filters => filters }, {
        assert_snapshot!("default_run", by_job);
    });
}

#[test]
fn default_run_prints_ten_results_and_the_ideal_time() {
    assert_default_run_snapshot(&stdout_of(&mut program()));
}

/// The stage-2 chapter shows one real run; whatever else changes, it must still be a run that
/// this program could print today.
#[test]
fn the_books_sample_run_is_what_the_program_prints() {
    assert_default_run_snapshot(&read_book_output("stage-2-metadata.txt"));
}

/// The chapter asks the reader to predict four runs before making them. Each summary names the
/// rounds and the ideal the chapter predicts, and every job is done. The runs overlap, so the
/// test takes as long as the longest (1.5 s), not the sum.
#[test]
fn the_chapters_predictions_are_what_the_runs_say() {
    let predicted: [(&[&str], &str); 4] = [
        (
            &["--workers", "5"],
            "ideal 1.00s: ⌈10/5⌉ = 2 rounds of 500ms",
        ),
        (
            &["--workers", "10"],
            "ideal 0.50s: ⌈10/10⌉ = 1 round of 500ms",
        ),
        (
            &["--workers", "4"],
            "ideal 1.50s: ⌈10/4⌉ = 3 rounds of 500ms",
        ),
        (
            &["--queue", "0", "--delay", "100ms"],
            "ideal 0.40s: ⌈10/3⌉ = 4 rounds of 100ms",
        ),
    ];
    std::thread::scope(|scope| {
        for (args, ideal) in predicted {
            scope.spawn(move || {
                let output = stdout_of(program().args(args));
                let summary = output.lines().last().unwrap_or_default();
                assert!(
                    summary.starts_with("done: 10 results"),
                    "{args:?}: {output}"
                );
                assert!(summary.ends_with(ideal), "{args:?}: {summary}");
            });
        }
    });
}

/// The chapter's examples of bad flags print what the book says they print.
#[test]
fn the_books_bad_flag_transcript_is_what_the_program_prints() {
    let checked = check_transcript(
        "stage-2-metadata-bad-flags.txt",
        &get_cargo_bin("stage-2-metadata"),
    );
    assert_eq!(checked, 3);
}

#[test]
fn help_lists_the_flags_and_their_defaults() {
    assert_cmd_snapshot!(program().arg("--help"));
}

#[test]
fn zero_workers_is_refused() {
    assert_cmd_snapshot!(program().args(["--workers", "0"]));
}

#[test]
fn a_negative_job_count_is_refused() {
    assert_cmd_snapshot!(program().args(["--jobs", "-3"]));
}

#[test]
fn a_job_count_that_is_not_a_number_is_refused() {
    assert_cmd_snapshot!(program().args(["--jobs", "many"]));
}

#[test]
fn a_delay_that_is_not_a_duration_is_refused() {
    assert_cmd_snapshot!(program().args(["--delay", "banana"]));
}

/// A folder of this test's own, so tests running at once never share a file.
fn scratch_folder(test: &str) -> PathBuf {
    test_support::scratch_folder("stage-2", test)
}

/// Runs the program with `args` and `--timeline`, and counts what the picture shows.
fn timeline_of(args: &[&str], folder: &Path) -> TimelineShape {
    run_with_timeline(program().args(args), folder).1
}

/// The timeline is counted, not compared: a bar and a label per job, a row per worker, and no
/// deadline (stage 2 has none).
#[test]
fn the_timeline_has_a_bar_per_job_and_a_row_per_worker() {
    let folder = scratch_folder("timeline");
    let shape = timeline_of(
        &["--jobs", "7", "--workers", "2", "--delay", "20ms"],
        &folder,
    );
    let _ = std::fs::remove_dir_all(&folder);
    let mut labels = shape.job_labels.clone();
    labels.sort_by_key(|label| number_after(label, "job "));
    let expected: Vec<String> = (1..=7).map(|job| format!("job {job}")).collect();
    assert_eq!(labels, expected);
    assert_eq!((shape.bars, shape.worker_rows, shape.deadlines), (7, 2, 0));
    assert!(!shape.lists_never_started);
}

/// The chapter's timeline is one the program drew for its default run: ten bars on three rows.
#[test]
fn the_books_timeline_has_the_shape_of_a_default_run() {
    let book = TimelineShape::of(&read_book_output("stage-2-metadata-timeline.svg"));
    let folder = scratch_folder("book-timeline");
    let program = timeline_of(&[], &folder);
    let _ = std::fs::remove_dir_all(&folder);
    assert_eq!((book.bars, book.worker_rows, book.deadlines), (10, 3, 0));
    let sorted = |shape: &TimelineShape| {
        let mut labels = shape.job_labels.clone();
        labels.sort();
        labels
    };
    assert_eq!(sorted(&book), sorted(&program));
    assert_eq!(
        (book.bars, book.worker_rows, book.deadlines),
        (program.bars, program.worker_rows, program.deadlines)
    );
}

/// A timeline that cannot be written is bad input, reported before the run starts.
#[test]
fn a_timeline_in_a_missing_folder_is_refused_before_the_run() {
    let folder = scratch_folder("missing");
    assert_unwritable_timeline_is_refused(&mut program(), &folder);
    let _ = std::fs::remove_dir_all(&folder);
}
