//! Step 2: each worker keeps its outputs in a buffer of its own and hands the whole buffer back
//! when it returns. No results channel at all.

use std::thread;

use crossbeam_channel::{Receiver, bounded};
use pool_core::{Job, PoolSize};

use crate::{Batching, join_buffers, submit_in_batches};

// ANCHOR: worker
fn worker(batches: Receiver<Vec<Job>>, work: &(impl Fn(u64) -> u64 + Sync)) -> Vec<u64> {
    let mut outputs = Vec::new();
    for batch in batches {
        outputs.extend(batch.iter().map(|job| work(job.number)));
    }
    outputs
}
// ANCHOR_END: worker

// ANCHOR: run_pool
/// Runs every job on `size.workers` threads and returns every output, grouped by the worker that
/// made it. The queue holds at most `size.queue` jobs, in batches cut by [`Batching::for_queue`].
///
/// # Panics
///
/// If `size.workers` is 0, or if the work panics: the worker's panic is passed on.
pub fn run_pool(
    size: PoolSize,
    jobs: impl IntoIterator<Item = Job>,
    work: impl Fn(u64) -> u64 + Sync,
) -> Vec<u64> {
    assert!(size.workers > 0, "a pool needs at least one worker");
    let batching = Batching::for_queue(size.queue);
    let (batch_sender, batch_receiver) = bounded(batching.batches_queued);
    thread::scope(|scope| {
        let workers: Vec<_> = (0..size.workers)
            .map(|_| {
                let batches = batch_receiver.clone();
                let work = &work;
                scope.spawn(move || worker(batches, work))
            })
            .collect();
        drop(batch_receiver);
        submit_in_batches(jobs, batching.batch_len, &batch_sender);
        drop(batch_sender);

        join_buffers(workers)
    })
}
// ANCHOR_END: run_pool
