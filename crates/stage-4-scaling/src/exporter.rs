//! The pool's metrics for Prometheus, in prometheus-client's own types.
//!
//! prometheus-client's `Counter` and `Histogram` are shared values that every writer updates,
//! with a `fetch_add` or a lock per observation. The pool already keeps its numbers per worker,
//! so it registers a [`Collector`] instead: on each scrape it adds the numbers up and writes them
//! with prometheus-client's constant metrics (`ConstCounter`, `ConstGauge`) and its histogram
//! encoding. prometheus-client writes the text format.

use std::fmt;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use crate::histogram::Distribution;
use crate::metrics::PoolMetrics;
use crate::worker_stats::WorkerStats;

// ANCHOR: collector
/// A registry that exposes `metrics`, ready for [`prometheus_client::encoding::text::encode`].
pub fn registry(metrics: Arc<PoolMetrics>) -> Registry {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Exporter(metrics)));
    registry
}

/// Reads the pool's metrics afresh on every scrape.
#[derive(Debug)]
struct Exporter(Arc<PoolMetrics>);

impl Collector for Exporter {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let metrics = &self.0;
        let totals = metrics.totals();
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
            let metric_type = counter.metric_type();
            counter.encode(encoder.encode_descriptor(name, help, None, metric_type)?)?;
        }
        // Workers are read once: the gauge and the per-worker series come from that one read, so
        // a scrape never shows a count and a list that disagree.
        let now = metrics.now();
        let running: Vec<_> = metrics
            .all_workers()
            .into_iter()
            .filter(|worker| worker.is_running())
            .collect();
        for (name, help, value) in [
            (
                "pool_queue_depth",
                "Jobs waiting in the queue",
                metrics.queue_depth(),
            ),
            (
                "pool_workers",
                "Worker threads running, retiring ones included",
                running.len(),
            ),
        ] {
            let gauge = ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX));
            let metric_type = gauge.metric_type();
            gauge.encode(encoder.encode_descriptor(name, help, None, metric_type)?)?;
        }
        encode_histogram(
            &mut encoder,
            "pool_job_run_seconds",
            "How long jobs ran",
            &totals.run_time,
        )?;
        let help = "How long jobs waited in the queue";
        encode_histogram(
            &mut encoder,
            "pool_job_wait_seconds",
            help,
            &totals.wait_time,
        )?;

        let help = "How long each running worker has run";
        encode_per_worker(
            &mut encoder,
            "pool_worker_uptime_seconds",
            help,
            &running,
            |worker| worker.uptime(now).as_secs_f64(),
        )?;
        let help = "Share of its uptime each running worker spent on jobs";
        encode_per_worker(
            &mut encoder,
            "pool_worker_busy_ratio",
            help,
            &running,
            |worker| worker.busy_ratio(now),
        )?;
        Ok(())
    }
}
// ANCHOR_END: collector

/// A gauge per worker, labelled with the worker's id.
fn encode_per_worker(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    workers: &[Arc<WorkerStats>],
    value: impl Fn(&WorkerStats) -> f64,
) -> fmt::Result {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for worker in workers {
        let id = worker.id.to_string();
        ConstGauge::new(value(worker)).encode(family.encode_family(&[("worker", id.as_str())])?)?;
    }
    Ok(())
}

/// One histogram, in its scrape buckets.
fn encode_histogram(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    distribution: &Distribution,
) -> fmt::Result {
    let buckets = distribution.scrape_buckets();
    let sum = distribution.sum.as_secs_f64();
    encoder
        .encode_descriptor(name, help, None, MetricType::Histogram)?
        .encode_histogram::<NoLabelSet>(sum, distribution.count, &buckets, None)
}
