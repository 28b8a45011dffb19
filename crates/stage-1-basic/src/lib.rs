//! Stage 1: the worker pool at its simplest.
//!
//! A fixed number of worker threads take jobs from one bounded queue and send each output back on
//! a results channel. Nothing announces the end: the queue closes when its sender is dropped, each
//! worker's loop ends when the queue is closed and empty, and the results channel closes when the
//! last worker returns and drops its sender. That chain is the whole shutdown protocol.
//!
//! ```
//! use pool_core::{Console, PoolSize, work};
//! use stage_1_basic::{article_jobs, run_pool};
//!
//! let size = PoolSize { workers: 3, queue: 2 };
//! let mut squares = run_pool(size, article_jobs(5), work::square, &Console::silent());
//! squares.sort_unstable();
//! assert_eq!(squares, [4, 16, 36, 64, 100]);
//! ```

use std::thread;

use crossbeam_channel::{Receiver, Sender, bounded, unbounded};
use pool_core::cli::PoolArgs;
use pool_core::{Console, Job, PoolSize, counted, work};

/// The article's jobs for this stage: job `id` carries the number `2 × id`, so five jobs square
/// 2, 4, 6, 8 and 10.
pub fn article_jobs(count: u64) -> impl Iterator<Item = Job> {
    (1..=count).map(|id| Job { id, number: 2 * id })
}

// ANCHOR: worker
/// One worker: takes jobs until the queue is closed and empty, sends back one output per job.
fn worker(
    id: usize,
    jobs: Receiver<Job>,
    results: Sender<u64>,
    work: &(impl Fn(u64) -> u64 + Sync),
    console: &Console,
) {
    // Iterating a receiver blocks while the queue is empty and ends once every sender is gone.
    for job in jobs {
        console.line(format_args!(
            "worker {id} picked up job {} (number {})",
            job.id, job.number
        ));
        let output = work(job.number);
        results
            .send(output)
            .expect("run_pool keeps the results receiver until every worker has returned");
    }
    // Returning drops `results`, this worker's sender: one step closer to closing the channel.
}
// ANCHOR_END: worker

// ANCHOR: run_pool
/// Runs every job on a pool of `size.workers` threads, prints each output as it arrives and
/// returns the outputs in arrival order.
///
/// # Panics
///
/// If `size.workers` is 0 (a pool with no workers could only lose the jobs), or if the work
/// panics: the scope passes a worker's panic on.
pub fn run_pool(
    size: PoolSize,
    jobs: impl IntoIterator<Item = Job>,
    work: impl Fn(u64) -> u64 + Sync,
    console: &Console,
) -> Vec<u64> {
    assert!(size.workers > 0, "a pool needs at least one worker");
    let (job_sender, job_receiver) = bounded::<Job>(size.queue);
    // Unbounded because this thread submits every job before it reads any result: a full results
    // channel would stop the workers, a full queue would then stop this thread, and each would
    // wait on the other for ever.
    let (result_sender, result_receiver) = unbounded::<u64>();

    // A scope joins every thread spawned in it before it returns, so no worker outlives the pool,
    // and workers may borrow `work` and `console` instead of owning copies.
    thread::scope(|scope| {
        for id in 1..=size.workers {
            let jobs = job_receiver.clone();
            let results = result_sender.clone();
            let work = &work;
            scope.spawn(move || worker(id, jobs, results, work, console));
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
            .inspect(|output| console.line(format_args!("result: {output}")))
            .collect()
    })
}
// ANCHOR_END: run_pool

// ANCHOR: run
/// The stage-1 program: the article's jobs, squared on the pool, then a summary line.
pub fn run(args: &PoolArgs, console: &Console) -> Vec<u64> {
    let results = run_pool(
        args.pool_size(),
        article_jobs(args.jobs),
        work::square,
        console,
    );
    console.line(format_args!(
        "done: {} from {} on {}",
        counted(results.len() as u64, "result", "results"),
        counted(args.jobs, "job", "jobs"),
        counted(args.workers as u64, "worker", "workers"),
    ));
    results
}
// ANCHOR_END: run
