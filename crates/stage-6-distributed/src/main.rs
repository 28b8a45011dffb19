//! `stage-6-distributed`: the pool beyond one process. See the chapter "Stage 6: beyond one
//! machine".

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use pool_core::Console;
use pool_core::cli::{BAD_INPUT, INTERRUPTED, one_line};
use stage_6_distributed::cli::{Cli, Command, LogFormat};
use stage_6_distributed::{
    Broker, ProduceSettings, RedisBroker, WorkMetrics, WorkSettings, demo, status_text,
};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

/// A broker that cannot be reached, or a run that could not start.
const FAILED: u8 = 1;

/// Where the commands look for Redis when neither `--redis` nor `REDIS_URL` says.
const DEFAULT_REDIS: &str = "redis://127.0.0.1:6379";

// ANCHOR: main
fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) if error.use_stderr() => {
            eprintln!("{}", one_line(&error));
            return ExitCode::from(BAD_INPUT);
        }
        Err(help) => {
            let _ = help.print();
            return ExitCode::SUCCESS;
        }
    };
    // The demo tells its story on stdout, its workers' log lines included; a command logs to
    // stderr, so that what it prints (`status --json`) stays clean.
    start_logging(cli.log_format, cli.command.is_none());
    // One thread: a worker process spends its time waiting on Redis, and one thread keeps up
    // with that wait for a hundred workers. More throughput comes from more processes (one per
    // core, on as many machines as you like), which is this stage's lesson. On the distributed
    // bench, two processes of one thread each drained jobs faster than two of two threads.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(FAILED);
        }
    };
    let stop = CancellationToken::new();
    let code = runtime.block_on(async {
        if let Err(error) = stage_5_http::cancel_on_signals(stop.clone()) {
            eprintln!("error: cannot handle Ctrl-C: {error}");
            return FAILED;
        }
        match run(cli, &stop).await {
            Ok(()) if stop.is_cancelled() => INTERRUPTED,
            Ok(()) => 0,
            Err(error) => {
                eprintln!("error: {error}");
                FAILED
            }
        }
    });
    ExitCode::from(code)
}
// ANCHOR_END: main

async fn run(cli: Cli, stop: &CancellationToken) -> Result<(), String> {
    let Some(command) = cli.command else {
        return demo::run(cli.redis.as_deref(), &cli.name, stop).await;
    };
    let url = cli.redis.as_deref().unwrap_or(DEFAULT_REDIS);
    let broker = Arc::new(
        RedisBroker::connect(url, &cli.name)
            .await
            .map_err(|e| e.to_string())?,
    );
    match command {
        Command::Produce(args) => {
            let settings = ProduceSettings {
                jobs: args.jobs,
                work: args.delay,
                fail_every: args.fail_every,
                max_backlog: args.max_backlog,
            };
            let added = stage_6_distributed::produce(&*broker, settings, stop)
                .await
                .map_err(|error| error.to_string())?;
            match (added.first(), added.last()) {
                (Some(first), Some(last)) => say(format_args!("added jobs {first} to {last}")),
                _ => say(format_args!("added no jobs")),
            }
        }
        Command::Work(args) => {
            let settings = WorkSettings {
                workers: args.workers,
                lease: args.lease,
                max_deliveries: args.max_deliveries,
                exit_when_idle: args.exit_when_idle,
            };
            let consumer = args.consumer.unwrap_or_else(default_consumer);
            let metrics = WorkMetrics::default();
            let _endpoint = match args.metrics_addr {
                Some(address) => {
                    let endpoint = metrics
                        .serve(address)
                        .map_err(|error| format!("cannot serve metrics on {address}: {error}"))?;
                    // The address as bound: with port 0 the system chose it.
                    say(format_args!(
                        "metrics: http://{}/metrics",
                        endpoint.address()
                    ));
                    Some(endpoint)
                }
                None => None,
            };
            let account =
                stage_6_distributed::work(broker, &consumer, settings, &metrics, stop).await;
            say(format_args!("{consumer}: {}", account.summary()));
        }
        Command::Status(args) => {
            let status = broker.status().await.map_err(|error| error.to_string())?;
            if args.json {
                say(format_args!(
                    "{}",
                    stage_6_distributed::status_json(&status)
                ));
            } else {
                say(format_args!("{}", status_text(&status)));
            }
        }
    }
    Ok(())
}

// ANCHOR: default_consumer
/// A name no other worker process has: this machine's name and this process's id.
fn default_consumer() -> String {
    let host = nix::unistd::gethostname()
        .ok()
        .and_then(|name| name.into_string().ok())
        .unwrap_or_else(|| "host".to_owned());
    format!("{host}-{}", std::process::id())
}
// ANCHOR_END: default_consumer

/// Writes one line of a command's result to stdout.
fn say(text: std::fmt::Arguments<'_>) {
    Console::stdout().line(text);
}

fn start_logging(format: LogFormat, to_stdout: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colour only for a terminal: escape codes in a log file or a pipe are noise.
    let colour = if to_stdout {
        std::io::stdout().is_terminal()
    } else {
        std::io::stderr().is_terminal()
    };
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(move || -> Box<dyn std::io::Write> {
            if to_stdout {
                Box::new(std::io::stdout())
            } else {
                Box::new(std::io::stderr())
            }
        })
        .with_target(false);
    match format {
        // Text lines carry no clock: a line per event is read in order, and tests compare them.
        LogFormat::Text => logs.without_time().init(),
        LogFormat::Json => logs.json().init(),
    }
}
