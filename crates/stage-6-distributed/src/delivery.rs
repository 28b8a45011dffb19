//! One delivery, start to end: admit it, keep its lease while its job runs, up to its deadline,
//! then tell the broker how it went, trying again for as long as the broker is away or refuses
//! writes.

use std::future::Future;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use pool_core::lock;
use serde::Serialize;
use serde::de::DeserializeOwned;
use stage_3_cancel::{JobError, Outcome};
use stage_5_http::outcome;
use tokio::task::JoinError;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::broker::{Broker, BrokerError, Delivery, Lease, Settlement};
use crate::worker::WorkSettings;

// ANCHOR: settled
/// What became of one delivery, in the worker's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// Its run's result is the job's result.
    Recorded,
    /// It ran to the end, but the job had already ended (another run's result, or a dead
    /// letter): nothing changed.
    Duplicate,
    /// It failed, and stays pending: once its lease runs out, some worker takes it over and tries
    /// again.
    LeftForRetry,
    /// It failed on its last allowed delivery, or could not be read: moved to the dead-letter
    /// stream.
    DeadLettered,
    /// Another worker took the job over while this one ran it: stopped, and nothing recorded.
    LeaseLost,
    /// The entry only claimed to be a job: dead-lettered as not a job.
    NotAJob,
    /// The process was stopped before the broker could be told: the job stays pending, and is
    /// taken over when its lease runs out.
    LeftPending(String),
}
// ANCHOR_END: settled

// ANCHOR: admit
/// The job a delivery carries, if a worker should run it; else why it goes straight to the dead
/// letters. A job delivered more often than allowed is one whose workers died with it in hand
/// (it crashes the process that runs it, say); a payload the program cannot read will not read
/// any better on the next delivery.
pub(crate) fn admit<J: DeserializeOwned>(
    delivery: &Delivery,
    settings: &WorkSettings,
) -> Result<J, String> {
    if delivery.count > 1 {
        tracing::info!("taken over: its lease ran out");
    }
    if delivery.count > settings.max_deliveries {
        return Err(format!(
            "no worker finished it in {} deliveries",
            settings.max_deliveries
        ));
    }
    serde_json::from_str(&delivery.payload).map_err(|error| format!("cannot read the job: {error}"))
}
// ANCHOR_END: admit

// ANCHOR: settle
/// Tells the broker what became of a delivery whose job ran (or was stopped): records its
/// output, leaves it for another delivery, or dead-letters it on its last delivery. The outcome
/// is stage 5's, made by stage 5's `outcome` from what the job's task returned, so a panic is a
/// failure like an error.
pub(crate) async fn settle<B: Broker, O: Serialize>(
    broker: &B,
    delivery: Delivery,
    worker_id: usize,
    ran: Ran<Result<Result<O, JobError>, JoinError>>,
    settings: &WorkSettings,
    stop: &CancellationToken,
) -> Result<Settled, BrokerError> {
    let ended = match ran {
        Ran::Ended(ended) => ended,
        Ran::LeaseLost => {
            tracing::warn!("stopped: the job is no longer this worker's (taken over, or removed)");
            return Ok(Settled::LeaseLost);
        }
        Ran::PastDeadline => Ok(Err(JobError::Failed(format!(
            "ran past its deadline of {}",
            humantime::format_duration(settings.job_timeout)
        )))),
    };
    let failure = match outcome(delivery.job_id, worker_id, delivery, ended) {
        Outcome::Completed { input, output, .. } => {
            let output = serde_json::to_string(&output).unwrap_or_default();
            return complete(broker, &input, &output, settings, stop).await;
        }
        Outcome::Failed { input, failure, .. } => (input, failure.to_string()),
        Outcome::Cancelled { input, .. } => (input, "cancelled".to_owned()),
    };
    let (delivery, reason) = failure;
    if delivery.count >= settings.max_deliveries {
        return dead_letter(broker, &delivery, &reason, settings, stop).await;
    }
    tracing::info!("failed ({reason}); left for another delivery");
    Ok(Settled::LeftForRetry)
}
// ANCHOR_END: settle

/// How a job's run ended, as [`keeping_lease`] saw it.
pub(crate) enum Ran<T> {
    /// The job's task ended by itself.
    Ended(T),
    /// It ran past its deadline, and was stopped.
    PastDeadline,
    /// Another worker took it over, and it was stopped.
    LeaseLost,
}

// ANCHOR: keeping_lease
/// Waits for `job`, extending the delivery's lease every heartbeat while it runs, so that a job
/// longer than the lease is not taken over from a worker that is still on it; but only until the
/// job's deadline, and only while the delivery is still this worker's.
pub(crate) async fn keeping_lease<B: Broker, T>(
    broker: &B,
    delivery: &Delivery,
    settings: &WorkSettings,
    job: impl Future<Output = T>,
) -> Result<Ran<T>, BrokerError> {
    let mut job = std::pin::pin!(job);
    let mut deadline = std::pin::pin!(tokio::time::sleep(settings.job_timeout));
    let mut heartbeat =
        tokio::time::interval_at(Instant::now() + settings.heartbeat(), settings.heartbeat());
    loop {
        tokio::select! {
            ended = &mut job => return Ok(Ran::Ended(ended)),
            () = &mut deadline => return Ok(Ran::PastDeadline),
            _ = heartbeat.tick() => match broker.extend_lease(delivery).await {
                Ok(Lease::Extended) => {}
                Ok(Lease::Lost) => return Ok(Ran::LeaseLost),
                Err(fatal) if fatal.is_fatal() => return Err(fatal),
                // The broker is away: the job runs on, and the next heartbeat tries again. If
                // the lease runs out meanwhile, settling the job will say so.
                Err(_) => {}
            },
        }
    }
}
// ANCHOR_END: keeping_lease

/// Records the run's output and acknowledges the job.
async fn complete<B: Broker>(
    broker: &B,
    delivery: &Delivery,
    output: &str,
    settings: &WorkSettings,
    stop: &CancellationToken,
) -> Result<Settled, BrokerError> {
    let telling = until_told(stop, || broker.complete(delivery, output));
    settled(
        holding_lease(broker, delivery, settings, telling).await,
        "completed",
    )
}

/// Moves the job to the dead-letter stream.
pub(crate) async fn dead_letter<B: Broker>(
    broker: &B,
    delivery: &Delivery,
    reason: &str,
    settings: &WorkSettings,
    stop: &CancellationToken,
) -> Result<Settled, BrokerError> {
    let telling = until_told(stop, || broker.dead_letter(delivery, reason));
    settled(
        holding_lease(broker, delivery, settings, telling).await,
        reason,
    )
}

/// Waits for `telling`, the broker being told a job's fate, extending the delivery's lease every
/// heartbeat meanwhile: a broker that refuses writes for longer than a lease must not see the
/// job as abandoned while its worker holds the news, or the job would be delivered again and
/// again, each delivery one closer to the dead letters. An extension that fails changes
/// nothing: the telling itself will say if the delivery is no longer this worker's.
async fn holding_lease<B: Broker, T>(
    broker: &B,
    delivery: &Delivery,
    settings: &WorkSettings,
    telling: impl Future<Output = T>,
) -> T {
    let mut telling = std::pin::pin!(telling);
    let mut heartbeat =
        tokio::time::interval_at(Instant::now() + settings.heartbeat(), settings.heartbeat());
    loop {
        tokio::select! {
            told = &mut telling => return told,
            _ = heartbeat.tick() => {
                let _ = broker.extend_lease(delivery).await;
            }
        }
    }
}

/// What the broker's answer means for the worker, logged in one line. `what` is the news the
/// worker brought: "completed", or why the job gave up.
fn settled(told: Result<Settlement, BrokerError>, what: &str) -> Result<Settled, BrokerError> {
    let settled = match told {
        Ok(Settlement::Recorded) => Settled::Recorded,
        Ok(Settlement::RecordedNotHeld) => {
            tracing::info!("completed after another worker took it over; its result is recorded");
            return Ok(Settled::Recorded);
        }
        Ok(Settlement::Duplicate) => Settled::Duplicate,
        Ok(Settlement::DeadLettered) => {
            tracing::info!("moved to the dead-letter stream: {what}");
            return Ok(Settled::DeadLettered);
        }
        Ok(Settlement::AlreadyCompleted) => Settled::Duplicate,
        Ok(Settlement::NotHeld) => Settled::LeaseLost,
        Ok(Settlement::NotAJob) => Settled::NotAJob,
        Err(fatal) if fatal.is_fatal() => return Err(fatal),
        Err(error) => Settled::LeftPending(error.to_string()),
    };
    match &settled {
        Settled::Recorded => tracing::info!("completed"),
        Settled::Duplicate => tracing::info!("ended already; this run changed nothing"),
        Settled::LeaseLost => {
            tracing::warn!(
                "{what}, but the job was no longer this worker's (taken over, or removed); \
                 nothing recorded"
            );
        }
        Settled::LeftPending(error) => tracing::warn!("left pending: {error}"),
        _ => {}
    }
    Ok(settled)
}

/// How long a worker keeps trying to tell the broker a job's fate once the process has been told
/// to stop; until then it tries for as long as it takes, holding the job.
const GRACE_AFTER_STOP: Duration = Duration::from_secs(5);

/// Runs `call` until it succeeds, trying again with backoff for as long as the broker is away or
/// refuses writes, which the broker's handle reports once, not per attempt. It gives up only
/// [`GRACE_AFTER_STOP`] after `stop`, leaving the job pending. Any other error is returned at
/// once.
pub(crate) async fn until_told<T, F, Fut>(
    stop: &CancellationToken,
    call: F,
) -> Result<T, BrokerError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, BrokerError>>,
{
    // The last refusal, to say why the job was left pending if the process stops first.
    let last_error = std::sync::Mutex::new(None);
    let retried = call
        .retry(
            ExponentialBuilder::new()
                .with_min_delay(Duration::from_millis(20))
                .with_max_delay(Duration::from_secs(1))
                .without_max_times(),
        )
        .sleep(tokio::time::sleep)
        .when(BrokerError::is_transient)
        .notify(|error, _| *lock(&last_error) = Some(error.clone()));
    tokio::select! {
        told = retried => told,
        () = async {
            stop.cancelled().await;
            tokio::time::sleep(GRACE_AFTER_STOP).await;
        } => Err(lock(&last_error)
            .take()
            .unwrap_or_else(|| BrokerError::Lost("the process was stopped".to_owned()))),
    }
}
