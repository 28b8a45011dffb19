//! `cargo run -p stage-5-http -- --help` lists the flags.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use pool_core::Console;
use pool_core::cli::{self, PoolArgs, StageDefaults};
use reqwest::Url;
use stage_5_http::demo::{DemoServer, RefusedPort};
use stage_5_http::{FetchSettings, Settings};
use tokio_util::sync::CancellationToken;

/// Stage 5 of Worker Pools in Rust: fetches URLs on a pool of tokio tasks, at most --workers at
/// once, with a timeout, a body cap, retries and a rate limit; a line per URL, then a summary.
/// With no --url or --urls it starts its own demo server on 127.0.0.1 and fetches --jobs URLs
/// from it, one of each kind of outcome, so it works offline. tokio has no rendezvous channel, so
/// --queue 0 means a queue of one. Ctrl-C or SIGTERM stops it (exit code 130); a second one exits
/// at once.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    #[command(flatten)]
    pool: PoolArgs,

    /// A URL to fetch; repeat the flag for more
    #[arg(long = "url", value_name = "URL")]
    urls: Vec<String>,

    /// A file of URLs, one per line; empty lines and lines starting with # are skipped
    #[arg(long = "urls", value_name = "FILE")]
    url_file: Option<PathBuf>,

    /// How long one attempt may take, from connecting to the last byte
    #[arg(long, value_name = "DURATION", default_value = "1s",
          value_parser = cli::parse_positive_duration)]
    timeout: Duration,

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

/// `1048576`, `512k` (KiB) or `1m` (MiB).
fn parse_bytes(text: &str) -> Result<u64, String> {
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

/// A URL the client can fetch: well-formed, and http or https.
fn parse_url(text: &str) -> Result<Url, String> {
    let url = Url::parse(text.trim()).map_err(|error| format!("'{text}': {error}"))?;
    match url.scheme() {
        "http" | "https" => Ok(url),
        other => Err(format!(
            "'{text}': only http and https are fetched, not {other}"
        )),
    }
}

/// The URLs of `--url` and `--urls`, in that order, or a one-line reason why not.
fn read_urls(cli: &Cli) -> Result<Vec<Url>, String> {
    let mut urls = Vec::new();
    for text in &cli.urls {
        urls.push(parse_url(text).map_err(|problem| format!("--url {problem}"))?);
    }
    if let Some(path) = &cli.url_file {
        let file = std::fs::read_to_string(path)
            .map_err(|error| format!("--urls {}: {error}", path.display()))?;
        for (number, line) in file.lines().enumerate() {
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
    Ok(urls)
}

/// The exit code of a run that a signal stopped, as in stage 3.
const INTERRUPTED: u8 = 130;

// ANCHOR: signals
/// Cancels `token` on the first Ctrl-C (or, on Unix, SIGTERM) and exits the process on the
/// second, using tokio's own signal handling (this program has no other Ctrl-C handler).
fn cancel_on_signals(token: CancellationToken) -> std::io::Result<()> {
    let mut stop_signals = StopSignals::listen()?;
    tokio::spawn(async move {
        stop_signals.next().await;
        token.cancel();
        stop_signals.next().await;
        std::process::exit(INTERRUPTED.into());
    });
    Ok(())
}

/// Ctrl-C and SIGTERM, the two ways a Unix user or service manager asks a program to stop. Both
/// handlers are installed when this is made, not when it is first awaited, so a signal that
/// comes the moment the program starts is caught too.
#[cfg(unix)]
struct StopSignals {
    interrupts: tokio::signal::unix::Signal,
    terminations: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl StopSignals {
    fn listen() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            interrupts: signal(SignalKind::interrupt())?,
            terminations: signal(SignalKind::terminate())?,
        })
    }

    async fn next(&mut self) {
        tokio::select! {
            _ = self.interrupts.recv() => {}
            _ = self.terminations.recv() => {}
        }
    }
}

/// Elsewhere (Windows) there is no SIGTERM: Ctrl-C alone, through tokio's portable `ctrl_c`.
#[cfg(not(unix))]
struct StopSignals;

#[cfg(not(unix))]
impl StopSignals {
    fn listen() -> std::io::Result<Self> {
        Ok(Self)
    }

    async fn next(&mut self) {
        if tokio::signal::ctrl_c().await.is_err() {
            // No handler could be installed, so no Ctrl-C will ever be seen: wait for ever.
            std::future::pending::<()>().await;
        }
    }
}
// ANCHOR_END: signals

fn main() -> ExitCode {
    let cli: Cli = cli::parse_or_exit(StageDefaults {
        jobs: 13,
        workers: 4,
    });
    let urls = match read_urls(&cli) {
        Ok(urls) => urls,
        Err(problem) => {
            eprintln!("error: {problem}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(async_main(cli, urls));
    // Dropping a runtime waits for its blocking threads, and a name lookup that the client
    // started on one can take long after a cancellation. The run is over: wait briefly, no more.
    runtime.shutdown_timeout(Duration::from_millis(100));
    code
}

async fn async_main(cli: Cli, mut urls: Vec<Url>) -> ExitCode {
    let token = CancellationToken::new();
    if let Err(error) = cancel_on_signals(token.clone()) {
        eprintln!("error: cannot handle Ctrl-C: {error}");
        return ExitCode::FAILURE;
    }
    let console = Console::stdout();
    // Kept bound until the run is over, so that its URL stays refused.
    let mut refused = None;
    // With no URLs given, the program serves its own, and adds one where nothing listens.
    let demo = if urls.is_empty() {
        let server = match DemoServer::start().await {
            Ok(server) => server,
            Err(error) => {
                eprintln!("error: cannot start the demo server: {error}");
                return ExitCode::FAILURE;
            }
        };
        let mut demo_urls = server.demo_urls();
        match RefusedPort::bind() {
            Ok(port) => {
                demo_urls.push(port.url().clone());
                refused = Some(port);
            }
            Err(error) => eprintln!("warning: no connection-refused URL in this run: {error}"),
        }
        let wanted = usize::try_from(cli.pool.jobs).unwrap_or(usize::MAX);
        urls = demo_urls.iter().cycle().take(wanted).cloned().collect();
        console.line(format_args!(
            "demo server: http://{}",
            urls.first()
                .map_or_else(String::new, |url| url.authority().to_owned())
        ));
        Some(server)
    } else {
        None
    };
    let settings = Settings {
        workers: cli.pool.workers,
        queue: cli.pool.queue_capacity(),
        fetch: FetchSettings {
            timeout: cli.timeout,
            max_body: cli.max_body,
            retries: u32::try_from(cli.retries).unwrap_or(u32::MAX),
            backoff: cli.backoff,
            rate: u32::try_from(cli.rate).ok().filter(|&rate| rate > 0),
        },
        progress_bar: std::io::stdout().is_terminal() && urls.len() > 20,
    };
    let report = stage_5_http::run(&settings, urls, &token, &console).await;
    if let Some(server) = demo {
        server.stop().await;
    }
    drop(refused);
    match report {
        Ok(_) if token.is_cancelled() => ExitCode::from(INTERRUPTED),
        Ok(_) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: cannot set up the HTTP client: {error}");
            ExitCode::FAILURE
        }
    }
}
