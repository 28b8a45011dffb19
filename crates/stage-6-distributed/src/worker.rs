//! One worker process: `settings.workers` workers sharing one consumer name, fed by the broker.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use stage_3_cancel::JobError;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::broker::{Broker, BrokerError, Delivery};
use crate::delivery::{Settled, run_delivery};
use crate::metrics::WorkMetrics;
use crate::tally::Tally;

// ANCHOR: handler
/// What a worker does with a job: the program's own work, as in every earlier stage's
/// `run_pool`. Go programmers know the shape from `http.Handler`.
///
/// The job arrives as the JSON its producer wrote, and the output is recorded as JSON.
pub trait Handler: Send + Sync + 'static {
    /// What a producer writes into an entry.
    type Job: DeserializeOwned + Send;
    /// What a run records as the job's result.
    type Output: Serialize + Send + 'static;

    /// Runs job `job_id`. It may run more than once (delivery is at least once), and may be
    /// stopped half-way: when it runs past its deadline, or another worker takes it over.
    fn handle(
        &self,
        job_id: u64,
        job: Self::Job,
    ) -> impl Future<Output = Result<Self::Output, JobError>> + Send + 'static;
}
// ANCHOR_END: handler

// ANCHOR: settings
/// How one worker process works: `work --workers W --lease D --job-timeout T --max-deliveries K`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkSettings {
    /// Jobs this process runs at once. The stream's read count is the number of free workers,
    /// so this is also the prefetch: a process never holds a job it has no worker for.
    pub workers: usize,
    /// How long a delivered job may go without news from its worker before another worker may
    /// take it over. A worker extends the lease while a job runs, so only a dead or stuck worker
    /// loses its jobs.
    pub lease: Duration,
    /// How long one run of a job may take. A run past it is stopped and counts as a failed
    /// delivery; its lease is no longer extended, so another worker may try.
    pub job_timeout: Duration,
    /// Deliveries a job gets before it is moved to the dead-letter stream.
    pub max_deliveries: u64,
    /// Exit once there has been nothing to do for this long (`None`: run until stopped).
    pub exit_when_idle: Option<Duration>,
}
// ANCHOR_END: settings

impl WorkSettings {
    /// How often the process looks for jobs whose lease ran out, and extends the leases of the
    /// jobs it runs: twice a lease, so that a live worker's job is never a whole lease old.
    pub fn heartbeat(&self) -> Duration {
        self.lease / 2
    }
}

// ANCHOR: run_pool
/// Runs jobs from `broker` on `settings.workers` workers under the consumer name `consumer`,
/// each with `handler`, until `stop` is cancelled (or, with `exit_when_idle`, the queue is
/// drained). Then it reads no more, finishes and settles the jobs in hand, and returns what it
/// did. The only error is the broker losing the queue's state, after which nothing in flight can
/// be settled.
///
/// # Panics
///
/// If `settings.workers` is 0.
pub async fn run_pool<B: Broker, H: Handler>(
    broker: Arc<B>,
    consumer: &str,
    settings: WorkSettings,
    handler: H,
    metrics: &WorkMetrics,
    stop: &CancellationToken,
) -> Result<Tally, BrokerError> {
    assert!(settings.workers > 0, "a pool needs at least one worker");
    let handler = Arc::new(handler);
    // The free workers, by id: a worker takes a job and hands its id back when the job is
    // settled. Waiting on this channel is waiting for a free worker — blocking, not polling.
    let (free_sender, mut free_workers) = mpsc::unbounded_channel::<usize>();
    for worker_id in 1..=settings.workers {
        let _ = free_sender.send(worker_id);
    }
    let mut running = JoinSet::new();
    let mut tally = Tally::default();
    let mut next_look = Instant::now();
    let mut idle_since: Option<Instant> = None;

    let lost_state = loop {
        let first = tokio::select! {
            biased;
            () = stop.cancelled() => break None,
            // Ended deliveries first, so that the tally and the metrics keep up with them.
            Some(ended) = running.join_next() => match ended_delivery(ended, &mut tally, metrics) {
                Ok(()) => continue,
                Err(lost) => break Some(lost),
            },
            Some(worker_id) = free_workers.recv() => worker_id,
        };
        let mut free = vec![first];
        while let Ok(worker_id) = free_workers.try_recv() {
            free.push(worker_id);
        }

        let now = Instant::now();
        let look_for_expired = now >= next_look;
        if look_for_expired {
            next_look = now + settings.heartbeat();
            if let Err(lost) = keep_house(&*broker, metrics).await {
                break Some(lost);
            }
        }
        let fetched = match fetch(&*broker, consumer, &settings, free.len(), look_for_expired).await
        {
            Ok(fetched) => fetched,
            Err(lost) => break Some(lost),
        };
        if fetched.is_empty() && free.len() == settings.workers {
            let since = *idle_since.get_or_insert(now);
            if settings
                .exit_when_idle
                .is_some_and(|idle| now.duration_since(since) >= idle)
                && drained(&*broker).await
            {
                break None;
            }
        } else {
            idle_since = None;
        }

        // A worker for each job fetched; the rest go back to wait for the next read.
        let mut free = free.into_iter();
        for ((delivery, taken_over), worker_id) in fetched.into_iter().zip(&mut free) {
            metrics.started(taken_over);
            // Every log line about the job names the worker, the job and the delivery.
            let span = tracing::info_span!(
                "job",
                worker = consumer,
                slot = worker_id,
                job = delivery.job_id,
                delivery = delivery.count
            );
            let (broker, handler, stop) = (Arc::clone(&broker), Arc::clone(&handler), stop.clone());
            let free = free_sender.clone();
            running.spawn(
                async move {
                    let settled =
                        run_delivery(&*broker, &*handler, delivery, &settings, &stop).await;
                    let _ = free.send(worker_id);
                    settled.map(|settled| (settled, taken_over))
                }
                .instrument(span),
            );
        }
        for worker_id in free {
            let _ = free_sender.send(worker_id);
        }
    };

    if let Some(lost) = lost_state {
        // Nothing in flight can be settled on a queue that is gone: stop it all.
        running.shutdown().await;
        return Err(lost);
    }
    while let Some(ended) = running.join_next().await {
        ended_delivery(ended, &mut tally, metrics)?;
    }
    // A process that stopped cleanly holds nothing, and leaves no name behind in the group.
    if let Err(error) = broker.leave(consumer).await {
        tracing::warn!("cannot leave the consumer group: {error}");
    }
    Ok(tally)
}
// ANCHOR_END: run_pool

/// Counts one ended delivery. Delivery tasks do not panic (a job's panic is caught in its own
/// task, and every broker error is a value), so a task that did is a bug, passed on as such.
fn ended_delivery(
    ended: Result<Result<(Settled, bool), BrokerError>, tokio::task::JoinError>,
    tally: &mut Tally,
    metrics: &WorkMetrics,
) -> Result<(), BrokerError> {
    match ended {
        Ok(Ok((settled, taken_over))) => {
            metrics.ended(&settled);
            tally.add(&settled, taken_over);
            Ok(())
        }
        Ok(Err(lost)) => Err(lost),
        Err(error) => std::panic::resume_unwind(error.into_panic()),
    }
}

/// Once a heartbeat: reads the queue (for the lag metric, and to learn that the broker lost its
/// state even while there is nothing to do) and trims the stream.
async fn keep_house<B: Broker>(broker: &B, metrics: &WorkMetrics) -> Result<(), BrokerError> {
    match broker.status().await {
        Ok(status) => metrics.set_lag(status.waiting()),
        Err(lost @ BrokerError::StateLost(_)) => return Err(lost),
        Err(_) => return Ok(()),
    }
    if let Err(error) = broker.trim().await
        && !error.is_transient()
    {
        tracing::warn!("cannot trim the stream: {error}");
    }
    Ok(())
}

/// Whether every job in the stream has ended, completed or dead-lettered. A worker with nothing
/// to do does not exit while jobs are pending elsewhere: their worker may be dead, and they may
/// be this worker's to take over when their lease runs out.
async fn drained<B: Broker>(broker: &B) -> bool {
    broker
        .status()
        .await
        .is_ok_and(|status| status.backlog() == 0 && status.in_flight() == 0)
}

// ANCHOR: fetch
/// Up to `count` deliveries for the free workers, each marked if it was taken over: first jobs
/// whose lease ran out (when it is time to look), then new ones, waiting a little for the first
/// if there are none. A broker that is away gives nothing this time; the loop asks again. Only
/// the loss of the queue's state is an error.
async fn fetch<B: Broker>(
    broker: &B,
    consumer: &str,
    settings: &WorkSettings,
    count: usize,
    look_for_expired: bool,
) -> Result<Vec<(Delivery, bool)>, BrokerError> {
    let mut fetched = Vec::with_capacity(count);
    if look_for_expired {
        match broker.take_over(consumer, settings.lease, count).await {
            Ok(claimed) => fetched.extend(claimed.into_iter().map(|delivery| (delivery, true))),
            Err(lost @ BrokerError::StateLost(_)) => return Err(lost),
            Err(error) => not_now("take over jobs", &error),
        }
    }
    let wanted = count - fetched.len();
    if wanted > 0 {
        // A blocking read, but a short one: the loop must come back to take over expired jobs,
        // to notice a stop, and to see that it has been idle long enough to exit. A read is
        // never cut off mid-way, so no job is delivered to a read that nobody is waiting for.
        // With jobs taken over in hand it does not wait at all: they have waited long enough.
        let block = if fetched.is_empty() {
            settings
                .heartbeat()
                .min(READ_BLOCK)
                .min(settings.exit_when_idle.unwrap_or(READ_BLOCK))
        } else {
            Duration::ZERO
        };
        match broker.read_new(consumer, wanted, block).await {
            Ok(new) => fetched.extend(new.into_iter().map(|delivery| (delivery, false))),
            Err(lost @ BrokerError::StateLost(_)) => return Err(lost),
            Err(error) => {
                not_now("read jobs", &error);
                // Do not spin on a broker that is away: wait before the loop asks again.
                tokio::time::sleep(block.max(READ_BLOCK / 5)).await;
            }
        }
    }
    Ok(fetched)
}
// ANCHOR_END: fetch

/// The longest a read waits for new jobs before the loop goes round again.
const READ_BLOCK: Duration = Duration::from_millis(500);

/// A broker error that the next round may not have. A lost connection or a refusal has been
/// said already, once, by the broker's handle; anything else is said here.
fn not_now(what: &str, error: &BrokerError) {
    if !error.is_transient() {
        tracing::warn!("cannot {what}: {error}");
    }
}
