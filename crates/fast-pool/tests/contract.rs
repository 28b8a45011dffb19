//! Stage 1's contract, checked for every step of the tuned pool: every job runs exactly once and
//! its output comes back, no more than W jobs run at once, the jobs out of the source and not yet
//! done stay within a bound that does not grow with N, and a panic in the work reaches the caller.

use std::panic;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use fast_pool::Batching;
use pool_core::{Job, PoolSize, work};
use test_support::InFlight;

/// A rendezvous queue, a queue of one, a roomy queue; one worker, a few, more than cores.
const SHAPES: [PoolSize; 6] = [
    PoolSize {
        workers: 1,
        queue: 0,
    },
    PoolSize {
        workers: 3,
        queue: 0,
    },
    PoolSize {
        workers: 2,
        queue: 1,
    },
    PoolSize {
        workers: 2,
        queue: 100,
    },
    PoolSize {
        workers: 4,
        queue: 1024,
    },
    PoolSize {
        workers: 8,
        queue: 3,
    },
];

fn jobs(count: u64) -> impl Iterator<Item = Job> + Send {
    (1..=count).map(|id| Job { id, number: id })
}

fn squares(count: u64) -> Vec<u64> {
    (1..=count).map(work::square).collect()
}

/// Counts the jobs taken from a source and the jobs finished, and remembers the most that were
/// ever taken and not yet finished.
#[derive(Default)]
struct Outstanding {
    taken: AtomicUsize,
    finished: AtomicUsize,
    peak: AtomicUsize,
}

impl Outstanding {
    fn source(&self, count: u64) -> impl Iterator<Item = Job> + Send + '_ {
        jobs(count).inspect(|_| {
            let taken = self.taken.fetch_add(1, Ordering::SeqCst) + 1;
            let out = taken - self.finished.load(Ordering::SeqCst);
            self.peak.fetch_max(out, Ordering::SeqCst);
        })
    }

    fn finish(&self) {
        self.finished.fetch_add(1, Ordering::SeqCst);
    }

    fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }
}

/// The tests every step must pass; `$bound` gives, for a pool size, the most jobs that may be
/// out of the source and not yet finished.
macro_rules! contract {
    ($step:ident, $bound:expr) => {
        mod $step {
            use super::*;
            use fast_pool::$step::run_pool;

            #[test]
            fn every_job_runs_once_and_no_more_than_w_at_a_time() {
                for size in SHAPES {
                    let gauge = InFlight::default();
                    let mut outputs = run_pool(size, jobs(200), |number| {
                        let _running = gauge.enter();
                        thread::sleep(Duration::from_micros(200));
                        work::square(number)
                    });
                    outputs.sort_unstable();
                    assert_eq!(outputs, squares(200), "{size:?}");
                    assert!(gauge.peak() <= size.workers, "{size:?}: {}", gauge.peak());
                    assert_eq!(gauge.now(), 0, "{size:?}: a job outlived the pool");
                }
            }

            #[test]
            fn a_million_jobs_add_up() {
                let size = PoolSize {
                    workers: 2,
                    queue: 100,
                };
                let mut outputs = run_pool(size, jobs(1_000_000), work::square);
                outputs.sort_unstable();
                assert_eq!(outputs, squares(1_000_000));
            }

            #[test]
            fn the_jobs_waiting_stay_within_a_bound_that_does_not_grow_with_n() {
                for size in SHAPES {
                    let outstanding = Outstanding::default();
                    let outputs = run_pool(size, outstanding.source(2_000), |number| {
                        // Slower than taking a job, so that the jobs pile up wherever they can.
                        thread::sleep(Duration::from_micros(20));
                        outstanding.finish();
                        work::square(number)
                    });
                    assert_eq!(outputs.len(), 2_000);
                    let bound: usize = $bound(size);
                    assert!(
                        outstanding.peak() <= bound,
                        "{size:?}: {} out at once, bound {bound}",
                        outstanding.peak()
                    );
                }
            }

            #[test]
            fn no_jobs_means_no_outputs() {
                let size = PoolSize {
                    workers: 3,
                    queue: 0,
                };
                assert!(run_pool(size, jobs(0), work::square).is_empty());
            }

            #[test]
            fn a_panic_in_the_work_reaches_the_caller() {
                let size = PoolSize {
                    workers: 2,
                    queue: 10,
                };
                let caught = panic::catch_unwind(|| {
                    run_pool(size, jobs(1_000), |number| {
                        assert_ne!(number, 500, "job 500 fails");
                        number
                    })
                });
                assert!(caught.is_err());
            }
        }
    };
}

/// With a queue: the queue's batches, one batch in each worker's hands and one in the
/// submitter's, which has taken a batch's worth before it waits for room.
fn queue_bound(size: PoolSize) -> usize {
    let batching = Batching::for_queue(size.queue);
    (batching.batches_queued + size.workers + 1) * batching.batch_len
}

/// Without one: a batch in each worker's hands, which is the queue's capacity shared out.
fn self_serve_bound(size: PoolSize) -> usize {
    size.workers * fast_pool::self_serve::batch_len(size)
}

contract!(batched_jobs, queue_bound);
contract!(local_results, queue_bound);
contract!(self_serve, self_serve_bound);

#[test]
fn the_self_serve_bound_is_within_max_q_w_and_so_within_stage_1s() {
    // Stage 1 holds at most Q jobs in its queue plus one in each worker's hands and one in the
    // submitter's; the tuned pool stays within Q, or W when Q < W.
    for size in SHAPES {
        let bound = self_serve_bound(size);
        assert!(bound <= size.queue.max(size.workers), "{size:?}: {bound}");
    }
}
