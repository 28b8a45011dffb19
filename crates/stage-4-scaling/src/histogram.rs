//! How long jobs waited and ran: a histogram that one worker records into and anyone reads.
//!
//! Each duration is counted twice, once for each reader:
//!
//! - in an **HDR histogram** (the `hdrhistogram` crate) for the quantiles the program prints: its
//!   buckets grow with the value, so that every bucket is narrow next to the durations it holds,
//!   and a quantile read from it is within [`QUANTILE_ERROR`] of the duration at that rank;
//! - in **scrape buckets** for Prometheus, whose bounds (1, 2 and 5 of each power of ten) a
//!   scraper adds up across scrapes and instances. Their quantiles would be off by up to half a
//!   decade, but a duration is counted exactly against each bound.

use std::sync::Mutex;
use std::time::Duration;

use pool_core::lock;

/// Significant decimal digits the HDR histogram keeps: two make its buckets at most 1/128 of the
/// durations they hold wide.
const SIGNIFICANT_DIGITS: u8 = 2;

/// Durations from 2^40 ns (about 18 minutes) up are counted as 2^40 ns in the HDR histogram.
const LONGEST_NANOS: u64 = 1 << 40;

/// The largest error of a printed quantile, relative to the duration it stands for: half a bucket
/// of the HDR histogram, whose buckets are at most 1/128 of their values wide.
pub const QUANTILE_ERROR: f64 = 1.0 / 256.0;

/// Upper bounds of the scrape buckets, in seconds: 1, 2 and 5 of each power of ten from 1 µs to
/// 10 s. Anything longer falls in the last, unbounded bucket.
pub const SCRAPE_BOUNDS: [f64; 22] = [
    1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 0.1,
    0.2, 0.5, 1.0, 2.0, 5.0, 10.0,
];
const SCRAPE_BUCKETS: usize = SCRAPE_BOUNDS.len() + 1;

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// [`SCRAPE_BOUNDS`] in nanoseconds, so that sorting a duration into its bucket compares
/// integers: 1, 2 and 5 times each power of ten from 1 µs.
const SCRAPE_BOUNDS_NANOS: [u64; SCRAPE_BOUNDS.len()] = {
    let mut bounds = [0; SCRAPE_BOUNDS.len()];
    let (mut index, mut power) = (0, 1_000);
    while index < bounds.len() {
        bounds[index] = power * [1, 2, 5][index % 3];
        if index % 3 == 2 {
            power *= 10;
        }
        index += 1;
    }
    bounds
};

/// The scrape bucket of a duration of `nanos`: the first whose bound it does not exceed.
fn scrape_bucket(nanos: u64) -> usize {
    SCRAPE_BOUNDS_NANOS.partition_point(|&bound| bound < nanos)
}

// ANCHOR: histogram
/// Durations, counted as a [`Distribution`] behind a lock. One thread records (see
/// [`crate::worker_stats::StatsRecorder`]), so the lock is contended only while someone reads:
/// the autoscaler on its tick, a scrape, the table at the end.
#[derive(Debug, Default)]
pub struct Histogram {
    recorded: Mutex<Distribution>,
}

impl Histogram {
    /// Records one duration.
    pub(crate) fn record(&self, duration: Duration) {
        lock(&self.recorded).record(duration);
    }

    /// Adds what this histogram holds now to `total`.
    pub fn add_to(&self, total: &mut Distribution) {
        total.add(&lock(&self.recorded));
    }

    /// How many durations were recorded, and their total: all that an average needs, without
    /// adding up buckets.
    pub fn count_and_sum(&self) -> (u64, Duration) {
        let recorded = lock(&self.recorded);
        (recorded.count, recorded.sum)
    }
}
// ANCHOR_END: histogram

// ANCHOR: distribution
/// Durations counted: one worker's, or several workers' added up.
#[derive(Debug, Clone, PartialEq)]
pub struct Distribution {
    /// For the quantiles.
    quantiles: hdrhistogram::Histogram<u64>,
    /// Observations per scrape bucket (not cumulative); the last bucket is unbounded.
    pub scrape: [u64; SCRAPE_BUCKETS],
    /// How many durations were recorded.
    pub count: u64,
    /// Their total.
    pub sum: Duration,
    /// The longest one.
    pub max: Duration,
}
// ANCHOR_END: distribution

impl Default for Distribution {
    fn default() -> Self {
        Self {
            quantiles: hdrhistogram::Histogram::new_with_bounds(
                1,
                LONGEST_NANOS,
                SIGNIFICANT_DIGITS,
            )
            .expect("constant bounds that hdrhistogram accepts"),
            scrape: [0; SCRAPE_BUCKETS],
            count: 0,
            sum: Duration::ZERO,
            max: Duration::ZERO,
        }
    }
}

impl Distribution {
    fn record(&mut self, duration: Duration) {
        let nanos = nanos(duration);
        self.quantiles.saturating_record(nanos.min(LONGEST_NANOS));
        self.scrape[scrape_bucket(nanos)] += 1;
        self.count += 1;
        self.sum = self.sum.saturating_add(duration);
        self.max = self.max.max(duration);
    }

    fn add(&mut self, other: &Distribution) {
        // Both have the same bounds and precision, so adding cannot fail; the quantiles would
        // only be missing `other`'s durations if it did.
        let _ = self.quantiles.add(&other.quantiles);
        for (sum, in_bucket) in self.scrape.iter_mut().zip(other.scrape) {
            *sum += in_bucket;
        }
        self.count += other.count;
        self.sum = self.sum.saturating_add(other.sum);
        self.max = self.max.max(other.max);
    }

    // ANCHOR: quantile
    /// The `q`-quantile (0.5 for the median), within [`QUANTILE_ERROR`] of the recorded
    /// duration at that rank: the middle of the HDR bucket that holds it. `None` when nothing was
    /// recorded.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        if self.quantiles.is_empty() {
            return None;
        }
        let in_bucket = self.quantiles.value_at_quantile(q);
        let middle = Duration::from_nanos(self.quantiles.median_equivalent(in_bucket));
        Some(middle.min(self.max))
    }
    // ANCHOR_END: quantile

    /// The scrape buckets as Prometheus wants them: each upper bound with its count, the last
    /// bound infinite.
    pub fn scrape_buckets(&self) -> Vec<(f64, u64)> {
        SCRAPE_BOUNDS
            .iter()
            .copied()
            .chain([f64::INFINITY])
            .zip(self.scrape)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn distribution_of(durations: impl IntoIterator<Item = Duration>) -> Distribution {
        let histogram = Histogram::default();
        for duration in durations {
            histogram.record(duration);
        }
        let mut total = Distribution::default();
        histogram.add_to(&mut total);
        total
    }

    #[test]
    fn the_stated_error_is_the_hdr_histograms() {
        let quantiles = Distribution::default().quantiles;
        let mut nanos = 1;
        while nanos < LONGEST_NANOS {
            let middle = quantiles.median_equivalent(nanos);
            let error = middle.abs_diff(nanos) as f64 / nanos as f64;
            assert!(error <= QUANTILE_ERROR, "{nanos} ns read as {middle} ns");
            nanos = nanos * 9 / 8 + 1;
        }
    }

    #[test]
    fn quantiles_are_within_the_stated_error() {
        // 20 ms jobs, most a little late, as a sleep is.
        let durations: Vec<Duration> = (0..1000)
            .map(|i| Duration::from_micros(20_000 + (i * 37) % 900))
            .collect();
        let total = distribution_of(durations.iter().copied());
        let mut sorted = durations.clone();
        sorted.sort();
        for q in [0.5, 0.95, 0.99] {
            let exact = sorted[(q * 1000.0) as usize - 1].as_secs_f64();
            let printed = total.quantile(q).expect("a quantile").as_secs_f64();
            assert!(
                (printed - exact).abs() <= exact * QUANTILE_ERROR,
                "q {q}: {printed} against {exact}"
            );
        }
        assert_eq!(Distribution::default().quantile(0.5), None);
    }

    #[test]
    fn workers_histograms_add_up() {
        let mut total = Distribution::default();
        for worker in 1..=3 {
            total.add(&distribution_of(
                (0..100).map(|_| Duration::from_millis(worker)),
            ));
        }
        assert_eq!(total.count, 300);
        assert_eq!(total.sum, Duration::from_millis(600));
        assert_eq!(total.max, Duration::from_millis(3));
        let median = total.quantile(0.5).expect("a median").as_secs_f64();
        assert!((median - 0.002).abs() <= 0.002 * QUANTILE_ERROR, "{median}");
    }

    #[test]
    fn the_bounds_in_nanoseconds_are_the_bounds_in_seconds() {
        for (nanos, seconds) in SCRAPE_BOUNDS_NANOS.iter().zip(SCRAPE_BOUNDS) {
            assert_eq!(
                Duration::from_nanos(*nanos),
                Duration::from_secs_f64(seconds)
            );
        }
    }

    #[test]
    fn scrape_buckets_hold_durations_up_to_their_bound() {
        let total = distribution_of([
            Duration::from_millis(20),
            Duration::from_micros(20_001),
            Duration::from_secs(60 * 60),
        ]);
        let index = |seconds: f64| SCRAPE_BOUNDS.iter().position(|&bound| bound == seconds);
        assert_eq!(total.scrape[index(0.02).expect("a 20 ms bound")], 1);
        assert_eq!(total.scrape[index(0.05).expect("a 50 ms bound")], 1);
        assert_eq!(total.scrape[SCRAPE_BUCKETS - 1], 1, "past the last bound");
        assert_eq!(total.count, 3);
        assert_eq!(total.max, Duration::from_secs(60 * 60));
    }
}
