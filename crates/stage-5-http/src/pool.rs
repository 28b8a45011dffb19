//! The worker pool in async Rust: W tasks on tokio pull jobs from one bounded queue.
//!
//! The shape is stage 3's: a bounded queue, a fixed set of workers, an [`Outcome`] per job that
//! ran, cancellation that stops intake and hands unstarted jobs back, and an [`Account`] of every
//! job. What changes is what a worker is (a task, not a thread) and what waiting means (an
//! `.await` that frees the thread for other tasks, not a blocked thread).

use std::future::Future;
use std::sync::Arc;

use pool_core::panic_message;
pub use stage_3_cancel::{Account, Failure, FromWorker, JobError, Outcome};
use tokio::sync::{Mutex, mpsc};
use tokio::task::JoinError;
use tokio_util::sync::CancellationToken;
use tokio_util::task::{AbortOnDropHandle, TaskTracker};

// ANCHOR: worker
/// Everyone's end of the job queue. A tokio `mpsc` receiver has a single owner, so the workers
/// share it behind an async mutex: the worker holding the lock waits for the next job, the others
/// wait for the lock, and each job goes to exactly one worker.
type SharedQueue<T> = Arc<Mutex<mpsc::Receiver<(u64, T)>>>;

/// What every worker shares, handed to each when it is spawned.
struct PoolShared<T, O, E, W> {
    queue: SharedQueue<T>,
    outcomes: mpsc::UnboundedSender<FromWorker<T, O, E>>,
    work: Arc<W>,
    token: CancellationToken,
    /// The run's task tracker: each job's task is spawned on it too, not only the workers.
    tracker: TaskTracker,
}

/// One worker task: takes jobs until the queue is closed and empty or the run is cancelled, runs
/// each as a task of its own so that a panic becomes its outcome, and sends back what became of
/// it. A job taken after the cancellation is handed back instead of run.
async fn worker<T, O, E, W, F>(id: usize, pool: PoolShared<T, O, E, W>)
where
    W: Fn(usize, &T, CancellationToken) -> F,
    F: Future<Output = Result<O, JobError<E>>> + Send + 'static,
    O: Send + 'static,
    E: Send + 'static,
{
    loop {
        let next = {
            let mut queue = pool.queue.lock().await;
            tokio::select! {
                // Biased: a cancelled run takes no more jobs, even if some are queued.
                biased;
                () = pool.token.cancelled() => None,
                job = queue.recv() => job,
            }
        };
        // `None`: cancelled, or the queue is closed and empty.
        let Some((job_id, input)) = next else { break };
        if pool.token.is_cancelled() {
            let _ = pool.outcomes.send(FromWorker::NotStarted(job_id, input));
            continue;
        }
        // The job runs as a task of its own, so that a panic in it ends that task and not this
        // worker. It is spawned on the run's tracker, and aborted if this worker is dropped: no
        // job outlives the pool. The work borrows the input; the input itself stays here, to go
        // back in the outcome whatever becomes of the job.
        let job = pool
            .tracker
            .spawn((pool.work)(id, &input, pool.token.clone()));
        let ended = AbortOnDropHandle::new(job).await;
        let outcome = outcome(job_id, id, input, ended);
        // The receiver lives until every worker has finished, so this cannot fail.
        let _ = pool.outcomes.send(FromWorker::Ran(outcome));
    }
}
// ANCHOR_END: worker

// ANCHOR: outcome_of
/// Stage 3's match from what the work returned to an outcome, plus the ways a task can end: a
/// panic is a failure with its message; a task that was aborted (the runtime shutting down) is
/// cancelled, and asking it for a panic (`into_panic`) would itself panic.
pub fn outcome<T, O, E>(
    job_id: u64,
    worker_id: usize,
    input: T,
    ended: Result<Result<O, JobError<E>>, JoinError>,
) -> Outcome<T, O, E> {
    let failure = match ended {
        Ok(Ok(output)) => {
            return Outcome::Completed {
                job_id,
                worker_id,
                input,
                output,
            };
        }
        Ok(Err(JobError::Failed(error))) => Failure::Error(error),
        Err(ended) if ended.is_panic() => {
            let message = panic_message(ended.into_panic().as_ref());
            Failure::Panicked(message)
        }
        Ok(Err(JobError::Cancelled)) | Err(_) => {
            return Outcome::Cancelled {
                job_id,
                worker_id,
                input,
            };
        }
    };
    Outcome::Failed {
        job_id,
        worker_id,
        input,
        failure,
    }
}
// ANCHOR_END: outcome_of

// ANCHOR: run_pool
/// Runs every job on `workers` tasks, with at most `queue` jobs waiting, calling `on_done` as
/// each job finishes. Returns once every worker task and every job's task has ended, with an
/// account of every job.
///
/// Every task this spawns is tracked, and aborted if this future is dropped before it finishes:
/// dropping the run (a `select!` that gives up on it, a timeout around it) leaves nothing running.
///
/// tokio's bounded channels need room for at least one message, so a `queue` of 0 is taken as 1:
/// there is no rendezvous channel here as there was in the thread stages.
///
/// # Panics
///
/// If `workers` is 0.
pub async fn run_pool<T, O, E, W, F>(
    workers: usize,
    queue: usize,
    jobs: impl IntoIterator<Item = T>,
    work: W,
    token: &CancellationToken,
    mut on_done: impl FnMut(&Outcome<T, O, E>),
) -> Account<T, O, E>
where
    T: Send + 'static,
    O: Send + 'static,
    E: Send + 'static,
    W: Fn(usize, &T, CancellationToken) -> F + Send + Sync + 'static,
    F: Future<Output = Result<O, JobError<E>>> + Send + 'static,
{
    assert!(workers > 0, "a pool needs at least one worker");
    let (job_sender, job_receiver) = mpsc::channel::<(u64, T)>(queue.max(1));
    let queue: SharedQueue<T> = Arc::new(Mutex::new(job_receiver));
    let (outcome_sender, mut outcomes) = mpsc::unbounded_channel();
    let work = Arc::new(work);

    // A TaskTracker is tokio's WaitGroup: `wait` returns once every task spawned on it has ended.
    // The handles abort the workers if this future is dropped, and each worker's job with it.
    let tracker = TaskTracker::new();
    let worker_tasks: Vec<AbortOnDropHandle<()>> = (1..=workers)
        .map(|id| {
            let shared = PoolShared {
                queue: Arc::clone(&queue),
                outcomes: outcome_sender.clone(),
                work: Arc::clone(&work),
                token: token.clone(),
                tracker: tracker.clone(),
            };
            AbortOnDropHandle::new(tracker.spawn(worker(id, shared)))
        })
        .collect();
    tracker.close();
    drop(outcome_sender);

    // Submit and collect at the same time: the queue is bounded, so submitting alone would stall
    // on a full queue while finished outcomes pile up unread.
    let submit = async {
        // Moved in, so that it is dropped when submitting ends: that closes the queue, and the
        // workers finish what is queued, then end.
        let job_sender = job_sender;
        let mut jobs = (1..).zip(jobs);
        while let Some((job_id, input)) = jobs.next() {
            // Wait for room first and send after: a cancellation while waiting leaves the job in
            // hand, not lost in a half-finished send, so no job needs to be cloned to submit it.
            tokio::select! {
                biased;
                () = token.cancelled() => {
                    return std::iter::once((job_id, input)).chain(jobs).collect();
                }
                room = job_sender.reserve() => {
                    room.expect("run_pool holds the queue's receiver until the end")
                        .send((job_id, input));
                }
            }
        }
        Vec::new()
    };
    let collect = async {
        let mut ran = Vec::new();
        let mut handed_back = Vec::new();
        // Ends when the last worker has dropped its sender.
        while let Some(message) = outcomes.recv().await {
            match message {
                FromWorker::Ran(outcome) => {
                    on_done(&outcome);
                    ran.push(outcome);
                }
                FromWorker::NotStarted(job_id, input) => handed_back.push((job_id, input)),
            }
        }
        (ran, handed_back)
    };
    let (mut never_started, (outcomes, handed_back)) = tokio::join!(submit, collect);
    tracker.wait().await;
    drop(worker_tasks);

    // Jobs still queued when the workers stopped never started either.
    let mut queue = queue.lock().await;
    while let Ok(job) = queue.try_recv() {
        never_started.push(job);
    }
    never_started.extend(handed_back);
    never_started.sort_by_key(|(job_id, _)| *job_id);
    Account {
        outcomes,
        never_started,
    }
}
// ANCHOR_END: run_pool

#[cfg(test)]
mod tests;
