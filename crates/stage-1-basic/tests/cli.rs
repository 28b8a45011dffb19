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

/// What the chapter says to notice in its sample run holds for that run: one worker took every
/// job, every pick-up came before the first result, and the results came in job order.
#[test]
fn the_chapters_notes_on_its_sample_run_hold_for_it() {
    let sample = read_book_output("stage-1-basic.txt");
    let lines: Vec<&str> = sample.lines().collect();
    let workers: Vec<u64> = lines
        .iter()
        .filter_map(|line| number_after(line, "worker"))
        .collect();
    assert!(
        workers.windows(2).all(|pair| pair[0] == pair[1]),
        "{sample}"
    );
    let first_result = lines.iter().position(|line| line.starts_with("result:"));
    let last_pick_up = lines.iter().rposition(|line| line.contains("picked up"));
    assert!(
        matches!((last_pick_up, first_result), (Some(pick_up), Some(result)) if pick_up < result),
        "{sample}"
    );
    let results: Vec<u64> = lines
        .iter()
        .filter_map(|line| number_after(line, "result:"))
        .collect();
    assert!(results.is_sorted(), "{sample}");
}

/// The chapter's run with room for two jobs in the queue. The submitter waits for room there,
/// which changes the order of the lines but never the lines themselves: sorted, they are the
/// default run's, whatever the scheduler did. The file starts with the command the chapter
/// shows, and the test runs it too.
#[test]
fn the_books_run_with_a_queue_of_two_is_what_the_program_prints() {
    let shown = read_book_output("stage-1-basic-queue-2.txt");
    let (command, output) = shown
        .split_once('\n')
        .expect("the command, then what it printed");
    assert_eq!(command, "$ cargo run -q -p stage-1-basic -- --queue 2");
    assert_default_run_snapshot(output);
    assert_default_run_snapshot(&stdout_of(program().args(["--queue", "2"])));

    // What the chapter points at in this run: the jobs went in pairs (1 and 2 to one worker, 3
    // and 4 to another), and a result was printed before the last pick-up.
    let worker_of = |job: u64| {
        output
            .lines()
            .find(|line| number_after(line, "picked up job") == Some(job))
            .and_then(|line| number_after(line, "worker"))
    };
    assert_eq!(worker_of(1), worker_of(2), "{output}");
    assert_eq!(worker_of(3), worker_of(4), "{output}");
    assert_ne!(worker_of(1), worker_of(3), "{output}");
    let first_result = output.find("result:");
    let last_pick_up = output.rfind("picked up");
    assert!(
        matches!((first_result, last_pick_up), (Some(result), Some(pick_up)) if result < pick_up),
        "{output}"
    );
}

/// The runs the chapter suggests trying: more jobs on more workers, and a rendezvous queue.
/// Each picks up every job exactly once and ends with its summary.
#[test]
fn the_chapters_suggested_runs_pick_up_every_job_once() {
    let suggested: [(&[&str], u64, &str); 2] = [
        (
            &["--jobs", "20", "--workers", "4"],
            20,
            "done: 20 results from 20 jobs on 4 workers\n",
        ),
        (
            &["--queue", "0"],
            5,
            "done: 5 results from 5 jobs on 3 workers\n",
        ),
    ];
    for (args, jobs, summary) in suggested {
        let output = stdout_of(program().args(args));
        let mut picked_up: Vec<u64> = output
            .lines()
            .filter_map(|line| number_after(line, "picked up job"))
            .collect();
        picked_up.sort_unstable();
        assert_eq!(picked_up, (1..=jobs).collect::<Vec<_>>(), "{args:?}");
        assert!(output.ends_with(summary), "{args:?}: {output}");
    }
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
