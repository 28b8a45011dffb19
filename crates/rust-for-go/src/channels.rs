//! Ownership of channel ends as the shutdown protocol.
//!
//! A crossbeam channel is closed when its last `Sender` is dropped, and a send fails once its
//! last `Receiver` is dropped. Whoever holds an end decides, by letting go of it, when the other
//! side learns that the conversation is over.

use std::thread;

use crossbeam_channel::bounded;

// ANCHOR: close_by_drop
/// Squares every job on `workers` threads and returns the squares in the order they arrive.
///
/// Nobody counts results or sends a "done" message: each channel closes when the last owner of a
/// sender lets it go, and every loop below ends because of that.
///
/// # Panics
///
/// If `workers` is 0, since no one would take the jobs; and if a worker panics.
pub fn square_all(jobs: Vec<u64>, workers: usize) -> Vec<u64> {
    assert!(workers > 0, "a pool needs at least one worker");
    let (job_sender, job_receiver) = bounded::<u64>(4);
    let (result_sender, result_receiver) = bounded::<u64>(4);
    thread::scope(|scope| {
        // The feeder owns the only job sender. When it has sent the last job it returns, the
        // sender is dropped with it, and the queue is closed: Go's `close(jobs)`.
        scope.spawn(move || {
            for job in jobs {
                job_sender
                    .send(job)
                    .expect("a worker receives until the queue is closed, unless it panicked");
            }
        });
        for _ in 0..workers {
            let jobs = job_receiver.clone();
            let results = result_sender.clone();
            // Each worker owns one result sender and drops it when its loop ends.
            scope.spawn(move || {
                for job in jobs {
                    results
                        .send(job * job)
                        .expect("the collector receives until the channel is closed");
                }
            });
        }
        // Our result sender would keep the results channel open for ever, and the loop below
        // with it. Without our receiver, the feeder's `send` fails if every worker has died.
        drop(result_sender);
        drop(job_receiver);
        result_receiver.iter().collect()
    })
}
// ANCHOR_END: close_by_drop

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_job_comes_back_squared_once() {
        let jobs: Vec<u64> = (1..=100).collect();
        let mut squares = square_all(jobs, 3);
        squares.sort_unstable();
        let expected: Vec<u64> = (1..=100).map(|n| n * n).collect();
        assert_eq!(squares, expected);
    }

    #[test]
    fn one_worker_and_no_jobs_end_too() {
        assert_eq!(square_all(vec![7], 1), [49]);
        assert!(square_all(Vec::new(), 2).is_empty());
    }
}
