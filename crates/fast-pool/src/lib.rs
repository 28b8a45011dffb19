//! Stage 1's pool made fast, one measured step at a time.
//!
//! Every step keeps stage 1's contract: every job runs exactly once, every output comes back,
//! the number of jobs waiting is bounded whatever N is, and every thread is joined before
//! `run_pool` returns. What changes is how often the threads touch shared state and wait for
//! each other:
//!
//! 1. [`batched_jobs`] hands jobs to the workers in batches instead of one at a time;
//! 2. [`local_results`] also keeps each worker's outputs in its own buffer, collected when the
//!    worker is joined, so the results channel disappears;
//! 3. [`self_serve`] drops the submitter: the workers take their batches from the job source
//!    themselves, so no thread waits for another to hand it work.
//!
//! The last step is the tuned pool, re-exported as [`run_pool`].

pub mod batched_jobs;
pub mod local_results;
pub mod self_serve;

use std::mem;
use std::panic;
use std::thread::ScopedJoinHandle;

use crossbeam_channel::Sender;
use pool_core::Job;

pub use self_serve::run_pool;

/// The most jobs one batch carries. Past a few hundred, a bigger batch saves nothing measurable
/// and only makes the last batches of a run more uneven between the workers.
pub const MAX_BATCH: usize = 256;

// ANCHOR: batching
/// How a queue of `capacity` jobs is cut into batches, in the steps that keep a queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batching {
    /// Jobs in a full batch.
    pub batch_len: usize,
    /// Batches the queue holds; `batch_len × batches_queued` never exceeds the capacity.
    pub batches_queued: usize,
}

impl Batching {
    /// Four batches per queue, so that each of two workers can take one while the submitter
    /// fills the next, and a batch never grows past [`MAX_BATCH`]. A queue of fewer than 8 jobs,
    /// whose quarter rounds down to 1 or 0, gets batches of one job: the same hand-offs as stage 1.
    pub fn for_queue(capacity: usize) -> Self {
        let batch_len = (capacity / 4).clamp(1, MAX_BATCH);
        Self {
            batch_len,
            batches_queued: capacity / batch_len,
        }
    }
}
// ANCHOR_END: batching

// ANCHOR: submit_in_batches
/// Sends `jobs` into `queue` in batches of `batch_len`, the last one possibly shorter. Stops early
/// if every worker is gone; the caller's scope then re-raises the panic that ended them.
fn submit_in_batches(
    jobs: impl IntoIterator<Item = Job>,
    batch_len: usize,
    queue: &Sender<Vec<Job>>,
) {
    let mut batch = Vec::with_capacity(batch_len);
    for job in jobs {
        batch.push(job);
        if batch.len() == batch_len {
            let full = mem::replace(&mut batch, Vec::with_capacity(batch_len));
            if queue.send(full).is_err() {
                return;
            }
        }
    }
    if !batch.is_empty() {
        // An error here has the same cause as above and the same outcome: nothing left to do.
        queue.send(batch).ok();
    }
}
// ANCHOR_END: submit_in_batches

// ANCHOR: join_buffers
/// Joins every worker and puts their buffers of outputs together: in the steps without a results
/// channel, a worker's return value is how its outputs come back. A worker's panic is passed on.
fn join_buffers(workers: Vec<ScopedJoinHandle<'_, Vec<u64>>>) -> Vec<u64> {
    let mut outputs = Vec::new();
    for worker in workers {
        match worker.join() {
            // The first buffer is taken as it is; only the others are copied.
            Ok(buffer) if outputs.is_empty() => outputs = buffer,
            Ok(buffer) => outputs.extend(buffer),
            Err(payload) => panic::resume_unwind(payload),
        }
    }
    outputs
}
// ANCHOR_END: join_buffers

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_never_hold_more_jobs_than_the_queue() {
        for capacity in [0, 1, 2, 3, 4, 7, 100, 1023, 1024, 5000, 1_000_000] {
            let batching = Batching::for_queue(capacity);
            assert!(batching.batch_len >= 1);
            assert!(batching.batch_len <= MAX_BATCH);
            assert!(batching.batch_len * batching.batches_queued <= capacity);
        }
        assert_eq!(
            Batching::for_queue(100),
            Batching {
                batch_len: 25,
                batches_queued: 4
            }
        );
        assert_eq!(
            Batching::for_queue(0).batches_queued,
            0,
            "Q = 0 stays a rendezvous"
        );
    }

    #[test]
    fn a_run_that_is_not_a_multiple_of_the_batch_sends_the_rest() {
        let (sender, receiver) = crossbeam_channel::unbounded();
        let jobs = (1..=10).map(|id| Job { id, number: id });
        submit_in_batches(jobs, 4, &sender);
        drop(sender);
        let lengths: Vec<usize> = receiver.iter().map(|batch| batch.len()).collect();
        assert_eq!(lengths, [4, 4, 2]);
    }
}
