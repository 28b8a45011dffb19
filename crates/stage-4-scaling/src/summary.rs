//! The table printed at the end of a run.

use std::fmt;
use std::time::Duration;

use pool_core::short_duration;

use crate::histogram::{Distribution, QUANTILE_ERROR};
use crate::metrics::PoolMetrics;

// ANCHOR: summary
/// Writes the end-of-run table: the jobs by outcome, the quantiles of their run times and
/// waits, the peaks, and a row per worker that ever ran.
pub fn write_summary(metrics: &PoolMetrics, out: &mut impl fmt::Write) -> fmt::Result {
    let now = metrics.now();
    let totals = metrics.totals();
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
            "  {name:<14} p50 {:>8}  p95 {:>8}  max {:>8}",
            quantile(distribution, 0.5),
            quantile(distribution, 0.95),
            precise(distribution.max)
        )?;
    }
    writeln!(
        out,
        "  (quantiles within {:.1}%: the histogram's resolution)",
        100.0 * QUANTILE_ERROR
    )?;
    writeln!(
        out,
        "  peak queue depth     {:>8}",
        metrics.peak_queue_depth()
    )?;
    writeln!(out, "  peak workers         {:>8}", metrics.peak_workers())?;
    writeln!(out, "  worker   uptime   busy   jobs")?;
    for worker in metrics.all_workers() {
        writeln!(
            out,
            "  {:>6} {:>8} {:>5.0}% {:>6}",
            worker.id,
            short_duration(worker.uptime(now)),
            100.0 * worker.busy_ratio(now),
            worker.jobs_ran()
        )?;
    }
    Ok(())
}
// ANCHOR_END: summary

fn quantile(distribution: &Distribution, q: f64) -> String {
    distribution
        .quantile(q)
        .map_or_else(|| "-".to_owned(), precise)
}

/// A duration with three significant digits, so that the histogram's precision shows:
/// `20.1ms`, `1.02s`, `851µs`.
fn precise(duration: Duration) -> String {
    let (value, unit) = match duration.as_secs_f64() {
        seconds if seconds >= 1.0 => (seconds, "s"),
        seconds if seconds >= 1e-3 => (seconds * 1e3, "ms"),
        seconds => (seconds * 1e6, "µs"),
    };
    let decimals = match value {
        value if value >= 100.0 => 0,
        value if value >= 10.0 => 1,
        _ => 2,
    };
    format!("{value:.decimals$}{unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_with_three_significant_digits() {
        assert_eq!(precise(Duration::from_micros(20_130)), "20.1ms");
        assert_eq!(precise(Duration::from_micros(1_016_000)), "1.02s");
        assert_eq!(precise(Duration::from_nanos(851_200)), "851µs");
    }
}
