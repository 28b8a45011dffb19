//! The stage-5 program as a user runs it: the default run against its own demo server, its help,
//! its answers to bad input, a real SIGINT in the middle of a request that never ends, and SIGINT
//! or SIGTERM at 20 moments of the default run.

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::Duration;

use insta::{assert_snapshot, with_settings};
use insta_cmd::{assert_cmd_snapshot, get_cargo_bin};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use stage_5_http::demo::DemoServer;
use test_support::{
    Finished, PrintedAccount, Spawned, check_transcript, read_book_output, sort_lines_by_key,
    stdout_of,
};

fn program() -> Command {
    Command::new(get_cargo_bin("stage-5-http"))
}

/// Lines arrive in the order requests finish; this sorts the per-URL lines by URL (the summary
/// stays last) and hides ports, workers, latencies and the measured rates.
fn assert_default_run_snapshot(output: &str) {
    let by_url = sort_lines_by_key(output, |line| {
        if line.starts_with("demo server") {
            (0, String::new())
        } else if line.starts_with("worker") {
            let url = line.rsplit_once(": ").map_or("", |(_, url)| url);
            let path = url.split_once("//").map_or(url, |(_, rest)| rest);
            let path = path.split_once('/').map_or("", |(_, path)| path);
            (1, path.to_owned())
        } else {
            (2, String::new())
        }
    });
    let filters = vec![
        (r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]"),
        (r"worker \d+", "worker [W]"),
        (r" in \d+(\.\d+)?(µs|ms|s) after", " in [LATENCY] after"),
        (
            r"latency p50 .*; (\d+ requests) in .*, .* per second; concurrency reached \d+ of",
            "latency [MEASURED]; $1 in [MEASURED]; concurrency reached [N] of",
        ),
    ];
    with_settings!({ filters => filters }, {
        assert_snapshot!("default_run", by_url);
    });
}

#[test]
fn default_run_shows_every_kind_of_outcome() {
    assert_default_run_snapshot(&stdout_of(&mut program()));
}

#[test]
fn the_books_sample_run_is_what_the_program_prints() {
    assert_default_run_snapshot(&read_book_output("stage-5-http.txt"));
}

#[test]
fn the_books_bad_input_transcript_is_what_the_program_prints() {
    let checked = check_transcript("stage-5-http-bad-input.txt", &get_cargo_bin("stage-5-http"));
    assert_eq!(checked, 6);
}

#[test]
fn help_lists_the_flags_and_their_defaults() {
    assert_cmd_snapshot!(program().arg("--help"));
}

#[test]
fn a_malformed_url_is_refused() {
    assert_cmd_snapshot!(program().args(["--url", "http//example"]));
}

#[test]
fn a_missing_url_file_is_refused() {
    assert_cmd_snapshot!(program().args(["--urls", "no-such-file.txt"]));
}

#[test]
fn a_url_file_with_a_bad_line_names_the_line() {
    let path = std::env::temp_dir().join(format!("stage-5-urls-{}.txt", std::process::id()));
    std::fs::write(
        &path,
        "# two good, one bad\nhttp://127.0.0.1:9/\n\nftp://example.com/\n",
    )
    .expect("a temporary file");
    let output = program()
        .arg("--urls")
        .arg(&path)
        .output()
        .expect("the program starts");
    let _ = std::fs::remove_file(&path);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("line 4: 'ftp://example.com/': only http and https"),
        "{stderr}"
    );
}

/// The chapter's other runs, as it shows them, with one change: a demo server on loopback stands
/// in for the web sites of the `--url` example, so that the test runs offline. Each run accounts
/// for every URL it was given.
#[test]
fn the_chapters_other_runs_account_for_every_url() {
    let cycled = program()
        .args(["--rate", "0", "--jobs", "100"])
        .output()
        .expect("the program starts");
    let printed = String::from_utf8_lossy(&cycled.stdout);
    assert_eq!(cycled.status.code(), Some(0), "{printed}");
    let account = PrintedAccount::in_output(&printed);
    assert!(account.adds_up(), "{printed}");
    assert_eq!(account.total, 100, "{printed}");

    let runtime = tokio::runtime::Runtime::new().expect("a runtime for the demo server");
    let server = runtime
        .block_on(DemoServer::start())
        .expect("the demo server starts");
    let (fast, slow) = (server.url("/fast"), server.url("/delay/20"));
    let given = program()
        .args(["--url", fast.as_str(), "--url", slow.as_str()])
        .output()
        .expect("the program starts");
    let printed = String::from_utf8_lossy(&given.stdout);
    assert_eq!(given.status.code(), Some(0), "{printed}");
    let account = PrintedAccount::in_output(&printed);
    assert_eq!((account.completed, account.total), (2, 2), "{printed}");

    let list = std::env::temp_dir().join(format!("stage-5-my-urls-{}.txt", std::process::id()));
    let lines: Vec<String> = (0..30)
        .map(|index| server.url(&format!("/fast?{index}")).to_string())
        .collect();
    std::fs::write(&list, lines.join("\n")).expect("a temporary file");
    let from_file = program()
        .arg("--urls")
        .arg(&list)
        .args(["--workers", "16", "--rate", "50"])
        .output()
        .expect("the program starts");
    let _ = std::fs::remove_file(&list);
    let printed = String::from_utf8_lossy(&from_file.stdout);
    assert_eq!(from_file.status.code(), Some(0), "{printed}");
    let account = PrintedAccount::in_output(&printed);
    assert_eq!((account.completed, account.total), (30, 30), "{printed}");
    runtime.block_on(server.stop());
}

/// Runs the default URLs with an hour-long request timeout, waits until every URL but the one
/// that hangs has its line, sends `signal`, and returns how the program ended.
fn interrupt_the_hanging_request(signal: Signal) -> Finished {
    let mut program = Spawned::start(program().args(["--request-timeout", "1h"]));
    // 13 URLs, and `/hang` never ends: after 12 worker lines only it is still in flight.
    for _ in 0..12 {
        program.read_until(|line| line.starts_with("worker"));
    }
    program.signal(signal);
    program.finish_within(Duration::from_secs(30))
}

fn assert_interrupted(finished: &Finished) {
    let output = &finished.stdout;
    assert_eq!(finished.status.code(), Some(130), "{output}");
    assert!(
        output.contains("cancelled while running: "),
        "the hanging request was cancelled: {output}"
    );
    assert!(
        output.contains("interrupted: stopped taking URLs"),
        "{output}"
    );
    let account = output
        .lines()
        .find(|line| line.starts_with("account:"))
        .expect("an account line");
    assert!(account.contains("1 cancelled while running"), "{account}");
    assert!(account.ends_with("= 13 URLs"), "{account}");
}

#[test]
fn sigint_during_a_request_that_never_ends_stops_with_the_account_and_130() {
    assert_interrupted(&interrupt_the_hanging_request(Signal::SIGINT));
}

#[test]
fn sigterm_is_handled_like_ctrl_c() {
    assert_interrupted(&interrupt_the_hanging_request(Signal::SIGTERM));
}

/// When a signal goes to the default run: this long after the program said where its demo
/// server is (its signal handlers are installed by then), or at once if the last URL's line comes
/// first. `None` waits for the last line: after the last answer, while the program winds down.
type Moment = Option<Duration>;

/// 20 moments spread over the default run, which lasts a little over a second (the rate limit
/// spaces its 22 requests 50 ms apart, and `/hang` times out after 1 s): before the first
/// request, then every 62 ms through the requests and the wait for `/hang`, and after the last
/// answer. Fixed, not random, so that a failure names a moment that can be tried again.
fn moments() -> Vec<Moment> {
    let mut moments: Vec<Moment> = (0..19)
        .map(|i| Some(Duration::from_millis(i * 62)))
        .collect();
    moments.push(None);
    moments
}

/// Starts the default run, sends `signal` at `moment`, and returns how the program ended. A
/// timed moment is kept by a thread of its own, so that reading the output never delays it; the
/// moment after the last answer is kept by the reader itself, the instant it has the line.
fn interrupt_the_default_run(signal: Signal, moment: Moment) -> Finished {
    let mut program = Spawned::start(&mut program());
    program.read_until(|line| line.starts_with("demo server"));
    let pid = Pid::from_raw(i32::try_from(program.child().id()).expect("a pid fits in an i32"));
    // Once only, whoever gets there first: a second signal would end the program at once.
    let sent = Arc::new(AtomicBool::new(false));
    let once = Arc::clone(&sent);
    let send = move || {
        if !once.swap(true, Ordering::SeqCst) {
            kill(pid, signal).expect("the signal is delivered");
        }
    };
    let (last_answer, last_answer_seen) = mpsc::channel::<()>();
    // Waits for the moment or for the last answer, whichever comes first.
    let signaller = moment.map(|after| {
        let send = send.clone();
        thread::spawn(move || {
            if last_answer_seen.recv_timeout(after).is_err() {
                send();
            }
        })
    });
    // 13 URLs: the 13th worker line is the last answer.
    let mut answers = 0;
    while answers < 13 {
        match program.next_line() {
            Some(line) if line.starts_with("worker") => answers += 1,
            Some(_) => {}
            None => break,
        }
    }
    match signaller {
        Some(signaller) => {
            // If the moment has not come yet, it comes now.
            let _ = last_answer.send(());
            send();
            signaller.join().expect("the signal is sent");
        }
        None => send(),
    }
    program.finish_within(Duration::from_secs(30))
}

/// SIGINT and SIGTERM, by turns, at 20 moments of the default run, from before the first request
/// to after the last answer: every run ends with exit code 130 and an account of all 13 URLs,
/// with a line for each URL a worker took. Four runs at a time, to keep the test short; the
/// moments are counted from each program's own output, so the runs do not need to keep pace.
#[test]
fn a_signal_at_any_moment_of_the_default_run_gives_130_and_the_whole_account() {
    let signals = [Signal::SIGINT, Signal::SIGTERM];
    let runs: Vec<(Signal, Moment)> = moments()
        .into_iter()
        .enumerate()
        .map(|(i, moment)| (signals[i % 2], moment))
        .collect();
    for batch in runs.chunks(4) {
        let finished: Vec<Finished> = thread::scope(|scope| {
            let running: Vec<_> = batch
                .iter()
                .map(|&(signal, moment)| {
                    scope.spawn(move || interrupt_the_default_run(signal, moment))
                })
                .collect();
            running
                .into_iter()
                .map(|run| run.join().expect("the run's thread does not panic"))
                .collect()
        });
        for (&(signal, moment), run) in batch.iter().zip(finished) {
            let output = &run.stdout;
            let context = format!("{signal} at {moment:?}:\n{output}{}", run.stderr);
            assert_eq!(run.status.code(), Some(130), "{context}");
            let account = PrintedAccount::in_output(output);
            assert!(account.adds_up(), "{context}");
            assert_eq!(account.total, 13, "{context}");
            let worker_lines = output
                .lines()
                .filter(|line| line.starts_with("worker"))
                .count() as u64;
            let ran = account.completed + account.failed + account.cancelled;
            assert_eq!(worker_lines, ran, "{context}");
        }
    }
}
