//! Solutions to the exercises of the chapter fast pool.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use pool_core::{Job, PoolSize};

// ANCHOR: slow_source
/// A job source that takes `delay` to produce each job, like a reader of a slow file or socket,
/// and counts how many threads are inside it at once.
#[derive(Debug)]
pub struct SlowSource {
    next: u64,
    count: u64,
    delay: Duration,
    readers: Arc<Readers>,
}

/// Threads reading a [`SlowSource`] now, and the most there ever were at once.
#[derive(Debug, Default)]
pub struct Readers {
    now: AtomicUsize,
    /// The most threads that were ever inside the source at the same time.
    pub peak: AtomicUsize,
}

impl SlowSource {
    /// Jobs 1 to `count`, each taking `delay` to read.
    pub fn new(count: u64, delay: Duration, readers: Arc<Readers>) -> Self {
        Self {
            next: 1,
            count,
            delay,
            readers,
        }
    }
}

impl Iterator for SlowSource {
    type Item = Job;

    fn next(&mut self) -> Option<Job> {
        if self.next > self.count {
            return None;
        }
        let inside = self.readers.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.readers.peak.fetch_max(inside, Ordering::SeqCst);
        thread::sleep(self.delay);
        self.readers.now.fetch_sub(1, Ordering::SeqCst);
        let job = Job {
            id: self.next,
            number: self.next,
        };
        self.next += 1;
        Some(job)
    }
}
// ANCHOR_END: slow_source

// ANCHOR: batch_cap
/// `self_serve::batch_len` with the cap as a parameter instead of `MAX_BATCH`: the jobs a worker
/// takes at a time.
pub fn batch_len_capped(size: PoolSize, cap: usize) -> usize {
    (size.queue / size.workers.max(1)).clamp(1, cap.max(1))
}
// ANCHOR_END: batch_cap

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use fast_pool::MAX_BATCH;
    use pool_core::Console;

    use super::*;

    const JOBS: u64 = 50;
    const DELAY: Duration = Duration::from_millis(1);
    const SIZE: PoolSize = PoolSize {
        workers: 4,
        queue: 100,
    };

    /// The only bound on time asserted is a lower one, which a busy machine cannot break: every
    /// sleep lasts at least its delay, and the reads cannot overlap.
    #[test]
    fn a_slow_source_is_read_by_one_thread_at_a_time_in_either_pool() {
        let readers = Arc::new(Readers::default());
        let started = Instant::now();
        let source = SlowSource::new(JOBS, DELAY, Arc::clone(&readers));
        let mut tuned = fast_pool::run_pool(SIZE, source, |number| number * number);
        assert!(started.elapsed() >= DELAY * 50);
        assert_eq!(
            readers.peak.load(Ordering::SeqCst),
            1,
            "the lock serialises reads"
        );
        tuned.sort_unstable();
        assert_eq!(tuned, (1..=JOBS).map(|n| n * n).collect::<Vec<_>>());

        let readers = Arc::new(Readers::default());
        let started = Instant::now();
        let source = SlowSource::new(JOBS, DELAY, Arc::clone(&readers));
        let basic = stage_1_basic::run_pool(SIZE, source, |n| n * n, &Console::silent());
        assert!(started.elapsed() >= DELAY * 50);
        assert_eq!(
            readers.peak.load(Ordering::SeqCst),
            1,
            "one submitter reads"
        );
        assert_eq!(basic.len(), tuned.len());
    }

    #[test]
    fn the_cap_matters_only_where_a_share_of_the_queue_passes_it() {
        let grid = [1, 2, 4]
            .into_iter()
            .flat_map(|workers| [0, 1, 100, 1024].map(|queue| PoolSize { workers, queue }));
        let changed_by = |cap| -> Vec<(usize, usize)> {
            grid.clone()
                .filter(|&size| batch_len_capped(size, cap) != batch_len_capped(size, MAX_BATCH))
                .map(|size| (size.workers, size.queue))
                .collect()
        };
        // A cap of 4 shrinks every batch of the roomy queues.
        assert_eq!(
            changed_by(4),
            [
                (1, 100),
                (1, 1024),
                (2, 100),
                (2, 1024),
                (4, 100),
                (4, 1024)
            ]
        );
        // A cap of 4 096 changes only Q = 1024 with one or two workers.
        assert_eq!(changed_by(4096), [(1, 1024), (2, 1024)]);
        assert_eq!(
            batch_len_capped(
                PoolSize {
                    workers: 2,
                    queue: 1
                },
                4096
            ),
            1
        );
    }
}
