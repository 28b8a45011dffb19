//! `cargo run -p stage-4-scaling -- --help` lists the flags.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use pool_core::Console;
use pool_core::cli::{self, BAD_INPUT, PoolArgs, StageDefaults};
use stage_3_cancel::Context;
use stage_4_scaling::server::{MetricsServer, exposure_warning};
use stage_4_scaling::{Limits, Policy, PoolMetrics, PoolSettings, Settings, chart};

/// Stage 4 of Worker Pools in Rust: a pool that grows for a burst of jobs and shrinks back when
/// the burst is over. The pool starts with --workers workers, never has fewer, and grows to at
/// most --max-workers; the burst is --jobs jobs. Prints every resize with its reason, then the
/// metrics and the account. On Ctrl-C or SIGTERM it stops as stage 3 does (exit code 130).
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    #[command(flatten)]
    pool: PoolArgs,

    /// The most workers the pool may grow to
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = cli::parse_worker_count,
          allow_negative_numbers = true)]
    max_workers: usize,

    /// How long each job works, e.g. 20ms
    #[arg(long, value_name = "DURATION", default_value = "20ms", value_parser = cli::parse_duration)]
    delay: Duration,

    /// How long the load stays quiet before the burst
    #[arg(long, value_name = "DURATION", default_value = "300ms", value_parser = cli::parse_duration)]
    quiet: Duration,

    /// How often the autoscaler looks at the pool
    #[arg(long, value_name = "DURATION", default_value = "100ms",
          value_parser = cli::parse_positive_duration)]
    tick: Duration,

    /// Grow when more than this many jobs per worker wait in the queue
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = cli::parse_positive_count,
          allow_negative_numbers = true)]
    backlog_per_worker: u64,

    /// Grow when jobs wait longer than this on average
    #[arg(long, value_name = "DURATION", default_value = "50ms",
          value_parser = cli::parse_positive_duration)]
    target_wait: Duration,

    /// Retire workers that have had no job for this long
    #[arg(long, value_name = "DURATION", default_value = "500ms",
          value_parser = cli::parse_positive_duration)]
    keep_alive: Duration,

    /// Do not shrink within this long of growing
    #[arg(long, value_name = "DURATION", default_value = "500ms", value_parser = cli::parse_duration)]
    cooldown: Duration,

    /// How long the whole run may take before it is cancelled
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = cli::parse_duration)]
    timeout: Duration,

    /// Serve Prometheus metrics at http://ADDRESS/metrics; a bare port listens on 127.0.0.1
    #[arg(long, value_name = "ADDRESS", value_parser = parse_listen_address)]
    metrics_addr: Option<SocketAddr>,

    /// Draw the worker count and queue depth over time into this SVG file
    #[arg(long, value_name = "FILE.svg")]
    chart: Option<PathBuf>,
}

/// `9898` or `0.0.0.0:9898`.
fn parse_listen_address(text: &str) -> Result<SocketAddr, String> {
    if let Ok(port) = text.parse::<u16>() {
        return Ok(SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
    }
    text.parse()
        .map_err(|_| "expected a port or an address such as 127.0.0.1:9898".to_owned())
}

fn bad_input(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(BAD_INPUT)
}

fn main() -> ExitCode {
    let cli: Cli = cli::parse_or_exit(StageDefaults {
        jobs: 400,
        workers: 1,
    });
    if cli.max_workers < cli.pool.workers {
        return bad_input(format_args!(
            "--max-workers {} is below --workers {}",
            cli.max_workers, cli.pool.workers
        ));
    }
    if let Some(chart) = &cli.chart
        && let Some(folder) = chart
            .parent()
            .filter(|folder| !folder.as_os_str().is_empty())
        && !folder.is_dir()
    {
        return bad_input(format_args!(
            "--chart {}: no folder {}",
            chart.display(),
            folder.display()
        ));
    }
    let settings = Settings {
        pool: PoolSettings {
            limits: Limits {
                min: cli.pool.workers,
                max: cli.max_workers,
            },
            queue: cli.pool.queue_capacity(),
        },
        jobs: cli.pool.jobs,
        delay: cli.delay,
        quiet: cli.quiet,
        policy: Policy {
            tick: cli.tick,
            backlog_per_worker: usize::try_from(cli.backlog_per_worker).unwrap_or(usize::MAX),
            target_wait: cli.target_wait,
            keep_alive: cli.keep_alive,
            cooldown: cli.cooldown,
        },
        timeout: cli.timeout,
    };
    let console = Console::stdout();
    let metrics = Arc::new(PoolMetrics::new());
    let _server = match cli.metrics_addr {
        None => None,
        Some(address) => match MetricsServer::start(address, Arc::clone(&metrics)) {
            Ok(server) => {
                if let Some(warning) = exposure_warning(server.address()) {
                    eprintln!("warning: {warning}");
                }
                console.line(format_args!("metrics: http://{}/metrics", server.address()));
                Some(server)
            }
            Err(error) => return bad_input(format_args!("--metrics-addr {address}: {error}")),
        },
    };

    let run = Context::new();
    if let Err(error) = stage_3_cancel::cancel_on_signals(&run) {
        eprintln!("error: cannot handle Ctrl-C: {error}");
        return ExitCode::FAILURE;
    }

    let report = match stage_4_scaling::run(&settings, &run, &metrics, &console) {
        Ok(report) => report,
        Err(error) => {
            eprintln!("error: cannot start the deadline's timer thread: {error}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(path) = &cli.chart {
        match chart::draw(&report.samples, settings.pool.limits, path) {
            Ok(()) => console.line(format_args!("chart: {}", path.display())),
            Err(error) => {
                eprintln!("error: --chart {error}");
                return ExitCode::FAILURE;
            }
        }
    }
    // 130 whenever the signal came, even after the last job (stage 3's rule).
    ExitCode::from(stage_3_cancel::exit_code(&run, report.stopped_by, &console))
}
