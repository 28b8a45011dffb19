//! The pool's numbers, gathered in one place: the count of jobs submitted, every worker's
//! [`WorkerStats`] (retired workers' too, so that totals never go down), and the queue's depth.
//! They are added up only when someone reads them: the autoscaler on each tick, a Prometheus
//! scrape ([`crate::exporter`]), the table at the end ([`crate::summary`]).

use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use crate::histogram::Distribution;
use crate::worker_stats::{Epoch, StatsRecorder, WorkerStats};

// ANCHOR: pool_metrics
/// What the pool measures about itself. Its fields change only through the pool (the methods
/// that change them are the crate's own), so a reader cannot make a counter wrong.
#[derive(Debug)]
pub struct PoolMetrics {
    epoch: Epoch,
    /// Any thread may submit, so this counter takes a `fetch_add`.
    submitted: AtomicU64,
    peak_workers: AtomicUsize,
    peak_queue_depth: AtomicUsize,
    /// Reads the queue's length; set once, by the pool that owns the queue.
    queue_length: OnceLock<QueueLength>,
    /// Every worker that ever ran, in the order they started.
    all_workers: Mutex<Vec<Arc<WorkerStats>>>,
}
// ANCHOR_END: pool_metrics

/// Tells how many jobs are queued; the queue's message type is the pool's business.
struct QueueLength(Box<dyn Fn() -> usize + Send + Sync>);

impl fmt::Debug for QueueLength {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("QueueLength")
    }
}

/// The pool-wide totals at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Totals {
    /// Jobs put on the queue.
    pub submitted: u64,
    /// Jobs that produced a result.
    pub completed: u64,
    /// Jobs that returned an error or panicked.
    pub failed: u64,
    /// Jobs cancelled while running.
    pub cancelled: u64,
    /// Jobs handed back unstarted after a cancellation.
    pub handed_back: u64,
    /// How long jobs ran.
    pub run_time: Distribution,
    /// How long jobs waited in the queue.
    pub wait_time: Distribution,
}

impl Default for PoolMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl PoolMetrics {
    /// Metrics whose clock starts now.
    pub fn new() -> Self {
        Self {
            epoch: Epoch::now(),
            submitted: AtomicU64::new(0),
            peak_workers: AtomicUsize::new(0),
            peak_queue_depth: AtomicUsize::new(0),
            queue_length: OnceLock::new(),
            all_workers: Mutex::new(Vec::new()),
        }
    }

    /// Time since these metrics started.
    pub fn now(&self) -> Duration {
        self.epoch.since(Instant::now())
    }

    pub(crate) fn watch_queue(&self, length: impl Fn() -> usize + Send + Sync + 'static) {
        // A second pool on the same metrics would be a mistake; the first one's queue is kept.
        let _ = self.queue_length.set(QueueLength(Box::new(length)));
    }

    pub(crate) fn new_worker(&self, id: usize) -> StatsRecorder {
        let (stats, recorder) = WorkerStats::start(id, self.epoch);
        self.all_workers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(stats);
        recorder
    }

    pub(crate) fn job_submitted(&self) {
        self.submitted.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn pool_resized(&self, workers: usize) {
        self.peak_workers.fetch_max(workers, Ordering::Relaxed);
    }

    /// Jobs in the queue now (and, as a side effect, the deepest it has been when asked).
    pub fn queue_depth(&self) -> usize {
        let depth = self.queue_length.get().map_or(0, |length| (length.0)());
        self.peak_queue_depth.fetch_max(depth, Ordering::Relaxed);
        depth
    }

    /// The deepest the queue was seen.
    pub fn peak_queue_depth(&self) -> usize {
        self.peak_queue_depth.load(Ordering::Relaxed)
    }

    /// The most workers the pool had at once.
    pub fn peak_workers(&self) -> usize {
        self.peak_workers.load(Ordering::Relaxed)
    }

    /// Every worker that ever ran, in the order they started.
    pub fn all_workers(&self) -> Vec<Arc<WorkerStats>> {
        self.all_workers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The id of every worker that ever ran, in the order they started.
    pub fn worker_ids(&self) -> Vec<usize> {
        self.all_workers().iter().map(|worker| worker.id).collect()
    }

    /// Jobs submitted that have not ended yet (queued or running).
    pub fn unfinished_jobs(&self) -> u64 {
        let submitted = self.submitted.load(Ordering::Relaxed);
        let ended: u64 = self
            .all_workers()
            .iter()
            .map(|worker| worker.jobs_ran() + worker.handed_back())
            .sum();
        submitted.saturating_sub(ended)
    }

    /// How many jobs have started, and how long they waited in the queue in all.
    pub fn waits(&self) -> (u64, Duration) {
        self.all_workers()
            .iter()
            .map(|worker| worker.wait_time().count_and_sum())
            .fold((0, Duration::ZERO), |(count, sum), (more, longer)| {
                (count + more, sum + longer)
            })
    }

    /// The pool-wide totals, added up across every worker that ever ran.
    pub fn totals(&self) -> Totals {
        let mut totals = Totals {
            submitted: self.submitted.load(Ordering::Relaxed),
            completed: 0,
            failed: 0,
            cancelled: 0,
            handed_back: 0,
            run_time: Distribution::default(),
            wait_time: Distribution::default(),
        };
        for worker in self.all_workers() {
            totals.completed += worker.completed();
            totals.failed += worker.failed();
            totals.cancelled += worker.cancelled();
            totals.handed_back += worker.handed_back();
            worker.run_time().add_to(&mut totals.run_time);
            worker.wait_time().add_to(&mut totals.wait_time);
        }
        totals
    }
}
