//! Solutions to the exercises of the chapter stage 6. Each test runs on the in-process broker,
//! so none of them needs Redis.

use std::ops::RangeInclusive;
use std::time::Duration;

use stage_6_distributed::{Status, WorkSettings};

// ANCHOR: dead_letter_window
/// When a job that fails on every delivery reaches the dead-letter stream, counted from its
/// first delivery: at the earliest and at the latest. The job runs for `work`, less than a
/// heartbeat, so no lease of it is ever extended.
///
/// A failed delivery is left pending, so the next one comes only once its lease has run out and
/// a worker process looks for expired jobs. A look is due every heartbeat, and it happens between
/// two reads, which wait up to a heartbeat each: it may come up to two heartbeats after the lease
/// ran out. A job taken over starts at once, fails after `work`, and on its last delivery is
/// dead-lettered at once.
pub fn dead_letter_window(settings: &WorkSettings, work: Duration) -> (Duration, Duration) {
    let retries = u32::try_from(settings.max_deliveries.saturating_sub(1)).unwrap_or(u32::MAX);
    let earliest = settings.lease * retries + work;
    let latest = (settings.lease + settings.heartbeat() * 2) * retries + work;
    (earliest, latest)
}
// ANCHOR_END: dead_letter_window

// ANCHOR: effect_and_ack
/// Where a job's effect is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    /// Each effect is keyed by its job (a unique key, an upsert, `HSETNX`): recording it again
    /// for the same job changes nothing.
    KeyedByJob,
    /// Every record is applied (an `INCRBY`, an `INSERT` without a key, an e-mail sent).
    Plain,
}

/// The order in which a worker takes the two steps that end a delivery, when no transaction
/// can hold both (the effect in a database, the acknowledgement in Redis).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Record the effect, then acknowledge the job.
    EffectThenAck,
    /// Acknowledge the job, then record the effect.
    AckThenEffect,
}

#[derive(Debug, Clone, Copy)]
enum Step {
    Effect,
    Ack,
}

impl Order {
    fn steps(self) -> [Step; 2] {
        match self {
            Order::EffectThenAck => [Step::Effect, Step::Ack],
            Order::AckThenEffect => [Step::Ack, Step::Effect],
        }
    }
}

/// How many times the job's effect ends up applied (0: lost, 1: right, 2: doubled) when its
/// first worker dies after `steps_done` of the two steps, and, if the job was not acknowledged,
/// another worker takes it over once the lease runs out and ends it properly.
pub fn times_applied(order: Order, store: Store, steps_done: usize) -> usize {
    let first_run = order.steps().into_iter().take(steps_done);
    // Not acknowledged: still pending, so delivered again, and this time both steps are taken.
    let acked = first_run.clone().any(|step| matches!(step, Step::Ack));
    let second_run = order.steps().into_iter().take(if acked { 0 } else { 2 });
    let effects = first_run
        .chain(second_run)
        .filter(|step| matches!(step, Step::Effect))
        .count();
    match store {
        Store::KeyedByJob => effects.min(1),
        Store::Plain => effects,
    }
}
// ANCHOR_END: effect_and_ack

// ANCHOR: processes_wanted
/// How many worker processes of `workers` workers each the queue in `status` calls for: enough
/// that no worker has more than `backlog_per_worker` jobs of the backlog (waiting or in flight)
/// to itself, within `limits`. Stage 4's rule for growing, one level up.
pub fn processes_wanted(
    status: &Status,
    workers: u64,
    backlog_per_worker: u64,
    limits: RangeInclusive<u64>,
) -> u64 {
    let per_process = (workers * backlog_per_worker).max(1);
    let wanted = status.backlog().div_ceil(per_process);
    wanted.clamp(*limits.start(), *limits.end())
}
// ANCHOR_END: processes_wanted

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use stage_6_distributed::{
        Demo, Inspect, MemoryBroker, ProduceSettings, WorkMetrics, produce, run_pool,
    };
    use tokio::time::Instant;
    use tokio_util::sync::CancellationToken;

    use super::*;

    /// The real worker loop on the in-process broker and tokio's paused clock: a lease runs
    /// out in no real time, and the only time that passes is the sleeps' and the reads' own,
    /// so the moment the job is dead-lettered does not depend on how busy the machine is.
    #[tokio::test(start_paused = true)]
    async fn a_poison_job_is_dead_lettered_inside_the_window() {
        for (lease_ms, max_deliveries) in [(1_000, 1), (1_000, 2), (1_000, 3), (400, 4), (3_000, 3)]
        {
            let settings = WorkSettings {
                workers: 2,
                lease: Duration::from_millis(lease_ms),
                job_timeout: Duration::from_secs(60),
                max_deliveries,
                exit_when_idle: Some(Duration::from_millis(300)),
            };
            let work_time = Duration::from_millis(100);
            let broker = Arc::new(MemoryBroker::new());
            let poison = ProduceSettings {
                jobs: 1,
                job_duration: work_time,
                fail_every: Some(1),
                max_backlog: None,
            };
            produce(&*broker, poison, &CancellationToken::new())
                .await
                .expect("the job is added");

            let started = Instant::now();
            let worker = tokio::spawn({
                let broker = Arc::clone(&broker);
                async move {
                    let metrics = WorkMetrics::default();
                    let stop = CancellationToken::new();
                    run_pool(broker, "only", settings, Demo, &metrics, &stop).await
                }
            });
            while broker.dead_letters().await.expect("in memory").is_empty() {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            let took = started.elapsed();
            let tally = worker
                .await
                .expect("the worker process ends")
                .expect("the queue keeps its state");

            let (earliest, latest) = dead_letter_window(&settings, work_time);
            // The test looks every millisecond, and tokio's timer ends each sleep on a whole
            // millisecond, so the moment seen may be a few milliseconds past the model's.
            let late = Duration::from_millis(10);
            assert!(
                earliest <= took && took <= latest + late,
                "{settings:?}: dead-lettered after {took:?}, not in {earliest:?}..={latest:?}"
            );
            assert_eq!(tally.deliveries, max_deliveries);
            assert_eq!(tally.dead_lettered, 1);
            assert_eq!(tally.left_for_retry, max_deliveries - 1);
        }
    }

    #[test]
    fn only_effect_then_ack_with_a_keyed_store_applies_the_effect_once_wherever_it_dies() {
        let worst = |order, store| {
            (0..=2)
                .map(|steps_done| times_applied(order, store, steps_done))
                .collect::<Vec<_>>()
        };
        // Dying before either step, between the two, after both.
        assert_eq!(worst(Order::EffectThenAck, Store::KeyedByJob), [1, 1, 1]);
        assert_eq!(worst(Order::EffectThenAck, Store::Plain), [1, 2, 1]);
        assert_eq!(worst(Order::AckThenEffect, Store::KeyedByJob), [1, 0, 1]);
        assert_eq!(worst(Order::AckThenEffect, Store::Plain), [1, 0, 1]);
    }

    fn status(submitted: u64, completed: u64, in_flight: u64) -> Status {
        Status {
            submitted,
            completed,
            pending: BTreeMap::from([("some-worker".to_owned(), in_flight)]),
            ..Status::default()
        }
    }

    #[test]
    fn processes_follow_the_backlog_within_their_limits() {
        let wanted = |status: &Status| processes_wanted(status, 4, 10, 1..=8);
        // 4 workers, 10 jobs each: a process for every 40 jobs of backlog.
        assert_eq!(wanted(&status(0, 0, 0)), 1, "never fewer than the minimum");
        assert_eq!(wanted(&status(40, 0, 4)), 1);
        assert_eq!(wanted(&status(41, 0, 4)), 2);
        assert_eq!(wanted(&status(1_000, 880, 8)), 3, "120 jobs left");
        assert_eq!(
            wanted(&status(10_000, 0, 8)),
            8,
            "never more than the maximum"
        );
        // Jobs in flight count: a dead worker's jobs are still to be done.
        assert_eq!(wanted(&status(100, 20, 80)), 2);
    }
}
