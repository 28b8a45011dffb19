//! The stage-1 program as a user runs it: its output, its help, and its answers to bad flags.

use std::process::Command;

use insta::{assert_snapshot, with_settings};
use insta_cmd::{assert_cmd_snapshot, get_cargo_bin};
use test_support::{
    check_transcript, number_after, read_book_output, sort_lines_by_key, stdout_of,
};

fn program() -> Command {
    Command::new(get_cargo_bin("stage-1-basic"))
}

/// Workers pick up jobs and main prints results in whatever order the threads ran. This puts the
/// pick-ups first (by job id), then the results (by value), then the summary, and hides which
/// worker took which job: what is left is the same for every correct run.
fn normalized(output: &str) -> String {
    sort_lines_by_key(output, |line| {
        if let Some(job) = number_after(line, "picked up job") {
            (0, job)
        } else if let Some(output) = number_after(line, "result:") {
            (1, output)
        } else {
            (2, 0)
        }
    })
}

fn assert_default_run_snapshot(output: &str) {
    with_settings!({ filters => vec![(r"worker \d+", "worker [W]")] }, {
        assert_snapshot!("default_run", normalized(output));
    });
}

#[test]
fn default_run_squares_the_five_article_jobs() {
    assert_default_run_snapshot(&stdout_of(&mut program()));
}

/// The stage-1 chapter shows one real run; whatever else changes, it must still be a run that
/// this program could print today.
#[test]
fn the_books_sample_run_is_what_the_program_prints() {
    assert_default_run_snapshot(&read_book_output("stage-1-basic.txt"));
}

/// The chapter's examples of bad flags print what the book says they print.
#[test]
fn the_books_bad_flag_transcript_is_what_the_program_prints() {
    let checked = check_transcript(
        "stage-1-basic-bad-flags.txt",
        &get_cargo_bin("stage-1-basic"),
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
fn a_rendezvous_queue_and_one_worker_still_run_every_job() {
    let output = stdout_of(program().args(["--queue", "0", "--workers", "1", "--jobs", "4"]));
    assert_eq!(output.matches("picked up job").count(), 4);
    assert!(
        output.ends_with("done: 4 results from 4 jobs on 1 worker\n"),
        "{output}"
    );
}
