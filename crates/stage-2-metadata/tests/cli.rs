//! The stage-2 program as a user runs it: its output, its help, and its answers to bad flags.

use std::process::Command;

use insta::{assert_snapshot, with_settings};
use insta_cmd::{assert_cmd_snapshot, get_cargo_bin};
use pool_core::testing::{
    check_transcript, number_after, read_book_output, sort_lines_by_key, stdout_of,
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
