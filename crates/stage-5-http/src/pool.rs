//! The worker pool in async Rust: W tasks on tokio pull jobs from one bounded queue.
//!
//! The shape is stage 3's: a bounded queue, a fixed set of workers, outcomes back on a channel,
//! cancellation that stops intake and hands unstarted jobs back. What changes is what a worker
//! is (a task, not a thread) and what waiting means (an `.await` that frees the thread for other
//! tasks, not a blocked thread).

use std::future::Future;
use std::sync::Arc;

use tokio::sync::{Mutex, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// What became of one job a worker took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done<T, O> {
    /// Numbered from 1 in the order the jobs were submitted.
    pub job_id: u64,
    /// The worker task that ran it, from 1.
    pub worker_id: usize,
    /// The job itself.
    pub input: T,
    /// What the work returned, or the message of the panic that ended it instead.
    pub output: Result<O, String>,
}

/// The end of a run: every job is either in `done` or in `never_started`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished<T, O> {
    /// The jobs a worker ran, in the order they finished.
    pub done: Vec<Done<T, O>>,
    /// The jobs no worker started before the run was cancelled, with their ids.
    pub never_started: Vec<(u64, T)>,
}

enum FromWorker<T, O> {
    Ran(Done<T, O>),
    NotStarted(u64, T),
}

/// Everyone's end of the job queue. A tokio `mpsc` receiver has a single owner, so the workers
/// share it behind an async mutex: the worker holding the lock waits for the next job, the others
/// wait for the lock, and each job goes to exactly one worker.
type SharedQueue<T> = Arc<Mutex<mpsc::Receiver<(u64, T)>>>;

// ANCHOR: worker
/// One worker task: takes jobs until the queue is closed and empty or the run is cancelled, runs
/// each as a task of its own so that a panic becomes its outcome, and sends back what became of
/// it. A job taken after the cancellation is handed back instead of run.
async fn worker<T, O, W, F>(
    id: usize,
    queue: SharedQueue<T>,
    outcomes: mpsc::UnboundedSender<FromWorker<T, O>>,
    work: Arc<W>,
    token: CancellationToken,
) where
    W: Fn(usize, T, CancellationToken) -> F,
    F: Future<Output = O> + Send + 'static,
    O: Send + 'static,
    T: Clone,
{
    loop {
        let next = {
            let mut queue = queue.lock().await;
            tokio::select! {
                // Biased: a cancelled run takes no more jobs, even if some are queued.
                biased;
                () = token.cancelled() => None,
                job = queue.recv() => job,
            }
        };
        // `None`: cancelled, or the queue is closed and empty.
        let Some((job_id, input)) = next else { break };
        if token.is_cancelled() {
            let _ = outcomes.send(FromWorker::NotStarted(job_id, input));
            continue;
        }
        // The job runs as a task of its own so that a panic in it ends that task, not this
        // worker: the panic comes back as an error and becomes the job's outcome.
        let output = tokio::spawn(work(id, input.clone(), token.clone()))
            .await
            .map_err(|error| panic_message(error.into_panic()));
        let done = Done {
            job_id,
            worker_id: id,
            input,
            output,
        };
        // The receiver lives until every worker has finished, so this cannot fail.
        let _ = outcomes.send(FromWorker::Ran(done));
    }
}
// ANCHOR_END: worker

/// The text a panic was raised with, if it was raised with text.
fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned());
    format!("panicked: {}", text.as_deref().unwrap_or("(no message)"))
}

// ANCHOR: run_pool
/// Runs every job on `workers` tasks, with at most `queue` jobs waiting, calling `on_done` as
/// each job finishes. Returns once every worker task has ended, with an account of every job.
///
/// tokio's bounded channels need room for at least one message, so a `queue` of 0 is taken as 1:
/// there is no rendezvous channel here as there was in the thread stages.
///
/// # Panics
///
/// If `workers` is 0.
pub async fn run_pool<T, O, W, F>(
    workers: usize,
    queue: usize,
    jobs: impl IntoIterator<Item = T>,
    work: W,
    token: &CancellationToken,
    mut on_done: impl FnMut(&Done<T, O>),
) -> Finished<T, O>
where
    T: Clone + Send + 'static,
    O: Send + 'static,
    W: Fn(usize, T, CancellationToken) -> F + Send + Sync + 'static,
    F: Future<Output = O> + Send + 'static,
{
    assert!(workers > 0, "a pool needs at least one worker");
    let (job_sender, job_receiver) = mpsc::channel::<(u64, T)>(queue.max(1));
    let queue: SharedQueue<T> = Arc::new(Mutex::new(job_receiver));
    let (outcome_sender, mut outcomes) = mpsc::unbounded_channel();
    let work = Arc::new(work);

    // A TaskTracker is tokio's WaitGroup: `wait` returns once every task spawned on it has ended.
    let tracker = TaskTracker::new();
    for id in 1..=workers {
        let worker = worker(
            id,
            Arc::clone(&queue),
            outcome_sender.clone(),
            Arc::clone(&work),
            token.clone(),
        );
        tracker.spawn(worker);
    }
    tracker.close();
    drop(outcome_sender);

    // Submit and collect at the same time: the queue is bounded, so submitting alone would stall
    // on a full queue while finished outcomes pile up unread.
    let submit = async {
        let mut never_submitted = Vec::new();
        let mut jobs = (1..).zip(jobs);
        for (job_id, input) in jobs.by_ref() {
            tokio::select! {
                biased;
                () = token.cancelled() => {
                    never_submitted.push((job_id, input));
                    break;
                }
                sent = job_sender.send((job_id, input.clone())) => {
                    sent.expect("run_pool holds the queue's receiver until the end");
                }
            }
        }
        never_submitted.extend(jobs);
        drop(job_sender); // Close the queue: workers finish what is queued, then end.
        never_submitted
    };
    let collect = async {
        let mut done = Vec::new();
        let mut handed_back = Vec::new();
        // Ends when the last worker has dropped its sender.
        while let Some(message) = outcomes.recv().await {
            match message {
                FromWorker::Ran(finished) => {
                    on_done(&finished);
                    done.push(finished);
                }
                FromWorker::NotStarted(job_id, input) => handed_back.push((job_id, input)),
            }
        }
        (done, handed_back)
    };
    let (mut never_started, (done, handed_back)) = tokio::join!(submit, collect);
    tracker.wait().await;

    // Jobs still queued when the workers stopped never started either.
    let mut queue = queue.lock().await;
    while let Ok(job) = queue.try_recv() {
        never_started.push(job);
    }
    never_started.extend(handed_back);
    never_started.sort_by_key(|(job_id, _)| *job_id);
    Finished {
        done,
        never_started,
    }
}
// ANCHOR_END: run_pool

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_job_is_an_outcome_and_its_worker_carries_on() {
        let finished = run_pool(
            1,
            1,
            1..=3u64,
            |_, number, _| async move {
                assert!(number != 2, "job two gives up");
                number
            },
            &CancellationToken::new(),
            |_| {},
        )
        .await;
        let outputs: Vec<_> = finished
            .done
            .iter()
            .map(|done| done.output.clone())
            .collect();
        assert_eq!(
            outputs,
            [Ok(1), Err("panicked: job two gives up".to_owned()), Ok(3)]
        );
    }
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn every_job_runs_once_on_a_worker_in_range() {
        let finished = run_pool(
            3,
            4,
            1..=100u64,
            |_, number, _| async move { number * number },
            &CancellationToken::new(),
            |_| {},
        )
        .await;
        let mut ids: Vec<u64> = finished.done.iter().map(|done| done.job_id).collect();
        ids.sort_unstable();
        assert_eq!(ids, (1..=100).collect::<Vec<_>>());
        assert!(
            finished
                .done
                .iter()
                .all(|done| done.output == Ok(done.input * done.input))
        );
        assert!(
            finished
                .done
                .iter()
                .all(|done| (1..=3).contains(&done.worker_id))
        );
        assert!(finished.never_started.is_empty());
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
        let finished = run_pool(
            2,
            2,
            1..=10u64,
            move |_, number, token: CancellationToken| {
                let counter = Arc::clone(&counter);
                async move {
                    counter.fetch_add(1, Ordering::SeqCst);
                    tokio::select! {
                        () = token.cancelled() => None,
                        () = tokio::time::sleep(Duration::from_millis(100)) => Some(number),
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
        assert_eq!(finished.done.len(), 6);
        assert_eq!(
            finished
                .done
                .iter()
                .filter(|done| matches!(done.output, Ok(Some(_))))
                .count(),
            4
        );
        let unstarted: Vec<u64> = finished.never_started.iter().map(|(id, _)| *id).collect();
        assert_eq!(unstarted, [7, 8, 9, 10]);
    }
}
