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
    Finished, Signal, Spawned, check_transcript, check_transcript_with, read_book_output,
    sort_lines_by_key, stdout_of,
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
        6
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
        (
            "malformed_url_with_a_password",
            &["--redis", "localhost:secret@6379", "status"],
        ),
        ("zero_workers", &["work", "--workers", "0"]),
        ("zero_lease", &["work", "--lease", "0s"]),
        ("a_lease_of_a_nanosecond", &["work", "--lease", "1ns"]),
        (
            "a_lease_of_a_billion_years",
            &["work", "--lease", "1000000000y"],
        ),
        ("a_day_and_more_of_work", &["produce", "--delay", "25h"]),
        ("a_short_retention", &["work", "--keep-results", "10s"]),
        ("job_zero", &["status", "--job", "0"]),
        (
            "too_many_dead_letters",
            &["work", "--keep-dead-letters", "18446744073709551615"],
        ),
        ("chaos_for_ever", &["chaos", "--seconds", "100000"]),
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

/// A password in the broker's URL is never printed: not when the URL is refused, not when the
/// broker cannot be reached, whether it came by flag or by `REDIS_URL`.
#[test]
fn a_password_in_the_url_is_never_printed() {
    for (args, environment) in [
        (
            &["--redis", "redis://:hunter2@127.0.0.1:1", "status"][..],
            None,
        ),
        (&["status"][..], Some("redis://user:hunter2@127.0.0.1:1")),
        (
            &["status"][..],
            Some("redis://127.0.0.1:1?password=hunter2"),
        ),
        (&["--redis", "localhost:hunter2@6379", "work"][..], None),
        (&["--redis", "redis://:hunter2@127.0.0.1:1"][..], None),
        (
            &["--redis", "redis://user:hun/ter2@127.0.0.1:1", "status"][..],
            None,
        ),
        (
            &["--redis", "redis://:hun?ter2@127.0.0.1:1", "status"][..],
            None,
        ),
    ] {
        let mut command = program();
        command.args(args);
        if let Some(url) = environment {
            command.env("REDIS_URL", url);
        }
        let output = command.output().expect("the program runs");
        let printed = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(!output.status.success(), "{args:?}: {printed}");
        assert!(!printed.contains("hunter2"), "{args:?}: {printed}");
        assert!(printed.contains("***"), "{args:?}: {printed}");
    }
}

/// `--help` shows where `REDIS_URL` comes from, never its value.
#[test]
fn help_never_shows_the_url_in_the_environment() {
    for args in [&["--help"][..], &["work", "--help"], &["status", "-h"]] {
        let output = program()
            .args(args)
            .env("REDIS_URL", "redis://:hunter2@127.0.0.1:1")
            .output()
            .expect("the program runs");
        let printed = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{args:?}");
        assert!(!printed.contains("hunter2"), "{args:?}: {printed}");
    }
}

/// Under `--log-format json`, the error that ends the program is a JSON object too.
#[test]
fn a_fatal_error_under_json_logs_is_json() {
    let output = program()
        .args([
            "--log-format",
            "json",
            "--redis",
            "redis://127.0.0.1:1",
            "status",
        ])
        .output()
        .expect("the program runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let record: serde_json::Value = serde_json::from_str(stderr.trim()).expect("one JSON object");
    assert_eq!(record["level"], "ERROR");
    assert!(
        record["fields"]["message"]
            .as_str()
            .is_some_and(|message| message.starts_with("cannot reach the broker")),
        "{stderr}"
    );
}

/// `chaos` with its default settings injects every fault on a Redis of its own, and every
/// promise holds.
#[test]
fn chaos_with_its_defaults_finds_every_promise_kept() {
    if common::redis_missing("chaos") {
        return;
    }
    let mut chaos = program();
    chaos.arg("chaos");
    let ended = Spawned::start(&mut chaos).finish_within(Duration::from_secs(300));
    assert!(ended.status.success(), "{}{}", ended.stdout, ended.stderr);
    for fault in [
        "2 producers added",
        "2 entries that are not jobs",
        "SIGKILL",
        "SIGSTOP",
        "CLIENT PAUSE",
        "maxmemory",
        "restarted Redis",
        "restarted without its data",
    ] {
        assert!(
            ended.stdout.contains(fault),
            "no {fault:?} in:\n{}",
            ended.stdout
        );
    }
    assert_eq!(
        ended.stdout.matches("chaos: held:").count(),
        4,
        "{}",
        ended.stdout
    );
    assert!(
        ended.stdout.ends_with("chaos: every promise held\n"),
        "{}",
        ended.stdout
    );
    // The book's run has the same lines; only the numbers (which jobs the killed worker held, how
    // many runs were duplicates) may differ.
    assert_eq!(
        digits_hidden(&ended.stdout),
        digits_hidden(&read_book_output("stage-6-distributed-chaos.txt"))
    );
}

/// `text` with every number, range and list of them written as `N`, and plurals made singular:
/// what stays is the run's shape.
fn digits_hidden(text: &str) -> String {
    let mut hidden = String::new();
    let mut in_number = false;
    for c in text.chars() {
        let part_of_number = c.is_ascii_digit() || (in_number && c == '–');
        if !part_of_number {
            hidden.push(c);
        } else if !in_number {
            hidden.push('N');
        }
        in_number = part_of_number;
    }
    while hidden.contains("N, N") {
        hidden = hidden.replace("N, N", "N");
    }
    hidden
        .replace("runs,", "run,")
        .replace("N jobs (", "N job (")
}

/// The commands the chapter tells a reader to run against a Redis of their own print what the
/// chapter shows.
#[test]
fn the_books_commands_print_what_the_book_shows() {
    let Some(server) = common::private_redis("book-commands", false) else {
        return;
    };
    let program = std::path::PathBuf::from(env!("CARGO_BIN_EXE_stage-6-distributed"));
    let url = server.url();
    let checked = check_transcript_with(
        "stage-6-distributed-commands.txt",
        &program,
        &[("REDIS_URL", &url), ("NO_COLOR", "1")],
    );
    assert_eq!(checked, 5);
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
