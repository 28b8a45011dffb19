//! What the pool measures about itself, and the two ways it is shown: a Prometheus text
//! exposition (served by `server.rs`) and a table at the end of a run.
//!
//! Every number a job touches is kept per worker and written only by that worker, so recording a
//! job costs a few plain loads and stores, not a lock and not a contended atomic. The numbers are
//! added up across workers, retired ones included, only when someone reads them.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;
use stage_3_cancel::Outcome;

/// Upper bounds of the duration buckets, in seconds: 1, 2 and 5 of each power of ten from 1 µs
/// to 10 s. Anything longer falls in the last, unbounded bucket.
pub const BUCKET_BOUNDS: [f64; 22] = [
    1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 0.1,
    0.2, 0.5, 1.0, 2.0, 5.0, 10.0,
];
const BUCKETS: usize = BUCKET_BOUNDS.len() + 1;

/// [`BUCKET_BOUNDS`] in whole nanoseconds, so that sorting a duration into its bucket compares
/// integers. Checked against the seconds in a test.
const BUCKET_BOUNDS_NANOS: [u64; BUCKETS - 1] = [
    1_000,
    2_000,
    5_000,
    10_000,
    20_000,
    50_000,
    100_000,
    200_000,
    500_000,
    1_000_000,
    2_000_000,
    5_000_000,
    10_000_000,
    20_000_000,
    50_000_000,
    100_000_000,
    200_000_000,
    500_000_000,
    1_000_000_000,
    2_000_000_000,
    5_000_000_000,
    10_000_000_000,
];

/// Adds one to a counter that only one thread writes: a plain load and store, which unlike
/// `fetch_add` needs no locked instruction. Readers on other threads see each value whole.
fn bump(counter: &AtomicU64, by: u64) {
    counter.store(counter.load(Ordering::Relaxed) + by, Ordering::Relaxed);
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// Durations sorted into [`BUCKET_BOUNDS`], written by one thread and read by any.
#[derive(Debug)]
pub struct DurationHistogram {
    buckets: [AtomicU64; BUCKETS],
    sum_nanos: AtomicU64,
    max_nanos: AtomicU64,
}

impl Default for DurationHistogram {
    fn default() -> Self {
        Self {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_nanos: AtomicU64::new(0),
            max_nanos: AtomicU64::new(0),
        }
    }
}

impl DurationHistogram {
    /// Records one duration. Only the owning worker calls this.
    fn record(&self, duration: Duration) {
        let nanos = nanos(duration);
        let bucket = BUCKET_BOUNDS_NANOS.partition_point(|&bound| bound < nanos);
        bump(&self.buckets[bucket], 1);
        bump(&self.sum_nanos, nanos);
        if nanos > self.max_nanos.load(Ordering::Relaxed) {
            self.max_nanos.store(nanos, Ordering::Relaxed);
        }
    }

    fn add_to(&self, total: &mut Distribution) {
        // The count is the buckets' sum, read once: a count read separately could disagree with
        // the buckets in the same scrape.
        for (sum, bucket) in total.buckets.iter_mut().zip(&self.buckets) {
            let in_bucket = bucket.load(Ordering::Relaxed);
            *sum += in_bucket;
            total.count += in_bucket;
        }
        total.sum += Duration::from_nanos(self.sum_nanos.load(Ordering::Relaxed));
        total.max = total
            .max
            .max(Duration::from_nanos(self.max_nanos.load(Ordering::Relaxed)));
    }
}

/// Histograms added up across workers, at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Distribution {
    /// Observations per bucket (not cumulative); the last bucket is unbounded.
    pub buckets: [u64; BUCKETS],
    /// How many durations were recorded.
    pub count: u64,
    /// Their total.
    pub sum: Duration,
    /// The longest one.
    pub max: Duration,
}

impl Default for Distribution {
    fn default() -> Self {
        Self {
            buckets: [0; BUCKETS],
            count: 0,
            sum: Duration::ZERO,
            max: Duration::ZERO,
        }
    }
}

impl Distribution {
    /// The upper bound of the bucket that holds the `q`-quantile: "at most this long", which is
    /// as precise as buckets allow. `None` when nothing was recorded.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        if self.count == 0 {
            return None;
        }
        let rank = (q * self.count as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (bucket, &in_bucket) in self.buckets.iter().enumerate() {
            seen += in_bucket;
            if seen >= rank {
                let bound = BUCKET_BOUNDS.get(bucket).copied();
                return Some(
                    bound
                        .map_or(self.max, Duration::from_secs_f64)
                        .min(self.max),
                );
            }
        }
        Some(self.max)
    }

    fn encode(&self, name: &str, help: &str, encoder: &mut DescriptorEncoder) -> fmt::Result {
        let buckets: Vec<(f64, u64)> = BUCKET_BOUNDS
            .iter()
            .copied()
            .chain([f64::INFINITY])
            .zip(self.buckets)
            .collect();
        encoder
            .encode_descriptor(name, help, None, MetricType::Histogram)?
            .encode_histogram::<NoLabelSet>(self.sum.as_secs_f64(), self.count, &buckets, None)
    }
}

// ANCHOR: worker_stats
/// One worker's numbers. The worker writes them; the autoscaler, the metrics endpoint and the
/// final table read them.
#[derive(Debug)]
pub struct WorkerStats {
    /// The worker's id, from 1, never reused.
    pub id: usize,
    epoch: Instant,
    started_at: Duration,
    /// When the worker last finished a job, or started (nanoseconds since the pool's epoch).
    last_active: AtomicU64,
    /// When the job it is running started (nanoseconds since the pool's epoch).
    job_started_at: AtomicU64,
    /// When it stopped, or `u64::MAX` while it runs.
    stopped_at: AtomicU64,
    busy: AtomicBool,
    busy_nanos: AtomicU64,
    run_time: DurationHistogram,
    wait_time: DurationHistogram,
    completed: AtomicU64,
    failed: AtomicU64,
    cancelled: AtomicU64,
}
// ANCHOR_END: worker_stats

impl WorkerStats {
    fn new(id: usize, epoch: Instant) -> Self {
        let started_at = epoch.elapsed();
        Self {
            id,
            epoch,
            started_at,
            last_active: AtomicU64::new(nanos(started_at)),
            job_started_at: AtomicU64::new(0),
            stopped_at: AtomicU64::new(u64::MAX),
            busy: AtomicBool::new(false),
            busy_nanos: AtomicU64::new(0),
            run_time: DurationHistogram::default(),
            wait_time: DurationHistogram::default(),
            completed: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            cancelled: AtomicU64::new(0),
        }
    }

    /// A job queued at `queued` starts at `started`.
    pub fn job_started(&self, queued: Instant, started: Instant) {
        self.wait_time.record(started - queued);
        self.job_started_at
            .store(nanos(started - self.epoch), Ordering::Relaxed);
        self.busy.store(true, Ordering::Relaxed);
    }

    /// The job that started at `started` ended at `finished` as `outcome`.
    pub fn job_finished(&self, started: Instant, finished: Instant, outcome: &Outcome) {
        let ran = finished - started;
        self.run_time.record(ran);
        bump(&self.busy_nanos, nanos(ran));
        let kind = match outcome {
            Outcome::Completed(_) => &self.completed,
            Outcome::Failed { .. } => &self.failed,
            Outcome::Cancelled { .. } => &self.cancelled,
        };
        bump(kind, 1);
        self.last_active
            .store(nanos(finished - self.epoch), Ordering::Relaxed);
        self.busy.store(false, Ordering::Relaxed);
    }

    /// The worker has left its loop.
    pub fn stopped(&self) {
        self.stopped_at
            .store(nanos(self.epoch.elapsed()), Ordering::Relaxed);
    }

    /// Whether the worker is running a job right now.
    pub fn is_busy(&self) -> bool {
        self.busy.load(Ordering::Relaxed)
    }

    /// How long the worker has been without a job at `now` (time since the pool's epoch); zero
    /// while it is busy.
    pub fn idle_for(&self, now: Duration) -> Duration {
        if self.is_busy() {
            return Duration::ZERO;
        }
        now.saturating_sub(Duration::from_nanos(
            self.last_active.load(Ordering::Relaxed),
        ))
    }

    fn end(&self, now: Duration) -> Duration {
        match self.stopped_at.load(Ordering::Relaxed) {
            u64::MAX => now,
            stopped => Duration::from_nanos(stopped),
        }
    }

    /// How long the worker has run (until it stopped, if it has).
    pub fn uptime(&self, now: Duration) -> Duration {
        self.end(now).saturating_sub(self.started_at)
    }

    /// The share of its uptime the worker spent running jobs, the one in hand included, from 0
    /// to 1.
    pub fn busy_ratio(&self, now: Duration) -> f64 {
        let uptime = self.uptime(now).as_secs_f64();
        let in_hand = if self.is_busy() {
            now.saturating_sub(Duration::from_nanos(
                self.job_started_at.load(Ordering::Relaxed),
            ))
        } else {
            Duration::ZERO
        };
        let done = Duration::from_nanos(self.busy_nanos.load(Ordering::Relaxed));
        let busy = (done + in_hand).as_secs_f64();
        if uptime > 0.0 {
            (busy / uptime).min(1.0)
        } else {
            0.0
        }
    }

    /// Jobs this worker ran, of every outcome.
    pub fn jobs(&self) -> u64 {
        self.completed.load(Ordering::Relaxed)
            + self.failed.load(Ordering::Relaxed)
            + self.cancelled.load(Ordering::Relaxed)
    }

    fn is_running(&self) -> bool {
        self.stopped_at.load(Ordering::Relaxed) == u64::MAX
    }
}

/// The pool's numbers: what the pool-wide counters need, and every worker's stats.
#[derive(Debug)]
pub struct PoolMetrics {
    epoch: Instant,
    submitted: AtomicU64,
    peak_workers: AtomicUsize,
    /// Reads the queue's length; set once, by the pool that owns the queue.
    queue_depth: OnceLock<QueueLength>,
    peak_queue_depth: AtomicUsize,
    /// Every worker that ever ran, so that counters keep what retired workers did.
    all_workers: Mutex<Vec<Arc<WorkerStats>>>,
}

/// Tells how many jobs are queued; the queue's element type is the pool's business.
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
            epoch: Instant::now(),
            submitted: AtomicU64::new(0),
            peak_workers: AtomicUsize::new(0),
            queue_depth: OnceLock::new(),
            peak_queue_depth: AtomicUsize::new(0),
            all_workers: Mutex::new(Vec::new()),
        }
    }

    /// Time since these metrics started.
    pub fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    pub(crate) fn watch_queue(&self, depth: impl Fn() -> usize + Send + Sync + 'static) {
        // A second pool on the same metrics would be a mistake; the first one's queue is kept.
        let _ = self.queue_depth.set(QueueLength(Box::new(depth)));
    }

    pub(crate) fn new_worker(&self, id: usize) -> Arc<WorkerStats> {
        let stats = Arc::new(WorkerStats::new(id, self.epoch));
        self.all_workers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Arc::clone(&stats));
        stats
    }

    pub(crate) fn job_submitted(&self) {
        // Any thread may submit, so this one needs a real read-modify-write.
        self.submitted.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn pool_resized(&self, count: usize) {
        self.peak_workers.fetch_max(count, Ordering::Relaxed);
    }

    /// Jobs in the queue now (and the deepest it has been, as seen by whoever asked).
    pub fn queue_depth(&self) -> usize {
        let depth = self.queue_depth.get().map_or(0, |length| (length.0)());
        self.peak_queue_depth.fetch_max(depth, Ordering::Relaxed);
        depth
    }

    /// The id of every worker that ever ran, in the order they started.
    pub fn worker_ids(&self) -> Vec<usize> {
        self.all_workers().iter().map(|worker| worker.id).collect()
    }

    fn all_workers(&self) -> Vec<Arc<WorkerStats>> {
        self.all_workers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The pool-wide totals, added up across every worker that ever ran.
    pub fn totals(&self) -> Totals {
        let mut totals = Totals {
            submitted: self.submitted.load(Ordering::Relaxed),
            completed: 0,
            failed: 0,
            cancelled: 0,
            run_time: Distribution::default(),
            wait_time: Distribution::default(),
        };
        for worker in self.all_workers() {
            totals.completed += worker.completed.load(Ordering::Relaxed);
            totals.failed += worker.failed.load(Ordering::Relaxed);
            totals.cancelled += worker.cancelled.load(Ordering::Relaxed);
            worker.run_time.add_to(&mut totals.run_time);
            worker.wait_time.add_to(&mut totals.wait_time);
        }
        totals
    }

    /// A registry that exposes these metrics, ready for [`prometheus_client::encoding::text`].
    pub fn registry(self: &Arc<Self>) -> Registry {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(Arc::clone(self)));
        registry
    }

    // ANCHOR: summary
    /// Writes the end-of-run table.
    pub fn write_summary(&self, out: &mut impl fmt::Write) -> fmt::Result {
        let now = self.now();
        let totals = self.totals();
        let time = |distribution: &Distribution, q: f64| {
            distribution
                .quantile(q)
                .map_or_else(|| "-".to_owned(), |bound| format!("≤ {}", short(bound)))
        };
        writeln!(out, "metrics")?;
        writeln!(out, "  jobs submitted       {:>8}", totals.submitted)?;
        writeln!(out, "  jobs completed       {:>8}", totals.completed)?;
        writeln!(out, "  jobs failed          {:>8}", totals.failed)?;
        writeln!(out, "  jobs cancelled       {:>8}", totals.cancelled)?;
        for (name, distribution) in [
            ("job run time", &totals.run_time),
            ("queue wait", &totals.wait_time),
        ] {
            writeln!(
                out,
                "  {name:<14} p50 {:>9}  p95 {:>9}  max {:>8}",
                time(distribution, 0.5),
                time(distribution, 0.95),
                short(distribution.max)
            )?;
        }
        writeln!(
            out,
            "  peak queue depth     {:>8}",
            self.peak_queue_depth.load(Ordering::Relaxed)
        )?;
        writeln!(
            out,
            "  peak workers         {:>8}",
            self.peak_workers.load(Ordering::Relaxed)
        )?;
        writeln!(out, "  worker   uptime   busy   jobs")?;
        for worker in self.all_workers() {
            writeln!(
                out,
                "  {:>6} {:>8} {:>5.0}% {:>6}",
                worker.id,
                short(worker.uptime(now)),
                100.0 * worker.busy_ratio(now),
                worker.jobs()
            )?;
        }
        Ok(())
    }
    // ANCHOR_END: summary
}

/// A duration in its most readable unit, rounded: `850µs`, `20ms`, `1.25s`.
pub fn short(duration: Duration) -> String {
    let seconds = duration.as_secs_f64();
    if seconds >= 1.0 {
        format!("{seconds:.2}s")
    } else if seconds >= 1e-3 {
        format!("{:.0}ms", seconds * 1e3)
    } else {
        format!("{:.0}µs", seconds * 1e6)
    }
}

// ANCHOR: collector
/// Prometheus reads the metrics through this: on each scrape, the totals are added up afresh.
impl Collector for PoolMetrics {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let totals = self.totals();
        for (name, help, value) in [
            (
                "pool_jobs_submitted",
                "Jobs put on the queue",
                totals.submitted,
            ),
            (
                "pool_jobs_completed",
                "Jobs that produced a result",
                totals.completed,
            ),
            (
                "pool_jobs_failed",
                "Jobs that returned an error or panicked",
                totals.failed,
            ),
            (
                "pool_jobs_cancelled",
                "Jobs cancelled while running",
                totals.cancelled,
            ),
        ] {
            let counter = ConstCounter::new(value);
            counter.encode(encoder.encode_descriptor(
                name,
                help,
                None,
                counter.metric_type(),
            )?)?;
        }
        // Workers are read once; the gauge and the per-worker series both come from that read,
        // so a scrape never shows a count and a list that disagree.
        let now = self.now();
        let running: Vec<(String, f64, f64)> = self
            .all_workers()
            .iter()
            .filter(|worker| worker.is_running())
            .map(|worker| {
                let uptime = worker.uptime(now).as_secs_f64();
                (worker.id.to_string(), uptime, worker.busy_ratio(now))
            })
            .collect();
        for (name, help, value) in [
            (
                "pool_queue_depth",
                "Jobs waiting in the queue",
                self.queue_depth(),
            ),
            (
                "pool_workers",
                "Worker threads running, retired ones finishing a last job included",
                running.len(),
            ),
        ] {
            let gauge = ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX));
            gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)?;
        }
        totals
            .run_time
            .encode("pool_job_run_seconds", "How long jobs ran", &mut encoder)?;
        totals.wait_time.encode(
            "pool_job_wait_seconds",
            "How long jobs waited in the queue",
            &mut encoder,
        )?;

        // Per running worker: its uptime and busy share, labelled with its id.
        {
            let help = "How long each running worker has run";
            let mut family = encoder.encode_descriptor(
                "pool_worker_uptime_seconds",
                help,
                None,
                MetricType::Gauge,
            )?;
            for (id, uptime, _) in &running {
                let labels = [("worker", id.as_str())];
                ConstGauge::new(*uptime).encode(family.encode_family(&labels)?)?;
            }
        }
        let help = "Share of its uptime each running worker spent on jobs";
        let mut family =
            encoder.encode_descriptor("pool_worker_busy_ratio", help, None, MetricType::Gauge)?;
        for (id, _, busy) in &running {
            let labels = [("worker", id.as_str())];
            ConstGauge::new(*busy).encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}
// ANCHOR_END: collector

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bounds_in_nanoseconds_are_the_bounds_in_seconds() {
        for (nanos, seconds) in BUCKET_BOUNDS_NANOS.iter().zip(BUCKET_BOUNDS) {
            assert_eq!(
                Duration::from_nanos(*nanos),
                Duration::from_secs_f64(seconds)
            );
        }
    }

    #[test]
    fn durations_land_in_the_bucket_whose_bound_they_do_not_exceed() {
        let histogram = DurationHistogram::default();
        histogram.record(Duration::from_millis(20));
        histogram.record(Duration::from_micros(20_001));
        histogram.record(Duration::from_secs(60));
        let mut total = Distribution::default();
        histogram.add_to(&mut total);
        let index = |seconds: f64| BUCKET_BOUNDS.iter().position(|&bound| bound == seconds);
        assert_eq!(total.buckets[index(0.02).expect("a 20 ms bound")], 1);
        assert_eq!(total.buckets[index(0.05).expect("a 50 ms bound")], 1);
        assert_eq!(total.buckets[BUCKETS - 1], 1, "past the last bound");
        assert_eq!(total.count, 3);
        assert_eq!(total.max, Duration::from_secs(60));
    }

    #[test]
    fn quantiles_are_bucket_bounds_capped_by_the_maximum() {
        let histogram = DurationHistogram::default();
        for _ in 0..90 {
            histogram.record(Duration::from_micros(150));
        }
        for _ in 0..10 {
            histogram.record(Duration::from_millis(3));
        }
        let mut total = Distribution::default();
        histogram.add_to(&mut total);
        assert_eq!(total.quantile(0.5), Some(Duration::from_micros(200)));
        assert_eq!(total.quantile(0.95), Some(Duration::from_millis(3)));
        assert_eq!(Distribution::default().quantile(0.5), None);
    }
}
