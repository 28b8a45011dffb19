//! The worker loop on the in-process broker and tokio's paused clock, for what a worker does
//! when a job misbehaves or the queue goes away: a deadline, a lost lease, a panic, a lost state.
//! The clock is paused, so a lease or a deadline runs out in no real time and the order of
//! events does not depend on how busy the machine is.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use stage_3_cancel::JobError;
use stage_6_distributed::{
    Broker, BrokerError, Handler, Inspect, JobSpec, MemoryBroker, ProduceSettings, Tally,
    WorkMetrics, WorkSettings, produce, run_pool,
};
use tokio_util::sync::CancellationToken;

/// A handler whose jobs sleep their work time, panic if poison, and count how many of their runs
/// were stopped half-way (dropped before they ended).
#[derive(Clone, Default)]
struct Counting {
    stopped: Arc<AtomicUsize>,
}

/// Counts a stop when dropped before it is disarmed.
struct StopCounter(Option<Arc<AtomicUsize>>);

impl Drop for StopCounter {
    fn drop(&mut self) {
        if let Some(stopped) = self.0.take() {
            stopped.fetch_add(1, Ordering::SeqCst);
        }
    }
}

impl Handler for Counting {
    type Job = JobSpec;
    type Output = u64;

    fn handle(
        &self,
        job_id: u64,
        job: JobSpec,
    ) -> impl Future<Output = Result<u64, JobError>> + Send + 'static {
        let stopped = Arc::clone(&self.stopped);
        async move {
            let mut counter = StopCounter(Some(stopped));
            tokio::time::sleep(job.duration).await;
            counter.0 = None;
            assert!(!job.poison, "job {job_id} is poison: it panics");
            Ok(u64::from(job.number))
        }
    }
}

fn settings(lease_ms: u64, timeout_ms: u64, max_deliveries: u64) -> WorkSettings {
    WorkSettings {
        workers: 2,
        lease: Duration::from_millis(lease_ms),
        job_timeout: Duration::from_millis(timeout_ms),
        max_deliveries,
        exit_when_idle: Some(Duration::from_millis(300)),
    }
}

async fn add(broker: &MemoryBroker, jobs: u64, work: Duration, fail_every: Option<u64>) {
    let settings = ProduceSettings {
        jobs,
        job_duration: work,
        fail_every,
        max_backlog: None,
    };
    produce(broker, settings, &CancellationToken::new())
        .await
        .expect("the jobs are added");
}

async fn work(
    broker: &MemoryBroker,
    settings: WorkSettings,
    handler: Counting,
) -> Result<Tally, BrokerError> {
    run_pool(
        Arc::new(broker.clone()),
        "only",
        settings,
        handler,
        &WorkMetrics::default(),
        &CancellationToken::new(),
    )
    .await
}

#[tokio::test(start_paused = true)]
async fn a_job_past_its_deadline_is_stopped_and_counts_as_a_failed_delivery() {
    let broker = MemoryBroker::new();
    add(&broker, 1, Duration::from_secs(60), None).await;
    let handler = Counting::default();
    let tally = work(&broker, settings(2_000, 1_000, 2), handler.clone())
        .await
        .expect("the queue keeps its state");
    assert_eq!(
        (tally.deliveries, tally.left_for_retry, tally.dead_lettered),
        (2, 1, 1)
    );
    assert_eq!(
        handler.stopped.load(Ordering::SeqCst),
        2,
        "each run was stopped"
    );
    let letters = broker.dead_letters().await.expect("in memory");
    assert_eq!(letters[0].error, "ran past its deadline of 1s");
}

#[tokio::test(start_paused = true)]
async fn a_worker_whose_job_was_taken_over_stops_it_and_records_nothing() {
    let broker = MemoryBroker::new();
    add(&broker, 1, Duration::from_secs(10), None).await;
    let handler = Counting::default();
    let working = tokio::spawn({
        let (broker, handler) = (broker.clone(), handler.clone());
        async move { work(&broker, settings(1_000, 60_000, 3), handler).await }
    });
    // Another worker takes the job (a lease of 0 takes whatever is pending) while the first one
    // still runs it, as if the first had stalled.
    while broker
        .pending_of("only")
        .await
        .expect("in memory")
        .is_empty()
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let taken = broker
        .take_over("thief", Duration::ZERO, 1)
        .await
        .expect("in memory");
    assert_eq!(taken.len(), 1);
    // The first worker learns it at its next heartbeat, stops the job, and, with nothing left
    // that is its own, exits once the thief's job is settled.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(handler.stopped.load(Ordering::SeqCst), 1);
    broker.complete(&taken[0], "1").await.expect("in memory");
    let tally = working
        .await
        .expect("the worker ends")
        .expect("the queue keeps its state");
    assert_eq!((tally.lease_lost, tally.recorded), (1, 0));
}

#[tokio::test(start_paused = true)]
async fn a_panicking_job_is_a_failed_delivery_and_the_worker_carries_on() {
    let broker = MemoryBroker::new();
    add(&broker, 6, Duration::from_millis(10), Some(3)).await;
    let tally = work(&broker, settings(1_000, 60_000, 2), Counting::default())
        .await
        .expect("the queue keeps its state");
    assert_eq!(
        (tally.recorded, tally.left_for_retry, tally.dead_lettered),
        (4, 2, 2)
    );
    let letters = broker.dead_letters().await.expect("in memory");
    assert!(
        letters.iter().all(|letter| letter.error
            == format!(
                "panicked: job {} is poison: it panics",
                letter.job_id.unwrap_or(0)
            )),
        "{letters:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_queue_that_lost_its_state_ends_the_run_with_the_error() {
    let broker = MemoryBroker::new();
    add(&broker, 100, Duration::from_millis(100), None).await;
    let working = tokio::spawn({
        let broker = broker.clone();
        async move { work(&broker, settings(1_000, 60_000, 2), Counting::default()).await }
    });
    tokio::time::sleep(Duration::from_millis(250)).await;
    broker.lose_everything();
    let ended = working.await.expect("the worker ends");
    assert!(matches!(ended, Err(BrokerError::StateLost(_))), "{ended:?}");
}
