//! The stage-3 program: stage 2's jobs under a deadline, then why the run stopped and the
//! account of every job.

use std::io;
use std::thread;
use std::time::Duration;

use pool_core::cli::PoolArgs;
use pool_core::timeline::{JobTimes, Span, SpanKind, Timeline};
use pool_core::work::{Slept, sleep_unless_cancelled};
use pool_core::{Clock, Console, Job, counted, number_ranges, work};

use crate::context::{Context, Reason};
use crate::go_port::run_go_port;
use crate::outcome::{Account, JobError, Outcome};
use crate::pool::run_pool;

/// The stage-3 program's settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Workers, jobs and queue.
    pub pool: PoolArgs,
    /// How long each job works.
    pub delay: Duration,
    /// How long the whole run may take.
    pub timeout: Duration,
    /// Every job whose id is a multiple of this returns an error.
    pub fail_every: Option<u64>,
    /// Every job whose id is a multiple of this panics (checked before `fail_every`).
    pub panic_every: Option<u64>,
    /// Every job whose id is a multiple of this ignores cancellation while it works.
    pub stubborn_every: Option<u64>,
    /// Run the direct port of the article's worker (a `select!` on the queue and the context)
    /// instead of this stage's.
    pub go_port: bool,
}

// ANCHOR: job_work
/// The program's work: stage 2's slow square, made to stop when cancelled, plus the failures
/// that `--fail-every` and `--panic-every` ask for.
pub fn simulated_work(job: &Job, context: &Context, settings: &Settings) -> Result<u64, JobError> {
    let is_every = |every: Option<u64>| every.is_some_and(|every| job.id.is_multiple_of(every));
    if is_every(settings.panic_every) {
        panic!("job {} was told to panic", job.id);
    }
    if is_every(settings.fail_every) {
        return Err(JobError::Failed(format!("job {} was told to fail", job.id)));
    }
    if is_every(settings.stubborn_every) {
        // Work that cannot be interrupted, like stage 2's: the run waits for it to end.
        thread::sleep(settings.delay);
    } else if sleep_unless_cancelled(settings.delay, context.done()) == Slept::Cancelled {
        return Err(JobError::Cancelled);
    }
    // The sleep may have ended on time while the deadline passed: work that finishes late is
    // cancelled too, or the last round would race the deadline.
    if context.is_cancelled() {
        return Err(JobError::Cancelled);
    }
    Ok(work::square(job.number))
}
// ANCHOR_END: job_work

// ANCHOR: run
/// The stage-3 program: stage 2's jobs under a deadline, then why the run stopped and the
/// account of every job. `parent` is cancelled by the caller's Ctrl-C handler. Fails only if
/// the deadline's timer thread cannot be started.
pub fn run(
    settings: &Settings,
    parent: &Context,
    clock: &Clock,
    console: &Console,
) -> io::Result<Report> {
    let (context, _timer) = parent.with_timeout(settings.timeout)?;
    console.line(format_args!(
        "started: {} on {}, {} each, deadline in {}",
        counted(settings.pool.jobs, "job", "jobs"),
        counted(settings.pool.workers as u64, "worker", "workers"),
        humantime::format_duration(settings.delay),
        humantime::format_duration(settings.timeout),
    ));
    // For `--timeline`: failed and cancelled outcomes carry no times, so each job's work is
    // timed here, whatever becomes of it.
    let times = JobTimes::start_now(clock);
    let work = |job: &Job, context: &Context| {
        times.time(job.id, || simulated_work(job, context, settings))
    };
    let (size, jobs) = (
        settings.pool.pool_size(),
        stage_2_metadata::article_jobs(settings.pool.jobs),
    );
    let account = if settings.go_port {
        run_go_port(size, jobs, work, &context, clock, console)
    } else {
        run_pool(size, jobs, work, &context, clock, console)
    };
    let stopped_by = account.stopped_by(&context);
    print_account(console, &account, stopped_by, settings.timeout);
    Ok(Report {
        timeline: timeline(settings, &account, stopped_by, &times),
        account,
        stopped_by,
    })
}
// ANCHOR_END: run

/// What a run of the stage-3 program produced.
#[derive(Debug, Clone)]
pub struct Report {
    /// Every job, and how it ended.
    pub account: Account,
    /// Why the run stopped early, or `None` if it ran every job.
    pub stopped_by: Option<Reason>,
    /// The run as a picture, for `--timeline`.
    pub timeline: Timeline,
}

/// A bar for every job that ran, on the row of its worker and coloured by its outcome, and the
/// deadline as a line if the run reached it.
fn timeline(
    settings: &Settings,
    account: &Account,
    stopped_by: Option<Reason>,
    times: &JobTimes,
) -> Timeline {
    let runs = times.runs();
    let spans = account.outcomes.iter().filter_map(|outcome| {
        let kind = match outcome {
            Outcome::Completed { .. } => SpanKind::Completed,
            Outcome::Failed { .. } => SpanKind::Failed,
            Outcome::Cancelled { .. } => SpanKind::Cancelled,
        };
        let (job, worker) = (outcome.job_id(), outcome.worker_id());
        let &(start, end) = runs.get(&job)?;
        Some(Span {
            job,
            worker,
            start,
            end,
            kind,
        })
    });
    Timeline {
        title: format!(
            "stage 3: {} on {}, deadline {}",
            counted(account.total() as u64, "job", "jobs"),
            counted(settings.pool.workers as u64, "worker", "workers"),
            humantime::format_duration(settings.timeout)
        ),
        workers: settings.pool.workers,
        spans: spans.collect(),
        deadline: (stopped_by == Some(Reason::DeadlineExceeded)).then_some(settings.timeout),
        never_started: account.never_started.iter().map(|(id, _)| *id).collect(),
    }
}

/// Prints why the run stopped (if it was cut short), the jobs that never started, and the
/// account line.
pub fn print_account(
    console: &Console,
    account: &Account,
    stopped_by: Option<Reason>,
    timeout: Duration,
) {
    let stop = "stopped taking jobs, cancelled the ones running, joined every worker";
    match stopped_by {
        Some(Reason::DeadlineExceeded) => console.line(format_args!(
            "deadline of {} reached: {stop}",
            humantime::format_duration(timeout)
        )),
        Some(Reason::Interrupted) => console.line(format_args!("interrupted: {stop}")),
        Some(Reason::Cancelled) => console.line(format_args!("cancelled: {stop}")),
        None => {}
    }
    if !account.never_started.is_empty() {
        let ids = account.never_started.iter().map(|(id, _)| *id);
        let jobs = if account.never_started.len() == 1 {
            "job"
        } else {
            "jobs"
        };
        console.line(format_args!("never started: {jobs} {}", number_ranges(ids)));
    }
    console.line(format_args!(
        "account: {} completed, {} failed, {} cancelled while running, {} never started = {}",
        account.completed(),
        account.failed(),
        account.cancelled(),
        account.never_started.len(),
        counted(account.total() as u64, "job", "jobs")
    ));
}
