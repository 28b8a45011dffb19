//! The article's worker, ported word for word: it waits for a job *or* the cancellation in one
//! `select!`, as Go's does with `ctx.Done()`, and runs whatever it gets. `--go-port` runs the
//! stage's program with it. The chapter starts from it; `pool.rs` is where it ends up.

use std::thread;

use crossbeam_channel::{Receiver, Sender, bounded, select, unbounded};
use pool_core::{Clock, Console, Job, PoolSize};

use crate::context::Context;
use crate::outcome::{Account, FromWorker, JobError, Outcome};
use crate::pool::{catch_panic, print_outcome, submit};

// ANCHOR: go_port_worker
/// The direct port of the article's worker. `select!` picks at random among the branches that
/// are ready, as Go's `select` does: once the run is cancelled, a worker that finds jobs still
/// queued takes one half the time, and starts it after the cancellation.
fn go_port_worker<W>(
    id: usize,
    context: &Context,
    jobs: Receiver<Job>,
    outcomes: Sender<FromWorker>,
    work: &W,
    clock: &Clock,
    console: &Console,
) where
    W: Fn(&Job, &Context) -> Result<u64, JobError> + Sync,
{
    loop {
        select! {
            recv(context.done()) -> _ => break,
            recv(jobs) -> job => {
                // `Err`: the queue is closed and empty, the run is over.
                let Ok(job) = job else { break };
                if context.is_cancelled() {
                    console.line(format_args!(
                        "job {:>2} taken by worker {id} after the cancellation",
                        job.id
                    ));
                }
                let started_at = clock.now();
                let ran = catch_panic(|| work(&job, context));
                let outcome = Outcome::from_run(job, id, ran, started_at, clock.now());
                outcomes.send(FromWorker::Ran(outcome)).expect("the pool reads every outcome");
            }
        }
    }
    // Go's worker returns here, and the jobs still queued are nobody's. This one hands them
    // back, so that the account still holds every job.
    for job in jobs {
        outcomes
            .send(FromWorker::NotStarted(job.id, job))
            .expect("the pool reads every outcome");
    }
}
// ANCHOR_END: go_port_worker

/// [`crate::run_pool`] with [`go_port_worker`] for its workers.
pub(crate) fn run_go_port<W>(
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
    let (outcome_sender, outcome_receiver) = unbounded::<FromWorker>();
    let started_at = clock.now();
    thread::scope(|scope| {
        for id in 1..=size.workers {
            let (jobs, outcomes, work) = (job_receiver.clone(), outcome_sender.clone(), &work);
            scope.spawn(move || go_port_worker(id, context, jobs, outcomes, work, clock, console));
        }
        drop((outcome_sender, job_receiver));
        let never_started = submit(jobs, &job_sender, context);
        drop(job_sender);
        Account::collect(outcome_receiver, never_started, |outcome| {
            print_outcome(console, outcome, started_at);
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cancelled context and a full queue: both of the worker's branches are ready on every
    /// pick, the moment after a deadline that the chapter is about.
    fn jobs_taken_after_a_cancellation() -> (u64, Account) {
        let context = Context::new();
        context.cancel();
        let (console, capture) = Console::captured();
        // `submit` sees the cancellation and queues nothing: queue the jobs by hand instead.
        let (queue, receiver) = bounded(100);
        for job in (1..=100).map(|id| Job { id, number: id }) {
            queue.send(job).expect("the queue has room");
        }
        drop(queue);
        let (outcomes, collected) = unbounded();
        go_port_worker(
            1,
            &context,
            receiver,
            outcomes,
            &|_: &Job, _: &Context| Err(JobError::Cancelled),
            &Clock::System,
            &console,
        );
        let account = Account::collect(collected, Vec::new(), |_| {});
        let taken = capture.text().matches("after the cancellation").count() as u64;
        (taken, account)
    }

    #[test]
    fn a_random_select_takes_jobs_after_the_cancellation_but_loses_none() {
        let mut ever_taken = 0;
        for _ in 0..20 {
            let (taken, account) = jobs_taken_after_a_cancellation();
            assert_eq!(account.total(), 100);
            assert_eq!(account.cancelled() as u64, taken);
            ever_taken += taken;
        }
        // Half the picks take a job: over 20 tries, none at all would be a 1 in 2^20 chance.
        assert!(ever_taken > 0);
    }
}
