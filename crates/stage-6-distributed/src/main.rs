//! `stage-6-distributed`: the pool beyond one process. See the chapter "Stage 6: beyond one
//! machine".

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;

use pool_core::cli::{BAD_INPUT, INTERRUPTED, parse_args_or_exit};
use pool_core::{Console, counted};
use stage_6_distributed::cli::{Cli, Command, LogFormat, ProduceArgs, StatusArgs, WorkArgs};
use stage_6_distributed::{
    Broker, Demo, Inspect, JobState, ProduceSettings, RedisBroker, Retention, WorkMetrics,
    WorkSettings, chaos, demo,
};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

/// A broker that cannot be reached or lost its state, or a run that could not start.
const FAILED: u8 = 1;

/// Where the commands look for Redis when neither `--redis` nor `REDIS_URL` says.
const DEFAULT_REDIS: &str = "redis://127.0.0.1:6379";

// ANCHOR: main
fn main() -> ExitCode {
    let cli: Cli = parse_args_or_exit();
    if let Err(line) = cli.checked_redis_url() {
        eprintln!("{line}");
        return ExitCode::from(BAD_INPUT);
    }
    // The demo tells its story on stdout, its workers' log lines included; a command logs to
    // stderr, so that what it prints (`status --json`) stays clean.
    let format = cli.log_format;
    // `chaos` reports on stdout; its own connections' news (a restart it caused) is noise there.
    let quiet = matches!(cli.command, Some(Command::Chaos(_)));
    start_logging(format, cli.command.is_none(), quiet);
    // One thread: a worker process spends its time waiting on Redis, and one thread keeps up
    // with that wait for a hundred workers. More throughput comes from more processes (one per
    // core, on as many machines as you like), which is this stage's lesson.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            fatal(format, &format!("cannot start the async runtime: {error}"));
            return ExitCode::from(FAILED);
        }
    };
    let stop = CancellationToken::new();
    let code = runtime.block_on(async {
        if let Err(error) = stage_5_http::cancel_on_signals(stop.clone()) {
            fatal(format, &format!("cannot handle Ctrl-C: {error}"));
            return FAILED;
        }
        match run(cli, &stop).await {
            Ok(()) if stop.is_cancelled() => INTERRUPTED,
            Ok(()) => 0,
            Err(error) => {
                fatal(format, &error);
                FAILED
            }
        }
    });
    ExitCode::from(code)
}
// ANCHOR_END: main

async fn run(cli: Cli, stop: &CancellationToken) -> Result<(), String> {
    let redis = cli.redis.as_deref();
    let Some(command) = cli.command else {
        return demo::run(redis, &cli.name, stop).await;
    };
    let url = redis.unwrap_or(DEFAULT_REDIS);
    match command {
        Command::Produce(args) => produce(url, &cli.name, args, stop).await,
        Command::Work(args) => work(url, &cli.name, args, stop).await,
        Command::Status(args) => status(url, &cli.name, args).await,
        Command::Chaos(args) => chaos::run(redis, &cli.name, args.jobs, args.seconds, stop).await,
    }
}

async fn produce(
    url: &str,
    name: &str,
    args: ProduceArgs,
    stop: &CancellationToken,
) -> Result<(), String> {
    let broker = RedisBroker::connect(url, name, Retention::default())
        .await
        .map_err(|e| e.to_string())?;
    let settings = ProduceSettings {
        jobs: args.jobs,
        job_duration: args.delay,
        fail_every: args.fail_every,
        max_backlog: args.max_backlog,
    };
    let produced = stage_6_distributed::produce(&broker, settings, stop)
        .await
        .map_err(|e| e.to_string())?;
    say(format_args!("{produced}"));
    Ok(())
}

async fn work(
    url: &str,
    name: &str,
    args: WorkArgs,
    stop: &CancellationToken,
) -> Result<(), String> {
    let retention = Retention {
        results: args.keep_results,
        dead_letters: args.keep_dead_letters,
    };
    let broker = RedisBroker::connect(url, name, retention)
        .await
        .map_err(|e| e.to_string())?;
    if let Ok(Some(full)) = broker.full().await {
        tracing::warn!("{full}; holding the jobs it reads until it accepts their results");
    }
    let settings = WorkSettings {
        workers: args.workers,
        lease: args.lease,
        job_timeout: args.job_timeout,
        max_deliveries: args.max_deliveries,
        exit_when_idle: args.exit_when_idle,
    };
    let consumer = args.consumer.unwrap_or_else(default_consumer);
    let metrics = WorkMetrics::default();
    let _endpoint = match args.metrics_addr {
        Some(address) => {
            if let Some(warning) = stage_4_scaling::server::exposure_warning(address) {
                tracing::warn!("{warning}");
            }
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
    let tally =
        stage_6_distributed::run_pool(Arc::new(broker), &consumer, settings, Demo, &metrics, stop)
            .await
            .map_err(|e| format!("{e}; this worker stops, its jobs with it"))?;
    say(format_args!("{consumer}: {}", tally.summary()));
    Ok(())
}

async fn status(url: &str, name: &str, args: StatusArgs) -> Result<(), String> {
    let broker = RedisBroker::open(url, name)
        .await
        .map_err(|e| e.to_string())?;
    if let Some(job_id) = args.job {
        return job_status(&broker, job_id, args.json).await;
    }
    let status = broker.status().await.map_err(|e| e.to_string())?;
    if !status.adds_up() {
        let lost = status.lost();
        return Err(if lost > 0 {
            format!(
                "the account does not add up: {lost} of the jobs have not ended, are held by no \
                 consumer and will never be read (a consumer deleted with jobs in hand, or \
                 entries deleted by hand)"
            )
        } else {
            format!(
                "the account does not add up: {} completed and {} dead-lettered, of {} jobs \
                 submitted; the broker lost part of the queue's data, or its keys were changed \
                 by hand",
                status.completed, status.dead_lettered, status.submitted
            )
        });
    }
    let full = broker.full().await.map_err(|e| e.to_string())?;
    if args.json {
        let mut json = status.to_json();
        json["broker_full"] = full.is_some().into();
        say(format_args!("{json}"));
    } else {
        say(format_args!("{status}"));
        if let Some(full) = full {
            say(format_args!("{full}"));
        }
    }
    Ok(())
}

/// `status --job ID`: what became of one job.
async fn job_status(broker: &RedisBroker, job_id: u64, json: bool) -> Result<(), String> {
    let Some(record) = broker.job(job_id).await.map_err(|e| e.to_string())? else {
        return Err(format!(
            "job {job_id} is not in the queue: never added, or forgotten after --keep-results"
        ));
    };
    let runs = record.runs.len();
    let (state, line) = match &record.state {
        JobState::Waiting => ("waiting", "waiting to be read".to_owned()),
        JobState::Pending { consumer, count } => (
            "pending",
            format!("pending: delivery {count}, held by {consumer}"),
        ),
        JobState::Completed { output, delivery } => (
            "completed",
            format!("completed: output {output}, recorded by delivery {delivery}"),
        ),
        JobState::DeadLettered { deliveries, error } => (
            "dead-lettered",
            format!("dead-lettered after {deliveries} deliveries: {error}"),
        ),
    };
    if json {
        let mut object = serde_json::json!({ "job": job_id, "state": state, "runs": record.runs });
        match &record.state {
            JobState::Completed { output, .. } => object["output"] = output.as_str().into(),
            JobState::DeadLettered { error, .. } => object["error"] = error.as_str().into(),
            _ => {}
        }
        say(format_args!("{object}"));
    } else {
        say(format_args!(
            "job {job_id}: {line}; {}",
            counted(runs as u64, "finished run", "finished runs")
        ));
    }
    Ok(())
}

/// A name no other worker process has: this machine's name and this process's id.
fn default_consumer() -> String {
    let host = nix::unistd::gethostname()
        .ok()
        .and_then(|name| name.into_string().ok())
        .unwrap_or_else(|| "host".to_owned());
    format!("{host}-{}", std::process::id())
}

/// Writes one line of a command's result to stdout.
fn say(text: std::fmt::Arguments<'_>) {
    Console::stdout().line(text);
}

/// Reports the error that ends the program, on stderr: one line of text, or under
/// `--log-format json` one JSON object, like the log lines, for whatever reads them.
fn fatal(format: LogFormat, message: &str) {
    match format {
        LogFormat::Text => eprintln!("error: {message}"),
        LogFormat::Json => eprintln!(
            "{}",
            serde_json::json!({ "level": "ERROR", "fields": { "message": message } })
        ),
    }
}

fn start_logging(format: LogFormat, to_stdout: bool, quiet: bool) {
    let level = if quiet { "error" } else { "info" };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
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
