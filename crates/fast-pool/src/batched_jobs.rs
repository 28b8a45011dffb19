//! Step 1: jobs travel in batches; outputs still come back one at a time.

use std::thread;

use crossbeam_channel::{Receiver, Sender, bounded, unbounded};
use pool_core::{Job, PoolSize};

use crate::{Batching, submit_in_batches};

// ANCHOR: worker
fn worker(batches: Receiver<Vec<Job>>, results: Sender<u64>, work: &(impl Fn(u64) -> u64 + Sync)) {
    // One receive, and at most one wake-up, per batch instead of per job.
    for batch in batches {
        for job in batch {
            results
                .send(work(job.number))
                .expect("run_pool keeps the results receiver until every worker has returned");
        }
    }
}
// ANCHOR_END: worker

/// Runs every job on `size.workers` threads and returns the outputs in arrival order. The queue
/// holds at most `size.queue` jobs, in batches cut by [`Batching::for_queue`].
///
/// # Panics
///
/// If `size.workers` is 0, or if the work panics: the scope passes a worker's panic on.
pub fn run_pool(
    size: PoolSize,
    jobs: impl IntoIterator<Item = Job>,
    work: impl Fn(u64) -> u64 + Sync,
) -> Vec<u64> {
    assert!(size.workers > 0, "a pool needs at least one worker");
    let batching = Batching::for_queue(size.queue);
    let (batch_sender, batch_receiver) = bounded(batching.batches_queued);
    let (result_sender, result_receiver) = unbounded();
    thread::scope(|scope| {
        for _ in 0..size.workers {
            let batches = batch_receiver.clone();
            let results = result_sender.clone();
            let work = &work;
            scope.spawn(move || worker(batches, results, work));
        }
        drop((batch_receiver, result_sender));
        submit_in_batches(jobs, batching.batch_len, &batch_sender);
        drop(batch_sender);
        result_receiver.iter().collect()
    })
}
