//! Solutions to the exercises of the chapter stage 1.

use std::thread;

use crossbeam_channel::{Receiver, Sender, TryRecvError, bounded, unbounded};
use pool_core::{Console, Job, PoolSize};

// ANCHOR: still_open
/// Exercise 1, the fact behind the hang: a results channel is closed only when *every* sender is
/// gone. Three workers each send one output and return, dropping their senders; if `run_pool`
/// still holds a sender of its own, the channel is empty but open, so a loop reading it would wait
/// for a value nobody will send. Returns what a reader sees once the three outputs are taken.
pub fn after_the_last_worker_returns(keep_own_sender: bool) -> TryRecvError {
    let (result_sender, result_receiver) = unbounded::<u64>();
    thread::scope(|scope| {
        for output in 1..=3 {
            let results = result_sender.clone();
            scope.spawn(move || results.send(output));
        }
    });
    // Every worker has returned here: the scope joined them.
    let kept = keep_own_sender.then_some(result_sender);
    let outputs = result_receiver.try_iter().count();
    assert_eq!(outputs, 3, "each worker sent its output");
    let next = result_receiver.try_recv();
    drop(kept);
    next.expect_err("nobody sends a fourth output")
}
// ANCHOR_END: still_open

// ANCHOR: bounded_results
/// Exercise 2: stage 1's pool with a results channel of capacity 1 that does not hang. The jobs
/// are submitted from a thread of their own inside the scope, so this thread is free to read
/// results from the start: a worker waiting to send is always unblocked by the reader, the
/// reader never waits on the submitter, and no three parties wait on each other in a circle.
///
/// # Panics
///
/// If `size.workers` is 0, or if the work panics, as in stage 1.
pub fn run_pool_bounded_results(
    size: PoolSize,
    jobs: impl IntoIterator<Item = Job, IntoIter: Send>,
    work: impl Fn(u64) -> u64 + Sync,
    console: &Console,
) -> Vec<u64> {
    assert!(size.workers > 0, "a pool needs at least one worker");
    let (job_sender, job_receiver) = bounded::<Job>(size.queue);
    let (result_sender, result_receiver) = bounded::<u64>(1);
    let jobs = jobs.into_iter();

    thread::scope(|scope| {
        for _ in 1..=size.workers {
            let jobs = job_receiver.clone();
            let results = result_sender.clone();
            let work = &work;
            scope.spawn(move || square_each(&jobs, &results, work));
        }
        drop(result_sender);
        drop(job_receiver);

        // The submitter owns the only job sender; when it returns, the sender is dropped and
        // the queue closes, as `drop(job_sender)` did in stage 1.
        scope.spawn(move || {
            for job in jobs {
                if job_sender.send(job).is_err() {
                    break; // No worker is left; the scope re-raises the panic that killed them.
                }
            }
        });

        result_receiver
            .iter()
            .inspect(|output| console.line(format_args!("result: {output}")))
            .collect()
    })
}

/// Stage 1's worker loop, without the printing.
fn square_each(jobs: &Receiver<Job>, results: &Sender<u64>, work: &(impl Fn(u64) -> u64 + Sync)) {
    for job in jobs {
        results
            .send(work(job.number))
            .expect("the pool keeps the results receiver until every worker has returned");
    }
}
// ANCHOR_END: bounded_results

// ANCHOR: worker_exits
/// Exercise 3: stage 1's pool with a line when the submitter has queued every job and a line
/// when each worker exits. A worker's loop ends only once the queue is closed and empty, and the
/// queue closes when the submitter drops its sender, after its last `send`: so every "exits" line
/// comes after "all jobs submitted", and the workers exit in whatever order they notice.
///
/// # Panics
///
/// If `size.workers` is 0, or if the work panics, as in stage 1.
pub fn run_pool_announcing_exits(
    size: PoolSize,
    jobs: impl IntoIterator<Item = Job>,
    work: impl Fn(u64) -> u64 + Sync,
    console: &Console,
) -> Vec<u64> {
    assert!(size.workers > 0, "a pool needs at least one worker");
    let (job_sender, job_receiver) = bounded::<Job>(size.queue);
    let (result_sender, result_receiver) = unbounded::<u64>();

    thread::scope(|scope| {
        for id in 1..=size.workers {
            let jobs = job_receiver.clone();
            let results = result_sender.clone();
            let work = &work;
            scope.spawn(move || {
                square_each(&jobs, &results, work);
                console.line(format_args!("worker {id} exits"));
            });
        }
        drop(result_sender);
        drop(job_receiver);

        for job in jobs {
            if job_sender.send(job).is_err() {
                break;
            }
        }
        console.line(format_args!("all jobs submitted"));
        drop(job_sender);

        result_receiver.iter().collect()
    })
}
// ANCHOR_END: worker_exits

#[cfg(test)]
mod tests {
    use super::*;
    use pool_core::work;

    fn jobs(count: u64) -> impl Iterator<Item = Job> {
        stage_1_basic::article_jobs(count)
    }

    #[test]
    fn a_kept_sender_leaves_the_results_channel_open_and_empty() {
        assert_eq!(after_the_last_worker_returns(true), TryRecvError::Empty);
        assert_eq!(
            after_the_last_worker_returns(false),
            TryRecvError::Disconnected
        );
    }

    /// The exercise's run: a results channel of one slot, a queue of one, 50 jobs. Before the
    /// fix this is the run that hangs; after it, every output arrives exactly once.
    #[test]
    fn a_bounded_results_channel_completes_every_job_once() {
        for (workers, queue) in [(3, 1), (1, 0), (4, 0), (2, 50)] {
            let (console, capture) = Console::captured();
            let size = PoolSize { workers, queue };
            let mut outputs = run_pool_bounded_results(size, jobs(50), work::square, &console);
            outputs.sort_unstable();
            let expected: Vec<u64> = (1..=50).map(|id| (2 * id) * (2 * id)).collect();
            assert_eq!(outputs, expected, "{workers} workers, queue {queue}");
            assert_eq!(capture.text().lines().count(), 50);
        }
    }

    #[test]
    fn every_worker_exits_once_and_only_after_the_last_job_is_submitted() {
        for queue in [0, 1, 100] {
            let (console, capture) = Console::captured();
            let size = PoolSize { workers: 4, queue };
            let outputs = run_pool_announcing_exits(size, jobs(100), work::square, &console);
            assert_eq!(outputs.len(), 100);

            let text = capture.text();
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(lines.len(), 5, "{text}");
            assert_eq!(lines[0], "all jobs submitted", "{text}");
            let mut exited: Vec<&str> = lines[1..].to_vec();
            exited.sort_unstable();
            let expected = [
                "worker 1 exits",
                "worker 2 exits",
                "worker 3 exits",
                "worker 4 exits",
            ];
            assert_eq!(exited, expected);
        }
    }
}
