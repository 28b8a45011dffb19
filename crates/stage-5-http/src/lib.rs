//! Stage 5: the worker pool applied to I/O, on tokio.
//!
//! The work is now a network request, which spends nearly all its time waiting. A thread per
//! request would be wasteful and unbounded concurrency would flood the server, so the pool is
//! made of async tasks ([`pool`]): cheap to have many of, each waiting without holding a thread.
//! Around it: a careful HTTP client ([`fetch`]) and a demo server ([`demo`]) that answers in
//! every way a real one can, so that the program runs offline.

pub mod demo;
pub mod fetch;
pub mod pool;

use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use pool_core::Console;

pub use fetch::{Answer, Fetch, FetchSettings, Fetcher};
// What callers need to name the pool's inputs, outputs and cancellation.
pub use pool::{Done, Finished, run_pool};
pub use reqwest::{StatusCode, Url};
pub use tokio_util::sync::CancellationToken;

/// The stage-5 program's settings, apart from the URLs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// Worker tasks: the most requests in flight at once.
    pub workers: usize,
    /// URLs waiting for a worker, at most.
    pub queue: usize,
    /// How the client behaves.
    pub fetch: FetchSettings,
    /// Show a progress bar instead of a line per URL.
    pub progress_bar: bool,
}

/// What a run of the stage-5 program produced.
#[derive(Debug)]
pub struct Report {
    /// Every URL's result, and the URLs never started.
    pub finished: Finished<Url, Fetch>,
    /// From the first URL submitted to the last worker done.
    pub elapsed: Duration,
    /// The most requests that were on the wire at once.
    pub peak_in_flight: usize,
}

// ANCHOR: run
/// Fetches every URL on a pool of `settings.workers` tasks, printing a line per URL (or a
/// progress bar), then a summary. Cancelling `token` stops the run as in stage 3.
pub async fn run(
    settings: &Settings,
    urls: Vec<Url>,
    token: &CancellationToken,
    console: &Console,
) -> Result<Report, reqwest::Error> {
    let fetcher = Arc::new(Fetcher::new(settings.fetch)?);
    let submitted = urls.len();
    let bar = settings
        .progress_bar
        .then(|| progress_bar(submitted as u64));
    let started = Instant::now();
    let work_fetcher = Arc::clone(&fetcher);
    let finished = run_pool(
        settings.workers,
        settings.queue,
        urls,
        move |_worker, url, token| {
            let fetcher = Arc::clone(&work_fetcher);
            async move { fetcher.fetch(url, &token).await }
        },
        token,
        |done| match &bar {
            Some(bar) => bar.inc(1),
            None => console.line(format_args!("{}", line(done))),
        },
    )
    .await;
    let elapsed = started.elapsed();
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let report = Report {
        finished,
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
fn line(done: &Done<Url, Fetch>) -> String {
    let fetch = match &done.output {
        Ok(fetch) => fetch,
        Err(panic) => return format!("worker {}: {panic}: {}", done.worker_id, done.input),
    };
    let attempts = match fetch.attempts {
        1 => "1 attempt".to_owned(),
        n => format!("{n} attempts"),
    };
    format!(
        "worker {}: {} in {} after {attempts}: {}",
        done.worker_id,
        fetch.answer,
        millis(fetch.latency),
        done.input
    )
}

fn millis(duration: Duration) -> String {
    if duration >= Duration::from_secs(1) {
        format!("{:.2}s", duration.as_secs_f64())
    } else {
        format!("{}ms", duration.as_millis())
    }
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
    let fetches: Vec<&Fetch> = report
        .finished
        .done
        .iter()
        .filter_map(|done| done.output.as_ref().ok())
        .collect();
    let panicked = report.finished.done.len() - fetches.len();
    let count =
        |kind: &dyn Fn(&Answer) -> bool| fetches.iter().filter(|fetch| kind(&fetch.answer)).count();
    let class = |class: u16| {
        count(
            &|answer| matches!(answer, Answer::Status { code, .. } if code.as_u16() / 100 == class),
        )
    };
    let mut latencies: Vec<Duration> = fetches
        .iter()
        .filter(|fetch| fetch.attempts > 0)
        .map(|fetch| fetch.latency)
        .collect();
    latencies.sort_unstable();
    let requests: u32 = fetches.iter().map(|fetch| fetch.attempts).sum();
    let seconds = report.elapsed.as_secs_f64();
    let answered = count(&|answer| matches!(answer, Answer::Status { .. }));
    let failed = panicked
        + count(&|answer| {
            matches!(
                answer,
                Answer::Timeout | Answer::Connect(_) | Answer::Broken(_)
            )
        });
    let cancelled_jobs = count(&|answer| matches!(answer, Answer::Cancelled));
    let never_started = report.finished.never_started.len();

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
        count(&|answer| matches!(answer, Answer::Timeout)),
        count(&|answer| matches!(answer, Answer::Connect(_))),
        count(&|answer| matches!(answer, Answer::Broken(_))),
    ));
    console.line(format_args!(
        "latency p50 {}, p95 {}, max {}; {requests} requests in {:.2}s, {:.1} per second; \
         concurrency reached {} of {workers}",
        millis(quantile(&latencies, 0.5)),
        millis(quantile(&latencies, 0.95)),
        millis(latencies.last().copied().unwrap_or_default()),
        seconds,
        f64::from(requests) / seconds.max(1e-9),
        report.peak_in_flight,
    ));
    console.line(format_args!(
        "account: {answered} completed, {failed} failed, {cancelled_jobs} cancelled while running, \
         {never_started} never started = {submitted} URLs"
    ));
}
// ANCHOR_END: summary
