//! The stage-5 program as a user runs it: the default run against its own demo server, its help,
//! its answers to bad input, and a real SIGINT in the middle of a request that never ends.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};

use insta::{assert_snapshot, with_settings};
use insta_cmd::{assert_cmd_snapshot, get_cargo_bin};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use pool_core::testing::{check_transcript, read_book_output, sort_lines_by_key, stdout_of};

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
        (r" in \d+(\.\d+)?m?s after", " in [LATENCY] after"),
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
    assert_eq!(checked, 4);
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

/// Kills the program if a test fails before it ends, so no hour-long run is left behind.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs the default URLs with an hour-long timeout, waits until every URL but the one that hangs
/// has its line, sends `signal`, and returns the exit code and the rest of the output.
fn interrupt_the_hanging_request(signal: Signal) -> (Option<i32>, String) {
    let child = program()
        .args(["--timeout", "1h"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("the program starts");
    let mut running = Running(child);
    let mut stdout = BufReader::new(running.0.stdout.take().expect("stdout is piped"));
    let mut lines_seen = 0;
    let mut line = String::new();
    // 13 URLs, and `/hang` never ends: after 12 worker lines only it is still in flight.
    while lines_seen < 12 {
        line.clear();
        assert!(
            stdout.read_line(&mut line).expect("the program prints") > 0,
            "output ended"
        );
        if line.starts_with("worker") {
            lines_seen += 1;
        }
    }
    let pid = Pid::from_raw(i32::try_from(running.0.id()).expect("a pid fits in an i32"));
    kill(pid, signal).expect("the signal is delivered");
    let status = running.0.wait().expect("the program exits");
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).expect("stdout is UTF-8");
    (status.code(), rest)
}

fn assert_interrupted(code: Option<i32>, rest: &str) {
    assert_eq!(code, Some(130));
    assert!(
        rest.contains("cancelled in "),
        "the hanging request was cancelled: {rest}"
    );
    assert!(rest.contains("interrupted: stopped taking URLs"), "{rest}");
    let account = rest
        .lines()
        .find(|line| line.starts_with("account:"))
        .expect("an account line");
    assert!(account.contains("1 cancelled while running"), "{account}");
    assert!(account.ends_with("= 13 URLs"), "{account}");
}

#[test]
fn sigint_during_a_request_that_never_ends_stops_with_the_account_and_130() {
    let (code, rest) = interrupt_the_hanging_request(Signal::SIGINT);
    assert_interrupted(code, &rest);
}

#[test]
fn sigterm_is_handled_like_ctrl_c() {
    let (code, rest) = interrupt_the_hanging_request(Signal::SIGTERM);
    assert_interrupted(code, &rest);
}
