//! `cargo run --release -p idle-workers -- threads` (or `tasks`) prints how much memory
//! 10 000 idle workers of that shape hold. `--help` lists the flags.

use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use idle_workers::{Footprint, idle_tasks, idle_threads};
use pool_core::{Console, cli};

/// Measures the resident memory of idle workers: OS threads blocked on a queue, as in stages 1–4,
/// or tokio tasks waiting on one, as in stage 5.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// What each worker is.
    #[arg(value_enum)]
    shape: Shape,
    /// How many workers wait at once.
    #[arg(long, value_name = "N", default_value_t = 10_000, value_parser = parse_workers,
          allow_negative_numbers = true)]
    workers: usize,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Shape {
    /// One OS thread per worker.
    Threads,
    /// One tokio task per worker, on a runtime of two threads.
    Tasks,
}

impl Shape {
    /// The name on the command line.
    fn name(self) -> &'static str {
        match self {
            Shape::Threads => "threads",
            Shape::Tasks => "tasks",
        }
    }
}

/// Enough to measure, and few enough that no default thread limit (often 30 000 or more per user
/// on Linux) gets in the way.
const MAX_IDLE_WORKERS: usize = 20_000;

fn parse_workers(text: &str) -> Result<usize, String> {
    let workers: i64 = text.parse().map_err(|_| "not a whole number".to_owned())?;
    match usize::try_from(workers) {
        Ok(workers) if (1..=MAX_IDLE_WORKERS).contains(&workers) => Ok(workers),
        _ => Err(format!("must be from 1 to {MAX_IDLE_WORKERS}")),
    }
}

fn main() -> ExitCode {
    let cli: Cli = cli::parse_args_or_exit();
    let measured = match cli.shape {
        Shape::Threads => idle_threads(cli.workers),
        Shape::Tasks => idle_tasks(cli.workers),
    };
    match measured {
        Ok(footprint) => {
            print_footprint(cli.shape, &footprint);
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!(
                "error: could not measure idle {}: {error}",
                cli.shape.name()
            );
            ExitCode::FAILURE
        }
    }
}

fn print_footprint(shape: Shape, footprint: &Footprint) {
    let console = Console::stdout();
    let mebibytes = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
    console.line(format_args!("shape: {}", shape.name()));
    console.line(format_args!("workers: {}", footprint.workers));
    console.line(format_args!(
        "rss before: {:.1} MiB",
        mebibytes(footprint.before)
    ));
    console.line(format_args!(
        "peak rss: {:.1} MiB",
        mebibytes(footprint.peak)
    ));
    let per_worker = footprint.per_worker();
    console.line(format_args!(
        "per worker: {per_worker} bytes ({:.1} KiB)",
        per_worker as f64 / 1024.0
    ));
}
