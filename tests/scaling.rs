//! Stage 4's promises, in-process: resizing never loses or repeats a job and never leaves the
//! limits, and the autoscaler reacts within the ticks it promises.
//!
//! The autoscaler test runs with a 100 ms tick, and every margin it allows is at least a whole
//! tick: many times what a busy scheduler adds to a thread's wake-up.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use crossbeam_channel::bounded;
use pool_core::testing::InFlight;
use pool_core::work::{Slept, sleep_unless_cancelled};
use pool_core::{Clock, Job, work};
use stage_3_cancel::context::Never;
use stage_3_cancel::{Account, Context, JobError, Outcome};
use stage_4_scaling::autoscaler::autoscale;
use stage_4_scaling::{Limits, Policy, PoolMetrics, Work, WorkerPool};

/// Every job id from 1 to `count` appears exactly once in the account, and nothing was lost.
fn assert_every_job_once(account: &Account, count: u64) {
    let mut seen = BTreeSet::new();
    for outcome in &account.outcomes {
        let job_id = match outcome {
            Outcome::Completed(result) => result.job_id,
            Outcome::Failed { job_id, .. } | Outcome::Cancelled { job_id, .. } => *job_id,
        };
        assert!(seen.insert(job_id), "job {job_id} twice");
    }
    for job in &account.never_started {
        assert!(seen.insert(job.id), "job {} twice", job.id);
    }
    assert_eq!(seen.len() as u64, count);
    assert_eq!(
        account.completed() as u64,
        count,
        "no job failed or was cancelled"
    );
}

/// A small, seeded random number generator (xorshift), so the storm is the same on every run.
struct Xorshift(u64);

impl Xorshift {
    fn below(&mut self, bound: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % bound as u64) as usize
    }
}

fn square_work() -> Arc<Work> {
    Arc::new(|job: &Job, _: &Context| Ok(work::square(job.number)))
}

#[test]
fn a_storm_of_resizes_loses_no_job_and_keeps_the_limits() {
    const JOBS: u64 = 100_000;
    const RESIZES: u64 = 1_000;
    let limits = Limits { min: 2, max: 12 };
    let metrics = Arc::new(PoolMetrics::new());
    let in_flight = Arc::new(InFlight::default());
    // Resizes done so far. Job `id` may not end before resize `id / 100` has happened, so the
    // storm is sure to overlap the jobs: the last job waits for the last resize.
    let resizes_done = Arc::new(AtomicU64::new(0));
    let (finished, done) = mpsc::channel();
    let gauge = Arc::clone(&in_flight);
    let gate = Arc::clone(&resizes_done);
    let gated: Arc<Work> = Arc::new(move |job: &Job, _: &Context| {
        let _running = gauge.enter();
        while gate.load(Ordering::SeqCst) < job.id / (JOBS / RESIZES) {
            thread::sleep(Duration::from_micros(20));
        }
        Ok(work::square(job.number))
    });
    let storm_metrics = Arc::clone(&metrics);
    // The storm runs on its own thread so that a deadlock fails the test instead of hanging it.
    thread::spawn(move || {
        let pool = WorkerPool::start(
            limits,
            4,
            64,
            gated,
            Context::new(),
            Clock::System,
            storm_metrics,
        );
        let sizes_seen = thread::scope(|scope| {
            let storm = scope.spawn(|| {
                let mut random = Xorshift(0x9E37_79B9_7F4A_7C15);
                let mut sizes = Vec::new();
                for _ in 0..RESIZES {
                    // Targets beyond both limits too, to check that they hold.
                    sizes.push(pool.resize(random.below(16)));
                    sizes.push(pool.size());
                    resizes_done.fetch_add(1, Ordering::SeqCst);
                    thread::sleep(Duration::from_micros(random.below(100) as u64));
                }
                sizes
            });
            for id in 1..=JOBS {
                pool.submit(Job { id, number: id });
            }
            storm.join().expect("the storm does not panic")
        });
        let account = pool.finish();
        let _ = finished.send((account, sizes_seen));
    });
    let (account, sizes_seen) = done
        .recv_timeout(Duration::from_secs(120))
        .expect("the storm finishes: no deadlock");

    assert_every_job_once(&account, JOBS);
    assert!(
        sizes_seen
            .iter()
            .all(|&size| (limits.min..=limits.max).contains(&size)),
        "a size outside {limits:?}"
    );
    assert!(
        in_flight.peak() <= limits.max,
        "{} jobs at once",
        in_flight.peak()
    );
    let ids = metrics.worker_ids();
    assert!(
        ids.windows(2).all(|pair| pair[0] < pair[1]),
        "worker ids are never reused"
    );
    assert!(
        ids.len() > 100,
        "the storm started and retired many workers: {}",
        ids.len()
    );
}

#[test]
fn the_autoscaler_grows_within_two_ticks_and_shrinks_within_keep_alive_and_two_ticks() {
    let tick = Duration::from_millis(100);
    let keep_alive = Duration::from_millis(300);
    let policy = Policy {
        tick,
        backlog_per_worker: 4,
        target_wait: Duration::from_secs(1),
        keep_alive,
        cooldown: keep_alive,
    };
    let limits = Limits { min: 1, max: 8 };
    let metrics = Arc::new(PoolMetrics::new());
    let job_time = Duration::from_millis(20);
    let cancellable: Arc<Work> = Arc::new(move |job: &Job, context: &Context| {
        match sleep_unless_cancelled(job_time, context.done()) {
            Slept::Full => Ok(work::square(job.number)),
            Slept::Cancelled => Err(JobError::Cancelled),
        }
    });
    let pool = WorkerPool::start(
        limits,
        1,
        1024,
        cancellable,
        Context::new(),
        Clock::System,
        Arc::clone(&metrics),
    );

    let (stop, stopped) = bounded::<Never>(0);
    let (events, burst_at, idle_at) = thread::scope(|scope| {
        let autoscaler = scope.spawn(|| {
            let mut events = Vec::new();
            autoscale(&pool, &metrics, &policy, &stopped, |event| {
                events.push(*event)
            });
            events
        });
        // A quiet spell, then 240 jobs of 20 ms (4.8 s of work for one worker), submitted half
        // way between two ticks so that the next tick sees the whole burst.
        thread::sleep(2 * tick + tick / 2);
        let burst_at = metrics.now();
        for id in 1..=240 {
            pool.submit(Job { id, number: id });
        }
        // Wait until every job has ended: from then on every worker is idle.
        while metrics.totals().completed < 240 {
            thread::sleep(Duration::from_millis(5));
        }
        let idle_at = metrics.now();
        // Long enough for the keep-alive and a few ticks more.
        thread::sleep(keep_alive + 5 * tick);
        drop(stop);
        let events = autoscaler.join().expect("the autoscaler does not panic");
        (events, burst_at, idle_at)
    });
    let account = pool.finish();
    assert_every_job_once(&account, 240);

    let reached_max = events
        .iter()
        .find(|event| event.to == limits.max)
        .expect("the burst takes the pool to its maximum");
    assert!(
        reached_max.at <= burst_at + 2 * tick,
        "max reached {:?} after the burst",
        reached_max.at - burst_at
    );
    let back_to_min = events
        .iter()
        .rev()
        .find(|event| event.to == limits.min)
        .expect("the pool returns to its minimum");
    assert!(back_to_min.at >= idle_at, "shrank before the work was done");
    assert!(
        back_to_min.at <= idle_at + keep_alive + 2 * tick,
        "min reached {:?} after going idle",
        back_to_min.at - idle_at
    );
    for event in &events {
        assert!((limits.min..=limits.max).contains(&event.to), "{event}");
    }
}

#[test]
fn a_fixed_size_pool_and_an_autoscaled_one_run_every_job() {
    let metrics = Arc::new(PoolMetrics::new());
    let jobs = (1..=20_000).map(|id| Job { id, number: id });
    let fixed = stage_4_scaling::run_pool(
        Limits { min: 3, max: 3 },
        100,
        jobs.clone(),
        square_work(),
        &Context::new(),
        None,
        &metrics,
    );
    assert_every_job_once(&fixed, 20_000);
    assert_eq!(metrics.worker_ids(), [1, 2, 3]);

    let policy = Policy {
        tick: Duration::from_millis(1),
        backlog_per_worker: 4,
        target_wait: Duration::from_millis(1),
        keep_alive: Duration::from_millis(5),
        cooldown: Duration::from_millis(5),
    };
    let scaled = stage_4_scaling::run_pool(
        Limits { min: 1, max: 4 },
        100,
        jobs,
        square_work(),
        &Context::new(),
        Some(&policy),
        &Arc::new(PoolMetrics::new()),
    );
    assert_every_job_once(&scaled, 20_000);
}
