//! One worker process: stage 5's pool, with the broker for a queue. `settings.workers` worker
//! tasks share one consumer name; a fetcher reads from the broker as many jobs as there are free
//! workers and puts them on the workers' queue, where stage 5's `submit` put the caller's jobs.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use stage_3_cancel::JobError;
use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::{AbortOnDropHandle, TaskTracker};
use tracing::Instrument;

use crate::broker::{Broker, BrokerError, Delivery};
use crate::delivery::{Settled, admit, dead_letter, keeping_lease, settle};
use crate::fetcher::fetch_for_free_workers;
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

// ANCHOR: worker
/// The workers' end of the queue the fetcher fills: each delivery comes with its worker's place,
/// which goes back to the fetcher when the delivery is settled and dropped.
type SharedQueue = Arc<Mutex<mpsc::UnboundedReceiver<(Delivery, OwnedSemaphorePermit)>>>;

/// What every worker shares, handed to each when it is spawned.
struct PoolShared<B, H> {
    consumer: String,
    queue: SharedQueue,
    settled: mpsc::UnboundedSender<(Settled, u64)>,
    broker: Arc<B>,
    handler: Arc<H>,
    settings: WorkSettings,
    token: CancellationToken,
    /// The run's task tracker: each job's task is spawned on it too, not only the workers.
    tracker: TaskTracker,
}

/// One worker task: takes deliveries until the fetcher has stopped and the queue is empty, runs
/// each job as a task of its own so that a panic becomes its outcome, keeping its lease while it
/// runs, and tells the broker what became of it. Only a lost queue stops it early.
async fn worker<B: Broker, H: Handler>(
    id: usize,
    pool: PoolShared<B, H>,
) -> Result<(), BrokerError> {
    loop {
        let next = {
            let mut queue = pool.queue.lock().await;
            queue.recv().await
        };
        // `None`: the fetcher has stopped, and the queue is closed and empty.
        let Some((delivery, _place)) = next else {
            break;
        };
        let (count, span) = (delivery.count, pool.span(id, &delivery));
        let settled = async {
            match admit::<H::Job>(&delivery, &pool.settings) {
                // Its deliveries used up by workers that died with it, or a payload no run reads.
                Err(reason) => {
                    dead_letter(
                        &*pool.broker,
                        &delivery,
                        &reason,
                        &pool.settings,
                        &pool.token,
                    )
                    .await
                }
                Ok(job) => {
                    // The job runs as a task of its own, so that a panic in it ends that task and
                    // not this worker. It is spawned on the run's tracker, and aborted if its
                    // lease is lost or its deadline passes: dropping the handle aborts it.
                    let job = pool
                        .tracker
                        .spawn(pool.handler.handle(delivery.job_id, job));
                    let job = AbortOnDropHandle::new(job);
                    let ran = keeping_lease(&*pool.broker, &delivery, &pool.settings, job).await?;
                    settle(
                        &*pool.broker,
                        delivery,
                        id,
                        ran,
                        &pool.settings,
                        &pool.token,
                    )
                    .await
                }
            }
        }
        .instrument(span)
        .await?;
        // The receiver lives until every worker has finished, so this cannot fail.
        let _ = pool.settled.send((settled, count));
    }
    Ok(())
}
// ANCHOR_END: worker

impl<B, H> PoolShared<B, H> {
    /// Every log line about a delivery names the worker, the job and the delivery.
    fn span(&self, worker_id: usize, delivery: &Delivery) -> tracing::Span {
        tracing::info_span!(
            "job",
            worker = self.consumer,
            slot = worker_id,
            job = delivery.job_id,
            delivery = delivery.count
        )
    }
}

// ANCHOR: run_pool
/// Runs jobs from `broker` on `settings.workers` worker tasks under the consumer name `consumer`,
/// each with `handler`, until `stop` is cancelled (or, with `exit_when_idle`, the queue is
/// drained). Then it reads no more, finishes and settles the jobs in hand, and returns what it
/// did. The only error is the broker losing the queue's state, after which nothing in flight can
/// be settled.
// ANCHOR_END: run_pool
///
/// # Panics
///
/// If `settings.workers` is 0.
///
/// # Example
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// use stage_6_distributed::{
///     Demo, MemoryBroker, ProduceSettings, WorkMetrics, WorkSettings, produce, run_pool,
/// };
/// use tokio_util::sync::CancellationToken;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let broker = Arc::new(MemoryBroker::new());
/// let stop = CancellationToken::new();
/// let jobs = ProduceSettings {
///     jobs: 5,
///     job_duration: Duration::ZERO,
///     fail_every: None,
///     max_backlog: None,
/// };
/// produce(&*broker, jobs, &stop).await.expect("in memory");
///
/// let settings = WorkSettings {
///     workers: 2,
///     lease: Duration::from_secs(10),
///     job_timeout: Duration::from_secs(60),
///     max_deliveries: 3,
///     exit_when_idle: Some(Duration::from_millis(100)),
/// };
/// let tally = run_pool(broker, "worker-1", settings, Demo, &WorkMetrics::default(), &stop)
///     .await
///     .expect("the queue keeps its state");
/// assert_eq!((tally.deliveries, tally.recorded), (5, 5));
/// # }
/// ```
// ANCHOR: run_pool_body
pub async fn run_pool<B: Broker, H: Handler>(
    broker: Arc<B>,
    consumer: &str,
    settings: WorkSettings,
    handler: H,
    metrics: &WorkMetrics,
    stop: &CancellationToken,
) -> Result<Tally, BrokerError> {
    assert!(settings.workers > 0, "a pool needs at least one worker");
    let (deliveries, queue) = mpsc::unbounded_channel();
    let queue: SharedQueue = Arc::new(Mutex::new(queue));
    let (settled_sender, mut settled) = mpsc::unbounded_channel();
    let handler = Arc::new(handler);
    // A place for each worker: the fetcher reads only as many jobs as there are free places.
    let places = Arc::new(Semaphore::new(settings.workers));

    // A worker that finds the queue's state lost says so here, and the run ends with it.
    let (lost_sender, mut lost) = mpsc::unbounded_channel();
    let tracker = TaskTracker::new();
    let workers: Vec<AbortOnDropHandle<()>> = (1..=settings.workers)
        .map(|id| {
            let shared = PoolShared {
                consumer: consumer.to_owned(),
                queue: Arc::clone(&queue),
                settled: settled_sender.clone(),
                broker: Arc::clone(&broker),
                handler: Arc::clone(&handler),
                settings,
                token: stop.clone(),
                tracker: tracker.clone(),
            };
            let lost = lost_sender.clone();
            let running = async move {
                if let Err(error) = worker(id, shared).await {
                    let _ = lost.send(error);
                }
            };
            AbortOnDropHandle::new(tracker.spawn(running))
        })
        .collect();
    tracker.close();
    drop((settled_sender, lost_sender));

    // Fetch and collect at the same time, as stage 5 submits and collects: the fetcher waits for
    // free places, which the workers give back as they settle what the collector counts.
    let fetching = async {
        // Moved in, so that it is dropped when fetching ends: that closes the queue, and the
        // workers finish what is queued, then end.
        let deliveries = deliveries;
        fetch_for_free_workers(
            &*broker,
            consumer,
            &settings,
            &places,
            &deliveries,
            metrics,
            stop,
        )
        .await
    };
    let collecting = async {
        let mut tally = Tally::default();
        // Ends when the last worker has dropped its sender.
        while let Some((settled, count)) = settled.recv().await {
            metrics.ended(&settled);
            tally.add(&settled, count > 1);
        }
        tally
    };
    let lost_state = async {
        match lost.recv().await {
            Some(error) => error,
            // Every worker ended without one: nothing to report, ever.
            None => std::future::pending().await,
        }
    };
    let tally = tokio::select! {
        // Nothing in flight can be settled on a queue that is gone: the workers are aborted as
        // their handles drop.
        error = lost_state => return Err(error),
        (fetched, tally) = async { tokio::join!(fetching, collecting) } => {
            fetched?;
            tally
        }
    };
    // The collector saw every worker's sender dropped: every worker has returned.
    drop(workers);
    // A process that stopped cleanly holds nothing, and leaves no name behind in the group.
    if let Err(error) = broker.leave(consumer).await {
        tracing::warn!("cannot leave the consumer group: {error}");
    }
    Ok(tally)
}
// ANCHOR_END: run_pool_body
