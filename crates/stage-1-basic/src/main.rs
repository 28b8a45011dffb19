//! `cargo run -p stage-1-basic -- --help` lists the flags.

use clap::Parser;
use pool_core::Console;
use pool_core::cli::{self, PoolArgs, StageDefaults};

/// Stage 1 of Worker Pools in Rust: worker threads take jobs from a bounded queue and send back
/// the square of each job's number.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    #[command(flatten)]
    pool: PoolArgs,
}

fn main() {
    let cli: Cli = cli::parse_or_exit(StageDefaults {
        jobs: 5,
        workers: 3,
    });
    stage_1_basic::run(&cli.pool, &Console::stdout());
}
