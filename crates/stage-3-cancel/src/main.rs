//! `cargo run -p stage-3-cancel -- --help` lists the flags.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use pool_core::cli::{self, PoolArgs, StageDefaults};
use pool_core::{Clock, Console, timeline};
use stage_3_cancel::{Context, Settings};

/// Stage 3 of Worker Pools in Rust: stage 2's pool under a deadline. When the deadline passes
/// (the expected end of the default run, exit code 0) or on Ctrl-C or SIGTERM (exit code 130),
/// it stops taking jobs, cancels the running ones, joins every worker and prints an account of
/// every job. A second Ctrl-C exits at once.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    #[command(flatten)]
    pool: PoolArgs,

    /// How long each job pretends to work, e.g. 500ms or 2s
    #[arg(long, value_name = "DURATION", default_value = "500ms", value_parser = cli::parse_duration)]
    delay: Duration,

    /// How long the whole run may take before it is cancelled
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = cli::parse_duration)]
    timeout: Duration,

    /// Make every Nth job return an error, to see failures reported
    #[arg(long, value_name = "N", value_parser = cli::parse_positive_count, allow_negative_numbers = true)]
    fail_every: Option<u64>,

    /// Make every Nth job panic, to see panics caught and reported
    #[arg(long, value_name = "N", value_parser = cli::parse_positive_count, allow_negative_numbers = true)]
    panic_every: Option<u64>,

    /// Make every Nth job ignore cancellation, to see why a second Ctrl-C exits at once
    #[arg(long, value_name = "N", value_parser = cli::parse_positive_count, allow_negative_numbers = true)]
    stubborn_every: Option<u64>,

    /// Run the direct port of the article's worker, a select! on the queue and the deadline,
    /// to see what it gets wrong
    #[arg(long)]
    go_port: bool,

    /// Draw the run into this SVG file: a row per worker, a bar per job, the deadline
    #[arg(long, value_name = "FILE.svg")]
    timeline: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli: Cli = cli::parse_or_exit(StageDefaults {
        jobs: 10,
        workers: 3,
    });
    // A file that cannot be written is bad input: say so before the run, not after it.
    if let Err(code) = timeline::check_timeline_flag(cli.timeline.as_deref()) {
        return code;
    }
    let settings = Settings {
        pool: cli.pool,
        delay: cli.delay,
        timeout: cli.timeout,
        fail_every: cli.fail_every,
        panic_every: cli.panic_every,
        stubborn_every: cli.stubborn_every,
        go_port: cli.go_port,
    };

    let run = Context::new();
    if let Err(error) = stage_3_cancel::cancel_on_signals(&run) {
        eprintln!("error: cannot handle Ctrl-C: {error}");
        return ExitCode::FAILURE;
    }

    let console = Console::stdout();
    let report = match stage_3_cancel::run(&settings, &run, &Clock::System, &console) {
        Ok(report) => report,
        Err(error) => {
            eprintln!("error: cannot start the deadline's timer thread: {error}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(path) = &cli.timeline {
        if let Err(error) = report.timeline.draw(path) {
            eprintln!("error: --timeline {error}");
            return ExitCode::FAILURE;
        }
        console.line(format_args!("timeline: {}", path.display()));
    }
    ExitCode::from(stage_3_cancel::exit_code(&run, report.stopped_by, &console))
}
