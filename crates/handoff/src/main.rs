//! `cargo run --release -p handoff -- --workers 2` times stage 1's pool on a million trivial jobs
//! and prints the time and the context switches per job; `--cores one` pins it to one core first,
//! and `--runs-before 9` times the tenth run in the process instead of the first.
//! `--help` lists the flags.

use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use handoff::{measure, pin_to_one_core};
use pool_core::cli::{self, parse_queue_capacity, parse_worker_count};
use pool_core::{Console, PoolSize};

/// Times stage 1's pool (one job queue, one results channel, W worker threads) on N jobs that
/// square a number, and counts the process's context switches meanwhile: the cost of a hand-off
/// between threads, on every core or within one.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// Worker threads.
    #[arg(long, value_name = "W", default_value_t = 2, value_parser = parse_worker_count)]
    workers: usize,
    /// Room for jobs in the queue.
    #[arg(long, value_name = "Q", default_value_t = 100, value_parser = parse_queue_capacity)]
    queue: usize,
    /// Jobs in the timed run (a tenth of them run first, untimed).
    #[arg(long, value_name = "N", default_value_t = 1_000_000, value_parser = parse_jobs)]
    jobs: u64,
    /// Runs of the same size made in the process before the timed one, untimed.
    #[arg(long, value_name = "N", default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=100))]
    runs_before: u32,
    /// Every core the process may use, or pinned to one of them before the threads start.
    #[arg(long, value_enum, default_value_t = Cores::All)]
    cores: Cores,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Cores {
    /// Every core the process may run on.
    All,
    /// The first core the process may run on, for the process and every thread it starts.
    One,
}

/// Enough for a steady figure, few enough for a second or two a run.
const MAX_JOBS: u64 = 10_000_000;

fn parse_jobs(text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(jobs) if (1..=MAX_JOBS).contains(&jobs) => Ok(jobs),
        Ok(_) => Err(format!("must be from 1 to {MAX_JOBS}")),
        Err(_) => Err("not a whole number".to_owned()),
    }
}

fn main() -> ExitCode {
    let cli: Cli = cli::parse_args_or_exit();
    if cli.cores == Cores::One
        && let Err(error) = pin_to_one_core()
    {
        eprintln!("error: could not pin the process to one core: {error}");
        return ExitCode::FAILURE;
    }
    let size = PoolSize {
        workers: cli.workers,
        queue: cli.queue,
    };
    match measure(size, cli.jobs, cli.runs_before) {
        Ok(run) => {
            Console::stdout().line(format_args!("{}", run.report().trim_end()));
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: could not measure the hand-off: {error}");
            ExitCode::FAILURE
        }
    }
}
