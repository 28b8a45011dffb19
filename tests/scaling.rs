//! Stage 4's promises, in-process: resizing never loses or repeats a job and never leaves the
//! limits; the autoscaler reacts on the ticks it promises (checked on its decision function, in a
//! model with its own clock); and a real autoscaled pool scales up, back down, and runs until its
//! last job is done.
//!
//! Nothing here measures how fast a thread wakes up. Where threads must wait for each other they
//! wait on channels and barriers, and the only real-clock bound is a guard against a hang.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier, mpsc};
use std::thread;
use std::time::Duration;

use crossbeam_channel::{Sender, bounded};
use pool_core::{Job, work};
use stage_3_cancel::Context;
use stage_3_cancel::context::Never;
use stage_4_scaling::autoscaler::Observation;
use stage_4_scaling::{
    Autoscaler, Limits, Policy, PoolMetrics, PoolSettings, ScalingEvent, ScalingReason, WorkFn,
    WorkerPool,
};
use test_support::{InFlight, assert_every_job_once};

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

fn square_work() -> Arc<WorkFn> {
    Arc::new(|job: &Job, _: &Context| Ok(work::square(job.number)))
}

/// Runs `test` on a thread of its own and fails if it has not finished within `limit`, many
/// times what it needs: a deadlock fails the test instead of hanging the suite.
fn within<T: Send + 'static>(limit: Duration, test: impl FnOnce() -> T + Send + 'static) -> T {
    let (finished, done) = mpsc::channel();
    thread::spawn(move || {
        let _ = finished.send(test());
    });
    done.recv_timeout(limit)
        .expect("the test finishes: no deadlock")
}

#[test]
fn a_storm_of_resizes_loses_no_job_and_keeps_the_limits() {
    const JOBS: u64 = 100_000;
    const RESIZES: u64 = 1_000;
    let limits = Limits { min: 2, max: 12 };
    let in_flight = Arc::new(InFlight::default());
    // Resizes done so far. Job `id` may not end before resize `id / 100` has happened, so the
    // storm is sure to overlap the jobs: the last job waits for the last resize.
    let resizes_done = Arc::new(AtomicU64::new(0));
    let gauge = Arc::clone(&in_flight);
    let gate = Arc::clone(&resizes_done);
    let gated: Arc<WorkFn> = Arc::new(move |job: &Job, _: &Context| {
        let _running = gauge.enter();
        while gate.load(Ordering::SeqCst) < job.id / (JOBS / RESIZES) {
            thread::yield_now();
        }
        Ok(work::square(job.number))
    });
    let metrics = Arc::new(PoolMetrics::new());
    let storm_metrics = Arc::clone(&metrics);
    let (account, sizes_seen) = within(Duration::from_secs(300), move || {
        let settings = PoolSettings { limits, queue: 64 };
        let pool = WorkerPool::start(&settings, gated, Context::new(), storm_metrics);
        let sizes_seen = thread::scope(|scope| {
            let storm = scope.spawn(|| {
                let mut random = Xorshift(0x9E37_79B9_7F4A_7C15);
                let mut sizes = Vec::new();
                for _ in 0..RESIZES {
                    // Targets beyond both limits too, to check that they hold.
                    sizes.push(pool.resize(random.below(16)));
                    sizes.push(pool.size());
                    resizes_done.fetch_add(1, Ordering::SeqCst);
                }
                sizes
            });
            for id in 1..=JOBS {
                pool.submit(Job { id, number: id });
            }
            storm.join().expect("the storm does not panic")
        });
        (pool.finish(), sizes_seen)
    });

    assert_every_job_once(&account, JOBS);
    assert_eq!(account.completed() as u64, JOBS);
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
}

/// The autoscaler's rules, played on a model of a burst with the decision function and a clock
/// of whole ticks: 240 jobs of 20 ms arrive between two ticks, and the model's workers run them
/// as the real pool would. No thread and no real time, so the reaction times are exact.
#[test]
fn the_autoscaler_grows_on_the_first_tick_after_a_burst_and_shrinks_a_keep_alive_after_it() {
    let tick = Duration::from_millis(100);
    let policy = Policy {
        tick,
        backlog_per_worker: 4,
        target_wait: Duration::from_secs(1),
        keep_alive: Duration::from_millis(300),
        cooldown: Duration::from_millis(300),
    };
    let limits = Limits { min: 1, max: 8 };
    let job = Duration::from_millis(20);
    let burst_at = Duration::from_millis(250);

    // When each worker is next free; it has been idle since then once that has passed.
    let mut free_at = vec![Duration::ZERO; limits.min];
    let mut queued = 0_u32;
    let mut last_growth = None;
    let mut events = Vec::new();
    let mut last_job_done = None;
    let mut now = Duration::ZERO;
    while now < Duration::from_secs(5) {
        if now == burst_at {
            queued = 240;
        }
        if !now.is_zero() && now.as_millis().is_multiple_of(tick.as_millis()) {
            let observed = Observation {
                at: now,
                workers: free_at.len(),
                queue_depth: queued as usize,
                mean_wait: None,
                idle_workers: free_at
                    .iter()
                    .filter(|&&free| free + policy.keep_alive <= now)
                    .count(),
                last_growth,
            };
            if let Some((size, reason)) = policy.decide(&observed, limits) {
                if size > free_at.len() {
                    last_growth = Some(now);
                    free_at.resize(size, now);
                } else {
                    free_at.sort();
                    free_at.drain(..free_at.len() - size);
                }
                events.push((now, size, reason));
            }
        }
        // After the tick's resize, workers take queued
        // jobs the moment they are free, 20 ms at a time.
        for free in &mut free_at {
            while queued > 0 && *free <= now {
                queued -= 1;
                *free = (*free).max(now) + job;
            }
        }
        if queued == 0 && now > burst_at && last_job_done.is_none() {
            last_job_done = free_at.iter().max().copied();
        }
        now += Duration::from_millis(1);
    }

    // The first tick after the burst takes the pool to its maximum, for the backlog.
    let (grew_at, size, reason) = events[0];
    assert_eq!((grew_at, size), (Duration::from_millis(300), 8));
    assert!(matches!(reason, ScalingReason::Backlog { .. }), "{reason}");
    // The 237 jobs still queued then take ⌈237/8⌉ = 30 rounds of 20 ms on eight workers.
    let last_job_done = last_job_done.expect("the burst ends");
    assert_eq!(last_job_done, Duration::from_millis(300 + 30 * 20));
    // Back to one worker on the first tick a whole keep-alive after the workers went idle.
    let (shrank_at, size, reason) = *events.last().expect("a shrink");
    assert_eq!(size, 1);
    assert!(matches!(reason, ScalingReason::Idle { .. }), "{reason}");
    let earliest = last_job_done + policy.keep_alive;
    assert!(
        shrank_at >= earliest && shrank_at < earliest + tick,
        "{shrank_at:?}"
    );
    assert_eq!(events.len(), 2, "one step up, one step down: {events:?}");
}

/// A real pool and a real autoscaler, driven by its own events: a burst of jobs that can only end
/// once the pool has grown, and a last job that can only end once the pool has shrunk back while
/// it runs. Each gate is opened by the event it waits for, so nothing here depends on timing;
/// if the autoscaler stopped before the last job was done, the test would hang (and fail).
#[test]
fn an_autoscaled_pool_scales_up_and_back_down_before_its_last_job_is_done() {
    const JOBS: u64 = 100;
    let limits = Limits { min: 1, max: 4 };
    let policy = Policy {
        tick: Duration::from_millis(10),
        backlog_per_worker: 4,
        target_wait: Duration::from_secs(60),
        keep_alive: Duration::from_millis(50),
        cooldown: Duration::from_millis(50),
    };
    // Closed (by dropping the sender) when the pool has grown; then when it has shrunk.
    let (grown, wait_for_growth) = bounded::<Never>(0);
    let (shrunk, wait_for_shrinking) = bounded::<Never>(0);
    let work: Arc<WorkFn> = Arc::new(move |job: &Job, _: &Context| {
        let gate = if job.id == JOBS {
            &wait_for_shrinking
        } else {
            &wait_for_growth
        };
        // Never a message: `recv` returns when the gate's sender is dropped.
        let _ = gate.recv();
        Ok(work::square(job.number))
    });

    let (account, events) = within(Duration::from_secs(120), move || {
        let settings = PoolSettings {
            limits,
            queue: 1024,
        };
        let metrics = Arc::new(PoolMetrics::new());
        let pool = WorkerPool::start(&settings, work, Context::new(), metrics);
        let context = Context::new();
        let mut gates: (Option<Sender<Never>>, Option<Sender<Never>>) = (Some(grown), Some(shrunk));
        let events = thread::scope(|scope| {
            let autoscaling = scope.spawn(|| {
                let mut events: Vec<ScalingEvent> = Vec::new();
                let mut autoscaler = Autoscaler::new(&pool, policy);
                autoscaler.run_until(&context, WorkerPool::all_jobs_done, |event| {
                    if event.to == limits.max {
                        drop(gates.0.take());
                    } else if event.to == limits.min {
                        drop(gates.1.take());
                    }
                    events.push(*event);
                });
                events
            });
            for id in 1..=JOBS {
                pool.submit(Job { id, number: id });
            }
            pool.close_intake();
            autoscaling.join().expect("the autoscaler does not panic")
        });
        (pool.finish(), events)
    });

    assert_every_job_once(&account, JOBS);
    assert_eq!(account.completed() as u64, JOBS);
    let ups = events.iter().filter(|event| event.to > event.from).count();
    let downs = events.iter().filter(|event| event.to < event.from).count();
    assert!(ups >= 1 && downs >= 1, "{events:?}");
    assert_eq!(
        events.last().map(|event| event.to),
        Some(limits.min),
        "{events:?}"
    );
    assert!(events.iter().all(|event| (1..=4).contains(&event.to)));
}

#[test]
fn run_pool_at_a_fixed_size_and_autoscaled_runs_every_job() {
    let jobs = (1..=20_000).map(|id| Job { id, number: id });
    let fixed = PoolSettings {
        limits: Limits { min: 3, max: 3 },
        queue: 100,
    };
    let run = stage_4_scaling::run_pool(&fixed, None, jobs.clone(), square_work(), &Context::new());
    assert_every_job_once(&run.account, 20_000);
    assert_eq!(run.metrics.worker_ids(), [1, 2, 3]);
    assert!(run.events.is_empty());

    // The first four jobs meet at a barrier, which only four workers running at once can pass:
    // the run ends only if the autoscaler grew the pool from one worker to four.
    let barrier = Arc::new(Barrier::new(4));
    let meet: Arc<WorkFn> = Arc::new(move |job: &Job, _: &Context| {
        if job.id <= 4 {
            barrier.wait();
        }
        Ok(work::square(job.number))
    });
    let policy = Policy {
        tick: Duration::from_millis(1),
        backlog_per_worker: 4,
        target_wait: Duration::from_millis(1),
        keep_alive: Duration::from_millis(5),
        cooldown: Duration::from_millis(5),
    };
    let scaled = PoolSettings {
        limits: Limits { min: 1, max: 4 },
        queue: 100,
    };
    let run = within(Duration::from_secs(120), move || {
        stage_4_scaling::run_pool(&scaled, Some(&policy), jobs, meet, &Context::new())
    });
    assert_every_job_once(&run.account, 20_000);
    assert_eq!(run.account.completed(), 20_000);
    assert!(
        run.events.iter().any(|event| event.to > event.from),
        "{:?}",
        run.events
    );
    assert_eq!(run.metrics.peak_workers(), 4);
}
