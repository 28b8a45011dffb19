//! Stage 6: the pool beyond one process.
//!
//! The queue is a Redis stream; the workers are tasks in any number of worker processes, on any
//! number of machines, that read it through one consumer group. What a process did in memory in
//! stages 1–5 now has to survive the process: a job handed to a worker stays *pending* until the
//! worker acknowledges it, and a worker that dies leaves it to be taken over when its lease runs
//! out. Delivery is at least once, so recording a job's effect must be idempotent.

pub mod broker;
pub mod cli;
pub mod demo;
pub mod memory_broker;
pub mod metrics;
pub mod produce;
pub mod redis_broker;
pub mod server;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use backon::{ExponentialBuilder, Retryable};
use pool_core::work;
use stage_3_cancel::{JobError, Outcome};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

pub use broker::{Broker, BrokerError, DeadLetter, Delivery, JobSpec, Recorded, Status};
pub use memory_broker::MemoryBroker;
pub use metrics::WorkMetrics;
pub use produce::{ProduceSettings, produce};
pub use redis_broker::RedisBroker;
pub use server::PrivateRedis;

// ANCHOR: settings
/// How one worker process works: `work --workers W --lease D --max-deliveries K`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkSettings {
    /// Jobs this process runs at once. The stream's read count is the number of free workers,
    /// so this is also the prefetch: a process never holds a job it has no worker for.
    pub workers: usize,
    /// How long a delivered job may go without news from its worker before another worker may
    /// take it over. A worker extends the lease while a job runs, so only a dead or stuck worker
    /// loses its jobs.
    pub lease: Duration,
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

// ANCHOR: settled
/// What the queue made of one delivery once its job had run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// Its result is recorded and the job acknowledged.
    Recorded,
    /// An earlier run had recorded the result: acknowledged, and nothing else changed.
    Duplicate,
    /// It failed and stays pending: once its lease runs out, some worker takes it over and
    /// tries again.
    LeftForRetry,
    /// Its last allowed delivery failed: moved to the dead-letter stream and acknowledged.
    DeadLettered,
    /// The broker could not be told (it stayed away through every retry). The job stays
    /// pending, and is taken over when its lease runs out.
    Unsettled(String),
}

/// One delivery, start to end: stage 3's outcome of the run, and what the queue made of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handled {
    /// Which delivery of the job this was (1 for the first).
    pub delivery: u64,
    /// Whether this delivery came from taking over a job whose lease ran out.
    pub taken_over: bool,
    /// How the run went, in stage 3's words.
    pub outcome: Outcome,
    /// What the queue made of it.
    pub settled: Settled,
}
// ANCHOR_END: settled

/// Everything one worker process did: a line per delivery it handled, in the order they ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Account {
    /// Every delivery this process handled.
    pub handled: Vec<Handled>,
}

impl Account {
    /// Deliveries whose result this process recorded first.
    pub fn recorded(&self) -> usize {
        self.count(|handled| handled.settled == Settled::Recorded)
    }

    /// Deliveries that ran a job whose result was already recorded.
    pub fn duplicates(&self) -> usize {
        self.count(|handled| handled.settled == Settled::Duplicate)
    }

    /// Deliveries that failed and were left for another try.
    pub fn left_for_retry(&self) -> usize {
        self.count(|handled| handled.settled == Settled::LeftForRetry)
    }

    /// Jobs this process moved to the dead-letter stream.
    pub fn dead_lettered(&self) -> usize {
        self.count(|handled| handled.settled == Settled::DeadLettered)
    }

    /// Deliveries the broker could not be told about.
    pub fn unsettled(&self) -> usize {
        self.count(|handled| matches!(handled.settled, Settled::Unsettled(_)))
    }

    /// Deliveries this process took over from a worker whose lease ran out.
    pub fn taken_over(&self) -> usize {
        self.count(|handled| handled.taken_over)
    }

    fn count(&self, kind: impl Fn(&Handled) -> bool) -> usize {
        self.handled.iter().filter(|handled| kind(handled)).count()
    }

    /// One line: what this process's deliveries came to.
    pub fn summary(&self) -> String {
        format!(
            "{} deliveries: {} recorded, {} duplicates, {} failed and left for retry, \
             {} dead-lettered, {} left pending; {} taken over from other workers",
            self.handled.len(),
            self.recorded(),
            self.duplicates(),
            self.left_for_retry(),
            self.dead_lettered(),
            self.unsettled(),
            self.taken_over(),
        )
    }
}

/// The queue's state in one line, as `status` and the demo print it: every job submitted is
/// completed, dead-lettered, pending (delivered, not yet acknowledged) or waiting to be read.
pub fn status_text(status: &Status) -> String {
    let by_worker: Vec<String> = status
        .pending
        .iter()
        .map(|(consumer, jobs)| format!("{consumer}: {jobs}"))
        .collect();
    let by_worker = if by_worker.is_empty() {
        String::new()
    } else {
        format!(" ({})", by_worker.join(", "))
    };
    format!(
        "account: {} completed, {} dead-lettered, {} pending{by_worker}, {} waiting = {} jobs \
         submitted; {} duplicate runs",
        status.completed,
        status.dead_lettered,
        status.in_flight(),
        status.waiting(),
        status.submitted,
        status.duplicates,
    )
}

/// The queue's state as one JSON object, as `status --json` prints it.
pub fn status_json(status: &Status) -> serde_json::Value {
    serde_json::json!({
        "submitted": status.submitted,
        "completed": status.completed,
        "pending": status.in_flight(),
        "pending_by_worker": status.pending,
        "waiting": status.waiting(),
        "dead_lettered": status.dead_lettered,
        "duplicates": status.duplicates,
    })
}

// ANCHOR: job
/// The work itself: sleep for the job's work time, then square its number — or, for a poison
/// job, fail, every time.
pub async fn run_job(spec: JobSpec) -> Result<u64, JobError> {
    // Not even a zero-length sleep for a job without work: tokio's timer fires on a millisecond
    // tick, so `sleep(0)` can take a millisecond.
    if !spec.work.is_zero() {
        tokio::time::sleep(spec.work).await;
    }
    if spec.poison {
        return Err(JobError::Failed(format!(
            "job {} is poison: it fails on every delivery",
            spec.job.id
        )));
    }
    Ok(work::square(spec.job.number))
}
// ANCHOR_END: job

/// How long a worker keeps trying to tell the broker a job's fate (and how long the producer
/// keeps trying to add a job) while the broker is away, before it gives up on that one call.
const RETRY: ExponentialBuilder = ExponentialBuilder::new()
    .with_min_delay(Duration::from_millis(20))
    .with_max_delay(Duration::from_secs(1))
    .with_max_times(20);

/// Runs `call` until it succeeds, retrying with backoff while the connection is lost (the
/// connection manager reconnects underneath). Any other error is returned at once.
pub(crate) async fn retrying<T, F, Fut>(what: &str, call: F) -> Result<T, BrokerError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, BrokerError>>,
{
    call.retry(RETRY)
        .sleep(tokio::time::sleep)
        .when(|error| matches!(error, BrokerError::Lost(_)))
        .notify(|error, after| tracing::warn!("{what}: {error}; trying again in {after:?}"))
        .await
}

// ANCHOR: work
/// One worker process: `settings.workers` workers sharing the consumer name `consumer`.
///
/// It reads as many jobs as it has free workers, runs each on a task of its own, and settles
/// each with the broker. It takes over jobs whose lease ran out and extends the leases of its own.
/// When `stop` is cancelled it reads no more, finishes and settles the jobs in hand, and returns.
pub async fn work<B: Broker>(
    broker: Arc<B>,
    consumer: &str,
    settings: WorkSettings,
    metrics: &WorkMetrics,
    stop: &CancellationToken,
) -> Account {
    assert!(
        settings.workers > 0,
        "a worker process needs at least one worker"
    );
    // The free workers, by id: a worker takes a job and hands its id back when the job is
    // settled. Waiting on this channel is waiting for a free worker — blocking, not polling.
    let (free_sender, mut free_workers) = mpsc::unbounded_channel::<usize>();
    for worker_id in 1..=settings.workers {
        let _ = free_sender.send(worker_id);
    }
    let mut running = JoinSet::new();
    let mut account = Account::default();
    let mut next_reclaim = Instant::now();
    let mut idle_since: Option<Instant> = None;

    loop {
        let first = tokio::select! {
            biased;
            () = stop.cancelled() => break,
            // Finished jobs first, so that the account and the metrics keep up with them.
            Some(ended) = running.join_next() => {
                account.handled.push(joined(ended, metrics));
                continue;
            }
            Some(worker_id) = free_workers.recv() => worker_id,
        };
        let mut free = vec![first];
        while let Ok(worker_id) = free_workers.try_recv() {
            free.push(worker_id);
        }

        let now = Instant::now();
        let reclaim = now >= next_reclaim;
        if reclaim {
            next_reclaim = now + settings.heartbeat();
            if let Ok(status) = broker.status().await {
                metrics.set_lag(status.waiting());
            }
        }
        let fetched = fetch(&*broker, consumer, &settings, free.len(), reclaim).await;
        let all_free = free.len() == settings.workers;
        if fetched.is_empty() && all_free {
            let since = *idle_since.get_or_insert(now);
            if settings
                .exit_when_idle
                .is_some_and(|idle| now.duration_since(since) >= idle)
                && drained(&*broker).await
            {
                break;
            }
        } else {
            idle_since = None;
        }

        // A worker for each job fetched; the rest go back to wait for the next read.
        let mut free = free.into_iter();
        for ((delivery, taken_over), worker_id) in fetched.into_iter().zip(&mut free) {
            let broker = Arc::clone(&broker);
            let consumer = consumer.to_owned();
            let free = free_sender.clone();
            metrics.started(taken_over);
            // Every log line about the job names the worker, the job and the delivery.
            let span = tracing::info_span!(
                "job",
                worker = consumer,
                slot = worker_id,
                job = delivery.spec.job.id,
                delivery = delivery.count
            );
            let job = async move {
                let handled = handle(
                    &*broker, &consumer, worker_id, delivery, taken_over, &settings,
                )
                .await;
                let _ = free.send(worker_id);
                handled
            };
            running.spawn(job.instrument(span));
        }
        for worker_id in free {
            let _ = free_sender.send(worker_id);
        }
    }

    while let Some(ended) = running.join_next().await {
        account.handled.push(joined(ended, metrics));
    }
    account
}
// ANCHOR_END: work

/// Whether every job in the stream is finished, completed or dead-lettered. A worker with
/// nothing to do does not exit while jobs are pending elsewhere: their worker may be dead, and
/// they may be this worker's to take over when their lease runs out.
async fn drained<B: Broker>(broker: &B) -> bool {
    broker
        .status()
        .await
        .is_ok_and(|status| status.backlog() == 0)
}

/// A job task's result. Job tasks do not panic (the job is ours, and every broker error is a
/// value), so a task that did is a bug, reported as such.
fn joined(ended: Result<Handled, tokio::task::JoinError>, metrics: &WorkMetrics) -> Handled {
    match ended {
        Ok(handled) => {
            metrics.ended(&handled);
            handled
        }
        Err(error) => std::panic::resume_unwind(error.into_panic()),
    }
}

// ANCHOR: fetch
/// Up to `count` deliveries for the free workers: first jobs whose lease ran out (when it is
/// time to look), then new ones, waiting a little for the first if there are none. A broker that
/// is away gives nothing this time; the loop asks again.
async fn fetch<B: Broker>(
    broker: &B,
    consumer: &str,
    settings: &WorkSettings,
    count: usize,
    reclaim: bool,
) -> Vec<(Delivery, bool)> {
    let mut fetched = Vec::with_capacity(count);
    if reclaim {
        match broker.claim_expired(consumer, settings.lease, count).await {
            Ok(claimed) => fetched.extend(claimed.into_iter().map(|delivery| (delivery, true))),
            Err(error) => tracing::warn!(worker = consumer, "cannot take over jobs: {error}"),
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
            Err(error) => {
                tracing::warn!(worker = consumer, "cannot read jobs: {error}");
                // Do not spin on a broker that is away: wait before the loop asks again.
                tokio::time::sleep(block).await;
            }
        }
    }
    fetched
}
// ANCHOR_END: fetch

/// The longest a read waits for new jobs before the loop goes round again.
const READ_BLOCK: Duration = Duration::from_millis(500);

// ANCHOR: handle
/// One delivery: run the job while keeping its lease, then settle it with the broker.
async fn handle<B: Broker>(
    broker: &B,
    consumer: &str,
    worker_id: usize,
    delivery: Delivery,
    taken_over: bool,
    settings: &WorkSettings,
) -> Handled {
    let job_id = delivery.spec.job.id;
    if taken_over {
        tracing::info!("taken over: its lease ran out");
    }
    if delivery.count > settings.max_deliveries {
        // Delivered again after its last allowed delivery: its workers died with it in hand.
        let error = format!(
            "no worker finished it in {} deliveries",
            settings.max_deliveries
        );
        let settled = dead_letter(broker, delivery, &error).await;
        let outcome = Outcome::Failed {
            job_id,
            worker_id,
            message: error,
        };
        return Handled {
            delivery: delivery.count,
            taken_over,
            outcome,
            settled,
        };
    }

    let started_at = SystemTime::now();
    let ran = keeping_lease(broker, consumer, job_id, settings, run_job(delivery.spec)).await;
    let outcome = Outcome::from_run(job_id, worker_id, Ok(ran), started_at, SystemTime::now());
    let settled = match &outcome {
        Outcome::Completed(result) => {
            match retrying("record a result", || {
                broker.complete(delivery, result.output)
            })
            .await
            {
                Ok(Recorded::First) => Settled::Recorded,
                Ok(Recorded::Duplicate) => Settled::Duplicate,
                Err(error) => Settled::Unsettled(error.to_string()),
            }
        }
        Outcome::Failed { message, .. } if delivery.count >= settings.max_deliveries => {
            dead_letter(broker, delivery, message).await
        }
        Outcome::Failed { .. } | Outcome::Cancelled { .. } => Settled::LeftForRetry,
    };
    match &settled {
        Settled::Unsettled(error) => tracing::warn!("left pending: {error}"),
        Settled::LeftForRetry => tracing::info!("failed; left for another delivery"),
        settled => tracing::info!("{}", describe(settled)),
    }
    Handled {
        delivery: delivery.count,
        taken_over,
        outcome,
        settled,
    }
}
// ANCHOR_END: handle

fn describe(settled: &Settled) -> &'static str {
    match settled {
        Settled::Recorded => "completed",
        Settled::Duplicate => "completed again; its result was already recorded",
        Settled::LeftForRetry => "failed; left for another delivery",
        Settled::DeadLettered => "moved to the dead-letter stream",
        Settled::Unsettled(_) => "left pending",
    }
}

async fn dead_letter<B: Broker>(broker: &B, delivery: Delivery, error: &str) -> Settled {
    match retrying("dead-letter a job", || broker.dead_letter(delivery, error)).await {
        Ok(()) => Settled::DeadLettered,
        Err(failure) => Settled::Unsettled(failure.to_string()),
    }
}

// ANCHOR: keeping_lease
/// Runs `job`, extending the job's lease every heartbeat while it runs, so that a job longer
/// than the lease is not taken over from a worker that is still on it.
async fn keeping_lease<B: Broker, T>(
    broker: &B,
    consumer: &str,
    job_id: u64,
    settings: &WorkSettings,
    job: impl Future<Output = T>,
) -> T {
    let mut job = std::pin::pin!(job);
    let mut heartbeat =
        tokio::time::interval_at(Instant::now() + settings.heartbeat(), settings.heartbeat());
    loop {
        tokio::select! {
            done = &mut job => return done,
            _ = heartbeat.tick() => {
                if let Err(error) = broker.extend_lease(consumer, job_id).await {
                    tracing::warn!("cannot extend the lease: {error}");
                }
            }
        }
    }
}
// ANCHOR_END: keeping_lease
