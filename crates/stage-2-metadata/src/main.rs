//! `cargo run -p stage-2-metadata -- --help` lists the flags.

use std::time::Duration;

use clap::Parser;
use pool_core::cli::{self, PoolArgs, StageDefaults};
use pool_core::{Clock, Console};

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
}

fn main() {
    let cli: Cli = cli::parse_or_exit(StageDefaults {
        jobs: 10,
        workers: 3,
    });
    stage_2_metadata::run(&cli.pool, cli.delay, &Clock::System, &Console::stdout());
}
