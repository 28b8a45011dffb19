//! Stage 4: a pool that grows and shrinks with its load, and the numbers to watch it by.
//!
//! The article's pool has a fixed size and, in its scaling sketch, can only grow. This stage's
//! [`WorkerPool`] starts and retires workers while jobs flow, always within `min..=max`; an
//! [`autoscaler`] decides when, from the queue's depth, the jobs' waits and the workers' idle
//! time; and [`metrics`] measure all of it, for a Prometheus endpoint and for a table at the end.
//! Cancellation, Ctrl-C and the account of every job are stage 3's, reused.

pub mod autoscaler;
pub mod chart;
pub mod metrics;
pub mod pool;
pub mod server;

use std::io;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use crossbeam_channel::{after, bounded, select};
use pool_core::work::{Slept, sleep_unless_cancelled};
use pool_core::{Clock, Console, Job, work};
use stage_3_cancel::context::Never;
use stage_3_cancel::{Account, Context, JobError, print_account};

pub use autoscaler::{Policy, Sample, ScalingEvent};
pub use metrics::PoolMetrics;
pub use pool::{Limits, Work, WorkerPool};

/// The stage-4 program's settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The fewest and most workers; the pool starts at the fewest.
    pub limits: Limits,
    /// The job queue's capacity.
    pub queue: usize,
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
    /// Every resize, in order.
    pub events: Vec<ScalingEvent>,
    /// The pool's size and queue depth at every tick.
    pub samples: Vec<Sample>,
}

// ANCHOR: job_work
/// The program's work: a sleep of `delay` that ends early on cancellation, as in stage 3.
pub fn simulated_work(delay: Duration) -> Arc<Work> {
    Arc::new(move |job: &Job, context: &Context| {
        match sleep_unless_cancelled(delay, context.done()) {
            Slept::Full if !context.is_cancelled() => Ok(work::square(job.number)),
            _ => Err(JobError::Cancelled),
        }
    })
}
// ANCHOR_END: job_work

// ANCHOR: run
/// The stage-4 program: a quiet spell, a burst of jobs, and quiet again until the pool is back
/// at its minimum, with the autoscaler resizing the pool throughout. Prints every resize, then
/// the metrics table and the account. `parent` is cancelled by the caller's Ctrl-C handler.
/// Fails only if the deadline's timer thread cannot be started.
pub fn run(
    settings: &Settings,
    parent: &Context,
    metrics: &Arc<PoolMetrics>,
    console: &Console,
) -> io::Result<Report> {
    let (context, _timer) = parent.with_timeout(settings.timeout)?;
    let policy = settings.policy;
    let limits = settings.limits;
    console.line(format_args!(
        "started: {} jobs of {} in a burst after {} of quiet; {}..{} workers, tick {}, \
         keep-alive {}",
        settings.jobs,
        humantime::format_duration(settings.delay),
        humantime::format_duration(settings.quiet),
        limits.min,
        limits.max,
        humantime::format_duration(policy.tick),
        humantime::format_duration(policy.keep_alive),
    ));
    let pool = WorkerPool::start(
        limits,
        limits.min,
        settings.queue,
        simulated_work(settings.delay),
        context.clone(),
        Clock::System,
        Arc::clone(metrics),
    );

    let (stop_autoscaler, autoscaler_stopped) = bounded::<Never>(0);
    let (events, samples) = thread::scope(|scope| {
        let autoscaler = scope.spawn(|| {
            let mut events = Vec::new();
            let samples =
                autoscaler::autoscale(&pool, metrics, &policy, &autoscaler_stopped, |event| {
                    console.line(format_args!("{event}"));
                    events.push(*event);
                });
            (events, samples)
        });
        submit_burst(&pool, settings, &context);
        wait_until_settled(&pool, metrics, settings, &context);
        drop(stop_autoscaler);
        autoscaler.join().expect("the autoscaler does not panic")
    });

    let account = pool.finish();
    let mut table = String::new();
    metrics
        .write_summary(&mut table)
        .expect("writing to a String cannot fail");
    console.line(format_args!("{}", table.trim_end()));
    print_account(console, &account, settings.timeout);
    Ok(Report {
        account,
        events,
        samples,
    })
}
// ANCHOR_END: run

// ANCHOR: run_pool
/// Runs `jobs` through a stage-4 pool and returns the account: with a fixed size when
/// `limits.min == limits.max`, or resized by an autoscaler with `policy` as it goes. What the
/// benchmarks and tests drive; the program adds the quiet spells and the printing.
pub fn run_pool(
    limits: Limits,
    queue: usize,
    jobs: impl IntoIterator<Item = Job>,
    work: Arc<Work>,
    context: &Context,
    policy: Option<&Policy>,
    metrics: &Arc<PoolMetrics>,
) -> Account {
    let pool = WorkerPool::start(
        limits,
        limits.min,
        queue,
        work,
        context.clone(),
        Clock::System,
        Arc::clone(metrics),
    );
    thread::scope(|scope| {
        let (stop_autoscaler, autoscaler_stopped) = bounded::<Never>(0);
        if let Some(policy) = policy {
            let pool = &pool;
            scope.spawn(move || {
                autoscaler::autoscale(pool, metrics, policy, &autoscaler_stopped, |_| {})
            });
        }
        for job in jobs {
            pool.submit(job);
        }
        drop(stop_autoscaler);
    });
    pool.finish()
}
// ANCHOR_END: run_pool

/// The load: nothing for `quiet`, then every job at once (waiting on the queue when it is full).
fn submit_burst(pool: &WorkerPool, settings: &Settings, context: &Context) {
    select! {
        recv(context.done()) -> _ => {}
        recv(after(settings.quiet)) -> _ => {}
    }
    // After a cancellation `submit` sets each job aside as never started.
    for id in 1..=settings.jobs {
        pool.submit(Job { id, number: id });
    }
}

/// Waits until every submitted job has ended and the pool is back at its minimum, checking once
/// a tick, or until the run is cancelled.
fn wait_until_settled(
    pool: &WorkerPool,
    metrics: &PoolMetrics,
    settings: &Settings,
    context: &Context,
) {
    loop {
        let totals = metrics.totals();
        let ended = totals.completed + totals.failed + totals.cancelled;
        if ended == totals.submitted && pool.size() == settings.limits.min {
            return;
        }
        select! {
            recv(context.done()) -> _ => return,
            recv(after(settings.policy.tick)) -> _ => {}
        }
    }
}
