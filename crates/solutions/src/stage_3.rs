//! Solutions to the exercises of the chapter stage 3.

use std::io;
use std::time::Duration;

use pool_core::{Clock, Console, Job, PoolSize};
use stage_3_cancel::{Account, Context, JobError, Reason, run_pool};

// ANCHOR: retries
/// Exercise 2: runs `jobs` on a pool under a fresh deadline of `timeout`, then the jobs that
/// never started on a new pool with a new deadline, up to `retries` more times, and returns one
/// account for the whole run. Every job is in it exactly once: its last pool's outcome if a
/// worker ever took it, else in `never_started`, with why the last pool stopped. A cancelled
/// `parent` (Ctrl-C) ends the retries: the user asked the run to stop, not to start over.
///
/// # Errors
///
/// If a deadline's timer thread cannot be started, as `stage_3_cancel::run`.
#[expect(
    clippy::too_many_arguments,
    reason = "run_pool's arguments, plus two for the retries"
)]
pub fn run_with_retries<W>(
    size: PoolSize,
    jobs: impl IntoIterator<Item = Job>,
    work: W,
    retries: u32,
    timeout: Duration,
    parent: &Context,
    clock: &Clock,
    console: &Console,
) -> io::Result<(Account, Option<Reason>)>
where
    W: Fn(&Job, &Context) -> Result<u64, JobError> + Sync,
{
    let mut outcomes = Vec::new();
    let mut jobs: Vec<Job> = jobs.into_iter().collect();
    let mut attempt = 0;
    loop {
        let (context, _timer) = parent.with_timeout(timeout)?;
        let account = run_pool(size, jobs, &work, &context, clock, console);
        let stopped_by = account.stopped_by(&context);
        outcomes.extend(account.outcomes);
        if account.never_started.is_empty() || attempt == retries || parent.is_cancelled() {
            let account = Account {
                outcomes,
                never_started: account.never_started,
            };
            return Ok((account, stopped_by));
        }
        attempt += 1;
        console.line(format_args!(
            "retry {attempt}: {} jobs that never started",
            account.never_started.len()
        ));
        jobs = account
            .never_started
            .into_iter()
            .map(|(_, job)| job)
            .collect();
    }
}
// ANCHOR_END: retries

#[cfg(test)]
mod tests {
    use super::*;
    use stage_3_cancel::{Outcome, Settings, simulated_work};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Instant;

    fn numbered_jobs(count: u64) -> Vec<Job> {
        (1..=count).map(|id| Job { id, number: id }).collect()
    }

    /// Exercise 1's fix is the check stage 3 ships: work that ends after the deadline is
    /// cancelled even when its own sleep ended first. A deadline already passed and no delay
    /// make the sleep and the timer thread race on every call; the answer never changes.
    #[test]
    fn work_that_ends_after_the_deadline_is_cancelled_every_time() {
        let settings = Settings {
            pool: pool_core::cli::PoolArgs {
                workers: 1,
                jobs: 1,
                queue: None,
            },
            delay: Duration::ZERO,
            timeout: Duration::ZERO,
            fail_every: None,
            panic_every: None,
            stubborn_every: None,
            go_port: false,
        };
        let job = Job { id: 10, number: 10 };
        for _ in 0..200 {
            let (context, _timer) = Context::new()
                .with_deadline(Instant::now())
                .expect("a timer starts");
            assert_eq!(
                simulated_work(&job, &context, &settings),
                Err(JobError::Cancelled)
            );
        }
    }

    fn job_ids(account: &Account) -> Vec<u64> {
        let mut ids: Vec<u64> = account
            .outcomes
            .iter()
            .map(Outcome::job_id)
            .chain(account.never_started.iter().map(|(id, _)| *id))
            .collect();
        ids.sort_unstable();
        ids
    }

    /// Job 3 cancels the first pool's context the first time it runs, so that pool stops and
    /// hands back whatever had not started; the retry runs those. The deadline is an hour: no
    /// timing decides anything here.
    #[test]
    fn a_retry_runs_the_jobs_that_never_started_and_the_account_covers_each_job_once() {
        for workers in [1, 3] {
            let cancelled_once = AtomicBool::new(false);
            let work = |job: &Job, context: &Context| {
                if job.id == 3 && !cancelled_once.swap(true, Ordering::SeqCst) {
                    context.cancel();
                    return Err(JobError::Cancelled);
                }
                Ok(job.number * job.number)
            };
            let (console, capture) = Console::captured();
            let size = PoolSize { workers, queue: 10 };
            let (account, stopped_by) = run_with_retries(
                size,
                numbered_jobs(10),
                work,
                1,
                Duration::from_secs(3600),
                &Context::new(),
                &Clock::System,
                &console,
            )
            .expect("the timers start");

            assert_eq!(job_ids(&account), (1..=10).collect::<Vec<_>>());
            assert_eq!((account.completed(), account.cancelled()), (9, 1));
            assert!(account.never_started.is_empty());
            // With one worker, jobs 4 to 10 were still queued when job 3 cancelled the run, and
            // the retry ran them all. With three, the other workers may have finished them.
            if workers == 1 {
                assert!(
                    capture
                        .text()
                        .contains("retry 1: 7 jobs that never started")
                );
                assert_eq!(stopped_by, None);
            }
        }
    }

    #[test]
    fn no_retry_after_the_user_interrupts() {
        let parent = Context::new();
        parent.cancel_because(Reason::Interrupted);
        let (console, capture) = Console::captured();
        let (account, stopped_by) = run_with_retries(
            PoolSize {
                workers: 2,
                queue: 4,
            },
            numbered_jobs(8),
            |job: &Job, _: &Context| Ok(job.number),
            5,
            Duration::from_secs(3600),
            &parent,
            &Clock::System,
            &console,
        )
        .expect("the timers start");
        assert_eq!(account.never_started.len(), 8);
        assert_eq!(stopped_by, Some(Reason::Interrupted));
        assert!(!capture.text().contains("retry"));
    }
}
