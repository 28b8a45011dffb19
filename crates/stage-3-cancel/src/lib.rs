//! Stage 3: a pool that can be stopped.
//!
//! Stage 2's pool runs until every job is done. This one also stops when its [`Context`] is
//! cancelled: by a deadline, by Ctrl-C or SIGTERM, or by hand. Stopping is done carefully:
//! intake stops, jobs in flight are told to cancel and end within milliseconds, every worker is
//! joined, and the run ends with an [`Account`] in which every submitted job appears exactly
//! once: completed, failed (an error or a panic, with its message), cancelled while running, or
//! never started (handed back to the caller as a value).

pub mod context;

use std::cell::Cell;
use std::io;
use std::iter;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, SystemTime};

use crossbeam_channel::{Receiver, Sender, bounded, unbounded};
use pool_core::cli::PoolArgs;
use pool_core::timeline::{JobTimes, Span, SpanKind, Timeline};
use pool_core::work::{Slept, sleep_unless_cancelled};
use pool_core::{Clock, Console, Job, JobResult, PoolSize, panic_message, work};

pub use context::{Context, DeadlineTimer, Reason};
/// The exit code of a run that a signal stopped, shared by every stage with a Ctrl-C handler.
pub use pool_core::cli::INTERRUPTED;

// ANCHOR: outcome
/// Why a job's work did not produce an output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobError {
    /// The work gave up because its context was cancelled.
    Cancelled,
    /// The work failed, for the reason given.
    Failed(String),
}

/// What became of one job that a worker took from the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The work finished in time and produced a result.
    Completed(JobResult),
    /// The work returned an error or panicked; `message` says which and why.
    Failed {
        /// The job that failed.
        job_id: u64,
        /// The worker that ran it.
        worker_id: usize,
        /// The error, or the panic's message.
        message: String,
    },
    /// The run was cancelled while the job was running, and the job stopped.
    Cancelled {
        /// The job that was cut short.
        job_id: u64,
        /// The worker that was running it.
        worker_id: usize,
    },
}

impl Outcome {
    /// Sorts what came back from a job's work into the three outcomes. `ran` is what
    /// [`catch_panic`] returned: the work's own `Result`, or a panic's message.
    pub fn from_run(
        job_id: u64,
        worker_id: usize,
        ran: Result<Result<u64, JobError>, String>,
        started_at: SystemTime,
        finished_at: SystemTime,
    ) -> Self {
        match ran {
            Ok(Ok(output)) => Self::Completed(JobResult {
                job_id,
                output,
                worker_id,
                started_at,
                finished_at,
            }),
            Ok(Err(JobError::Cancelled)) => Self::Cancelled { job_id, worker_id },
            Ok(Err(JobError::Failed(message))) | Err(message) => Self::Failed {
                job_id,
                worker_id,
                message,
            },
        }
    }
}
// ANCHOR_END: outcome

// ANCHOR: account
/// The end of a run: every submitted job is in exactly one of `outcomes` or `never_started`.
#[derive(Debug, Clone)]
pub struct Account {
    /// One per job a worker took, in the order they arrived.
    pub outcomes: Vec<Outcome>,
    /// Jobs no worker took before the run stopped, handed back so a caller can retry them.
    pub never_started: Vec<Job>,
    /// Why the run stopped early, or `None` if it ran every job.
    pub stopped_by: Option<Reason>,
}

impl Account {
    /// Reads the workers' messages until the last worker has dropped its sender, passing each
    /// outcome to `on_outcome` as it arrives, and settles the account: every job that ran, and
    /// `never_started` (the jobs never queued) with the jobs the workers handed back.
    pub fn collect(
        messages: impl IntoIterator<Item = FromWorker>,
        mut never_started: Vec<Job>,
        context: &Context,
        mut on_outcome: impl FnMut(&Outcome),
    ) -> Self {
        let mut outcomes = Vec::new();
        for message in messages {
            match message {
                FromWorker::Ran(outcome) => {
                    on_outcome(&outcome);
                    outcomes.push(outcome);
                }
                FromWorker::NotStarted(job) => never_started.push(job),
            }
        }
        never_started.sort_by_key(|job| job.id);
        // A run that finished every job was not stopped, even if a deadline or a signal came
        // just after the last one.
        let cut_short = !never_started.is_empty()
            || outcomes
                .iter()
                .any(|outcome| matches!(outcome, Outcome::Cancelled { .. }));
        let stopped_by = if cut_short { context.reason() } else { None };
        Self {
            outcomes,
            never_started,
            stopped_by,
        }
    }
}
// ANCHOR_END: account

impl Account {
    /// Jobs that produced a result.
    pub fn completed(&self) -> usize {
        self.count(|outcome| matches!(outcome, Outcome::Completed(_)))
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

    fn count(&self, kind: impl Fn(&Outcome) -> bool) -> usize {
        self.outcomes.iter().filter(|outcome| kind(outcome)).count()
    }
}

// ANCHOR: from_worker
/// What a worker sends back for each job it takes out of the queue.
#[derive(Debug)]
pub enum FromWorker {
    /// The job ran; this is how it ended.
    Ran(Outcome),
    /// The run was cancelled while the job waited in the queue: it is handed back unstarted.
    NotStarted(Job),
}
// ANCHOR_END: from_worker

// ANCHOR: worker
/// One worker: takes jobs until the queue is closed and empty, runs each with panics caught,
/// and sends back what became of it. Once the context is cancelled, it hands back every job it
/// takes instead of running it.
fn worker<W>(
    id: usize,
    context: &Context,
    jobs: Receiver<Job>,
    outcomes: Sender<FromWorker>,
    work: &W,
    clock: &Clock,
) where
    W: Fn(&Job, &Context) -> Result<u64, JobError> + Sync,
{
    // An idle worker needs no `select!` on the context: when the run is cancelled, `submit`
    // stops and closes the queue, and a closed queue wakes every worker waiting on it.
    for job in jobs {
        // Cancelled while the job sat in the queue: it never started, so hand it back.
        if context.is_cancelled() {
            outcomes
                .send(FromWorker::NotStarted(job))
                .expect("run_pool keeps the outcomes receiver until every worker has returned");
            continue;
        }
        let started_at = clock.now();
        let ran = catch_panic(|| work(&job, context));
        let outcome = Outcome::from_run(job.id, id, ran, started_at, clock.now());
        outcomes
            .send(FromWorker::Ran(outcome))
            .expect("run_pool keeps the outcomes receiver until every worker has returned");
    }
}
// ANCHOR_END: worker

// ANCHOR: run_pool
/// Runs `jobs` on a pool of `size.workers` threads until they are all done or `context` is
/// cancelled, printing each outcome as it arrives. Returns only after every worker has
/// returned, with an account of every job.
pub fn run_pool<W>(
    size: PoolSize,
    jobs: impl IntoIterator<Item = Job>,
    work: W,
    context: &Context,
    clock: &Clock,
    console: &Console,
) -> Account
where
    W: Fn(&Job, &Context) -> Result<u64, JobError> + Sync,
{
    assert!(size.workers > 0, "a pool needs at least one worker");
    let (job_sender, job_receiver) = bounded::<Job>(size.queue);
    // Unbounded because this thread submits every job before it reads any outcome: a full
    // outcomes channel would stop the workers, a full queue would then stop this thread, and each
    // would wait on the other for ever.
    let (outcome_sender, outcome_receiver) = unbounded::<FromWorker>();
    let started_at = clock.now();

    // A scope joins every thread spawned in it before it returns, so no worker outlives the pool,
    // and workers may borrow the context, the work and the clock.
    thread::scope(|scope| {
        for id in 1..=size.workers {
            let jobs = job_receiver.clone();
            let outcomes = outcome_sender.clone();
            let work = &work;
            scope.spawn(move || worker(id, context, jobs, outcomes, work, clock));
        }
        // From here on only the workers hold these ends, as in stage 2.
        drop(outcome_sender);
        drop(job_receiver);

        let never_started = submit(jobs, &job_sender, context);
        // Close the queue, whether every job went in or the run was cancelled: workers finish
        // (or, once cancelled, hand back) what is queued, then return.
        drop(job_sender);

        // Ends when the last worker returns and drops its sender: the WaitGroup of this pool.
        Account::collect(outcome_receiver, never_started, context, |outcome| {
            print_outcome(console, outcome, started_at);
        })
    })
}
// ANCHOR_END: run_pool

// ANCHOR: submit
/// Puts jobs on the queue until there are no more or the context is cancelled, and returns the
/// jobs it did not submit.
///
/// A plain blocking `send` is enough. If the run is cancelled while the queue is full, the
/// workers empty it (handing each job back), which makes room; the waiting `send` completes,
/// and the check before the next job stops the loop. The one job that slipped in is handed back
/// by a worker like the rest.
fn submit(jobs: impl IntoIterator<Item = Job>, queue: &Sender<Job>, context: &Context) -> Vec<Job> {
    let mut jobs = jobs.into_iter();
    while let Some(job) = jobs.next() {
        // `send` fails only if every worker is gone; the job is then as unstarted as the rest.
        if context.is_cancelled() || queue.send(job).is_err() {
            return iter::once(job).chain(jobs).collect();
        }
    }
    Vec::new()
}
// ANCHOR_END: submit

// ANCHOR: catch_panic
thread_local! {
    /// Whether this thread is running a job's work right now.
    static IN_JOB: Cell<bool> = const { Cell::new(false) };
}

/// Runs `work`, turning a panic into `Err` with the panic's message.
///
/// Rust prints a panic's message to stderr before unwinding. A panic inside a job is reported in
/// the job's outcome instead, so a hook installed once keeps quiet about panics on a thread that
/// is inside a job, and passes every other panic on to the hook that was there before.
pub fn catch_panic<T>(work: impl FnOnce() -> T) -> Result<T, String> {
    static QUIET_IN_JOBS: Once = Once::new();
    QUIET_IN_JOBS.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !IN_JOB.get() {
                previous(info);
            }
        }));
    });
    IN_JOB.set(true);
    // Unwind safety: the pool's own state is not touched inside `work`, and `work` is `Fn + Sync`,
    // so whatever state it shares between jobs sits behind locks (which poison) or atomics.
    let result = panic::catch_unwind(AssertUnwindSafe(work));
    IN_JOB.set(false);
    // `&*payload` is the payload inside the box; `&payload` would be the box itself, which is
    // also an `Any` and would never downcast to a string.
    result.map_err(|payload| format!("panicked: {}", panic_message(&*payload)))
}
// ANCHOR_END: catch_panic

/// One line per outcome; completed jobs print as in stage 2.
fn print_outcome(console: &Console, outcome: &Outcome, started_at: SystemTime) {
    match outcome {
        Outcome::Completed(result) => stage_2_metadata::print_result(console, result, started_at),
        Outcome::Failed {
            job_id,
            worker_id,
            message,
        } => console.line(format_args!(
            "job {job_id:>2} failed on worker {worker_id}: {message}"
        )),
        Outcome::Cancelled { job_id, worker_id } => console.line(format_args!(
            "job {job_id:>2} cancelled on worker {worker_id} while running"
        )),
    }
}

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
        "started: {} jobs on {} workers, {} each, deadline in {}",
        settings.pool.jobs,
        settings.pool.workers,
        humantime::format_duration(settings.delay),
        humantime::format_duration(settings.timeout),
    ));
    // For `--timeline`: failed and cancelled outcomes carry no times, so each job's work is
    // timed here, whatever becomes of it.
    let times = JobTimes::start_now(clock);
    let account = run_pool(
        settings.pool.pool_size(),
        stage_2_metadata::article_jobs(settings.pool.jobs),
        |job: &Job, context: &Context| {
            times.time(job.id, || simulated_work(job, context, settings))
        },
        &context,
        clock,
        console,
    );
    print_account(console, &account, settings.timeout);
    Ok(Report {
        timeline: timeline(settings, &account, &times),
        account,
    })
}
// ANCHOR_END: run

/// What a run of the stage-3 program produced.
#[derive(Debug, Clone)]
pub struct Report {
    /// Every job, and how it ended.
    pub account: Account,
    /// The run as a picture, for `--timeline`.
    pub timeline: Timeline,
}

/// A bar for every job that ran, on the row of its worker and coloured by its outcome, and the
/// deadline as a line if the run reached it.
fn timeline(settings: &Settings, account: &Account, times: &JobTimes) -> Timeline {
    let runs = times.runs();
    let spans = account.outcomes.iter().filter_map(|outcome| {
        let (job, worker, kind) = match outcome {
            Outcome::Completed(result) => (result.job_id, result.worker_id, SpanKind::Completed),
            Outcome::Failed {
                job_id, worker_id, ..
            } => (*job_id, *worker_id, SpanKind::Failed),
            Outcome::Cancelled { job_id, worker_id } => (*job_id, *worker_id, SpanKind::Cancelled),
        };
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
            "stage 3: {} jobs on {} workers, deadline {}",
            account.total(),
            settings.pool.workers,
            humantime::format_duration(settings.timeout)
        ),
        workers: settings.pool.workers,
        spans: spans.collect(),
        deadline: (account.stopped_by == Some(Reason::DeadlineExceeded))
            .then_some(settings.timeout),
        never_started: account.never_started.iter().map(|job| job.id).collect(),
    }
}

/// Prints why the run stopped (if it was cut short), the jobs that never started, and the
/// account line.
pub fn print_account(console: &Console, account: &Account, timeout: Duration) {
    let stop = "stopped taking jobs, cancelled the ones running, joined every worker";
    match account.stopped_by {
        Some(Reason::DeadlineExceeded) => console.line(format_args!(
            "deadline of {} reached: {stop}",
            humantime::format_duration(timeout)
        )),
        Some(Reason::Interrupted) => console.line(format_args!("interrupted: {stop}")),
        Some(Reason::Cancelled) => console.line(format_args!("cancelled: {stop}")),
        None => {}
    }
    if !account.never_started.is_empty() {
        let ids: Vec<String> = account
            .never_started
            .iter()
            .map(|job| job.id.to_string())
            .collect();
        console.line(format_args!("never started: jobs {}", ids.join(", ")));
    }
    console.line(format_args!(
        "account: {} completed, {} failed, {} cancelled while running, {} never started = {} jobs",
        account.completed(),
        account.failed(),
        account.cancelled(),
        account.never_started.len(),
        account.total()
    ));
}

// ANCHOR: ctrl_c
/// Makes Ctrl-C (and SIGTERM and SIGHUP) cancel `run` with [`Reason::Interrupted`]; a second
/// signal exits the process at once with [`INTERRUPTED`]. `ctrlc` takes one handler per process,
/// so only a program's `main` calls this, once.
pub fn cancel_on_signals(run: &Context) -> Result<(), ctrlc::Error> {
    let on_signal = run.clone();
    let signals_seen = AtomicUsize::new(0);
    // ctrlc calls this on a thread of its own, for SIGINT and (with its `termination` feature)
    // SIGTERM and SIGHUP too; it does not say which arrived, so every one exits with 130. The
    // first signal asks the run to stop; a second means "stop now, whatever it is doing", and
    // the process exits without waiting.
    ctrlc::set_handler(move || {
        if signals_seen.fetch_add(1, Ordering::SeqCst) == 0 {
            on_signal.cancel_because(Reason::Interrupted);
        } else {
            std::process::exit(INTERRUPTED.into());
        }
    })
}
// ANCHOR_END: ctrl_c

/// The program's exit code, settled once the account (and any timeline) is written:
/// [`INTERRUPTED`] if the signal handler cancelled `run` at any moment before this call, else 0.
///
/// A signal that arrives after the last job, or while the account is printing, still counts:
/// the user asked to stop, and scripts read that from the code. There is nothing left to cancel,
/// so the account already printed stands (it is complete), and a line says why the code is 130.
/// Only the handler cancels `run`, so its reason is the signal's.
pub fn exit_code(run: &Context, account: &Account, console: &Console) -> u8 {
    if run.reason() != Some(Reason::Interrupted) {
        return 0;
    }
    if account.stopped_by != Some(Reason::Interrupted) {
        console.line(format_args!(
            "interrupted after the run had ended: the account above is complete"
        ));
    }
    INTERRUPTED
}
