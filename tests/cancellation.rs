//! Stage 3's promises, in-process: a deadline stops the jobs in flight within milliseconds, and
//! however a run is cut short, every submitted job is accounted for exactly once.
//!
//! The tests that time something, and the one that keeps the CPU busy, take `SERIAL` so that
//! they never run at once. Margins are tens of milliseconds against wake-ups that take well
//! under one.

use std::collections::BTreeSet;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use pool_core::testing::InFlight;
use pool_core::work::{Slept, sleep_unless_cancelled};
use pool_core::{Clock, Console, Job, PoolSize, work};
use stage_3_cancel::{Account, Context, JobError, Outcome, Reason, run_pool};

static SERIAL: Mutex<()> = Mutex::new(());

fn alone() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A job that works for `delay` unless cancelled first.
fn cancellable(
    gauge: &InFlight,
    job: &Job,
    context: &Context,
    delay: Duration,
) -> Result<u64, JobError> {
    let _running = gauge.enter();
    match sleep_unless_cancelled(delay, context.done()) {
        Slept::Full => Ok(work::square(job.number)),
        Slept::Cancelled => Err(JobError::Cancelled),
    }
}

fn jobs(count: u64) -> impl Iterator<Item = Job> {
    (1..=count).map(|id| Job { id, number: id })
}

/// Every job id from 1 to `count` appears exactly once across outcomes and never-started jobs.
fn assert_every_job_once(account: &Account, count: u64, workers: usize) {
    let mut seen = BTreeSet::new();
    for outcome in &account.outcomes {
        let (job_id, worker_id) = match outcome {
            Outcome::Completed(result) => (result.job_id, result.worker_id),
            Outcome::Failed {
                job_id, worker_id, ..
            }
            | Outcome::Cancelled { job_id, worker_id } => (*job_id, *worker_id),
        };
        assert!((1..=workers).contains(&worker_id), "{outcome:?}");
        assert!(seen.insert(job_id), "job {job_id} twice");
    }
    for job in &account.never_started {
        assert!(seen.insert(job.id), "job {} twice", job.id);
    }
    assert_eq!(seen, (1..=count).collect::<BTreeSet<_>>());
    assert_eq!(account.total() as u64, count);
}

#[test]
fn a_deadline_mid_job_cancels_the_jobs_in_flight_within_50ms() {
    let _alone = alone();
    let gauge = InFlight::default();
    // Half a second is ample for three workers to be inside their hour-long jobs.
    let (context, _timer) = Context::new()
        .with_timeout(Duration::from_millis(500))
        .expect("a timer starts");
    let deadline = context.deadline().expect("a timeout sets a deadline");
    let account = run_pool(
        PoolSize {
            workers: 3,
            queue: 10,
        },
        jobs(10),
        |job: &Job, context: &Context| cancellable(&gauge, job, context, Duration::from_secs(3600)),
        &context,
        &Clock::System,
        &Console::silent(),
    );
    let late = Instant::now().saturating_duration_since(deadline);
    assert!(
        late < Duration::from_millis(50),
        "workers joined {late:?} after the deadline"
    );
    assert_eq!(account.stopped_by, Some(Reason::DeadlineExceeded));
    assert_eq!(account.cancelled(), 3, "{account:?}");
    assert_eq!(account.never_started.len(), 7, "{account:?}");
    assert_every_job_once(&account, 10, 3);
}

#[test]
fn every_job_is_accounted_once_however_the_deadline_cuts() {
    let shapes = [
        PoolSize {
            workers: 1,
            queue: 0,
        },
        PoolSize {
            workers: 3,
            queue: 1,
        },
        PoolSize {
            workers: 4,
            queue: 64,
        },
    ];
    for (size, timeout_ms) in shapes.into_iter().zip([15, 30, 45]) {
        let gauge = InFlight::default();
        let (context, _timer) = Context::new()
            .with_timeout(Duration::from_millis(timeout_ms))
            .expect("a timer starts");
        let account = run_pool(
            size,
            jobs(200),
            |job: &Job, context: &Context| {
                cancellable(&gauge, job, context, Duration::from_millis(2))
            },
            &context,
            &Clock::System,
            &Console::silent(),
        );
        assert_eq!(
            account.stopped_by,
            Some(Reason::DeadlineExceeded),
            "{size:?}"
        );
        assert_every_job_once(&account, 200, size.workers);
        assert!(
            gauge.peak() <= size.workers,
            "{size:?}: peak {}",
            gauge.peak()
        );
    }
}

#[test]
fn a_run_cancelled_before_it_starts_hands_every_job_back() {
    let context = Context::new();
    context.cancel();
    let account = run_pool(
        PoolSize {
            workers: 2,
            queue: 4,
        },
        jobs(20),
        |job: &Job, _: &Context| Ok(work::square(job.number)),
        &context,
        &Clock::System,
        &Console::silent(),
    );
    assert_eq!(account.stopped_by, Some(Reason::Cancelled));
    assert_eq!(account.never_started.len(), 20);
    assert_eq!(account.never_started[0], Job { id: 1, number: 1 });
}

#[test]
fn ten_thousand_jobs_with_panics_and_errors_finish_with_exact_counts() {
    let _alone = alone();
    let account = run_pool(
        PoolSize {
            workers: 4,
            queue: 100,
        },
        jobs(10_000),
        |job: &Job, _: &Context| match job.id % 10 {
            0 => panic!("job {} panics on purpose", job.id),
            5 => Err(JobError::Failed(format!("job {} fails on purpose", job.id))),
            _ => Ok(work::square(job.number)),
        },
        &Context::new(),
        &Clock::System,
        &Console::silent(),
    );
    assert_eq!(account.stopped_by, None);
    assert_eq!(
        (account.completed(), account.failed(), account.cancelled()),
        (8000, 2000, 0)
    );
    assert!(account.never_started.is_empty());
    assert!(account.outcomes.contains(&Outcome::Failed {
        job_id: 10,
        worker_id: worker_of(&account, 10),
        message: "panicked: job 10 panics on purpose".to_owned(),
    }));
    assert_every_job_once(&account, 10_000, 4);
}

fn worker_of(account: &Account, job: u64) -> usize {
    account
        .outcomes
        .iter()
        .find_map(|outcome| match outcome {
            Outcome::Failed {
                job_id, worker_id, ..
            } if *job_id == job => Some(*worker_id),
            _ => None,
        })
        .expect("the job has an outcome")
}
