//! Stage 2: results that say who made them and when.
//!
//! The pool is stage 1's, with two changes. Each result is a [`JobResult`] that carries its job
//! id, the worker that ran it and the time it finished, so the output shows how the jobs were
//! shared out. And each job sleeps for a delay first, standing in for real work, so the output
//! shows the pool's rhythm: N jobs on W workers finish in ⌈N/W⌉ rounds of one delay each.

use std::thread;
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{Receiver, Sender, bounded, unbounded};
use pool_core::cli::PoolArgs;
use pool_core::{Clock, Console, Job, JobResult, PoolSize, WallTime, work};

/// The article's jobs for this stage: job `id` carries the number `id`.
pub fn article_jobs(count: u64) -> impl Iterator<Item = Job> {
    (1..=count).map(|id| Job { id, number: id })
}

// ANCHOR: worker
/// One worker: like stage 1's, but each output goes back wrapped in a [`JobResult`] that names
/// the job, this worker, and the moment the work finished.
fn worker(
    id: usize,
    jobs: Receiver<Job>,
    results: Sender<JobResult>,
    work: &(impl Fn(u64) -> u64 + Sync),
    clock: &Clock,
) {
    for job in jobs {
        let output = work(job.number);
        let result = JobResult {
            job_id: job.id,
            output,
            worker_id: id,
            finished_at: clock.now(),
        };
        results
            .send(result)
            .expect("run_pool keeps the results receiver until every worker has returned");
    }
}
// ANCHOR_END: worker

// ANCHOR: run_pool
/// Runs every job on a pool of `size.workers` threads, prints each result as it arrives and
/// returns the results in arrival order.
pub fn run_pool(
    size: PoolSize,
    jobs: impl IntoIterator<Item = Job>,
    work: impl Fn(u64) -> u64 + Sync,
    clock: &Clock,
    console: &Console,
) -> Vec<JobResult> {
    let (job_sender, job_receiver) = bounded::<Job>(size.queue);
    let (result_sender, result_receiver) = unbounded::<JobResult>();
    let started_at = clock.now();

    thread::scope(|scope| {
        for id in 1..=size.workers {
            let jobs = job_receiver.clone();
            let results = result_sender.clone();
            let work = &work;
            scope.spawn(move || worker(id, jobs, results, work, clock));
        }
        drop(result_sender);
        drop(job_receiver);

        for job in jobs {
            if job_sender.send(job).is_err() {
                break; // No worker is left; the scope re-raises the panic that killed them.
            }
        }
        drop(job_sender);

        result_receiver
            .iter()
            .inspect(|result| print_result(console, result, started_at))
            .collect()
    })
}
// ANCHOR_END: run_pool

// ANCHOR: print_result
/// One line per result: which job, which worker, the output, and when it finished, both as a
/// time of day and as seconds since the pool started (which is where the rounds show).
fn print_result(console: &Console, result: &JobResult, started_at: SystemTime) {
    let since_start = result
        .finished_at
        .duration_since(started_at)
        .unwrap_or_default();
    console.line(format_args!(
        "job {:>2} done by worker {}: {:>3} (at {} UTC, +{:.2}s)",
        result.job_id,
        result.worker_id,
        result.output,
        WallTime(result.finished_at),
        since_start.as_secs_f64()
    ));
}
// ANCHOR_END: print_result

/// What a run of the stage-2 program produced.
#[derive(Debug, Clone)]
pub struct Report {
    /// Every result, in the order they arrived.
    pub results: Vec<JobResult>,
    /// From the first job submitted to the last worker joined.
    pub elapsed: Duration,
}

// ANCHOR: ideal
/// The shortest a run can take: each worker runs one job at a time, so `jobs` jobs need
/// ⌈jobs / workers⌉ rounds, and each round lasts at least one `delay`.
pub fn ideal_makespan(jobs: u64, workers: usize, delay: Duration) -> Duration {
    let rounds = jobs.div_ceil(workers.max(1) as u64);
    delay.saturating_mul(u32::try_from(rounds).unwrap_or(u32::MAX))
}
// ANCHOR_END: ideal

// ANCHOR: run
/// The stage-2 program: the article's jobs, each taking `delay`, then a summary that sets the
/// time the run took beside the ideal.
pub fn run(args: &PoolArgs, delay: Duration, clock: &Clock, console: &Console) -> Report {
    let started = Instant::now();
    let results = run_pool(
        args.pool_size(),
        article_jobs(args.jobs),
        |number| work::square_slowly(number, delay),
        clock,
        console,
    );
    let elapsed = started.elapsed();

    let rounds = args.jobs.div_ceil(args.workers as u64);
    console.line(format_args!(
        "done: {} results from {} jobs on {} workers in {:.2}s",
        results.len(),
        args.jobs,
        args.workers,
        elapsed.as_secs_f64()
    ));
    console.line(format_args!(
        "ideal: {rounds} rounds × {} = {:.2}s (a worker runs one job at a time, so {} jobs on {} \
         workers need ⌈{}/{}⌉ = {rounds} rounds)",
        humantime::format_duration(delay),
        ideal_makespan(args.jobs, args.workers, delay).as_secs_f64(),
        args.jobs,
        args.workers,
        args.jobs,
        args.workers,
    ));
    Report { results, elapsed }
}
// ANCHOR_END: run
