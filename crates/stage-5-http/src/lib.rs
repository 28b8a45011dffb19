//! Stage 5: the worker pool applied to I/O, on tokio.
//!
//! The work is now a network request, which spends nearly all its time waiting. A thread per
//! request would be wasteful and unbounded concurrency would flood the server, so the pool is
//! made of async tasks ([`pool`]): cheap to have many of, each waiting without holding a thread.
//! Around it: a careful HTTP client ([`fetch`]) and a demo server ([`demo`]) that answers in
//! every way a real one can, so that the program runs offline.
//!
//! ```
//! use stage_5_http::{CancellationToken, JobError, run_pool};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let work = |_worker: usize, number: &u64, _: CancellationToken| {
//!     let number = *number;
//!     async move { Ok::<_, JobError<String>>(number * number) }
//! };
//! let account = run_pool(3, 4, 1..=10_u64, work, &CancellationToken::new(), |_| {}).await;
//! assert_eq!((account.completed(), account.total()), (10, 10));
//! # }
//! ```

pub mod demo;
pub mod fetch;
pub mod pool;
pub mod signals;

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use pool_core::{Console, short_duration};

use demo::DemoRun;
pub use fetch::{Answer, Fetch, FetchSettings, Fetcher};
// What callers need to name the pool's inputs, outputs and cancellation.
pub use pool::{Account, Failure, JobError, Outcome, outcome, run_pool};
pub use reqwest::{StatusCode, Url};
pub use signals::{INTERRUPTED, cancel_on_signals};
pub use tokio_util::sync::CancellationToken;

/// What became of one URL: the pool's outcome, with a [`Fetch`] whether the server answered or
/// not.
pub type UrlOutcome = Outcome<Url, Fetch, Fetch>;

/// Every URL of a run, each in exactly one place.
pub type UrlAccount = Account<Url, Fetch, Fetch>;

/// The stage-5 program's settings, apart from the URLs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// Worker tasks: the most requests in flight at once.
    pub workers: usize,
    /// URLs waiting for a worker, at most.
    pub queue: usize,
    /// How the client behaves.
    pub fetch: FetchSettings,
    /// Show a progress bar instead of a line per URL, if there are more than 20.
    pub progress_bar: bool,
}

/// Where the URLs come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Urls {
    /// The ones given, in order.
    Given(Vec<Url>),
    /// `count` URLs from the demo server the run starts on 127.0.0.1: every kind of answer.
    Demo {
        /// How many: the demo's list, cycled.
        count: usize,
    },
}

impl Urls {
    /// The URLs of `--url` (each of `given`) and `--urls` (`file`), in that order, or the demo's
    /// `demo_count` if there are none; or a one-line reason, naming the flag, why not.
    pub fn from_flags(
        given: &[String],
        file: Option<&Path>,
        demo_count: u64,
    ) -> Result<Self, String> {
        if given.is_empty() && file.is_none() {
            let count = usize::try_from(demo_count).unwrap_or(usize::MAX);
            return Ok(Self::Demo { count });
        }
        let mut urls = Vec::new();
        for text in given {
            urls.push(parse_url(text).map_err(|problem| format!("--url {problem}"))?);
        }
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .map_err(|error| format!("--urls {}: {error}", path.display()))?;
            for (number, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let url = parse_url(line).map_err(|problem| {
                    format!("--urls {} line {}: {problem}", path.display(), number + 1)
                })?;
                urls.push(url);
            }
        }
        Ok(Self::Given(urls))
    }
}

/// A URL the client can fetch: well-formed, and http or https.
pub fn parse_url(text: &str) -> Result<Url, String> {
    let url = Url::parse(text.trim()).map_err(|error| format!("'{text}': {error}"))?;
    match url.scheme() {
        "http" | "https" => Ok(url),
        other => Err(format!(
            "'{text}': only http and https are fetched, not {other}"
        )),
    }
}

/// `1048576`, `512k` (KiB) or `1m` (MiB).
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let text = text.trim().to_ascii_lowercase();
    let (digits, unit) = match text.strip_suffix('k') {
        Some(digits) => (digits, 1024),
        None => match text.strip_suffix('m') {
            Some(digits) => (digits, 1024 * 1024),
            None => (text.as_str(), 1),
        },
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|count| count.checked_mul(unit))
        .ok_or_else(|| "expected a size such as 1048576, 512k or 1m".to_owned())
}

/// What a run of the stage-5 program produced.
#[derive(Debug)]
pub struct Report {
    /// Every URL, and what became of it.
    pub account: UrlAccount,
    /// From the first URL submitted to the last worker done.
    pub elapsed: Duration,
    /// The most requests that were on the wire at once.
    pub peak_in_flight: usize,
}

/// Why a run could not start.
#[derive(Debug)]
pub enum RunError {
    /// The HTTP client could not be set up (its TLS backend).
    Client(reqwest::Error),
    /// The demo server could not be started.
    DemoServer(io::Error),
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Client(error) => write!(f, "cannot set up the HTTP client: {error}"),
            Self::DemoServer(error) => write!(f, "cannot start the demo server: {error}"),
        }
    }
}

impl std::error::Error for RunError {}

// ANCHOR: runtime
/// The runtime the program runs on: tokio's current-thread runtime, every task on the calling
/// thread. The work is waiting on sockets, and one thread keeps up with that for many workers;
/// a second thread would only add wake-ups between the two, which is what the profile in the
/// chapter found the multi-threaded runtime spending its time on. The benchmarks use this too.
pub fn runtime() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}
// ANCHOR_END: runtime

// ANCHOR: run
/// The stage-5 program: fetches `urls` (starting the demo server first if they are the demo's),
/// printing a line per URL or a progress bar, then a summary and the account. Cancelling `token`
/// stops the run as in stage 3.
pub async fn run(
    settings: &Settings,
    urls: Urls,
    token: &CancellationToken,
    console: &Console,
) -> Result<Report, RunError> {
    match urls {
        Urls::Given(urls) => fetch_all(settings, urls, token, console).await,
        Urls::Demo { count } => {
            let mut demo = DemoRun::start(count).await.map_err(RunError::DemoServer)?;
            console.line(format_args!("demo server: {}", demo.origin()));
            let report = fetch_all(settings, demo.take_urls(), token, console).await;
            demo.stop().await;
            report
        }
    }
}

/// Fetches every URL on a pool of `settings.workers` tasks, then prints the summary.
pub async fn fetch_all(
    settings: &Settings,
    urls: Vec<Url>,
    token: &CancellationToken,
    console: &Console,
) -> Result<Report, RunError> {
    let fetcher = Arc::new(Fetcher::new(settings.fetch).map_err(RunError::Client)?);
    let submitted = urls.len();
    let bar = (settings.progress_bar && submitted > 20).then(|| progress_bar(submitted as u64));
    let started = Instant::now();
    let work_fetcher = Arc::clone(&fetcher);
    let account = run_pool(
        settings.workers,
        settings.queue,
        urls,
        move |_worker, url: &Url, token| {
            let (fetcher, url) = (Arc::clone(&work_fetcher), url.clone());
            async move { fetcher.fetch(url, &token).await }
        },
        token,
        |outcome| match &bar {
            Some(bar) => bar.inc(1),
            None => console.line(format_args!("{}", line(outcome))),
        },
    )
    .await;
    let elapsed = started.elapsed();
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let report = Report {
        account,
        elapsed,
        peak_in_flight: fetcher.peak_in_flight(),
    };
    print_summary(
        console,
        &report,
        submitted,
        settings.workers,
        token.is_cancelled(),
    );
    Ok(report)
}
// ANCHOR_END: run

/// A bar on stdout, where the lines it replaces would have gone (indicatif's default is stderr).
fn progress_bar(total: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stdout());
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {pos}/{len} URLs, {elapsed} ({eta} left)")
    {
        bar.set_style(style);
    }
    bar
}

/// `worker 2: 200 OK, 5 bytes in 3ms after 1 attempt: http://127.0.0.1:4000/fast`
fn line(outcome: &UrlOutcome) -> String {
    let (worker_id, url, fetch) = match outcome {
        Outcome::Completed {
            worker_id,
            input,
            output,
            ..
        }
        | Outcome::Failed {
            worker_id,
            input,
            failure: Failure::Error(output),
            ..
        } => (worker_id, input, output),
        Outcome::Failed {
            worker_id,
            input,
            failure: Failure::Panicked(message),
            ..
        } => return format!("worker {worker_id}: {message}: {input}"),
        Outcome::Cancelled {
            worker_id, input, ..
        } => return format!("worker {worker_id}: cancelled while running: {input}"),
    };
    let attempts = match fetch.attempts {
        1 => "1 attempt".to_owned(),
        n => format!("{n} attempts"),
    };
    format!(
        "worker {worker_id}: {} in {} after {attempts}: {url}",
        fetch.answer,
        short_duration(fetch.latency),
    )
}

/// The `q`-quantile of sorted durations, by nearest rank.
fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

// ANCHOR: summary
/// Counts by outcome, latencies, rate and concurrency, then the account. The account's total is
/// the number of URLs submitted, counted before the run, so that a lost URL would show as parts
/// that do not add up to it.
fn print_summary(
    console: &Console,
    report: &Report,
    submitted: usize,
    workers: usize,
    cancelled: bool,
) {
    let account = &report.account;
    let (mut answered, mut unanswered, mut panicked) = (Vec::new(), Vec::new(), 0);
    for outcome in &account.outcomes {
        match outcome {
            Outcome::Completed { output, .. } => answered.push(output),
            Outcome::Failed {
                failure: Failure::Error(fetch),
                ..
            } => unanswered.push(fetch),
            Outcome::Failed { .. } => panicked += 1,
            Outcome::Cancelled { .. } => {}
        }
    }
    let class = |class: u16| {
        answered
            .iter()
            .filter(|fetch| {
                matches!(fetch.answer, Answer::Status { code, .. } if code.as_u16() / 100 == class)
            })
            .count()
    };
    let failures = |kind: fn(&Answer) -> bool| {
        unanswered
            .iter()
            .filter(|fetch| kind(&fetch.answer))
            .count()
    };
    let fetches = || answered.iter().chain(&unanswered);
    let mut latencies: Vec<Duration> = fetches()
        .filter(|fetch| fetch.attempts > 0)
        .map(|fetch| fetch.latency)
        .collect();
    latencies.sort_unstable();
    let requests: u32 = fetches().map(|fetch| fetch.attempts).sum();
    let seconds = report.elapsed.as_secs_f64();

    if cancelled {
        console.line(format_args!(
            "interrupted: stopped taking URLs, cancelled the requests in flight, ended every worker"
        ));
    }
    let panics = if panicked > 0 {
        format!(", {panicked} panicked")
    } else {
        String::new()
    };
    console.line(format_args!(
        "answers: {} 2xx, {} 3xx, {} 4xx, {} 5xx; failures: {} timed out, {} could not connect, \
         {} broken{panics}",
        class(2),
        class(3),
        class(4),
        class(5),
        failures(|answer| matches!(answer, Answer::Timeout)),
        failures(|answer| matches!(answer, Answer::Connect(_))),
        failures(|answer| matches!(answer, Answer::Broken(_))),
    ));
    console.line(format_args!(
        "latency p50 {}, p95 {}, max {}; {requests} requests in {:.2}s, {:.1} per second; \
         concurrency reached {} of {workers}",
        short_duration(quantile(&latencies, 0.5)),
        short_duration(quantile(&latencies, 0.95)),
        short_duration(latencies.last().copied().unwrap_or_default()),
        seconds,
        f64::from(requests) / seconds.max(1e-9),
        report.peak_in_flight,
    ));
    console.line(format_args!(
        "account: {} completed, {} failed, {} cancelled while running, {} never started = \
         {submitted} URLs",
        account.completed(),
        account.failed(),
        account.cancelled(),
        account.never_started.len(),
    ));
}
// ANCHOR_END: summary
