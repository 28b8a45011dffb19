//! The stage-3 program as a user runs it: its output under the deadline, its help, its answers to
//! bad flags, and what it does when it gets a real SIGINT or SIGTERM.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use insta::{assert_snapshot, with_settings};
use insta_cmd::{assert_cmd_snapshot, get_cargo_bin};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use pool_core::testing::{
    self, TimelineShape, assert_unwritable_timeline_is_refused, check_transcript, number_after,
    read_book_output, sort_lines_by_key, stdout_of,
};

fn program() -> Command {
    Command::new(get_cargo_bin("stage-3-cancel"))
}

/// Sorts the job lines by job id between the `started` line and the closing lines, and hides
/// worker ids and times, as stage 2's test does.
fn assert_sorted_snapshot(name: &str, output: &str) {
    let by_job = sort_lines_by_key(output, |line| {
        if line.starts_with("started") {
            (0, 0)
        } else if let Some(job) = number_after(line, "job ") {
            (1, job)
        } else {
            (2, 0)
        }
    });
    let filters = vec![
        (r"worker \d+", "worker [W]"),
        (r"at \d\d:\d\d:\d\d", "at [HH:MM:SS]"),
        (r"\+\d+\.\d\ds", "+[SINCE_START]"),
    ];
    with_settings!({ filters => filters }, {
        assert_snapshot!(name, by_job);
    });
}

/// Ten half-second jobs on three workers need four rounds, the last ending at 2 s: exactly at
/// the deadline. Job 10 is in the last round, alone, and finishes too late to count, every time:
/// each round takes at least its full delay, so the last one cannot end before the deadline.
#[test]
fn default_run_completes_nine_jobs_and_cancels_the_last_at_the_deadline() {
    assert_sorted_snapshot("default_run", &stdout_of(&mut program()));
}

#[test]
fn the_books_sample_run_is_what_the_program_prints() {
    assert_sorted_snapshot("default_run", &read_book_output("stage-3-cancel.txt"));
}

/// The chapter's run with failures mixed in; the same args as its `cargo run` line.
const FAILURES: [&str; 8] = [
    "--jobs",
    "12",
    "--delay",
    "100ms",
    "--fail-every",
    "4",
    "--panic-every",
    "5",
];

#[test]
fn failures_are_reported_per_job_and_counted() {
    assert_sorted_snapshot("failures_run", &stdout_of(program().args(FAILURES)));
}

#[test]
fn the_books_failures_run_is_what_the_program_prints() {
    assert_sorted_snapshot(
        "failures_run",
        &read_book_output("stage-3-cancel-failures.txt"),
    );
}

#[test]
fn the_books_bad_flag_transcript_is_what_the_program_prints() {
    let checked = check_transcript(
        "stage-3-cancel-bad-flags.txt",
        &get_cargo_bin("stage-3-cancel"),
    );
    assert_eq!(checked, 3);
}

#[test]
fn help_lists_the_flags_and_their_defaults() {
    assert_cmd_snapshot!(program().arg("--help"));
}

#[test]
fn a_timeout_that_is_not_a_duration_is_refused() {
    assert_cmd_snapshot!(program().args(["--timeout", "soon"]));
}

#[test]
fn zero_for_fail_every_is_refused() {
    assert_cmd_snapshot!(program().args(["--fail-every", "0"]));
}

/// 10 000 jobs, every 10th panicking and every other 5th failing: the account counts each kind
/// exactly, and not one panic message reaches stderr; they are all in the outcomes.
#[test]
fn panics_and_errors_are_counted_and_stay_out_of_stderr() {
    let output = program()
        .args(["--jobs", "10000", "--delay", "0s", "--timeout", "1h"])
        .args(["--panic-every", "10", "--fail-every", "5"])
        .output()
        .expect("the program starts");
    assert!(output.status.success());
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(stdout.matches("panicked: job").count(), 1000);
    assert_eq!(stdout.matches("was told to fail").count(), 1000);
    assert!(
        stdout.ends_with(
            "account: 8000 completed, 2000 failed, 0 cancelled while running, \
             0 never started = 10000 jobs\n"
        ),
        "{}",
        stdout.lines().last().unwrap_or_default()
    );
}

/// A folder of this test's own, so tests running at once never share a file.
fn scratch_folder(test: &str) -> PathBuf {
    testing::scratch_folder("stage-3", test)
}

/// Runs the program with `args` and `--timeline`; returns what it printed and what the picture
/// shows.
fn timeline_of(args: &[&str], folder: &Path) -> (String, TimelineShape) {
    let path = folder.join("timeline.svg");
    let output = stdout_of(program().args(args).arg("--timeline").arg(&path));
    assert!(
        output.ends_with(&format!("timeline: {}\n", path.display())),
        "{output}"
    );
    let svg = std::fs::read_to_string(&path).expect("the timeline was written");
    assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(80)]);
    (output, TimelineShape::of(&svg))
}

/// A count from the account line, e.g. `count_in_account(output, "failed")`.
fn count_in_account(output: &str, kind: &str) -> usize {
    output
        .lines()
        .find_map(|line| line.strip_prefix("account:"))
        .and_then(|account| account.split([',', '=']).find(|part| part.contains(kind)))
        .and_then(|part| part.split_whitespace().next())
        .and_then(|number| number.parse().ok())
        .unwrap_or_else(|| panic!("no count of {kind} in {output}"))
}

/// Hour-long jobs under a short deadline, every second one failing at once: however many jobs
/// the workers got to, the picture has a bar for each job that ran, labelled by its outcome as
/// the account counts them, a row per worker, the deadline, and a note for the jobs that never
/// started.
#[test]
fn the_timeline_shows_every_job_that_ran_by_outcome_and_the_deadline() {
    let folder = scratch_folder("timeline");
    let args = [
        "--jobs",
        "8",
        "--workers",
        "2",
        "--delay",
        "1h",
        "--timeout",
        "300ms",
        "--fail-every",
        "2",
    ];
    let (output, shape) = timeline_of(&args, &folder);
    let _ = std::fs::remove_dir_all(&folder);
    let (failed, cancelled) = (
        count_in_account(&output, "failed"),
        count_in_account(&output, "cancelled"),
    );
    assert_eq!(count_in_account(&output, "completed"), 0, "{output}");
    assert_eq!(shape.bars, failed + cancelled, "{output}");
    assert_eq!(shape.job_labels.len(), shape.bars);
    assert_eq!(shape.labels_ending(" failed"), failed);
    assert_eq!(shape.labels_ending(" cancelled"), cancelled);
    assert_eq!((shape.worker_rows, shape.deadlines), (2, 1));
    assert_eq!(
        shape.lists_never_started,
        count_in_account(&output, "never started") > 0
    );
}

/// The chapter's timeline is one the program drew for its default run: nine jobs completed,
/// job 10 cut by the deadline, three rows and the deadline line.
#[test]
fn the_books_timeline_has_the_shape_of_a_default_run() {
    let book = TimelineShape::of(&read_book_output("stage-3-cancel-timeline.svg"));
    let folder = scratch_folder("book-timeline");
    let (_, program) = timeline_of(&[], &folder);
    let _ = std::fs::remove_dir_all(&folder);
    let sorted = |shape: &TimelineShape| {
        let mut labels = shape.job_labels.clone();
        labels.sort_by_key(|label| number_after(label, "job "));
        labels
    };
    let mut expected: Vec<String> = (1..=9).map(|job| format!("job {job}")).collect();
    expected.push("job 10 cancelled".to_owned());
    assert_eq!(sorted(&book), expected);
    assert_eq!(sorted(&program), expected);
    assert_eq!((book.bars, book.worker_rows, book.deadlines), (10, 3, 1));
    assert_eq!(
        book,
        TimelineShape {
            job_labels: book.job_labels.clone(),
            ..program
        }
    );
}

/// A timeline that cannot be written is bad input, reported before the run starts.
#[test]
fn a_timeline_in_a_missing_folder_is_refused_before_the_run() {
    let folder = scratch_folder("missing");
    assert_unwritable_timeline_is_refused(&mut program(), &folder);
    let _ = std::fs::remove_dir_all(&folder);
}

/// Starts the program with jobs far longer than any test, and waits until it says it started
/// (its signal handler is installed before that line is printed).
fn start_long_run(extra_args: &[&str]) -> (Child, BufReader<ChildStdout>) {
    let long_run = [
        "--jobs",
        "10",
        "--workers",
        "3",
        "--delay",
        "1h",
        "--timeout",
        "2h",
    ];
    let mut child = program()
        .args(long_run)
        .args(extra_args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the program starts");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
    let mut first_line = String::new();
    stdout
        .read_line(&mut first_line)
        .expect("the program prints");
    assert!(first_line.starts_with("started:"), "{first_line}");
    // Give the workers a moment to take their jobs, so that some are cancelled mid-job. The
    // test's assertions hold whether or not they have.
    thread::sleep(Duration::from_millis(100));
    (child, stdout)
}

fn send(signal: Signal, child: &Child) {
    let pid = Pid::from_raw(i32::try_from(child.id()).expect("a pid fits in an i32"));
    kill(pid, signal).expect("the signal is delivered");
}

/// Waits for the child to exit, giving up (and killing it) after ten seconds so that a hung
/// program fails the test instead of hanging it.
fn wait_for_exit(child: &mut Child) -> (ExitStatus, Instant) {
    let give_up = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().expect("the child can be waited for") {
            return (status, Instant::now());
        }
        if Instant::now() > give_up {
            let _ = child.kill();
            panic!("the program did not exit within 10 s of the signal");
        }
        thread::sleep(Duration::from_millis(1));
    }
}

fn rest_of(mut stdout: BufReader<ChildStdout>) -> String {
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).expect("stdout is UTF-8");
    rest
}

/// The account adds up: whatever mix of cancelled and never-started jobs the signal found, the
/// counts total the ten jobs submitted, and none completed (the jobs take an hour).
fn assert_interrupted_account(output: &str) {
    assert!(
        output.contains("interrupted: stopped taking jobs"),
        "{output}"
    );
    let account = output
        .lines()
        .find(|line| line.starts_with("account:"))
        .expect("an account line");
    // "account: 0 completed, 0 failed, 3 cancelled while running, 7 never started = 10 jobs"
    let count = |kind: &str| -> u64 {
        account
            .trim_start_matches("account:")
            .split(',')
            .find(|part| part.contains(kind))
            .and_then(|part| part.split_whitespace().next())
            .and_then(|number| number.parse().ok())
            .expect("every kind is counted")
    };
    assert_eq!(count("completed"), 0, "{account}");
    assert_eq!(count("failed"), 0, "{account}");
    assert_eq!(count("cancelled") + count("never started"), 10, "{account}");
    assert!(account.ends_with("= 10 jobs"), "{account}");
}

#[test]
fn sigint_stops_the_run_prints_the_account_and_exits_130() {
    let (mut child, stdout) = start_long_run(&[]);
    let signalled = Instant::now();
    send(Signal::SIGINT, &child);
    let (status, exited) = wait_for_exit(&mut child);
    assert_eq!(status.code(), Some(130));
    let took = exited - signalled;
    assert!(
        took < Duration::from_millis(200),
        "exited {took:?} after SIGINT"
    );
    assert_interrupted_account(&rest_of(stdout));
}

#[test]
fn sigterm_is_handled_like_ctrl_c() {
    let (mut child, stdout) = start_long_run(&[]);
    send(Signal::SIGTERM, &child);
    let (status, _) = wait_for_exit(&mut child);
    assert_eq!(status.code(), Some(130));
    assert_interrupted_account(&rest_of(stdout));
}

/// Jobs that ignore cancellation would keep an orderly stop waiting for an hour; the second
/// SIGINT exits at once, without an account.
#[test]
fn a_second_sigint_exits_130_at_once() {
    let (mut child, stdout) = start_long_run(&["--stubborn-every", "1"]);
    send(Signal::SIGINT, &child);
    // Let the first signal be handled on its own before the second arrives.
    thread::sleep(Duration::from_millis(100));
    send(Signal::SIGINT, &child);
    let (status, _) = wait_for_exit(&mut child);
    assert_eq!(status.code(), Some(130));
    let output = rest_of(stdout);
    assert!(!output.contains("account:"), "{output}");
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        pipe.read_to_string(&mut stderr).expect("stderr is UTF-8");
    }
    assert_eq!(stderr, "");
}

/// Without a second signal, the same stubborn run keeps going after the first: the orderly stop
/// waits for work that will not be interrupted. (Contrast with the test above.)
#[test]
fn one_sigint_waits_for_work_that_ignores_cancellation() {
    let (mut child, _stdout) = start_long_run(&["--stubborn-every", "1"]);
    send(Signal::SIGINT, &child);
    thread::sleep(Duration::from_millis(300));
    let still_running = child
        .try_wait()
        .expect("the child can be waited for")
        .is_none();
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        still_running,
        "the run ended without waiting for its stubborn jobs"
    );
}
