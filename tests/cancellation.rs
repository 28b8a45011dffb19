//! Stage 3's promises, in-process: a deadline cancels the jobs in flight and hands the rest back,
//! and however a run is cut short, every submitted job is accounted for exactly once.
//!
//! These tests assert order and counts, not latencies: a busy machine can delay any thread by
//! more than a deadline's precision. How quickly a deadline stops a pool is measured by the
//! `cancellation` bench group. The test that reads the real clock, and the one that keeps the CPU
//! busy, take `SERIAL` so that they never run at once; the clock bound they use is seconds.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use pool_core::cli::{INTERRUPTED, PoolArgs};
use pool_core::work::{Slept, sleep_unless_cancelled};
use pool_core::{Clock, Console, Job, PoolSize, work};
use stage_3_cancel::{Account, Context, Failure, JobError, Outcome, Reason, Settings, run_pool};
use test_support::{InFlight, assert_every_job_once};

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

/// Every job accounted for exactly once, each outcome on a worker numbered 1 to `workers`.
fn assert_every_job_once_on(account: &Account, count: u64, workers: usize) {
    assert_every_job_once(account, count);
    for outcome in &account.outcomes {
        assert!((1..=workers).contains(&outcome.worker_id()), "{outcome:?}");
    }
}

/// Hour-long jobs under a half-second deadline: the jobs that had started are cancelled while
/// running, the rest never start, and the pool returns only after the deadline, with no job
/// still inside its work. Whether three jobs or fewer had started depends on the scheduler, so
/// the counts are checked against the jobs that did start.
#[test]
fn a_deadline_mid_job_cancels_the_jobs_in_flight_and_hands_back_the_rest() {
    let _alone = alone();
    let gauge = InFlight::default();
    let started = AtomicUsize::new(0);
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
        |job: &Job, context: &Context| {
            started.fetch_add(1, Ordering::SeqCst);
            cancellable(&gauge, job, context, Duration::from_secs(3600))
        },
        &context,
        &Clock::System,
        &Console::silent(),
    );
    let joined = Instant::now();
    // Order: the pool returned after the deadline, and every job had left its work by then.
    assert!(joined >= deadline, "joined before the deadline");
    assert_eq!(gauge.now(), 0, "a job was still running after the join");
    // A wide bound on the real clock: the jobs sleep for an hour, so returning at all shows they
    // were cancelled; seconds leave room for any scheduler.
    let late = joined - deadline;
    assert!(
        late < Duration::from_secs(5),
        "workers joined {late:?} after the deadline"
    );
    let started = started.load(Ordering::SeqCst);
    assert!(started <= 3, "{started} jobs started on 3 workers");
    assert_eq!(account.stopped_by(&context), Some(Reason::DeadlineExceeded));
    assert_eq!(account.completed(), 0, "{account:?}");
    assert_eq!(account.cancelled(), started, "{account:?}");
    assert_eq!(account.never_started.len(), 10 - started, "{account:?}");
    assert!(gauge.peak() <= 3);
    assert_every_job_once_on(&account, 10, 3);
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
            account.stopped_by(&context),
            Some(Reason::DeadlineExceeded),
            "{size:?}"
        );
        assert_every_job_once_on(&account, 200, size.workers);
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
    assert_eq!(account.stopped_by(&context), Some(Reason::Cancelled));
    assert_eq!(account.never_started.len(), 20);
    assert_eq!(account.never_started[0], (1, Job { id: 1, number: 1 }));
}

#[test]
fn ten_thousand_jobs_with_panics_and_errors_finish_with_exact_counts() {
    let _alone = alone();
    let context = Context::new();
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
        &context,
        &Clock::System,
        &Console::silent(),
    );
    assert_eq!(account.stopped_by(&context), None);
    assert_eq!(
        (account.completed(), account.failed(), account.cancelled()),
        (8000, 2000, 0)
    );
    assert!(account.never_started.is_empty());
    assert!(account.outcomes.contains(&Outcome::Failed {
        job_id: 10,
        worker_id: worker_of(&account, 10),
        input: Job { id: 10, number: 10 },
        failure: Failure::Panicked("job 10 panics on purpose".to_owned()),
    }));
    assert_every_job_once_on(&account, 10_000, 4);
}

fn worker_of(account: &Account, job: u64) -> usize {
    account
        .outcomes
        .iter()
        .find(|outcome| outcome.job_id() == job)
        .map(Outcome::worker_id)
        .expect("the job has an outcome")
}

/// The program's settings for a run that the deadline cuts: hour-long jobs, a 50 ms deadline.
fn cut_by_a_deadline() -> Settings {
    Settings {
        pool: PoolArgs {
            workers: 2,
            jobs: 4,
            queue: None,
        },
        delay: Duration::from_secs(3600),
        timeout: Duration::from_millis(50),
        fail_every: None,
        panic_every: None,
        stubborn_every: None,
        go_port: false,
    }
}

/// A signal that lands after the run ended (here: after the deadline cut it, while the account
/// is printed) still makes the exit code 130; the account stands, and one line says why.
/// From outside, that moment can only be hit by chance; here the signal is the handler's
/// cancellation of the root context, made by hand after `run` returned.
#[test]
fn a_signal_after_the_run_ended_still_exits_130_and_keeps_the_account() {
    let root = Context::new();
    let (console, capture) = Console::captured();
    let report =
        stage_3_cancel::run(&cut_by_a_deadline(), &root, &Clock::System, &console).expect("runs");
    assert_eq!(report.stopped_by, Some(Reason::DeadlineExceeded));
    assert_every_job_once(&report.account, 4);
    root.cancel_because(Reason::Interrupted);
    assert_eq!(
        stage_3_cancel::exit_code(&root, report.stopped_by, &console),
        INTERRUPTED
    );
    let text = capture.text();
    let account_line = text.find("account:").expect("an account line");
    let late_line = text
        .find("interrupted after the run had ended: the account above is complete")
        .expect("the late signal is reported");
    assert!(account_line < late_line, "{text}");
}

/// Without a signal the run that the deadline ends exits 0; with one before the run, 130 and
/// the account says the run was interrupted (no extra line).
#[test]
fn the_exit_code_is_130_exactly_when_a_signal_came() {
    let root = Context::new();
    let report = stage_3_cancel::run(
        &cut_by_a_deadline(),
        &root,
        &Clock::System,
        &Console::silent(),
    )
    .expect("runs");
    assert_eq!(
        stage_3_cancel::exit_code(&root, report.stopped_by, &Console::silent()),
        0
    );

    let root = Context::new();
    root.cancel_because(Reason::Interrupted);
    let (console, capture) = Console::captured();
    let report =
        stage_3_cancel::run(&cut_by_a_deadline(), &root, &Clock::System, &console).expect("runs");
    assert_eq!(report.stopped_by, Some(Reason::Interrupted));
    assert_eq!(report.account.never_started.len(), 4);
    assert_eq!(
        stage_3_cancel::exit_code(&root, report.stopped_by, &console),
        INTERRUPTED
    );
    assert!(
        !capture.text().contains("after the run had ended"),
        "{}",
        capture.text()
    );
}
