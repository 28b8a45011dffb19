//! Step 3, the tuned pool: no submitter and no queue. The workers take their batches straight
//! from the job source, one at a time behind a lock, so no thread ever waits for another to hand
//! it work. (A worker that finds the lock taken may still wait for it, briefly.)

use std::sync::Mutex;
use std::thread;

use pool_core::{Job, PoolSize};

use crate::{MAX_BATCH, join_buffers};

// ANCHOR: batch_len
/// Jobs a worker takes at a time: the queue's capacity shared between the workers, so that at
/// most `size.queue` jobs (or one per worker, if that is more) are ever out of the source and not
/// yet done, as in stage 1.
pub fn batch_len(size: PoolSize) -> usize {
    (size.queue / size.workers.max(1)).clamp(1, MAX_BATCH)
}
// ANCHOR_END: batch_len

// ANCHOR: worker
fn worker(
    source: &Mutex<impl Iterator<Item = Job>>,
    batch_len: usize,
    work: &(impl Fn(u64) -> u64 + Sync),
) -> Vec<u64> {
    let mut outputs = Vec::new();
    let mut batch = Vec::with_capacity(batch_len);
    loop {
        // The lock is held only while the batch is taken; the work runs without it.
        match source.lock() {
            Ok(mut jobs) => batch.extend(jobs.by_ref().take(batch_len)),
            // The source panicked in another worker's hands; that panic reaches the caller
            // when the worker is joined.
            Err(_) => break,
        }
        if batch.is_empty() {
            break; // The source is exhausted.
        }
        outputs.extend(batch.drain(..).map(|job| work(job.number)));
    }
    outputs
}
// ANCHOR_END: worker

// ANCHOR: run_pool
/// Runs every job on `size.workers` threads and returns every output, grouped by the worker that
/// made it. At most `size.queue` jobs are out of `jobs` and not yet done (see [`batch_len`]).
///
/// Unlike stage 1, the job source moves between the worker threads, so it must be `Send`.
///
/// # Panics
///
/// If `size.workers` is 0, or if the work or the job source panics: the panic is passed on.
pub fn run_pool<I>(size: PoolSize, jobs: I, work: impl Fn(u64) -> u64 + Sync) -> Vec<u64>
where
    I: IntoIterator<Item = Job>,
    I::IntoIter: Send,
{
    assert!(size.workers > 0, "a pool needs at least one worker");
    let batch_len = batch_len(size);
    // Fused, so that a worker asking after the end keeps getting nothing.
    let source = Mutex::new(jobs.into_iter().fuse());
    thread::scope(|scope| {
        let workers: Vec<_> = (0..size.workers)
            .map(|_| scope.spawn(|| worker(&source, batch_len, &work)))
            .collect();
        join_buffers(workers)
    })
}
// ANCHOR_END: run_pool

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_batches_share_the_queue_between_the_workers() {
        let size = |workers, queue| PoolSize { workers, queue };
        assert_eq!(batch_len(size(2, 100)), 50);
        assert_eq!(batch_len(size(4, 100)), 25);
        assert_eq!(
            batch_len(size(2, 0)),
            1,
            "Q = 0: one job per worker at a time"
        );
        assert_eq!(batch_len(size(8, 3)), 1);
        assert_eq!(batch_len(size(1, 1_000_000)), MAX_BATCH);
    }
}
