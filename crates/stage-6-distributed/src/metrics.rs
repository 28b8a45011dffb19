//! A worker process's metrics, in prometheus-client's types, served on stage 4's endpoint
//! (`--metrics-addr`).

use std::net::SocketAddr;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use stage_4_scaling::server::MetricsServer;

use crate::delivery::Settled;

// ANCHOR: metrics
/// What a worker process counts as it goes. Each value is shared with the registry, so a
/// scrape reads it as it is now.
#[derive(Debug, Clone, Default)]
pub struct WorkMetrics {
    completed: Counter,
    failed: Counter,
    taken_over: Counter,
    dead_lettered: Counter,
    duplicates: Counter,
    lease_lost: Counter,
    in_flight: Gauge,
    lag: Gauge,
}
// ANCHOR_END: metrics

impl WorkMetrics {
    /// A job was handed to a worker.
    pub fn started(&self, taken_over: bool) {
        self.in_flight.inc();
        if taken_over {
            self.taken_over.inc();
        }
    }

    /// A delivery ended as `handled` says.
    pub fn ended(&self, settled: &Settled) {
        self.in_flight.dec();
        match settled {
            Settled::Recorded => self.completed.inc(),
            Settled::Duplicate => self.duplicates.inc(),
            Settled::LeftForRetry | Settled::LeftPending(_) => self.failed.inc(),
            Settled::DeadLettered | Settled::NotAJob => {
                self.failed.inc();
                self.dead_lettered.inc()
            }
            Settled::LeaseLost => self.lease_lost.inc(),
        };
    }

    /// The consumer group's lag: jobs in the stream that no worker has read yet.
    pub fn set_lag(&self, waiting: u64) {
        self.lag.set(i64::try_from(waiting).unwrap_or(i64::MAX));
    }

    /// Serves these metrics at `http://<address>/metrics` until the server is dropped.
    pub fn serve(&self, address: SocketAddr) -> std::io::Result<MetricsServer> {
        let mut registry = Registry::with_prefix("stage6");
        let counters = [
            (
                "completed",
                "Jobs whose result this process recorded first",
                &self.completed,
            ),
            (
                "failed",
                "Deliveries that failed (left for retry, dead-lettered, or left pending)",
                &self.failed,
            ),
            (
                "taken_over",
                "Jobs taken over after their lease ran out",
                &self.taken_over,
            ),
            (
                "dead_lettered",
                "Jobs moved to the dead-letter stream",
                &self.dead_lettered,
            ),
            (
                "duplicates",
                "Runs of jobs that had already ended",
                &self.duplicates,
            ),
            (
                "lease_lost",
                "Jobs another worker took over while this process ran them",
                &self.lease_lost,
            ),
        ];
        for (name, help, counter) in counters {
            registry.register(name, help, counter.clone());
        }
        registry.register(
            "in_flight",
            "Jobs this process is running",
            self.in_flight.clone(),
        );
        registry.register(
            "lag",
            "Jobs in the stream that no worker has read yet",
            self.lag.clone(),
        );
        MetricsServer::serve(address, registry)
    }
}
