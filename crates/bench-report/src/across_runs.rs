//! A figure across the runs of a record: each run's reading of it, their median, and the range
//! across the runs, which a table shows only where the runs disagree by more than the noise
//! that one run shows on its own.
//!
//! A run's noise is criterion's confidence interval of the median (95% by default), carried
//! through the arithmetic: a ratio of two times has the interval of the ratio of their
//! intervals' ends, a difference the difference of them. The runs **agree** when every run's
//! value lies inside every run's interval; then the median alone is the figure, since the spread
//! between the runs is what one run would show anyway. Otherwise the table shows the lowest and
//! highest run beside the median.

use crate::run::Point;

/// One run's reading of a figure.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    /// The figure in this run (a median, or what is computed from medians).
    pub value: f64,
    /// The low end of the interval that holds this run's noise.
    pub low: f64,
    /// The high end.
    pub high: f64,
    /// The fastest and slowest sample of the run, for a time read straight from a point.
    pub samples: Option<(f64, f64)>,
}

impl Reading {
    /// A figure with no noise of its own: a reading of the probes, or one fixed by the bench.
    pub fn exact(value: f64) -> Reading {
        Reading {
            value,
            low: value,
            high: value,
            samples: None,
        }
    }

    /// A point's time per iteration, divided by `divisor` (its jobs per iteration, for a time
    /// per job).
    pub fn time(point: &Point, divisor: f64) -> Reading {
        Reading {
            value: point.median_ns / divisor,
            low: point.median_low_ns / divisor,
            high: point.median_high_ns / divisor,
            samples: point
                .fastest_ns
                .zip(point.slowest_ns)
                .map(|(fastest, slowest)| (fastest / divisor, slowest / divisor)),
        }
    }

    /// This reading over `baseline`'s, both positive.
    pub fn over(self, baseline: Reading) -> Reading {
        Reading {
            value: self.value / baseline.value,
            low: self.low / baseline.high,
            high: self.high / baseline.low,
            samples: None,
        }
    }

    /// This reading less `other`.
    pub fn minus(self, other: Reading) -> Reading {
        Reading {
            value: self.value - other.value,
            low: self.low - other.high,
            high: self.high - other.low,
            samples: None,
        }
    }

    /// `numerator` over this reading, which is positive: a rate from a time.
    pub fn inverse(self, numerator: f64) -> Reading {
        Reading {
            value: numerator / self.value,
            low: numerator / self.high,
            high: numerator / self.low,
            samples: None,
        }
    }
}

/// The readings of one figure in the runs that measured it.
#[derive(Debug, Clone, PartialEq)]
pub struct AcrossRuns {
    /// The median of the runs' values (the mean of the middle two for an even count).
    pub median: f64,
    /// The lowest run's value.
    pub lowest: f64,
    /// The highest run's value.
    pub highest: f64,
    /// Whether some run's value lies outside another run's noise interval.
    pub disagree: bool,
}

impl AcrossRuns {
    /// The summary of `readings`, `None` if there are none.
    pub fn of(readings: &[Reading]) -> Option<AcrossRuns> {
        let mut values: Vec<f64> = readings.iter().map(|reading| reading.value).collect();
        values.sort_by(f64::total_cmp);
        let (&lowest, &highest) = (values.first()?, values.last()?);
        let middle = values.len() / 2;
        let median = if values.len() % 2 == 1 {
            values[middle]
        } else {
            (values[middle - 1] + values[middle]) / 2.0
        };
        let lowest_high = readings
            .iter()
            .map(|reading| reading.high)
            .fold(f64::INFINITY, f64::min);
        let highest_low = readings
            .iter()
            .map(|reading| reading.low)
            .fold(f64::NEG_INFINITY, f64::max);
        Some(AcrossRuns {
            median,
            lowest,
            highest,
            disagree: highest > lowest_high || lowest < highest_low,
        })
    }

    /// Whether the runs fall on both sides of `pivot` (1 for a ratio, 0 for a difference): a
    /// comparison that goes one way in some runs and the other way in others.
    pub fn crosses(&self, pivot: f64) -> bool {
        self.lowest <= pivot && self.highest > pivot
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(value: f64, noise: f64) -> Reading {
        Reading {
            value,
            low: value - noise,
            high: value + noise,
            samples: None,
        }
    }

    #[test]
    fn runs_within_each_others_noise_agree() {
        let close = [reading(73.6, 2.0), reading(72.9, 2.0), reading(74.2, 2.0)];
        let summary = AcrossRuns::of(&close).expect("three runs");
        assert_eq!(
            (summary.median, summary.lowest, summary.highest),
            (73.6, 72.9, 74.2)
        );
        assert!(!summary.disagree);
        let apart = [reading(73.6, 2.0), reading(71.8, 2.0), reading(290.0, 20.0)];
        assert!(AcrossRuns::of(&apart).expect("three runs").disagree);
    }

    #[test]
    fn an_even_count_has_the_mean_of_the_middle_two_as_its_median() {
        let two = [reading(10.0, 0.0), reading(20.0, 0.0)];
        assert_eq!(AcrossRuns::of(&two).expect("two runs").median, 15.0);
        assert_eq!(AcrossRuns::of(&[]), None);
    }

    #[test]
    fn a_ratio_carries_both_intervals() {
        let ratio = reading(50.0, 5.0).over(reading(100.0, 10.0));
        assert_eq!(
            (ratio.value, ratio.low, ratio.high),
            (0.5, 45.0 / 110.0, 55.0 / 90.0)
        );
        let summary = AcrossRuns::of(&[Reading::exact(0.9), Reading::exact(1.2)]).expect("runs");
        assert!(summary.crosses(1.0));
    }
}
