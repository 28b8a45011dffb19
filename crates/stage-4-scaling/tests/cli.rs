//! The stage-4 program as a user runs it: its output, its help, its answers to bad flags, its
//! chart, its metrics endpoint scraped over real HTTP during a run, and real SIGINTs and SIGTERMs
//! at twenty moments of its default run.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use insta::{assert_snapshot, with_settings};
use insta_cmd::{assert_cmd_snapshot, get_cargo_bin};
use nix::sys::signal::Signal;
use test_support::{PrintedAccount, Spawned, check_transcript, read_book_output, stdout_of};

fn program() -> Command {
    Command::new(get_cargo_bin("stage-4-scaling"))
}

/// Which resizes happen when depends on where the ticks fall, so the snapshot leaves out the
/// timed lines (`+1.23s …`) and the per-worker rows and hides the measured times and depths; the
/// events are checked by `assert_events` instead, the run times by `assert_median_run_time`.
fn assert_default_run_snapshot(output: &str) {
    let kept: String = output
        .lines()
        .filter(|line| !line.starts_with('+') && !is_worker_row(line))
        .map(|line| format!("{line}\n"))
        .collect();
    let filters = vec![
        (
            r"(queue wait\s+p50)\s+\S+\s+p95\s+\S+\s+max\s+\S+",
            "$1 [WAITS]",
        ),
        (r"(peak queue depth)\s+\d+", "$1 [DEPTH]"),
        (
            r"(job run time\s+p50)\s+\S+\s+p95\s+\S+\s+max\s+\S+",
            "$1 [RUN TIMES]",
        ),
    ];
    with_settings!({ filters => filters }, {
        assert_snapshot!("default_run", kept);
    });
}

/// A row of the per-worker table: id, uptime, busy share, jobs.
fn is_worker_row(line: &str) -> bool {
    let fields: Vec<&str> = line.split_whitespace().collect();
    fields.len() == 4 && fields[0].parse::<usize>().is_ok() && fields[2].ends_with('%')
}

/// The resizes of the default run: up to the maximum for the burst, back to the minimum after
/// it, never outside 1..=8, and each with a reason.
fn assert_events(output: &str) {
    let events: Vec<(usize, usize)> = output
        .lines()
        .filter(|line| line.starts_with('+') && line.contains(" scale "))
        .map(|line| {
            let (_, sizes) = line.split_once("scale").expect("an event says scale");
            let sizes = sizes.trim_start_matches([' ', 'u', 'p', 'd', 'o', 'w', 'n']);
            let (from, rest) = sizes.split_once(" → ").expect("from → to");
            let (to, why) = rest.split_once(": ").expect("a reason");
            assert!(!why.is_empty(), "{line}");
            (from.parse().expect("a size"), to.parse().expect("a size"))
        })
        .collect();
    assert!(events.len() >= 2, "{output}");
    assert_eq!(events.first().map(|event| event.0), Some(1), "{output}");
    assert!(events.iter().any(|&(_, to)| to == 8), "{output}");
    assert_eq!(events.last().map(|event| event.1), Some(1), "{output}");
    assert!(
        events
            .iter()
            .all(|&(from, to)| (1..=8).contains(&from) && (1..=8).contains(&to))
    );
}

/// The printed median run time of the default run's 20 ms jobs is within 10 % of 20 ms. A job
/// sleeps 20 ms, so it runs at least that long, and a sleep overshoots by far less than 2 ms
/// unless the machine is very busy; the histogram adds at most 1.6 %.
fn assert_median_run_time(output: &str) {
    let line = output
        .lines()
        .find(|line| line.trim_start().starts_with("job run time"))
        .expect("a run-time line");
    let median = line
        .split_whitespace()
        .skip_while(|word| *word != "p50")
        .nth(1)
        .and_then(|text| text.strip_suffix("ms"))
        .and_then(|millis| millis.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("a median in milliseconds: {line}"));
    assert!((18.0..=22.0).contains(&median), "{line}");
}

/// After the last job is done the autoscaler carries on, and the pool shrinks after that.
fn assert_scaled_down_after_the_last_job(output: &str) {
    let lines: Vec<&str> = output.lines().collect();
    let done = lines
        .iter()
        .position(|line| line.contains("last job done"))
        .unwrap_or_else(|| panic!("no last-job line:\n{output}"));
    assert!(
        lines[done..].iter().any(|line| line.contains("scale down")),
        "{output}"
    );
}

/// A duration as the table prints it: `992ms`, `3.99s`, `851µs`.
fn printed_duration(text: &str) -> Duration {
    let (number, unit) = if let Some(number) = text.strip_suffix("ms") {
        (number, 1e-3)
    } else if let Some(number) = text.strip_suffix("µs") {
        (number, 1e-6)
    } else if let Some(number) = text.strip_suffix('s') {
        (number, 1.0)
    } else {
        panic!("not a printed duration: {text}")
    };
    let number: f64 = number
        .parse()
        .unwrap_or_else(|_| panic!("not a printed duration: {text}"));
    Duration::from_secs_f64(number * unit)
}

/// The longest wait the table printed.
fn longest_printed_wait(output: &str) -> Duration {
    let line = output
        .lines()
        .find(|line| line.trim_start().starts_with("queue wait"))
        .expect("a queue-wait line");
    let max = line
        .split_whitespace()
        .skip_while(|word| *word != "max")
        .nth(1)
        .unwrap_or_else(|| panic!("a longest wait: {line}"));
    printed_duration(max)
}

/// The chapter's arithmetic of the waits, for the burst of 400 jobs of 20 ms: the last job
/// starts once the 399 ahead of it have started, `workers` at a time, one round per job's
/// delay, so after ⌊399 / workers⌋ rounds. (The exercise's `solutions::longest_wait` is the
/// same formula; a test there holds it to a pool's own measurement.)
fn longest_wait_by_the_arithmetic(workers: u32) -> Duration {
    Duration::from_millis(20) * (399 / workers)
}

/// What the chapter says of the table's longest wait: it comes out a little above the
/// arithmetic, never below it. Above, because the pool has one worker until the autoscaler's
/// first tick after the burst (up to 100 ms) and each sleep ends a little late; never below,
/// because at most `workers` jobs run at once and none ends early, which leaves only the time it
/// took to queue the burst (far less than the half a job allowed for it here).
fn assert_longest_wait(output: &str, workers: u32) {
    let measured = longest_printed_wait(output);
    let predicted = longest_wait_by_the_arithmetic(workers);
    let tick = Duration::from_millis(100);
    assert!(
        measured + Duration::from_millis(10) >= predicted && measured <= predicted * 5 / 4 + tick,
        "with {workers} workers the longest wait was {measured:?}, the arithmetic says \
         {predicted:?}:\n{output}"
    );
}

#[test]
fn default_run_scales_up_for_the_burst_and_back_down() {
    let output = stdout_of(&mut program());
    assert_events(&output);
    assert_scaled_down_after_the_last_job(&output);
    assert_median_run_time(&output);
    assert_longest_wait(&output, 8);
    assert_default_run_snapshot(&output);
}

#[test]
fn the_books_sample_run_is_what_the_program_prints() {
    let output = read_book_output("stage-4-scaling.txt");
    assert_events(&output);
    assert_scaled_down_after_the_last_job(&output);
    assert_median_run_time(&output);
    assert_longest_wait(&output, 8);
    assert_default_run_snapshot(&output);
}

/// The chapter's `$ cargo run -p stage-4-scaling -- …` command that contains `flags`, as
/// arguments, so that a test runs what the reader is told to run.
fn chapter_command(flags: &str) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../book/src/stage-4.md");
    let chapter = std::fs::read_to_string(&path).expect("the chapter is readable");
    let commands: Vec<&str> = chapter
        .lines()
        .filter_map(|line| line.strip_prefix("$ cargo run -p stage-4-scaling -- "))
        .filter(|arguments| arguments.contains(flags))
        .collect();
    assert_eq!(commands.len(), 1, "one command with {flags}: {commands:?}");
    commands[0].split_whitespace().map(str::to_owned).collect()
}

/// The value the chapter's command gives `flag`.
fn value_of<'a>(arguments: &'a [String], flag: &str) -> &'a str {
    let at = arguments
        .iter()
        .position(|argument| argument == flag)
        .unwrap_or_else(|| panic!("{flag} in {arguments:?}"));
    &arguments[at + 1]
}

/// Exercise 1: the two runs the chapter has the reader predict, each with the longest wait it
/// predicts (see [`assert_longest_wait`]).
#[test]
fn the_longest_waits_of_exercise_1_are_the_arithmetics() {
    let runs: Vec<_> = ["--max-workers 2", "--max-workers 32"]
        .into_iter()
        .map(|flags| {
            let arguments = chapter_command(flags);
            thread::spawn(move || {
                let workers: u32 = value_of(&arguments, "--max-workers")
                    .parse()
                    .expect("a number of workers");
                (workers, stdout_of(program().args(&arguments)))
            })
        })
        .collect();
    for run in runs {
        let (workers, output) = run.join().expect("the run's thread does not panic");
        assert_longest_wait(&output, workers);
    }
}

/// Exercise 3's command runs a few long jobs while the reader scrapes the endpoint; the chapter
/// says it stays inside the run's deadline, so every job completes.
#[test]
fn the_command_of_exercise_3_finishes_inside_its_deadline() {
    let mut arguments = chapter_command("--keep-alive 100ms");
    let jobs: u64 = value_of(&arguments, "--jobs").parse().expect("a job count");
    // A port of the test's own, where the chapter's reader uses 9898.
    let port = arguments
        .iter()
        .position(|argument| argument == "--metrics-addr")
        .expect("the command serves its metrics")
        + 1;
    arguments[port] = "127.0.0.1:0".to_owned();
    let output = stdout_of(program().args(&arguments));
    assert!(!output.contains("deadline"), "{output}");
    let account = PrintedAccount::in_output(&output);
    assert!(
        account.adds_up() && account.total == jobs && account.completed == jobs,
        "{output}"
    );
}

#[test]
fn the_books_bad_flag_transcript_is_what_the_program_prints() {
    let checked = check_transcript(
        "stage-4-scaling-bad-flags.txt",
        &get_cargo_bin("stage-4-scaling"),
    );
    assert_eq!(checked, 4);
}

#[test]
fn help_lists_the_flags_and_their_defaults() {
    assert_cmd_snapshot!(program().arg("--help"));
}

#[test]
fn a_maximum_below_the_minimum_is_refused() {
    assert_cmd_snapshot!(program().args(["--workers", "4", "--max-workers", "2"]));
}

#[test]
fn a_metrics_address_that_is_not_one_is_refused() {
    assert_cmd_snapshot!(program().args(["--metrics-addr", "localhost:http"]));
}

/// The width of the book's column (`--content-max-width` in `book/theme/listings.css`): a chart
/// no wider is shown at its own size, and a wider one is scaled down to fit.
const BOOK_COLUMN_PX: f64 = 900.0;

/// The smallest type a reader should have to read, in pixels as the book shows the chart.
const SMALLEST_TYPE_PX: f64 = 14.0;

/// The numbers in `attribute="…"` wherever it appears in `svg`.
fn numbers_of(svg: &str, attribute: &str) -> Vec<f64> {
    svg.split(&format!(" {attribute}=\""))
        .skip(1)
        .filter_map(|rest| rest.split('"').next()?.parse().ok())
        .collect()
}

/// The points of the data line drawn in `stroke` (the axes and ticks are black).
fn line_in(svg: &str, stroke: &str) -> Vec<(f64, f64)> {
    let lines: Vec<&str> = svg
        .split("<polyline")
        .skip(1)
        .filter(|element| element.contains(&format!("stroke=\"{stroke}\"")))
        .collect();
    assert_eq!(lines.len(), 1, "one line drawn in {stroke}");
    let points = lines[0]
        .split("points=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a polyline has points");
    points
        .split_whitespace()
        .map(|point| {
            let (x, y) = point.split_once(',').expect("x,y");
            (x.parse().expect("a number"), y.parse().expect("a number"))
        })
        .collect()
}

/// The chart has both panels, in type a reader can read at the size the book shows it, and draws
/// each as steps (the pool resizes on a tick; the queue is seen on a tick): every segment of the
/// two data lines is flat or upright, and the pool's line goes up and comes back down.
fn assert_readable_step_chart(svg: &str) {
    assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(80)]);
    assert!(svg.contains("queue depth") && svg.contains("workers"));
    let width = numbers_of(svg, "width")[0];
    let shown_at = (BOOK_COLUMN_PX / width).min(1.0);
    let sizes = numbers_of(svg, "font-size");
    assert!(!sizes.is_empty(), "the chart has text");
    for size in sizes {
        assert!(
            size * shown_at >= SMALLEST_TYPE_PX,
            "type of {size} px, shown at {:.1} px in the book",
            size * shown_at
        );
    }
    let queue = line_in(svg, "#0000FF");
    let workers = line_in(svg, "#FF0000");
    for line in [&queue, &workers] {
        assert!(line.len() >= 3, "{line:?}");
        assert!(
            line.windows(2)
                .all(|pair| pair[0].0 == pair[1].0 || pair[0].1 == pair[1].1),
            "a sloped segment in {line:?}"
        );
    }
    // Up the page is up the scale.
    let rises = workers.windows(2).any(|pair| pair[1].1 < pair[0].1);
    let falls = workers.windows(2).any(|pair| pair[1].1 > pair[0].1);
    assert!(rises && falls, "the pool grows and shrinks: {workers:?}");
}

#[test]
fn the_chart_is_a_step_chart_of_both_panels() {
    let folder = std::env::temp_dir().join(format!("stage-4-chart-{}", std::process::id()));
    std::fs::create_dir_all(&folder).expect("a temporary folder");
    let path = folder.join("scaling.svg");
    let output = stdout_of(
        program()
            .args(["--jobs", "100", "--quiet", "0s", "--keep-alive", "200ms"])
            .arg("--chart")
            .arg(&path),
    );
    assert!(output.contains("chart: "), "{output}");
    let svg = std::fs::read_to_string(&path).expect("the chart was written");
    let _ = std::fs::remove_dir_all(&folder);
    assert_readable_step_chart(&svg);
}

/// The chart the chapter shows is one this program drew, from the command the chapter gives
/// (`--chart scaling.svg`, a default run). With `UPDATE_BOOK_OUTPUT=1` the test draws it anew.
#[test]
fn the_books_chart_is_a_readable_step_chart() {
    if std::env::var_os("UPDATE_BOOK_OUTPUT").is_some() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../book/src/output/stage-4-scaling.svg");
        let output = stdout_of(program().arg("--chart").arg(&path));
        assert!(output.contains("chart: "), "{output}");
    }
    assert_readable_step_chart(&read_book_output("stage-4-scaling.svg"));
}

/// Sends `GET /metrics` and returns the body of a 200 answer.
fn scrape(address: &str) -> Option<String> {
    let mut stream = TcpStream::connect(address).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let request = format!("GET /metrics HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    let (head, body) = answer.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then(|| body.to_owned())
}

/// `name{labels} value` lines of an exposition, by name with labels.
fn samples(exposition: &str) -> BTreeMap<String, f64> {
    exposition
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .filter_map(|line| {
            let (name, value) = line.rsplit_once(' ')?;
            Some((name.to_owned(), value.parse().ok()?))
        })
        .collect()
}

#[test]
fn the_metrics_endpoint_serves_every_metric_and_counts_that_match_the_account() {
    // A longer keep-alive keeps the run (and the endpoint) up for a second after the last job.
    let mut child = program()
        .args(["--metrics-addr", "127.0.0.1:0", "--keep-alive", "1s"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("the program starts");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
    let mut first_line = String::new();
    stdout
        .read_line(&mut first_line)
        .expect("the program prints");
    let address = first_line
        .trim()
        .strip_prefix("metrics: http://")
        .and_then(|rest| rest.strip_suffix("/metrics"))
        .expect("the first line gives the endpoint")
        .to_owned();
    let rest_of_output = thread::spawn(move || {
        let mut rest = String::new();
        stdout.read_to_string(&mut rest).expect("stdout is UTF-8");
        rest
    });

    let counters = [
        "pool_jobs_submitted_total",
        "pool_jobs_completed_total",
        "pool_jobs_failed_total",
        "pool_jobs_cancelled_total",
    ];
    let mut scrapes = Vec::new();
    let give_up = Instant::now() + Duration::from_secs(30);
    while Instant::now() < give_up {
        match scrape(&address) {
            Some(body) => scrapes.push(samples(&body)),
            None if child
                .try_wait()
                .expect("the child can be waited for")
                .is_some() =>
            {
                break;
            }
            None => {}
        }
        thread::sleep(Duration::from_millis(20));
    }
    let status = child.wait().expect("the program exits");
    assert!(status.success());
    let output = rest_of_output.join().expect("the reader does not panic");
    assert!(scrapes.len() >= 5, "only {} scrapes", scrapes.len());

    for scrape in &scrapes {
        for name in counters.iter().chain(&[
            "pool_queue_depth",
            "pool_workers",
            "pool_job_run_seconds_count",
            "pool_job_run_seconds_sum",
            "pool_job_run_seconds_bucket{le=\"+Inf\"}",
            "pool_job_wait_seconds_count",
            "pool_job_wait_seconds_bucket{le=\"+Inf\"}",
        ]) {
            assert!(scrape.contains_key(*name), "{name} missing");
        }
        let per_worker = |prefix: &str| scrape.keys().filter(|key| key.starts_with(prefix)).count();
        assert_eq!(
            per_worker("pool_worker_uptime_seconds{worker="),
            scrape["pool_workers"] as usize
        );
        assert_eq!(
            per_worker("pool_worker_busy_ratio{worker="),
            scrape["pool_workers"] as usize
        );
    }
    for pair in scrapes.windows(2) {
        for name in counters {
            assert!(pair[1][name] >= pair[0][name], "{name} went down");
        }
    }
    // The account line, e.g. "account: 400 completed, 0 failed, 0 cancelled while running, ...".
    let account = output
        .lines()
        .find(|line| line.starts_with("account:"))
        .expect("an account line");
    assert!(
        account.starts_with("account: 400 completed, 0 failed, 0 cancelled"),
        "{account}"
    );
    let last = scrapes.last().expect("at least one scrape");
    assert_eq!(last["pool_jobs_submitted_total"], 400.0);
    assert_eq!(last["pool_jobs_completed_total"], 400.0);
    assert_eq!(last["pool_jobs_failed_total"], 0.0);
    assert_eq!(last["pool_jobs_cancelled_total"], 0.0);
    assert_eq!(last["pool_job_run_seconds_count"], 400.0);
}

/// Picks a line of the program's output.
type Line = fn(&str) -> bool;

/// A moment of the default run: `after` this long from the first line for which `line` is true.
#[derive(Debug, Clone, Copy)]
struct Moment {
    line: Line,
    after: Duration,
    signal: Signal,
}

fn started(line: &str) -> bool {
    line.starts_with("started:")
}

fn scaled_up(line: &str) -> bool {
    line.contains(" scale up ")
}

fn last_job_done(line: &str) -> bool {
    line.contains("last job done")
}

/// Twenty moments spread over the default run, SIGINT and SIGTERM in turn: in the quiet spell
/// before the first job (it lasts 300 ms), in the burst (about a second, from the first scale-up),
/// and in the linger after the last job (at least 400 ms from the line that announces it, as the
/// workers must be idle for the 500 ms keep-alive before the pool shrinks and the run ends).
/// Each moment is an offset from a line the program prints, so the test waits for the program to
/// be there instead of guessing how long it takes to start.
fn moments() -> Vec<Moment> {
    fn at(line: Line, millis: &[u64]) -> Vec<(Line, Duration)> {
        millis
            .iter()
            .map(|&millis| (line, Duration::from_millis(millis)))
            .collect()
    }
    [
        at(started, &[0, 50, 100, 150, 200]),
        at(scaled_up, &[0, 20, 50, 100, 200, 300, 450, 600]),
        at(last_job_done, &[0, 25, 50, 75, 100, 150, 200]),
    ]
    .concat()
    .into_iter()
    .zip([Signal::SIGINT, Signal::SIGTERM].into_iter().cycle())
    .map(|((line, after), signal)| Moment {
        line,
        after,
        signal,
    })
    .collect()
}

/// Runs the default program, sends one signal at `moment`, and returns what it printed.
fn interrupt_at(moment: Moment) -> String {
    let mut run = Spawned::start(&mut program());
    run.read_until(moment.line);
    thread::sleep(moment.after);
    run.signal(moment.signal);
    let finished = run.finish_within(Duration::from_secs(60));
    assert_eq!(
        finished.status.code(),
        Some(130),
        "{moment:?}:\n{}",
        finished.stdout
    );
    finished.stdout
}

#[test]
fn a_signal_at_any_moment_exits_130_with_an_account_of_every_job() {
    let moments = moments();
    assert_eq!(moments.len(), 20);
    // Five runs at a time: each is mostly asleep, and twenty in a row would take a minute.
    for batch in moments.chunks(5) {
        let runs: Vec<_> = batch
            .iter()
            .map(|&moment| thread::spawn(move || (moment, interrupt_at(moment))))
            .collect();
        for run in runs {
            let (moment, output) = run.join().expect("the run's thread does not panic");
            let account = PrintedAccount::in_output(&output);
            assert!(
                account.adds_up() && account.total == 400,
                "{moment:?}:\n{output}"
            );
            assert!(
                output.contains("interrupted"),
                "the account says the run was interrupted, {moment:?}:\n{output}"
            );
            if account.completed == 400 {
                assert!(output.contains("the account above is complete"), "{output}");
            }
        }
    }
}

/// Whatever mix of cancelled and never-started jobs the stop found, none completed (they take an
/// hour) and the account covers all of them.
fn assert_cut_short_account(output: &str, jobs: u64) {
    let account = PrintedAccount::in_output(output);
    assert_eq!((account.completed, account.failed), (0, 0), "{output}");
    assert!(account.adds_up() && account.total == jobs, "{output}");
}

#[test]
fn the_deadline_cancels_the_jobs_in_flight_and_accounts_for_the_rest() {
    let output = stdout_of(program().args([
        "--jobs",
        "50",
        "--delay",
        "1h",
        "--quiet",
        "0s",
        "--timeout",
        "300ms",
    ]));
    assert!(output.contains("deadline of 300ms reached"), "{output}");
    assert_cut_short_account(&output, 50);
}
