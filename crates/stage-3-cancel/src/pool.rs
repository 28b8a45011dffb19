//! The pool: W worker threads in a scope, one bounded queue, and an [`Account`] of every job.
//! A cancelled run stops its intake, its workers hand back the jobs still queued, and the jobs
//! in flight are asked to stop through their [`Context`].

use std::cell::Cell;
use std::iter;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;
use std::thread;
use std::time::SystemTime;

use crossbeam_channel::{Receiver, Sender, bounded, unbounded};
use pool_core::{Clock, Console, Job, PoolSize, panic_message};

use crate::context::Context;
use crate::outcome::{Account, FromWorker, JobError, Outcome};

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
                .send(FromWorker::NotStarted(job.id, job))
                .expect("run_pool keeps the outcomes receiver until every worker has returned");
            continue;
        }
        let started_at = clock.now();
        let ran = catch_panic(|| work(&job, context));
        let outcome = Outcome::from_run(job, id, ran, started_at, clock.now());
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
        Account::collect(outcome_receiver, never_started, |outcome| {
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
pub(crate) fn submit(
    jobs: impl IntoIterator<Item = Job>,
    queue: &Sender<Job>,
    context: &Context,
) -> Vec<(u64, Job)> {
    let mut jobs = jobs.into_iter();
    while let Some(job) = jobs.next() {
        // `send` fails only if every worker is gone; the job is then as unstarted as the rest.
        if context.is_cancelled() || queue.send(job).is_err() {
            return iter::once(job)
                .chain(jobs)
                .map(|job| (job.id, job))
                .collect();
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
    result.map_err(|payload| panic_message(&*payload))
}
// ANCHOR_END: catch_panic

/// One line per outcome; completed jobs print as in stage 2.
pub(crate) fn print_outcome(console: &Console, outcome: &Outcome, started_at: SystemTime) {
    match outcome {
        Outcome::Completed { output, .. } => {
            stage_2_metadata::print_result(console, output, started_at);
        }
        Outcome::Failed {
            job_id,
            worker_id,
            failure,
            ..
        } => console.line(format_args!(
            "job {job_id:>2} failed on worker {worker_id}: {failure}"
        )),
        Outcome::Cancelled {
            job_id, worker_id, ..
        } => console.line(format_args!(
            "job {job_id:>2} cancelled on worker {worker_id} while running"
        )),
    }
}
