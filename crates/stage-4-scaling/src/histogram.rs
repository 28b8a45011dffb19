//! How long jobs waited and ran: a histogram that one worker records into and anyone reads.
//!
//! It keeps two sets of buckets, one for each reader:
//!
//! - **fine buckets** for the quantiles the program prints. They are log-linear, as in an HDR
//!   histogram: every power of two of nanoseconds is cut into 32 equal buckets, so a bucket is at
//!   most 1/32 of its lower bound wide, and the middle of the bucket that holds a quantile is
//!   within 1/64 (about 1.6 %) of the duration at that quantile;
//! - **scrape buckets** for Prometheus, whose bounds (1, 2 and 5 of each power of ten) a scraper
//!   adds up across scrapes and instances. Their quantiles would be off by up to half a decade.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

// ANCHOR: fine_buckets
/// Each power of two is cut into `2^SUB_BUCKET_BITS` equal buckets.
const SUB_BUCKET_BITS: u32 = 5;
const SUB_BUCKETS: u64 = 1 << SUB_BUCKET_BITS;
/// Durations from 2^40 ns (about 18 minutes) up all land in the last bucket.
const LONGEST: u64 = (1 << 40) - 1;
/// 32 exact buckets for 0..32 ns, then 32 for each power of two up to 2^40.
const FINE_BUCKETS: usize = (40 - SUB_BUCKET_BITS as usize + 1) * SUB_BUCKETS as usize;

/// The largest error of a printed quantile, relative to the duration it stands for: half a
/// bucket, against a bucket at least 32 of its widths above zero.
pub const QUANTILE_ERROR: f64 = 1.0 / (2 * SUB_BUCKETS) as f64;

/// The fine bucket a duration of `nanos` falls in. Below 32 ns each nanosecond has a bucket of
/// its own; above, the top six bits of the number pick it: the leading one says which power of
/// two, the five after it which thirty-second of it.
fn fine_bucket(nanos: u64) -> usize {
    let nanos = nanos.min(LONGEST);
    if nanos < SUB_BUCKETS {
        return nanos as usize;
    }
    let shift = nanos.ilog2() - SUB_BUCKET_BITS;
    let block = u64::from(shift) + 1;
    (block * SUB_BUCKETS + (nanos >> shift) - SUB_BUCKETS) as usize
}

/// The durations fine bucket `index` holds, as its lowest value and its width, in nanoseconds.
fn fine_bucket_range(index: usize) -> (u64, u64) {
    let index = index as u64;
    if index < SUB_BUCKETS {
        return (index, 1);
    }
    let shift = index / SUB_BUCKETS - 1;
    let low = (SUB_BUCKETS + index % SUB_BUCKETS) << shift;
    (low, 1 << shift)
}
// ANCHOR_END: fine_buckets

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
/// Durations, counted in both sets of buckets. One thread records (see
/// [`crate::worker_stats::StatsRecorder`]); any thread reads.
#[derive(Debug)]
pub struct Histogram {
    fine: Box<[AtomicU64]>,
    scrape: [AtomicU64; SCRAPE_BUCKETS],
    sum_nanos: AtomicU64,
    max_nanos: AtomicU64,
}
// ANCHOR_END: histogram

impl Default for Histogram {
    fn default() -> Self {
        Self {
            fine: (0..FINE_BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            scrape: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_nanos: AtomicU64::new(0),
            max_nanos: AtomicU64::new(0),
        }
    }
}

/// Adds `by` to a counter that only one thread writes. A load and a store are enough, and cost
/// less than `fetch_add`; what makes this correct is that the only writer is a
/// [`crate::worker_stats::StatsRecorder`], which cannot be cloned or shared between threads.
fn add(counter: &AtomicU64, by: u64) {
    counter.store(counter.load(Ordering::Relaxed) + by, Ordering::Relaxed);
}

impl Histogram {
    /// Records one duration. Called only by the histogram's one writer.
    pub(crate) fn record(&self, duration: Duration) {
        let nanos = nanos(duration);
        add(&self.fine[fine_bucket(nanos)], 1);
        add(&self.scrape[scrape_bucket(nanos)], 1);
        add(&self.sum_nanos, nanos);
        if nanos > self.max_nanos.load(Ordering::Relaxed) {
            self.max_nanos.store(nanos, Ordering::Relaxed);
        }
    }

    /// Adds what this histogram holds now to `total`.
    pub fn add_to(&self, total: &mut Distribution) {
        for (sum, bucket) in total.fine.iter_mut().zip(self.fine.iter()) {
            *sum += bucket.load(Ordering::Relaxed);
        }
        // The count is the scrape buckets' sum, read once, so that a scrape's count and its
        // buckets always agree.
        for (sum, bucket) in total.scrape.iter_mut().zip(&self.scrape) {
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

// ANCHOR: distribution
/// Histograms added up (across workers, at one moment).
#[derive(Debug, Clone, PartialEq)]
pub struct Distribution {
    fine: Vec<u64>,
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
            fine: vec![0; FINE_BUCKETS],
            scrape: [0; SCRAPE_BUCKETS],
            count: 0,
            sum: Duration::ZERO,
            max: Duration::ZERO,
        }
    }
}

impl Distribution {
    // ANCHOR: quantile
    /// The `q`-quantile (0.5 for the median), within [`QUANTILE_ERROR`] of the recorded
    /// duration at that rank: the middle of the fine bucket that holds it. `None` when nothing
    /// was recorded.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        let count: u64 = self.fine.iter().sum();
        if count == 0 {
            return None;
        }
        // The rank of the duration asked for, from 1: the median of 400 is the 200th.
        let rank = ((q * count as f64).ceil() as u64).clamp(1, count);
        let mut below = 0;
        let index = self.fine.iter().position(|&in_bucket| {
            below += in_bucket;
            below >= rank
        })?;
        let (low, width) = fine_bucket_range(index);
        let middle = Duration::from_nanos(low + width / 2);
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
    fn every_duration_falls_in_the_fine_bucket_that_holds_it() {
        let mut nanos = 0;
        while nanos < LONGEST {
            let (low, width) = fine_bucket_range(fine_bucket(nanos));
            assert!(
                low <= nanos && nanos < low + width,
                "{nanos} in [{low}, +{width})"
            );
            assert!(width as f64 <= (low as f64 / SUB_BUCKETS as f64).max(1.0));
            nanos = nanos * 9 / 8 + 1;
        }
        assert_eq!(fine_bucket(u64::MAX), FINE_BUCKETS - 1);
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
            Duration::from_secs(60),
        ]);
        let index = |seconds: f64| SCRAPE_BOUNDS.iter().position(|&bound| bound == seconds);
        assert_eq!(total.scrape[index(0.02).expect("a 20 ms bound")], 1);
        assert_eq!(total.scrape[index(0.05).expect("a 50 ms bound")], 1);
        assert_eq!(total.scrape[SCRAPE_BUCKETS - 1], 1, "past the last bound");
        assert_eq!(total.count, 3);
        assert_eq!(total.max, Duration::from_secs(60));
    }
}
