//! The peers: what a reader might reach for instead of a hand-made pool, each running the
//! reference workload (every job's number through `work`, every output collected) so that the
//! benchmarks can put them beside the stages.
//!
//! Every peer takes the jobs as numbers `1..=jobs` and returns one output per job, in no
//! particular order. None of them is a straw man; each is the shape the crate or the standard
//! library suggests for the job.

use std::panic;
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;

use pool_core::PoolSize;
use rayon::ThreadPool;
use rayon::prelude::*;

// ANCHOR: sequential
/// No pool at all: one loop on the calling thread. The floor every pool is measured against.
pub fn sequential(jobs: u64, work: impl Fn(u64) -> u64) -> Vec<u64> {
    (1..=jobs).map(work).collect()
}
// ANCHOR_END: sequential

// ANCHOR: thread_per_job
/// A thread for every job, joined for its output. No queue, no limit on threads at once.
pub fn thread_per_job(jobs: u64, work: impl Fn(u64) -> u64 + Sync) -> Vec<u64> {
    let work = &work;
    thread::scope(|scope| {
        let threads: Vec<_> = (1..=jobs)
            .map(|number| scope.spawn(move || work(number)))
            .collect();
        threads
            .into_iter()
            .map(|thread| {
                thread
                    .join()
                    .unwrap_or_else(|panic| panic::resume_unwind(panic))
            })
            .collect()
    })
}
// ANCHOR_END: thread_per_job

// ANCHOR: rayon_par_iter
/// rayon's parallel iterator on `pool`: it splits the range between the pool's threads, and a
/// thread that runs out steals half of another's remaining work.
pub fn rayon_par_iter(
    pool: &ThreadPool,
    jobs: u64,
    work: impl Fn(u64) -> u64 + Sync + Send,
) -> Vec<u64> {
    pool.install(|| (1..=jobs).into_par_iter().map(work).collect())
}
// ANCHOR_END: rayon_par_iter

// ANCHOR: rayon_spawn
/// One rayon task per job, spawned in a scope on `pool`; each sends its output down a channel.
/// The scope returns once every task has run.
pub fn rayon_spawn_per_job(
    pool: &ThreadPool,
    jobs: u64,
    work: impl Fn(u64) -> u64 + Sync,
) -> Vec<u64> {
    let (sender, receiver) = mpsc::channel();
    let (work, sender) = (&work, &sender);
    pool.scope(|scope| {
        for number in 1..=jobs {
            scope.spawn(move |_| {
                sender
                    .send(work(number))
                    .expect("the receiver lives until the scope has returned");
            });
        }
    });
    receiver.try_iter().collect()
}
// ANCHOR_END: rayon_spawn

// ANCHOR: mpsc_mutex
/// The classic standard-library pool: a bounded `std::sync::mpsc` queue whose one receiver the
/// workers share behind `Arc<Mutex<…>>`, a second channel for the outputs, and threads that are
/// spawned and joined by hand.
pub fn mpsc_mutex_pool(
    size: PoolSize,
    jobs: u64,
    work: impl Fn(u64) -> u64 + Send + Sync + 'static,
) -> Vec<u64> {
    assert!(size.workers > 0, "a pool needs at least one worker");
    let (job_sender, job_receiver) = mpsc::sync_channel::<u64>(size.queue);
    let job_receiver = Arc::new(Mutex::new(job_receiver));
    let (result_sender, result_receiver) = mpsc::channel();
    let work = Arc::new(work);
    let workers: Vec<_> = (0..size.workers)
        .map(|_| {
            let jobs = Arc::clone(&job_receiver);
            let results = result_sender.clone();
            let work = Arc::clone(&work);
            thread::spawn(move || {
                while let Some(number) = next_job(&jobs) {
                    if results.send(work(number)).is_err() {
                        break;
                    }
                }
            })
        })
        .collect();
    drop(result_sender);
    for number in 1..=jobs {
        if job_sender.send(number).is_err() {
            break; // Every worker has died; joining them below passes the panic on.
        }
    }
    drop(job_sender);
    let outputs = result_receiver.iter().collect();
    for worker in workers {
        worker
            .join()
            .unwrap_or_else(|panic| panic::resume_unwind(panic));
    }
    outputs
}

/// Takes the next job, holding the lock only while waiting for it. `work` runs without the lock
/// and `recv` does not panic, so the lock is never poisoned; taking the guard out of a poisoned
/// lock anyway spares an `unwrap`.
fn next_job(jobs: &Mutex<Receiver<u64>>) -> Option<u64> {
    let receiver = jobs.lock().unwrap_or_else(PoisonError::into_inner);
    receiver.recv().ok()
}
// ANCHOR_END: mpsc_mutex

#[cfg(test)]
mod tests {
    use super::*;

    const JOBS: u64 = 2_000;

    fn expected() -> Vec<u64> {
        (1..=JOBS).map(|number| number * number).collect()
    }

    fn sorted(mut outputs: Vec<u64>) -> Vec<u64> {
        outputs.sort_unstable();
        outputs
    }

    fn rayon_pool(threads: usize) -> ThreadPool {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("a rayon pool starts")
    }

    #[test]
    fn every_peer_returns_every_output_once() {
        let square = |number: u64| number * number;
        assert_eq!(sequential(JOBS, square), expected());
        assert_eq!(sorted(thread_per_job(JOBS, square)), expected());
        for threads in [1, 2, 4] {
            let pool = rayon_pool(threads);
            assert_eq!(sorted(rayon_par_iter(&pool, JOBS, square)), expected());
            assert_eq!(sorted(rayon_spawn_per_job(&pool, JOBS, square)), expected());
        }
        for (workers, queue) in [(1, 0), (2, 1), (4, 100), (3, 1024)] {
            let size = PoolSize { workers, queue };
            assert_eq!(
                sorted(mpsc_mutex_pool(size, JOBS, square)),
                expected(),
                "{size:?}"
            );
        }
    }

    #[test]
    fn no_jobs_means_no_outputs() {
        let pool = rayon_pool(2);
        let square = |number: u64| number * number;
        assert!(sequential(0, square).is_empty());
        assert!(thread_per_job(0, square).is_empty());
        assert!(rayon_par_iter(&pool, 0, square).is_empty());
        assert!(rayon_spawn_per_job(&pool, 0, square).is_empty());
        let size = PoolSize {
            workers: 2,
            queue: 0,
        };
        assert!(mpsc_mutex_pool(size, 0, square).is_empty());
    }

    #[test]
    fn a_panic_in_the_work_reaches_the_caller() {
        let fails_on_7 = |number: u64| {
            if number == 7 {
                panic!("job 7 fails")
            } else {
                number
            }
        };
        let size = PoolSize {
            workers: 2,
            queue: 4,
        };
        let caught = panic::catch_unwind(|| mpsc_mutex_pool(size, 100, fails_on_7));
        assert!(caught.is_err());
        let caught = panic::catch_unwind(|| thread_per_job(20, fails_on_7));
        assert!(caught.is_err());
    }
}
