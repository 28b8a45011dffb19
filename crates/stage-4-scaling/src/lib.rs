//! Stage 4: a pool that grows and shrinks with its load, and the numbers to watch it by.
//!
//! The article's pool has a fixed size and, in its scaling sketch, can only grow. This stage's
//! [`WorkerPool`] starts and retires workers while jobs flow, always within `min..=max`; an
//! [`Autoscaler`] decides when, from the queue's depth, the jobs' waits and the workers' idle
//! time; and the pool measures all of it, for a Prometheus endpoint ([`server`]) and for a table
//! at the end ([`summary`]). Cancellation, Ctrl-C, the outcomes and the account are stage 3's.
//!
//! ```
//! use std::sync::Arc;
//!
//! use pool_core::{Job, work};
//! use stage_3_cancel::Context;
//! use stage_4_scaling::{Limits, PoolSettings, WorkFn, run_pool};
//!
//! let settings = PoolSettings { limits: Limits { min: 1, max: 4 }, queue: 8 };
//! let square: Arc<WorkFn> = Arc::new(|job: &Job, _: &Context| Ok(work::square(job.number)));
//! let jobs = (1..=20).map(|id| Job { id, number: id });
//! let run = run_pool(&settings, None, jobs, square, &Context::new());
//! assert_eq!(run.account.completed(), 20);
//! ```

pub mod autoscaler;
pub mod chart;
pub mod exporter;
pub mod histogram;
pub mod metrics;
pub mod pool;
pub mod server;
pub mod summary;
pub mod worker_stats;

use std::io;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use crossbeam_channel::{after, select};
use pool_core::work::{Slept, sleep_unless_cancelled};
use pool_core::{Console, Job, counted, work};
use stage_3_cancel::{Account, Context, JobError, Reason, print_account};

pub use autoscaler::{Autoscaler, Policy, Sample, ScalingEvent, ScalingReason};
pub use metrics::PoolMetrics;
pub use pool::{Limits, PoolSettings, WorkFn, WorkerPool};

// ANCHOR: settings
/// The stage-4 program's settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The pool's limits and queue.
    pub pool: PoolSettings,
    /// Jobs in the burst.
    pub jobs: u64,
    /// How long each job works.
    pub delay: Duration,
    /// How long the load is quiet before the burst.
    pub quiet: Duration,
    /// The autoscaler's knobs.
    pub policy: Policy,
    /// How long the whole run may take.
    pub timeout: Duration,
}

/// What a run of the stage-4 program produced.
#[derive(Debug, Clone)]
pub struct Report {
    /// Every job, exactly once.
    pub account: Account,
    /// Why the run stopped early, or `None` if it ran every job.
    pub stopped_by: Option<Reason>,
    /// Every resize, in order.
    pub events: Vec<ScalingEvent>,
    /// The pool's size and queue depth at every tick.
    pub samples: Vec<Sample>,
}
// ANCHOR_END: settings

// ANCHOR: job_work
/// The program's work: a sleep of `delay` that ends early on cancellation, as in stage 3.
pub fn simulated_work(delay: Duration) -> Arc<WorkFn> {
    Arc::new(move |job: &Job, context: &Context| {
        match sleep_unless_cancelled(delay, context.done()) {
            Slept::Full if !context.is_cancelled() => Ok(work::square(job.number)),
            _ => Err(JobError::Cancelled),
        }
    })
}
// ANCHOR_END: job_work

// ANCHOR: run
/// The stage-4 program: a quiet spell, a burst of jobs, and the autoscaler resizing the pool
/// throughout, until the last job is done and then until the pool is back at its minimum.
/// Prints every resize, then the metrics table and the account. `parent` is cancelled by the
/// caller's Ctrl-C handler. Fails only if the deadline's timer thread cannot be started.
pub fn run(
    settings: &Settings,
    parent: &Context,
    metrics: &Arc<PoolMetrics>,
    console: &Console,
) -> io::Result<Report> {
    let (context, _timer) = parent.with_timeout(settings.timeout)?;
    let (policy, limits) = (settings.policy, settings.pool.limits);
    console.line(format_args!(
        "started: {} of {} in a burst after {} of quiet; {}..{} workers, tick {}, \
         keep-alive {}",
        counted(settings.jobs, "job", "jobs"),
        humantime::format_duration(settings.delay),
        humantime::format_duration(settings.quiet),
        limits.min,
        limits.max,
        humantime::format_duration(policy.tick),
        humantime::format_duration(policy.keep_alive),
    ));
    let work = simulated_work(settings.delay);
    let pool = WorkerPool::start(&settings.pool, work, context.clone(), Arc::clone(metrics));

    let (events, samples) = thread::scope(|scope| {
        let autoscaling = scope.spawn(|| {
            let mut autoscaler = Autoscaler::new(&pool, policy);
            let mut events = Vec::new();
            let mut report = |event: &ScalingEvent| {
                console.line(format_args!("{event}"));
                events.push(*event);
            };
            autoscaler.run_until(&context, WorkerPool::all_jobs_done, &mut report);
            if !context.is_cancelled() {
                console.line(format_args!(
                    "+{:.2}s last job done; the autoscaler runs on until the pool is back at {}",
                    metrics.now().as_secs_f64(),
                    limits.min
                ));
            }
            autoscaler.run_until(&context, |pool| pool.size() == limits.min, &mut report);
            (events, autoscaler.into_samples())
        });
        submit_burst(&pool, settings, &context);
        pool.close_intake();
        autoscaling.join().expect("the autoscaler does not panic")
    });

    let account = pool.finish();
    let mut table = String::new();
    summary::write_summary(metrics, &mut table).expect("writing to a String cannot fail");
    console.line(format_args!("{}", table.trim_end()));
    let stopped_by = account.stopped_by(&context);
    print_account(console, &account, stopped_by, settings.timeout);
    Ok(Report {
        account,
        stopped_by,
        events,
        samples,
    })
}
// ANCHOR_END: run

/// The load: nothing for `quiet`, then every job at once (waiting on the queue when it is full).
/// After a cancellation, `submit` sets each job aside as never started.
fn submit_burst(pool: &WorkerPool, settings: &Settings, context: &Context) {
    select! {
        recv(context.done()) -> _ => {}
        recv(after(settings.quiet)) -> _ => {}
    }
    for id in 1..=settings.jobs {
        pool.submit(Job { id, number: id });
    }
}

// ANCHOR: run_pool
/// Runs `jobs` through a stage-4 pool and returns the account: with a fixed size when
/// `settings.limits.min == settings.limits.max`, or resized by an autoscaler with `policy`
/// until the last job is done. What the benchmarks and tests drive; the program adds the quiet
/// spell, the linger and the printing.
pub fn run_pool(
    settings: &PoolSettings,
    policy: Option<&Policy>,
    jobs: impl IntoIterator<Item = Job>,
    work: Arc<WorkFn>,
    context: &Context,
) -> PoolRun {
    let metrics = Arc::new(PoolMetrics::new());
    let pool = WorkerPool::start(settings, work, context.clone(), Arc::clone(&metrics));
    let events = thread::scope(|scope| {
        let autoscaling = policy.map(|policy| {
            let pool = &pool;
            scope.spawn(move || {
                let mut events = Vec::new();
                let mut autoscaler = Autoscaler::new(pool, *policy);
                autoscaler.run_until(context, WorkerPool::all_jobs_done, |event| {
                    events.push(*event);
                });
                events
            })
        });
        for job in jobs {
            pool.submit(job);
        }
        pool.close_intake();
        autoscaling.map_or_else(Vec::new, |thread| {
            thread.join().expect("the autoscaler does not panic")
        })
    });
    PoolRun {
        account: pool.finish(),
        events,
        metrics,
    }
}

/// What [`run_pool`] returns.
#[derive(Debug)]
pub struct PoolRun {
    /// Every job, exactly once.
    pub account: Account,
    /// Every resize the autoscaler made, in order.
    pub events: Vec<ScalingEvent>,
    /// What the pool measured.
    pub metrics: Arc<PoolMetrics>,
}
// ANCHOR_END: run_pool
