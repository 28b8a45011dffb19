//! Stage 2: results that say who made them and when.
//!
//! The pool is stage 1's, with two changes. Each result is a [`JobResult`] that carries its job
//! id, the worker that ran it and the times it started and finished, so the output shows how
//! the jobs were shared out. And each job sleeps for a delay first, standing in for real work, so the output
//! shows the pool's rhythm: N jobs on W workers finish in ⌈N/W⌉ rounds of one delay each.
//!
//! ```
//! use pool_core::{Clock, Console, PoolSize, work};
//! use stage_2_metadata::{article_jobs, run_pool};
//!
//! let size = PoolSize { workers: 2, queue: 4 };
//! let results = run_pool(size, article_jobs(4), work::square, &Clock::System, &Console::silent());
//! assert_eq!(results.len(), 4);
//! assert!(results.iter().all(|result| (1..=2).contains(&result.worker_id)));
//! ```

use std::thread;
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{Receiver, Sender, bounded, unbounded};
use pool_core::cli::PoolArgs;
use pool_core::timeline::{Span, SpanKind, Timeline};
use pool_core::{Clock, Console, Job, JobResult, PoolSize, WallTime, counted, work};

/// The article's jobs for this stage: job `id` carries the number `id`.
pub fn article_jobs(count: u64) -> impl Iterator<Item = Job> {
    (1..=count).map(|id| Job { id, number: id })
}

// ANCHOR: worker
/// One worker: like stage 1's, but each output goes back wrapped in a [`JobResult`] that names
/// the job, this worker, and the moments the work started and finished.
fn worker(
    id: usize,
    jobs: Receiver<Job>,
    results: Sender<JobResult>,
    work: &(impl Fn(u64) -> u64 + Sync),
    clock: &Clock,
) {
    for job in jobs {
        let started_at = clock.now();
        let output = work(job.number);
        let result = JobResult {
            job_id: job.id,
            output,
            worker_id: id,
            started_at,
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
///
/// # Panics
///
/// If `size.workers` is 0, or if the work panics, as in stage 1.
pub fn run_pool(
    size: PoolSize,
    jobs: impl IntoIterator<Item = Job>,
    work: impl Fn(u64) -> u64 + Sync,
    clock: &Clock,
    console: &Console,
) -> Vec<JobResult> {
    assert!(size.workers > 0, "a pool needs at least one worker");
    let (job_sender, job_receiver) = bounded::<Job>(size.queue);
    // Unbounded because this thread submits every job before it reads any result: a full results
    // channel would stop the workers, a full queue would then stop this thread, and each would
    // wait on the other for ever.
    let (result_sender, result_receiver) = unbounded::<JobResult>();
    let started_at = clock.now();

    // A scope joins every thread spawned in it before it returns, so no worker outlives the pool,
    // and workers may borrow `work` and `clock` instead of owning copies.
    thread::scope(|scope| {
        for id in 1..=size.workers {
            let jobs = job_receiver.clone();
            let results = result_sender.clone();
            let work = &work;
            scope.spawn(move || worker(id, jobs, results, work, clock));
        }
        // From here on only the workers hold these ends. Dropping our sender lets the results
        // channel close when the last worker returns; dropping our receiver lets `send` below
        // fail, instead of blocking for ever, if every worker has died.
        drop(result_sender);
        drop(job_receiver);

        for job in jobs {
            if job_sender.send(job).is_err() {
                break; // No worker is left; the scope re-raises the panic that killed them.
            }
        }
        drop(job_sender); // Close the queue: workers finish what is queued, then return.

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
pub fn print_result(console: &Console, result: &JobResult, started_at: SystemTime) {
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
    /// When the run started, by its clock: the zero of the timeline.
    pub started_at: SystemTime,
    /// From just before the workers start to just after the last one is joined.
    pub elapsed: Duration,
}

impl Report {
    /// The run as a picture (`--timeline`): a row per worker, a bar per job from its start to
    /// its end.
    pub fn timeline(&self, workers: usize) -> Timeline {
        let since_start = |at: SystemTime| at.duration_since(self.started_at).unwrap_or_default();
        Timeline {
            title: format!(
                "stage 2: {} on {}",
                counted(self.results.len() as u64, "job", "jobs"),
                counted(workers as u64, "worker", "workers")
            ),
            workers,
            spans: self
                .results
                .iter()
                .map(|result| Span {
                    job: result.job_id,
                    worker: result.worker_id,
                    start: since_start(result.started_at),
                    end: since_start(result.finished_at),
                    kind: SpanKind::Completed,
                })
                .collect(),
            deadline: None,
            never_started: Vec::new(),
        }
    }
}

// ANCHOR: ideal
/// How many rounds `jobs` jobs take on `workers` workers that each run one job at a time:
/// ⌈jobs / workers⌉, the last round possibly part-full.
pub fn rounds(jobs: u64, workers: usize) -> u64 {
    jobs.div_ceil(workers.max(1) as u64)
}

/// The shortest a run can take: each round lasts at least one `delay`.
pub fn ideal_makespan(jobs: u64, workers: usize, delay: Duration) -> Duration {
    let rounds = u32::try_from(rounds(jobs, workers)).unwrap_or(u32::MAX);
    delay.saturating_mul(rounds)
}
// ANCHOR_END: ideal

// ANCHOR: run
/// The stage-2 program: the article's jobs, each taking `delay`, then a summary that sets the
/// time the run took beside the ideal.
pub fn run(args: &PoolArgs, delay: Duration, clock: &Clock, console: &Console) -> Report {
    let started_at = clock.now();
    let started = Instant::now();
    let results = run_pool(
        args.pool_size(),
        article_jobs(args.jobs),
        |number| work::square_slowly(number, delay),
        clock,
        console,
    );
    let elapsed = started.elapsed();

    let (jobs, workers) = (args.jobs, args.workers);
    console.line(format_args!(
        "done: {} from {} on {} in {:.2}s; ideal {:.2}s: ⌈{jobs}/{workers}⌉ = {} of {}",
        counted(results.len() as u64, "result", "results"),
        counted(jobs, "job", "jobs"),
        counted(workers as u64, "worker", "workers"),
        elapsed.as_secs_f64(),
        ideal_makespan(jobs, workers, delay).as_secs_f64(),
        counted(rounds(jobs, workers), "round", "rounds"),
        humantime::format_duration(delay),
    ));
    Report {
        results,
        started_at,
        elapsed,
    }
}
// ANCHOR_END: run
