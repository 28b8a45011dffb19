//! `run_pool`'s promises, on tokio's runtime: every job once, in range, errors and panics as
//! failures, cancellation handing back what never started, nothing left running.
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
            Some(Failure::Panicked("job two gives up".to_owned())),
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

/// How many jobs the submitter has taken from its iterator once the only worker is busy for
/// good: the one running, those the queue holds, and one in hand, waiting for room. On tokio's
/// paused clock the sleep ends only when every task is idle, so it is read once the pool has
/// settled, with no guessed time.
async fn jobs_taken_with_the_only_worker_busy(queue: usize) -> usize {
    let alive = Arc::new(AtomicUsize::new(0));
    let taken = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&taken);
    let jobs = (1..=10u64).inspect(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    let token = CancellationToken::new();
    let run = run_pool(1, queue, jobs, endless_jobs(&alive), &token, |_| {});
    let settled = async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let taken = taken.load(Ordering::SeqCst);
        token.cancel();
        taken
    };
    let (account, taken) = tokio::join!(run, settled);
    assert_eq!(account.total(), 10);
    taken
}

/// tokio's bounded channel needs room for one job, so `--queue 0` cannot be a rendezvous (which
/// would hold none: one job running, one in hand): it is a queue of one.
#[tokio::test(start_paused = true)]
async fn a_queue_of_0_is_a_queue_of_one() {
    assert_eq!(jobs_taken_with_the_only_worker_busy(0).await, 3);
    assert_eq!(jobs_taken_with_the_only_worker_busy(1).await, 3);
    assert_eq!(jobs_taken_with_the_only_worker_busy(2).await, 4);
}
