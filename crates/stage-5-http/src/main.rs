//! `cargo run -p stage-5-http -- --help` lists the flags.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use pool_core::Console;
use pool_core::cli::{self, BAD_INPUT, PoolArgs, StageDefaults};
use stage_5_http::{
    CancellationToken, FetchSettings, INTERRUPTED, Settings, Urls, cancel_on_signals, parse_bytes,
};

/// Stage 5 of Worker Pools in Rust: fetches URLs on a pool of tokio tasks, at most --workers at
/// once, with a timeout, a body cap, retries and a rate limit; a line per URL, then a summary.
/// With no --url or --urls it starts its own demo server on 127.0.0.1 and fetches --jobs URLs
/// from it, one of each kind of outcome, so it works offline. Ctrl-C or SIGTERM stops it (exit
/// code 130); a second one exits at once.
#[derive(Debug, Parser)]
#[command(version)]
#[command(mut_arg("jobs", |jobs| jobs.help(JOBS_HELP)))]
#[command(mut_arg("queue", |queue| queue.help(QUEUE_HELP)))]
struct Cli {
    #[command(flatten)]
    pool: PoolArgs,

    /// A URL to fetch; repeat the flag for more
    #[arg(long = "url", value_name = "URL")]
    urls: Vec<String>,

    /// A file of URLs, one per line; empty lines and lines starting with # are skipped
    #[arg(long = "urls", value_name = "FILE")]
    url_file: Option<PathBuf>,

    /// How long one request may take, from connecting to the last byte; each retry has as long
    /// again
    #[arg(long, value_name = "DURATION", default_value = "1s",
          value_parser = cli::parse_positive_duration)]
    request_timeout: Duration,

    /// Attempts after the first, for connection errors, 429 and 5xx
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = cli::parse_job_count,
          allow_negative_numbers = true)]
    retries: u64,

    /// The wait before the first retry; each later one waits twice as long
    #[arg(long, value_name = "DURATION", default_value = "50ms", value_parser = cli::parse_duration)]
    backoff: Duration,

    /// Requests per second across all workers; 0 for no limit
    #[arg(long, value_name = "N", default_value_t = 20, value_parser = cli::parse_job_count,
          allow_negative_numbers = true)]
    rate: u64,

    /// Bytes of each body read at most, e.g. 1048576, 512k or 1m
    #[arg(long, value_name = "BYTES", default_value = "1m", value_parser = parse_bytes)]
    max_body: u64,
}

/// `--jobs` as this program takes it: the shared help counts jobs submitted, and here the URLs
/// given with --url or --urls are the jobs.
const JOBS_HELP: &str = "URLs to fetch from the demo server, if there is no --url or --urls";

/// `--queue` as this program takes it: the shared help promises a rendezvous for 0, and tokio's
/// bounded channel needs room for at least one URL.
const QUEUE_HELP: &str = "URLs the queue holds before the submitter has to wait; 0 is taken as 1, \
     as tokio's channel needs room for one [default: the number of URLs]";

/// How long a signal sent during the wind-down, after the last answer, has to reach the token.
const WIND_DOWN_GRACE: Duration = Duration::from_millis(100);

/// The exit code of a run that could not start (no runtime, no client, no demo server).
const FAILED: u8 = 1;

// ANCHOR: main
fn main() -> ExitCode {
    let cli: Cli = cli::parse_or_exit(StageDefaults {
        jobs: 13,
        workers: 4,
    });
    let urls = match Urls::from_flags(&cli.urls, cli.url_file.as_deref(), cli.pool.jobs) {
        Ok(urls) => urls,
        Err(problem) => {
            eprintln!("error: {problem}");
            return ExitCode::from(BAD_INPUT);
        }
    };
    // Room for every URL by default, as the other stages have room for every job.
    let url_count = match &urls {
        Urls::Given(urls) => urls.len(),
        Urls::Demo { count } => *count,
    };
    let settings = Settings {
        workers: cli.pool.workers,
        queue: cli.pool.queue.unwrap_or(url_count).min(cli::MAX_QUEUE),
        fetch: FetchSettings {
            timeout: cli.request_timeout,
            max_body: cli.max_body,
            retries: u32::try_from(cli.retries).unwrap_or(u32::MAX),
            backoff: cli.backoff,
            rate: u32::try_from(cli.rate).ok().filter(|&rate| rate > 0),
        },
        progress_bar: std::io::stdout().is_terminal(),
    };
    let runtime = match stage_5_http::runtime() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let token = CancellationToken::new();
    let code = runtime.block_on(async {
        if let Err(error) = cancel_on_signals(token.clone()) {
            eprintln!("error: cannot handle Ctrl-C: {error}");
            return FAILED;
        }
        let report = stage_5_http::run(&settings, urls, &token, &Console::stdout()).await;
        // A signal reaches the token through tokio's signal driver and a task, which on a busy
        // machine can take a few milliseconds: one that came during the wind-down gets that long
        // to arrive before the exit code is chosen.
        tokio::select! {
            () = token.cancelled() => {}
            () = tokio::time::sleep(WIND_DOWN_GRACE) => {}
        }
        match report {
            // Looked at after everything else, demo server stopped included, and while the
            // signal handler still runs: a signal during the wind-down counts too.
            Ok(_) if token.is_cancelled() => INTERRUPTED,
            Ok(_) => 0,
            Err(error) => {
                eprintln!("error: {error}");
                FAILED
            }
        }
    });
    // Exit now rather than drop the runtime: dropping it would wait for its blocking threads (a
    // name lookup the client started on one can take long after a cancellation), and a signal
    // arriving while it waited would go unheard. The run is over and its output written.
    std::process::exit(code.into())
}
// ANCHOR_END: main
