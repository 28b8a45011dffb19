//! The stage-6 program as a user runs it: its help, its answers to bad input and to a broker
//! that is not there, the demo (on Redis and on the in-process broker), and Ctrl-C or SIGTERM at
//! 20 moments of the demo.

mod common;

use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use common::program;
use insta::{assert_snapshot, with_settings};
use insta_cmd::assert_cmd_snapshot;
use test_support::{
    Finished, Signal, Spawned, check_transcript, read_book_output, sort_lines_by_key, stdout_of,
};

fn demo() -> Command {
    let mut demo = program();
    demo.env("NO_COLOR", "1");
    demo
}

/// The demo's job lines come in the order the workers finish them, and which worker takes which
/// job is the scheduler's choice: sort them by job and delivery, and hide the worker.
fn assert_demo_snapshot(name: &str, output: &str) {
    let sorted = sort_lines_by_key(output, |line| {
        let number = |key: &str| -> u64 {
            line.split_once(&format!(" {key}="))
                .and_then(|(_, rest)| rest.split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|digits| digits.parse().ok())
                .unwrap_or(0)
        };
        match line {
            _ if line.starts_with("demo: started worker-2") => (1, 0, 0),
            // Within a delivery: taken over first, then how it ended.
            _ if line.contains("job{") => {
                let step = u64::from(!line.ends_with("taken over: its lease ran out"));
                (2, number("job"), number("delivery") * 2 + step)
            }
            _ if line.starts_with("dead letter") || line.starts_with("account") => (3, 0, 0),
            _ => (0, 0, 0),
        }
    });
    let filters = vec![(r#"worker="worker-\d" slot=\d"#, r#"worker="[W]" slot=[S]"#)];
    with_settings!({ filters => filters }, {
        assert_snapshot!(name, sorted);
    });
}

#[test]
fn the_demo_kills_a_worker_loses_nothing_and_dead_letters_the_poison_job() {
    if common::redis_missing("the demo on Redis") {
        return;
    }
    assert_demo_snapshot("demo_on_redis", &stdout_of(&mut demo()));
}

#[test]
fn the_books_sample_run_is_what_the_program_prints() {
    assert_demo_snapshot(
        "demo_on_redis",
        &read_book_output("stage-6-distributed.txt"),
    );
}

#[test]
fn the_books_bad_input_transcript_is_what_the_program_prints() {
    let program = std::path::PathBuf::from(env!("CARGO_BIN_EXE_stage-6-distributed"));
    assert_eq!(
        check_transcript("stage-6-distributed-bad-input.txt", &program),
        5
    );
}

#[test]
fn without_redis_the_demo_runs_in_process_and_says_what_that_gives_up() {
    let output = stdout_of(demo().env("PATH", "/nonexistent"));
    assert_demo_snapshot("demo_in_process", &output);
}

#[test]
fn help_lists_the_commands_and_their_flags() {
    for (name, args) in [
        ("help", &["--help"][..]),
        ("help_work", &["work", "--help"]),
        ("help_produce", &["produce", "--help"]),
        ("help_status", &["status", "--help"]),
    ] {
        assert_cmd_snapshot!(name, program().args(args));
    }
}

#[test]
fn bad_input_gets_one_line_naming_the_problem_and_exit_2() {
    for (name, args) in [
        (
            "malformed_url",
            &["--redis", "localhost:6379", "status"][..],
        ),
        ("zero_workers", &["work", "--workers", "0"]),
        ("zero_lease", &["work", "--lease", "0s"]),
        ("negative_jobs", &["produce", "--jobs", "-3"]),
        ("bad_name", &["--name", "a b", "status"]),
        ("unknown_command", &["frobnicate"]),
    ] {
        assert_cmd_snapshot!(format!("bad_input_{name}"), program().args(args));
    }
}

#[test]
fn a_broker_that_is_not_there_gets_one_line_and_exit_1_without_a_hang() {
    // Port 1 on loopback: nothing listens there, so the connection is refused at once; the
    // bound is only a guard against a hang.
    let started = Instant::now();
    let output = program()
        .args(["--redis", "redis://127.0.0.1:1", "status"])
        .output()
        .expect("the program starts");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "it gave up in time"
    );
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: cannot reach the broker at redis://127.0.0.1:1: "),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
}

/// The demo, stopped by `signal` `after` its first line (or, with `None`, after its last line).
/// Its first line comes once its signal handler is in place.
fn interrupt_the_demo(signal: Signal, after: Option<Duration>) -> Finished {
    let mut run = Spawned::start(&mut demo());
    run.read_until(|line| line.starts_with("demo:"));
    match after {
        Some(after) => thread::sleep(after),
        None => {
            run.read_until(|line| line.starts_with("account:"));
        }
    }
    run.signal(signal);
    run.finish_within(Duration::from_secs(120))
}

/// Stopped at any moment, the demo prints the account, which adds up, and exits 130 (or, when
/// the signal came after its last line, has already exited 0: the moment was too late).
#[test]
fn sigint_or_sigterm_at_20_moments_of_the_demo_gives_the_account_and_130() {
    if common::redis_missing("the demo's signal test") {
        return;
    }
    // The demo cannot end sooner than about 1.6 s after its first line: its workers wait out a
    // 1 s lease for worker-1's jobs and another for the poison job's second delivery, then idle
    // for 300 ms before they exit. 19 moments spread over its first 1.5 s, and one after its
    // last line.
    let moments: Vec<Option<Duration>> = (0..19)
        .map(|step| Some(Duration::from_millis(step * 85)))
        .chain([None])
        .collect();
    let runs: Vec<(Signal, Option<Duration>)> = moments
        .into_iter()
        .enumerate()
        .map(|(n, moment)| {
            (
                if n % 2 == 0 {
                    Signal::SIGINT
                } else {
                    Signal::SIGTERM
                },
                moment,
            )
        })
        .collect();
    thread::scope(|scope| {
        for pair in runs.chunks(10) {
            scope.spawn(move || {
                for &(signal, moment) in pair {
                    let ended = interrupt_the_demo(signal, moment);
                    let code = ended.status.code();
                    assert!(
                        code == Some(130) || (moment.is_none() && code == Some(0)),
                        "{signal} at {moment:?}: exit {code:?}\n{}{}",
                        ended.stdout,
                        ended.stderr
                    );
                    let account = ended
                        .stdout
                        .lines()
                        .find(|line| line.starts_with("account:"))
                        .unwrap_or_else(|| {
                            panic!("{signal} at {moment:?}: no account\n{}", ended.stdout)
                        });
                    assert!(adds_up(account), "{signal} at {moment:?}: {account}");
                }
            });
        }
    });
}

/// Whether `account: C completed, D dead-lettered, P pending…, W waiting = S jobs submitted…`
/// adds up: every job submitted is in exactly one of the four.
fn adds_up(account: &str) -> bool {
    let (kinds, total) = account.split_once(" = ").expect("a total");
    let first_number = |text: &str| -> u64 {
        text.split_whitespace()
            .find_map(|word| word.parse().ok())
            .unwrap_or_else(|| panic!("no number in {text:?} of {account}"))
    };
    let count = |kind: &str| -> u64 {
        first_number(
            kinds
                .split(", ")
                .find(|part| part.contains(kind))
                .unwrap_or(""),
        )
    };
    count("completed") + count("dead-lettered") + count("pending") + count("waiting")
        == first_number(total)
}
