//! The worker pool in async Rust: W tasks on tokio pull jobs from one bounded queue.
//!
//! The shape is stage 3's: a bounded queue, a fixed set of workers, an [`Outcome`] per job that
//! ran, cancellation that stops intake and hands unstarted jobs back, and an [`Account`] of every
//! job. What changes is what a worker is (a task, not a thread) and what waiting means (an
//! `.await` that frees the thread for other tasks, not a blocked thread).

use std::future::Future;
use std::sync::Arc;

use pool_core::panic_message;
use tokio::sync::{Mutex, mpsc};
use tokio::task::JoinError;
use tokio_util::sync::CancellationToken;
use tokio_util::task::{AbortOnDropHandle, TaskTracker};

// ANCHOR: outcome
/// Why a job's work did not produce an output: stage 3's `JobError`, with an error of any type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobError<E> {
    /// The work gave up because the run was cancelled.
    Cancelled,
    /// The work failed; `E` says how.
    Failed(E),
}

/// How a job's work failed: it returned an error, or it panicked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure<E> {
    /// The work returned this error.
    Error(E),
    /// The work panicked, with this message.
    Panicked(String),
}

/// What became of one job that a worker took from the queue: stage 3's three outcomes, for a job
/// of any type `T` whose work returns an `O` or fails with an `E`. Each carries the job back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<T, O, E> {
    /// The work finished and produced `output`.
    Completed {
        /// Numbered from 1 in the order the jobs were submitted.
        job_id: u64,
        /// The worker task that ran it, from 1.
        worker_id: usize,
        /// The job.
        input: T,
        /// What the work returned.
        output: O,
    },
    /// The work returned an error or panicked.
    Failed {
        /// The job's number.
        job_id: u64,
        /// The worker that ran it.
        worker_id: usize,
        /// The job.
        input: T,
        /// The error, or the panic's message.
        failure: Failure<E>,
    },
    /// The run was cancelled while the job was running, and the job stopped.
    Cancelled {
        /// The job's number.
        job_id: u64,
        /// The worker that was running it.
        worker_id: usize,
        /// The job.
        input: T,
    },
}
// ANCHOR_END: outcome

impl<T, O, E> Outcome<T, O, E> {
    /// The job's number, whatever became of it.
    pub fn job_id(&self) -> u64 {
        match self {
            Self::Completed { job_id, .. }
            | Self::Failed { job_id, .. }
            | Self::Cancelled { job_id, .. } => *job_id,
        }
    }
}

// ANCHOR: account
/// The end of a run: every submitted job is in exactly one of `outcomes` or `never_started`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account<T, O, E> {
    /// One per job a worker took, in the order they finished.
    pub outcomes: Vec<Outcome<T, O, E>>,
    /// Jobs no worker took before the run was cancelled, with their numbers, handed back.
    pub never_started: Vec<(u64, T)>,
}
// ANCHOR_END: account

impl<T, O, E> Account<T, O, E> {
    /// Jobs that produced an output.
    pub fn completed(&self) -> usize {
        self.count(|outcome| matches!(outcome, Outcome::Completed { .. }))
    }

    /// Jobs whose work returned an error or panicked.
    pub fn failed(&self) -> usize {
        self.count(|outcome| matches!(outcome, Outcome::Failed { .. }))
    }

    /// Jobs stopped in the middle by the cancellation.
    pub fn cancelled(&self) -> usize {
        self.count(|outcome| matches!(outcome, Outcome::Cancelled { .. }))
    }

    /// Every job the account covers; equal to the jobs submitted.
    pub fn total(&self) -> usize {
        self.outcomes.len() + self.never_started.len()
    }

    fn count(&self, kind: impl Fn(&Outcome<T, O, E>) -> bool) -> usize {
        self.outcomes.iter().filter(|outcome| kind(outcome)).count()
    }
}

/// What a worker sends back for each job it takes out of the queue, as in stage 3.
enum FromWorker<T, O, E> {
    Ran(Outcome<T, O, E>),
    NotStarted(u64, T),
}

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
fn outcome<T, O, E>(
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
            Failure::Panicked(format!("panicked: {message}"))
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
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    type Numbers = Account<u64, u64, String>;

    async fn square_all(workers: usize, queue: usize, jobs: u64) -> Numbers {
        run_pool(
            workers,
            queue,
            1..=jobs,
            |_, &number, _| async move { Ok(number * number) },
            &CancellationToken::new(),
            |_| {},
        )
        .await
    }

    #[tokio::test]
    async fn errors_and_panics_are_failures_and_the_worker_carries_on() {
        let account = run_pool(
            1,
            1,
            1..=3u64,
            |_, &number, _| async move {
                assert!(number != 2, "job two gives up");
                if number == 3 {
                    return Err(JobError::Failed("three is odd".to_owned()));
                }
                Ok(number)
            },
            &CancellationToken::new(),
            |_| {},
        )
        .await;
        let failures: Vec<_> = account
            .outcomes
            .iter()
            .map(|outcome| match outcome {
                Outcome::Failed { failure, .. } => Some(failure.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(
            failures,
            [
                None,
                Some(Failure::Panicked("panicked: job two gives up".to_owned())),
                Some(Failure::Error("three is odd".to_owned())),
            ]
        );
        assert_eq!((account.completed(), account.failed()), (1, 2));
    }

    #[tokio::test]
    async fn every_job_runs_once_on_a_worker_in_range() {
        let account = square_all(3, 4, 100).await;
        let mut ids: Vec<u64> = account.outcomes.iter().map(Outcome::job_id).collect();
        ids.sort_unstable();
        assert_eq!(ids, (1..=100).collect::<Vec<_>>());
        for outcome in &account.outcomes {
            let Outcome::Completed {
                worker_id,
                input,
                output,
                ..
            } = outcome
            else {
                panic!("every job completes: {outcome:?}");
            };
            assert_eq!(*output, input * input);
            assert!((1..=3).contains(worker_id));
        }
        assert!(account.never_started.is_empty());
    }

    /// An aborted job task is cancelled, not panicked: `into_panic` on it would panic.
    #[tokio::test]
    async fn an_aborted_job_is_cancelled_not_a_panic() {
        let job = tokio::spawn(std::future::pending::<Result<u64, JobError<String>>>());
        job.abort();
        let ended = job.await;
        assert!(ended.as_ref().is_err_and(JoinError::is_cancelled));
        assert_eq!(
            outcome(7, 1, 7u64, ended),
            Outcome::Cancelled {
                job_id: 7,
                worker_id: 1,
                input: 7
            }
        );
    }

    /// tokio's paused clock: the sleeps below take no real time, and the test is exact.
    #[tokio::test(start_paused = true)]
    async fn a_cancelled_run_hands_back_every_job_it_did_not_start() {
        let token = CancellationToken::new();
        let started = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&started);
        let canceller = token.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(250)).await;
            canceller.cancel();
        });
        let account: Numbers = run_pool(
            2,
            2,
            1..=10u64,
            move |_, &number, token: CancellationToken| {
                counter.fetch_add(1, Ordering::SeqCst);
                async move {
                    tokio::select! {
                        () = token.cancelled() => Err(JobError::Cancelled),
                        () = tokio::time::sleep(Duration::from_millis(100)) => Ok(number),
                    }
                }
            },
            &token,
            |_| {},
        )
        .await;
        // Two workers, 100 ms jobs, cancelled at 250 ms: rounds at 0, 100 and 200 ms started six
        // jobs, four finished, the two of the third round were cancelled, four never started.
        assert_eq!(started.load(Ordering::SeqCst), 6);
        assert_eq!(
            (account.completed(), account.cancelled(), account.failed()),
            (4, 2, 0)
        );
        let unstarted: Vec<u64> = account.never_started.iter().map(|(id, _)| *id).collect();
        assert_eq!(unstarted, [7, 8, 9, 10]);
        assert_eq!(account.total(), 10);
    }

    /// Counts the jobs whose task is alive: up when the task starts, down when its future is
    /// dropped, however it ends (finished, or aborted mid-way).
    struct Alive(Arc<AtomicUsize>);

    impl Alive {
        fn new(count: &Arc<AtomicUsize>) -> Self {
            count.fetch_add(1, Ordering::SeqCst);
            Self(Arc::clone(count))
        }
    }

    impl Drop for Alive {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Jobs that never end on their own, so that only the pool can end them.
    fn endless_jobs(
        alive: &Arc<AtomicUsize>,
    ) -> impl Fn(usize, &u64, CancellationToken) -> BoxedJob + Send + Sync + 'static {
        let alive = Arc::clone(alive);
        move |_, _, token: CancellationToken| {
            let alive = Arc::clone(&alive);
            Box::pin(async move {
                let _alive = Alive::new(&alive);
                token.cancelled().await;
                Err(JobError::Cancelled)
            })
        }
    }

    type BoxedJob =
        std::pin::Pin<Box<dyn Future<Output = Result<u64, JobError<String>>> + Send + 'static>>;

    /// Dropping the run's future mid-way (as a `select!` or a timeout around it would) aborts
    /// every worker and every job's task: none is left running. On tokio's one-thread test
    /// runtime, an aborted task is dropped the next time the scheduler gets to it, so yielding
    /// a few times is enough, with no timing involved.
    #[tokio::test]
    async fn dropping_the_run_leaves_no_job_running() {
        let alive = Arc::new(AtomicUsize::new(0));
        let token = CancellationToken::new();
        let run = run_pool(4, 4, 1..=20u64, endless_jobs(&alive), &token, |_| {});
        // Run it until four jobs are in flight, then give up on it.
        let mut run = Box::pin(run);
        while alive.load(Ordering::SeqCst) < 4 {
            tokio::select! {
                biased;
                _ = &mut run => panic!("endless jobs do not end"),
                () = tokio::task::yield_now() => {}
            }
        }
        drop(run);
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert_eq!(alive.load(Ordering::SeqCst), 0, "a job outlived its pool");
    }

    /// Cancelling instead: `run_pool` returns only once every job's task has ended.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cancelled_run_returns_after_every_job_has_ended() {
        let alive = Arc::new(AtomicUsize::new(0));
        let token = CancellationToken::new();
        let canceller = token.clone();
        let watched = Arc::clone(&alive);
        tokio::spawn(async move {
            while watched.load(Ordering::SeqCst) < 4 {
                tokio::task::yield_now().await;
            }
            canceller.cancel();
        });
        let account = run_pool(4, 4, 1..=20u64, endless_jobs(&alive), &token, |_| {}).await;
        assert_eq!(alive.load(Ordering::SeqCst), 0, "a job outlived its pool");
        assert_eq!(account.cancelled(), 4);
        assert_eq!(account.total(), 20);
    }
}
