//! `stage-6-distributed chaos`: the stage's promises, tried the unkind way.
//!
//! It runs producers and worker processes against a Redis (its own, or the one given) while it
//! injects faults — a worker killed, a worker stopped past its lease, two producers at once,
//! entries that are not jobs, writes paused, writes refused, Redis restarted — and then checks
//! the account against Redis itself. On a Redis of its own it also restarts the server *without*
//! its data, and checks that every worker noticed and said so. On a Redis it was given, it
//! touches nothing but its own processes and its own keys, under a name of its own.

mod faults;
mod processes;
mod verdict;

use std::path::PathBuf;
use std::time::Duration;

use pool_core::Console;
use tokio_util::sync::CancellationToken;

use crate::broker::{Broker, RedisBroker, Retention, redact};
use crate::produce::{ProduceSettings, produce};
use crate::server::PrivateRedis;

use self::processes::{Redis, Workers};

/// Writes one line of the report to stdout.
fn say(text: std::fmt::Arguments<'_>) {
    Console::stdout().line(text);
}

/// The settings of the worker processes: a short lease, so that faults past it take seconds.
const WORKER_PROCESSES: usize = 3;
const WORKERS_EACH: usize = 4;
const LEASE: Duration = Duration::from_secs(1);
const MAX_DELIVERIES: u64 = 3;
/// Every this many jobs of each producer, a poison job.
const POISON_EVERY: u64 = 50;

/// Runs the faults and the checks. `Ok` when every promise held; the error says how many broke.
pub async fn run(
    redis: Option<&str>,
    name: &str,
    jobs: u64,
    seconds: u64,
    stop: &CancellationToken,
) -> Result<(), String> {
    let mut scratch = Scratch::new()?;
    let folder = scratch.0.clone();
    let mut redis = match redis {
        Some(url) => Redis::given(url),
        None => {
            if !PrivateRedis::on_path() {
                return Err("chaos needs redis-server on PATH, or --redis URL".to_owned());
            }
            Redis::own(folder.join("persistent"), true)?
        }
    };
    // A name of its own, so that it never meets a queue someone uses.
    let name = format!("{name}-chaos-{}", std::process::id());
    let window = Duration::from_secs(seconds);
    // Work long enough that the jobs outlast the faults: every worker busy through the window.
    let workers = (WORKER_PROCESSES * WORKERS_EACH) as u64;
    let work = (window * u32::try_from(workers).unwrap_or(1)
        / u32::try_from(jobs.max(1)).unwrap_or(1))
    .max(Duration::from_millis(1));
    say(format_args!(
        "chaos: {}; {jobs} jobs of {} (each producer's every {POISON_EVERY}th job poison) from 2 \
         producers at once; {WORKER_PROCESSES} worker processes of {WORKERS_EACH} workers, a lease \
         of {}, {MAX_DELIVERIES} deliveries at most",
        redis.describe(),
        pool_core::short_duration(work),
        humantime::format_duration(LEASE),
    ));

    let broker = RedisBroker::connect(&redis.url(), &name, Retention::default())
        .await
        .map_err(|e| e.to_string())?;
    let logs = folder.join("workers.log");
    let mut workers = Workers::new(&redis.url(), &name, &logs)?;
    for _ in 0..WORKER_PROCESSES {
        workers.start()?;
    }

    // Two producers at once, each on a connection of its own, as two processes would be.
    let produced = two_producers(&redis.url(), &name, jobs, work, stop).await?;
    faults::add_entries_that_are_not_jobs(&redis.url(), &name).await?;
    let mut broken = Vec::new();
    faults::inject(&mut redis, &mut workers, &broker, window, stop, &mut broken).await;

    let drained = faults::wait_until_drained(&broker, &mut workers, stop).await;
    workers.stop_all().await;
    if stop.is_cancelled() {
        return Ok(());
    }
    if let Err(problem) = drained {
        broken.push(problem);
    }
    verdict::check(
        &broker,
        &produced,
        MAX_DELIVERIES,
        POISON_EVERY,
        &mut broken,
    )
    .await;
    broken.extend(workers.unexpected_exits());
    if redis.is_own() {
        drop(broker);
        verdict::loss_is_reported(&folder.join("forgetful"), stop, &mut broken).await;
    } else {
        faults::remove_keys(&redis.url(), &name).await;
        say(format_args!(
            "chaos: skipped (not its own Redis): the restarts, CLIENT PAUSE and maxmemory"
        ));
    }
    if broken.is_empty() {
        say(format_args!("chaos: every promise held"));
        Ok(())
    } else {
        for problem in &broken {
            say(format_args!("chaos: BROKEN: {problem}"));
        }
        // Kept, for whoever looks into it.
        scratch.1 = true;
        say(format_args!(
            "chaos: the worker processes' logs are in {}",
            redact(&logs.display().to_string())
        ));
        Err(format!("{} of the promises broke (above)", broken.len()))
    }
}

/// Two producers adding `jobs` between them at the same moment; each one's jobs, in order.
async fn two_producers(
    url: &str,
    name: &str,
    jobs: u64,
    work: Duration,
    stop: &CancellationToken,
) -> Result<[Vec<u64>; 2], String> {
    let producer = |share: u64| async move {
        let broker = RedisBroker::connect(url, name, Retention::default())
            .await
            .map_err(|e| e.to_string())?;
        let settings = ProduceSettings {
            jobs: share,
            job_duration: work,
            fail_every: Some(POISON_EVERY),
            max_backlog: None,
        };
        produce(&broker, settings, stop)
            .await
            .map(|produced| produced.job_ids)
            .map_err(|e| e.to_string())
    };
    let (first, second) = tokio::join!(producer(jobs / 2), producer(jobs - jobs / 2));
    let (first, second) = (first?, second?);
    say(format_args!(
        "chaos: 2 producers added {} + {} jobs at once",
        first.len(),
        second.len()
    ));
    Ok([first, second])
}

/// A folder of this run's own for the servers' data and the workers' logs, removed when dropped
/// unless a promise broke: then the logs are left for whoever looks into it.
struct Scratch(PathBuf, bool);

impl Scratch {
    fn new() -> Result<Self, String> {
        let folder = std::env::temp_dir().join(format!("stage-6-chaos-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&folder);
        std::fs::create_dir_all(&folder)
            .map_err(|error| format!("cannot make {}: {error}", folder.display()))?;
        Ok(Self(folder, false))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !self.1 {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// Whether the broker's account says nothing is left to do.
async fn drained<B: Broker>(broker: &B) -> bool {
    broker.status().await.is_ok_and(|status| status.drained())
}
