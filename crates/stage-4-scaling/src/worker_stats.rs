//! One worker's numbers: written by that worker alone, through its [`StatsRecorder`], and read
//! by anyone through [`WorkerStats`].

use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use stage_3_cancel::Outcome;

use crate::histogram::Histogram;

/// A moment, as nanoseconds since the pool's epoch; `NOT_YET` for one that has not come.
const NOT_YET: u64 = u64::MAX;

// ANCHOR: epoch
/// When the pool started, by both clocks: the monotonic one that durations are measured on, and
/// the wall clock that results are stamped with. A worker reads the monotonic clock once per
/// event and turns that one reading into whichever it needs.
#[derive(Debug, Clone, Copy)]
pub struct Epoch {
    instant: Instant,
    wall: SystemTime,
}

impl Epoch {
    /// Now, by both clocks.
    pub fn now() -> Self {
        Self {
            instant: Instant::now(),
            wall: SystemTime::now(),
        }
    }

    /// How long after the epoch `at` is.
    pub fn since(&self, at: Instant) -> Duration {
        at.saturating_duration_since(self.instant)
    }

    /// The wall-clock time of `at`.
    pub fn wall_time(&self, at: Instant) -> SystemTime {
        self.wall + self.since(at)
    }

    fn nanos_since(&self, at: Instant) -> u64 {
        u64::try_from(self.since(at).as_nanos()).unwrap_or(NOT_YET - 1)
    }
}
// ANCHOR_END: epoch

// ANCHOR: worker_stats
/// One worker's numbers, as everyone but the worker sees them: read-only.
#[derive(Debug)]
pub struct WorkerStats {
    /// The worker's id, from 1, never reused.
    pub id: usize,
    epoch: Epoch,
    started_at: Duration,
    /// When the job in hand started, or [`NOT_YET`] while the worker waits for one.
    job_started_at: AtomicU64,
    /// When the worker last finished a job (or started, before its first).
    last_active: AtomicU64,
    /// When the worker left, or [`NOT_YET`] while it runs.
    stopped_at: AtomicU64,
    busy_nanos: AtomicU64,
    run_time: Histogram,
    wait_time: Histogram,
    completed: AtomicU64,
    failed: AtomicU64,
    cancelled: AtomicU64,
    /// Jobs taken after a cancellation and handed back unstarted.
    handed_back: AtomicU64,
}

/// The one handle that writes a worker's [`WorkerStats`]. The pool makes one per worker and moves
/// it into the worker's thread; it cannot be cloned, and it is not `Sync`, so no other thread can
/// use it. With one writer, a load and a store update a counter correctly: that is what makes
/// the counters right, not the care of whoever calls them.
#[derive(Debug)]
pub struct StatsRecorder {
    stats: Arc<WorkerStats>,
    /// Not `Sync`: a `&StatsRecorder` cannot reach another thread.
    one_thread: PhantomData<std::cell::Cell<()>>,
}
// ANCHOR_END: worker_stats

/// Adds `by` to a counter that only a [`StatsRecorder`] writes.
fn add(counter: &AtomicU64, by: u64) {
    counter.store(counter.load(Ordering::Relaxed) + by, Ordering::Relaxed);
}

impl WorkerStats {
    /// A worker's stats and the recorder its thread writes them with.
    pub(crate) fn start(id: usize, epoch: Epoch) -> (Arc<Self>, StatsRecorder) {
        let started_at = epoch.since(Instant::now());
        let stats = Arc::new(Self {
            id,
            epoch,
            started_at,
            job_started_at: AtomicU64::new(NOT_YET),
            last_active: AtomicU64::new(epoch.nanos_since(Instant::now())),
            stopped_at: AtomicU64::new(NOT_YET),
            busy_nanos: AtomicU64::new(0),
            run_time: Histogram::default(),
            wait_time: Histogram::default(),
            completed: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            cancelled: AtomicU64::new(0),
            handed_back: AtomicU64::new(0),
        });
        let recorder = StatsRecorder {
            stats: Arc::clone(&stats),
            one_thread: PhantomData,
        };
        (stats, recorder)
    }

    /// Whether the worker is running a job right now.
    pub fn is_busy(&self) -> bool {
        self.job_started_at.load(Ordering::Relaxed) != NOT_YET
    }

    /// Whether the worker is still in its loop.
    pub fn is_running(&self) -> bool {
        self.stopped_at.load(Ordering::Relaxed) == NOT_YET
    }

    /// How long the worker has been without a job at `now` (time since the epoch); zero while
    /// it is busy.
    pub fn idle_for(&self, now: Duration) -> Duration {
        if self.is_busy() {
            return Duration::ZERO;
        }
        now.saturating_sub(Duration::from_nanos(
            self.last_active.load(Ordering::Relaxed),
        ))
    }

    /// How long the worker has run (until it left, if it has).
    pub fn uptime(&self, now: Duration) -> Duration {
        let end = match self.stopped_at.load(Ordering::Relaxed) {
            NOT_YET => now,
            stopped => Duration::from_nanos(stopped),
        };
        end.saturating_sub(self.started_at)
    }

    /// The share of its uptime the worker spent running jobs, the one in hand included.
    pub fn busy_ratio(&self, now: Duration) -> f64 {
        let in_hand = match self.job_started_at.load(Ordering::Relaxed) {
            NOT_YET => Duration::ZERO,
            started => now.saturating_sub(Duration::from_nanos(started)),
        };
        let busy = Duration::from_nanos(self.busy_nanos.load(Ordering::Relaxed)) + in_hand;
        let uptime = self.uptime(now).as_secs_f64();
        if uptime > 0.0 {
            (busy.as_secs_f64() / uptime).min(1.0)
        } else {
            0.0
        }
    }

    /// Jobs this worker ran, of every outcome.
    pub fn jobs_ran(&self) -> u64 {
        self.completed() + self.failed() + self.cancelled()
    }

    /// Jobs that produced a result.
    pub fn completed(&self) -> u64 {
        self.completed.load(Ordering::Relaxed)
    }

    /// Jobs that returned an error or panicked.
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    /// Jobs cancelled while running.
    pub fn cancelled(&self) -> u64 {
        self.cancelled.load(Ordering::Relaxed)
    }

    /// Jobs handed back unstarted after a cancellation.
    pub fn handed_back(&self) -> u64 {
        self.handed_back.load(Ordering::Relaxed)
    }

    /// How long jobs ran on this worker.
    pub fn run_time(&self) -> &Histogram {
        &self.run_time
    }

    /// How long this worker's jobs waited in the queue.
    pub fn wait_time(&self) -> &Histogram {
        &self.wait_time
    }
}

// ANCHOR: recorder
impl StatsRecorder {
    /// The worker's id.
    pub fn id(&self) -> usize {
        self.stats.id
    }

    /// The wall-clock time of a moment the worker read on the monotonic clock.
    pub fn wall_time(&self, at: Instant) -> SystemTime {
        self.stats.epoch.wall_time(at)
    }

    /// A job that was queued at `queued` started at `started`.
    pub fn job_started(&self, queued: Instant, started: Instant) {
        let stats = &self.stats;
        stats
            .wait_time
            .record(started.saturating_duration_since(queued));
        let started = stats.epoch.nanos_since(started);
        stats.job_started_at.store(started, Ordering::Relaxed);
    }

    /// The job that started at `started` ended at `finished` as `outcome`.
    pub fn job_finished(&self, started: Instant, finished: Instant, outcome: &Outcome) {
        let stats = &self.stats;
        let ran = finished.saturating_duration_since(started);
        stats.run_time.record(ran);
        add(
            &stats.busy_nanos,
            u64::try_from(ran.as_nanos()).unwrap_or(0),
        );
        let kind = match outcome {
            Outcome::Completed { .. } => &stats.completed,
            Outcome::Failed { .. } => &stats.failed,
            Outcome::Cancelled { .. } => &stats.cancelled,
        };
        add(kind, 1);
        let finished = stats.epoch.nanos_since(finished);
        stats.last_active.store(finished, Ordering::Relaxed);
        stats.job_started_at.store(NOT_YET, Ordering::Relaxed);
    }

    /// A job taken after a cancellation was handed back unstarted.
    pub fn job_handed_back(&self) {
        add(&self.stats.handed_back, 1);
    }

    /// The worker has left its loop.
    pub fn stopped(self) {
        let now = self.stats.epoch.nanos_since(Instant::now());
        self.stats.stopped_at.store(now, Ordering::Relaxed);
    }
}
// ANCHOR_END: recorder
