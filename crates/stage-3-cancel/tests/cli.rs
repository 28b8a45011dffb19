//! The stage-3 program as a user runs it: its output under the deadline, its help, its answers to
//! bad flags, and what it does when it gets a real SIGINT or SIGTERM.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use insta::{assert_snapshot, with_settings};
use insta_cmd::{assert_cmd_snapshot, get_cargo_bin};
use test_support::{
    Finished, PrintedAccount, Signal, Spawned, TimelineShape,
    assert_unwritable_timeline_is_refused, check_transcript, number_after, read_book_output,
    run_with_timeline, sort_lines_by_key, stdout_of,
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

/// The chapter's run of the direct port of the article's worker; the same args as its
/// `cargo run` line. The deadline falls while jobs 7 to 9 run, with job 10 still queued.
const GO_PORT: [&str; 5] = ["--go-port", "--queue", "10", "--timeout", "1200ms"];

/// What must hold in any run of [`GO_PORT`]: jobs 1 to 6 complete, 7 to 9 are cancelled while
/// running, and job 10 either never starts or is taken after the cancellation, which the port
/// says and then counts as cancelled while running. Returns how many jobs were taken late.
fn assert_go_port_run(output: &str) -> u64 {
    let account = PrintedAccount::in_output(output);
    let taken_late = output.matches("after the cancellation").count() as u64;
    assert!(taken_late <= 1, "{output}");
    assert_eq!(
        (account.completed, account.cancelled, account.never_started),
        (6, 3 + taken_late, 1 - taken_late),
        "{output}"
    );
    assert!(account.adds_up(), "{output}");
    taken_late
}

#[test]
fn the_go_port_may_take_a_job_after_the_cancellation_and_says_so() {
    assert_go_port_run(&stdout_of(program().args(GO_PORT)));
}

/// The book's run is one in which the port took job 10 after the cancellation: the chapter
/// explains that line.
#[test]
fn the_books_go_port_run_is_what_the_program_prints() {
    let output = read_book_output("stage-3-cancel-go-port.txt");
    assert_eq!(assert_go_port_run(&output), 1, "{output}");
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
    test_support::scratch_folder("stage-3", test)
}

/// Runs the program with `args` and `--timeline`; returns what it printed and what the picture
/// shows.
fn timeline_of(args: &[&str], folder: &Path) -> (String, TimelineShape) {
    run_with_timeline(program().args(args), folder)
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
    let account = PrintedAccount::in_output(&output);
    let (failed, cancelled) = (account.failed as usize, account.cancelled as usize);
    assert_eq!(account.completed, 0, "{output}");
    assert_eq!(shape.bars, failed + cancelled, "{output}");
    assert_eq!(shape.job_labels.len(), shape.bars);
    assert_eq!(shape.labels_ending(" failed"), failed);
    assert_eq!(shape.labels_ending(" cancelled"), cancelled);
    assert_eq!((shape.worker_rows, shape.deadlines), (2, 1));
    assert_eq!(shape.lists_never_started, account.never_started > 0);
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

/// How long a test waits for a signalled program to exit before calling it hung: seconds, many
/// times what any correct exit takes on a busy machine. How *fast* cancellation is, is measured
/// by the `cancellation` bench group, not asserted here.
const EXIT_LIMIT: Duration = Duration::from_secs(10);

/// Starts the program with jobs far longer than any test and waits until it says it started (its
/// signal handler is installed before that line is printed).
fn start_long_run(extra_args: &[&str]) -> Spawned {
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
    let mut run = Spawned::start(program().args(long_run).args(extra_args));
    run.read_until(|line| line.starts_with("started:"));
    // Give the workers time to take their jobs, so that the signal finds jobs running (the
    // stubborn-job tests need that). Taking a job takes microseconds; this is hundreds of times
    // more than a busy scheduler delays a thread.
    thread::sleep(Duration::from_millis(300));
    run
}

/// The run was cut short by the signal, and the account adds up: whatever mix of cancelled and
/// never-started jobs the signal found, the counts total the ten jobs submitted, and none
/// completed (the jobs take an hour).
fn assert_interrupted_account(output: &str) {
    assert!(
        output.contains("interrupted: stopped taking jobs"),
        "{output}"
    );
    let account = PrintedAccount::in_output(output);
    assert_eq!((account.completed, account.failed), (0, 0), "{output}");
    assert_eq!(account.cancelled + account.never_started, 10, "{output}");
    assert_eq!(account.total, 10, "{output}");
}

#[test]
fn sigint_stops_the_run_prints_the_account_and_exits_130() {
    let run = start_long_run(&[]);
    let signalled = Instant::now();
    run.signal(Signal::SIGINT);
    let finished = run.finish_within(EXIT_LIMIT);
    assert_eq!(finished.status.code(), Some(130));
    // The jobs sleep for an hour, so ending at all shows that they were cancelled; the bound is
    // only there to say "promptly" in a way a busy machine cannot break.
    let took = signalled.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "exited {took:?} after SIGINT"
    );
    assert_interrupted_account(&finished.stdout);
    assert_eq!(finished.stderr, "");
}

#[test]
fn sigterm_is_handled_like_ctrl_c() {
    let run = start_long_run(&[]);
    run.signal(Signal::SIGTERM);
    let finished = run.finish_within(EXIT_LIMIT);
    assert_eq!(finished.status.code(), Some(130));
    assert_interrupted_account(&finished.stdout);
}

/// Jobs that ignore cancellation would keep an orderly stop waiting for an hour; the second
/// SIGINT exits at once, without an account.
#[test]
fn a_second_sigint_exits_130_at_once() {
    let run = start_long_run(&["--stubborn-every", "1"]);
    run.signal(Signal::SIGINT);
    // Let the first signal be handled on its own before the second arrives. Were the two
    // handled as one, the run would wait for its hour-long jobs and `finish_within` would fail.
    thread::sleep(Duration::from_millis(100));
    run.signal(Signal::SIGINT);
    let finished = run.finish_within(EXIT_LIMIT);
    assert_eq!(finished.status.code(), Some(130));
    assert!(!finished.stdout.contains("account:"), "{}", finished.stdout);
    assert_eq!(finished.stderr, "");
}

/// Without a second signal, the same stubborn run keeps going after the first: the orderly stop
/// waits for work that will not be interrupted. (Contrast with the test above.)
#[test]
fn one_sigint_waits_for_work_that_ignores_cancellation() {
    let mut run = start_long_run(&["--stubborn-every", "1"]);
    run.signal(Signal::SIGINT);
    // However late the signal is handled, the workers are in hour-long jobs that ignore it.
    thread::sleep(Duration::from_millis(300));
    assert!(
        !run.has_exited(),
        "the run ended without waiting for its stubborn jobs"
    );
    // Dropping `run` kills the program.
}

/// When, in the default run, a signal is sent. Every moment falls before the 2 s deadline with
/// a margin of at least 200 ms, so the program is still running when the signal lands (a signal
/// after the program has exited cannot count). A signal after the deadline, while the account
/// prints, is `exit_code`'s case, tested in-process in `tests/cancellation.rs`: from outside it
/// can only be hit by chance.
#[derive(Debug, Clone, Copy)]
enum Moment {
    /// This long after the `started` line: before the first job (at zero), or mid-job.
    AfterStart(Duration),
    /// This long after the ninth result line: every job that completes in the default run has
    /// finished, and job 10, the last, is running alone towards the deadline (or, on a busy machine,
    /// is about to be taken).
    AfterLastCompleted(Duration),
}

/// Twenty moments spread over the default run (fixed, so a failure names its moment): fifteen
/// from the `started` line to 1.4 s, in the first three rounds, and five after job 9 finished.
fn moments() -> Vec<Moment> {
    let millis = Duration::from_millis;
    let mut moments: Vec<Moment> = (0..15)
        .map(|step| Moment::AfterStart(millis(step * 100)))
        .collect();
    moments.extend([0, 75, 150, 225, 300].map(|after| Moment::AfterLastCompleted(millis(after))));
    moments
}

/// Runs the default program, sends `signal` at `moment`, and returns how it ended.
fn signal_the_default_run_at(moment: Moment, signal: Signal) -> Finished {
    let mut run = Spawned::start(&mut program());
    run.read_until(|line| line.starts_with("started:"));
    let after = match moment {
        Moment::AfterStart(after) => after,
        Moment::AfterLastCompleted(after) => {
            for _ in 0..9 {
                run.read_until(|line| line.starts_with("job "));
            }
            after
        }
    };
    thread::sleep(after);
    assert!(!run.has_exited(), "{moment:?}: the run had already ended");
    run.signal(signal);
    run.finish_within(EXIT_LIMIT)
}

/// Ctrl-C or SIGTERM at any moment of the default run, from before the first job to the
/// deadline's last half second, gives exit code 130 and a full account. The runs go at once, so the
/// twenty of them take about as long as one.
#[test]
fn a_signal_at_any_moment_of_the_default_run_exits_130_with_a_full_account() {
    let moments = moments();
    assert_eq!(moments.len(), 20);
    thread::scope(|scope| {
        let runs: Vec<_> = moments
            .iter()
            .enumerate()
            .map(|(index, &moment)| {
                let signal = if index % 2 == 0 {
                    Signal::SIGINT
                } else {
                    Signal::SIGTERM
                };
                (
                    moment,
                    signal,
                    scope.spawn(move || signal_the_default_run_at(moment, signal)),
                )
            })
            .collect();
        for (moment, signal, run) in runs {
            let finished = run.join().expect("the run's thread does not panic");
            let output = &finished.stdout;
            assert_eq!(
                finished.status.code(),
                Some(130),
                "{signal} at {moment:?}:\n{output}"
            );
            assert!(
                output.contains("interrupted: stopped taking jobs"),
                "{signal} at {moment:?}:\n{output}"
            );
            let account = PrintedAccount::in_output(output);
            assert!(
                account.adds_up() && account.total == 10,
                "{signal} at {moment:?}:\n{output}"
            );
            // After the ninth result, job 10 is either running (cancelled by the signal) or, on
            // a busy machine, still waiting for the worker that just finished to take it (never
            // started): both are a full account; what must hold is that nothing else changed.
            if let Moment::AfterLastCompleted(_) = moment {
                assert_eq!(
                    (account.completed, account.cancelled + account.never_started),
                    (9, 1),
                    "{signal} at {moment:?}:\n{output}"
                );
            }
            assert_eq!(finished.stderr, "", "{signal} at {moment:?}");
        }
    });
}
