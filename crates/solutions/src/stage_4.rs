//! Solutions to the exercises of the chapter stage 4.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use stage_4_scaling::Limits;
use stage_4_scaling::Policy;
use stage_4_scaling::ScalingReason;
use stage_4_scaling::autoscaler::Observation;

// ANCHOR: longest_wait
/// The wait of the last job of a burst. The `ahead` jobs queued before it start `workers` at a
/// time, one round per `delay`, and it starts in the first round with room for it: after
/// ⌊ahead / workers⌋ full rounds (with 9 jobs ahead on 4 workers, after 2, beside the 9th).
pub fn longest_wait(ahead: u32, workers: u32, delay: Duration) -> Duration {
    delay * (ahead / workers.max(1))
}
// ANCHOR_END: longest_wait

// ANCHOR: grow_by_one
/// Stage 4's policy, except that slow waits add one worker per tick instead of doubling the
/// pool. Every other rule is the original's, called rather than copied.
pub fn decide_growing_by_one(
    policy: &Policy,
    observed: &Observation,
    limits: Limits,
) -> Option<(usize, ScalingReason)> {
    match policy.decide(observed, limits)? {
        (_, reason @ ScalingReason::SlowQueue { .. }) => {
            Some((limits.clamp(observed.workers + 1), reason))
        }
        decision => Some(decision),
    }
}
// ANCHOR_END: grow_by_one

/// A policy's decision function, as [`simulate_burst`] calls it.
pub type Decide = fn(&Policy, &Observation, Limits) -> Option<(usize, ScalingReason)>;

// ANCHOR: simulate_burst
/// A model of the program's burst, in whole milliseconds and with no threads: `jobs` jobs of
/// `delay` all queued at 0, a pool that starts at `limits.min`, and `decide` called every
/// `policy.tick` with what the real autoscaler would see. Returns when the last job ends.
pub fn simulate_burst(
    jobs: usize,
    delay: Duration,
    policy: &Policy,
    limits: Limits,
    decide: Decide,
) -> Duration {
    let ms = |duration: Duration| u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
    let (delay, tick) = (ms(delay), ms(policy.tick).max(1));
    // For each worker, when it is next free (it has been idle since then, if that has passed).
    let mut free_at: Vec<u64> = vec![0; limits.min];
    let (mut queued, mut last_end, mut last_growth) = (jobs, 0, None);
    // The waits of the jobs started since the last tick.
    let mut waits: Vec<u64> = Vec::new();
    for now in 0.. {
        if now > 0 && now % tick == 0 {
            let idle = |&&free: &&u64| free + ms(policy.keep_alive) <= now;
            let observed = Observation {
                at: Duration::from_millis(now),
                workers: free_at.len(),
                queue_depth: queued,
                mean_wait: (!waits.is_empty())
                    .then(|| Duration::from_millis(waits.iter().sum::<u64>() / waits.len() as u64)),
                idle_workers: free_at.iter().filter(idle).count(),
                last_growth,
            };
            waits.clear();
            if let Some((size, _)) = decide(policy, &observed, limits) {
                if size > free_at.len() {
                    last_growth = Some(observed.at);
                    free_at.resize(size, now);
                } else {
                    // The longest idle go first, as in `scale_down`.
                    free_at.sort_unstable();
                    free_at.drain(..free_at.len() - size);
                }
            }
        }
        for free in free_at.iter_mut().filter(|free| **free <= now) {
            if queued == 0 {
                break;
            }
            queued -= 1;
            waits.push(now); // Every job was queued at 0.
            *free = now + delay;
            last_end = last_end.max(*free);
        }
        if queued == 0 && now >= last_end {
            break;
        }
    }
    Duration::from_millis(last_end)
}
// ANCHOR_END: simulate_burst

// ANCHOR: retiring_gauge
/// Retire messages sent that no worker has taken yet. A Prometheus gauge from
/// `prometheus-client` (`Gauge::default()`, an `AtomicI64` with `inc`, `dec` and `get`) does the
/// same job.
#[derive(Debug, Default)]
pub struct RetiringGauge(AtomicI64);

impl RetiringGauge {
    /// In `scale_down`, before each `Message::Retire` is sent.
    pub fn retire_sent(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    /// In `worker`, when it takes a `Message::Retire` off the queue.
    pub fn retire_taken(&self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }

    /// The value a scrape shows.
    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}
// ANCHOR_END: retiring_gauge

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::thread;

    use pool_core::Job;
    use stage_3_cancel::Context;
    use stage_4_scaling::{PoolSettings, run_pool, simulated_work};

    use super::*;

    fn program_policy() -> Policy {
        Policy {
            tick: Duration::from_millis(100),
            backlog_per_worker: 100,
            target_wait: Duration::from_millis(50),
            keep_alive: Duration::from_millis(500),
            cooldown: Duration::from_millis(500),
        }
    }

    const LIMITS: Limits = Limits { min: 1, max: 8 };

    #[test]
    fn the_longest_wait_is_rounds_of_the_jobs_ahead() {
        let delay = Duration::from_millis(20);
        assert_eq!(longest_wait(399, 8, delay), Duration::from_millis(980));
        assert_eq!(longest_wait(399, 2, delay), Duration::from_millis(3_980));
        assert_eq!(longest_wait(399, 32, delay), Duration::from_millis(240));
        assert_eq!(longest_wait(0, 8, delay), Duration::ZERO);
    }

    /// The formula against the pool's own measurement, the longest wait its metrics recorded, at
    /// a fixed size so that no autoscaler tick moves it. The jobs are long next to the
    /// scheduler's jitter, and each case is one where rounding the other way would be off by a
    /// whole job: the measured wait is within half a job of the formula.
    #[test]
    fn the_longest_wait_is_what_the_pool_measures() {
        let delay = Duration::from_millis(100);
        for (jobs, workers) in [(10, 4), (9, 4), (3, 4)] {
            let settings = PoolSettings {
                limits: Limits {
                    min: workers,
                    max: workers,
                },
                queue: jobs,
            };
            let jobs_u64 = u64::try_from(jobs).expect("a few jobs");
            let burst = (1..=jobs_u64).map(|id| Job { id, number: id });
            let run = run_pool(
                &settings,
                None,
                burst,
                simulated_work(delay),
                &Context::new(),
            );
            assert_eq!(run.account.completed(), jobs);
            let measured = run.metrics.totals().wait_time.max;
            let ahead = u32::try_from(jobs - 1).expect("a few jobs");
            let predicted =
                longest_wait(ahead, u32::try_from(workers).expect("a few workers"), delay);
            assert!(
                measured.abs_diff(predicted) < delay / 2,
                "{jobs} jobs on {workers} workers: the last waited {measured:?}, the formula \
                 says {predicted:?}"
            );
        }
    }

    #[test]
    fn slow_waits_add_one_worker_where_the_original_doubles() {
        let observed = Observation {
            at: Duration::from_secs(1),
            workers: 3,
            queue_depth: 10,
            mean_wait: Some(Duration::from_millis(200)),
            idle_workers: 0,
            last_growth: None,
        };
        let policy = program_policy();
        assert_eq!(
            policy.decide(&observed, LIMITS).map(|(size, _)| size),
            Some(6)
        );
        let one_more = decide_growing_by_one(&policy, &observed, LIMITS);
        assert!(matches!(
            one_more,
            Some((4, ScalingReason::SlowQueue { .. }))
        ));
        // A backlog still grows the pool the original way.
        let backlog = Observation {
            queue_depth: 1_000,
            ..observed
        };
        assert_eq!(
            decide_growing_by_one(&policy, &backlog, LIMITS),
            policy.decide(&backlog, LIMITS)
        );
    }

    #[test]
    fn growing_by_one_makes_the_burst_longer() {
        let policy = program_policy();
        let delay = Duration::from_millis(200);
        let doubling = simulate_burst(40, delay, &policy, LIMITS, Policy::decide);
        let by_one = simulate_burst(40, delay, &policy, LIMITS, decide_growing_by_one);
        // Never faster than 40 jobs on 8 workers from the start: 5 rounds.
        assert!(doubling >= delay * 5);
        // Doubling reaches 8 workers at 0.5 s, one at a time at 0.9 s; by then most of the burst
        // is still queued, so the run ends only one round of the ticks later.
        assert_eq!(doubling, Duration::from_millis(1_500));
        assert_eq!(by_one, Duration::from_millis(1_600));
    }

    #[test]
    fn a_retire_message_counts_until_a_worker_takes_it() {
        // A queue as the pool's: a job in hand holds the one worker up, so the retire message
        // sent behind a queued job waits.
        enum Task {
            Run(mpsc::Receiver<()>),
            Retire,
        }
        let gauge = RetiringGauge::default();
        let (queue, tasks) = mpsc::sync_channel::<Task>(4);
        let (finish_job, job) = mpsc::channel::<()>();
        thread::scope(|scope| {
            let gauge = &gauge;
            let worker = scope.spawn(move || {
                for task in tasks {
                    match task {
                        Task::Run(done) => done.recv().expect("the test finishes the job"),
                        Task::Retire => {
                            gauge.retire_taken();
                            return;
                        }
                    }
                }
            });
            queue.send(Task::Run(job)).expect("the worker is there");
            gauge.retire_sent();
            queue.send(Task::Retire).expect("the worker is there");
            assert_eq!(gauge.get(), 1, "behind a job in hand, the message waits");
            finish_job.send(()).expect("the worker is in its job");
            worker.join().expect("the worker does not panic");
        });
        assert_eq!(gauge.get(), 0, "taken once the job was done");
    }
}
