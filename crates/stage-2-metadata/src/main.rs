//! `cargo run -p stage-2-metadata -- --help` lists the flags.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use pool_core::cli::{self, PoolArgs, StageDefaults};
use pool_core::{Clock, Console, timeline};

/// Stage 2 of Worker Pools in Rust: each job takes a while, and each result says which worker
/// ran it and when it finished (times of day are UTC).
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    #[command(flatten)]
    pool: PoolArgs,

    /// How long each job pretends to work, e.g. 500ms or 2s
    #[arg(long, value_name = "DURATION", default_value = "500ms", value_parser = cli::parse_duration)]
    delay: Duration,

    /// Draw the run into this SVG file: a row per worker, a bar per job
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
    let console = Console::stdout();
    let report = stage_2_metadata::run(&cli.pool, cli.delay, &Clock::System, &console);
    if let Some(path) = &cli.timeline {
        if let Err(error) = report.timeline(cli.pool.workers).draw(path) {
            eprintln!("error: --timeline {error}");
            return ExitCode::FAILURE;
        }
        console.line(format_args!("timeline: {}", path.display()));
    }
    ExitCode::SUCCESS
}
