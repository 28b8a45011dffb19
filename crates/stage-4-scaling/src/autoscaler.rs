//! The autoscaler: on every tick it looks at the pool, decides whether to grow or shrink it, acts,
//! and says why.
//!
//! The decision is a plain function of an [`Observation`] ([`Policy::decide`]), with time in it
//! as a number, so it can be tested without threads or clocks; the loop around it
//! ([`Autoscaler::run_until`]) only gathers the observations and applies the decisions.

use std::fmt;
use std::time::Duration;

use crossbeam_channel::{select, tick};
use pool_core::short_duration;
use stage_3_cancel::Context;

use crate::pool::{Limits, WorkerPool};

// ANCHOR: policy
/// The autoscaler's knobs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    /// How often the autoscaler looks at the pool.
    pub tick: Duration,
    /// Grow when more than this many jobs per worker are waiting in the queue.
    pub backlog_per_worker: usize,
    /// Grow when jobs waited longer than this on average since the last tick.
    pub target_wait: Duration,
    /// Retire workers that have had no job for this long.
    pub keep_alive: Duration,
    /// Do not shrink within this long of growing: a burst often comes in waves.
    pub cooldown: Duration,
}
// ANCHOR_END: policy

// ANCHOR: observation
/// What the autoscaler saw on one tick.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation {
    /// When, since the pool started.
    pub at: Duration,
    /// Workers running.
    pub workers: usize,
    /// Jobs waiting in the queue.
    pub queue_depth: usize,
    /// Average wait of the jobs that started since the last tick, if any did. The wait counts
    /// from when a job was handed to `submit`, so time spent waiting for room in a full (or
    /// rendezvous) queue counts too.
    pub mean_wait: Option<Duration>,
    /// Workers that have had no job for at least the keep-alive.
    pub idle_workers: usize,
    /// When the pool last grew, if it has.
    pub last_growth: Option<Duration>,
}

/// Why the pool was resized.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ScalingReason {
    /// More jobs were queued than the workers should have waiting for them.
    Backlog {
        /// Jobs in the queue.
        queue_depth: usize,
        /// The threshold they crossed: backlog per worker × workers.
        threshold: usize,
    },
    /// Jobs waited longer than the target.
    SlowQueue {
        /// Their average wait since the last tick.
        mean_wait: Duration,
        /// The target.
        target: Duration,
    },
    /// Workers sat idle for the keep-alive.
    Idle {
        /// How many were idle that long.
        idle_workers: usize,
        /// The keep-alive.
        keep_alive: Duration,
    },
}

impl fmt::Display for ScalingReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Backlog {
                queue_depth,
                threshold,
            } => write!(f, "queue depth {queue_depth} > {threshold}"),
            Self::SlowQueue { mean_wait, target } => {
                let (mean_wait, target) = (short_duration(*mean_wait), short_duration(*target));
                write!(f, "mean queue wait {mean_wait} > {target}")
            }
            Self::Idle {
                idle_workers,
                keep_alive,
            } => write!(
                f,
                "{idle_workers} idle for ≥ {}",
                short_duration(*keep_alive)
            ),
        }
    }
}

/// One resize, with its reason.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScalingEvent {
    /// When, since the pool started.
    pub at: Duration,
    /// Workers before.
    pub from: usize,
    /// Workers after.
    pub to: usize,
    /// Why.
    pub reason: ScalingReason,
}

// ANCHOR_END: observation

impl fmt::Display for ScalingEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let direction = if self.to > self.from { "up  " } else { "down" };
        write!(
            f,
            "+{:.2}s scale {direction} {} → {}: {}",
            self.at.as_secs_f64(),
            self.from,
            self.to,
            self.reason
        )
    }
}

// ANCHOR: decide
impl Policy {
    /// The size the pool should have after this tick, and why; `None` to leave it alone.
    pub fn decide(&self, observed: &Observation, limits: Limits) -> Option<(usize, ScalingReason)> {
        let workers = observed.workers;
        let threshold = self.backlog_per_worker.saturating_mul(workers);
        if observed.queue_depth > threshold && workers < limits.max {
            // Enough workers for the backlog at once, and at least double: a burst that is
            // still arriving will be bigger on the next tick.
            let wanted = observed
                .queue_depth
                .div_ceil(self.backlog_per_worker.max(1));
            let reason = ScalingReason::Backlog {
                queue_depth: observed.queue_depth,
                threshold,
            };
            return Some((limits.clamp(wanted.max(workers.saturating_mul(2))), reason));
        }
        // No queue depth here: with a rendezvous queue (`--queue 0`) the depth is always 0, and
        // slow waits are then the only sign of a backlog.
        if let Some(mean_wait) = observed.mean_wait
            && mean_wait > self.target_wait
            && workers < limits.max
        {
            let reason = ScalingReason::SlowQueue {
                mean_wait,
                target: self.target_wait,
            };
            return Some((limits.clamp(workers.saturating_mul(2)), reason));
        }
        // Hysteresis: growing needs a backlog or slow waits, shrinking needs workers idle for a
        // whole keep-alive and no growth in the last cooldown. The gap between the two keeps a
        // load near one threshold from flipping the size back and forth on every tick.
        let cooled_down = observed
            .last_growth
            .is_none_or(|grew| observed.at.saturating_sub(grew) >= self.cooldown);
        if observed.idle_workers > 0 && workers > limits.min && cooled_down {
            let reason = ScalingReason::Idle {
                idle_workers: observed.idle_workers,
                keep_alive: self.keep_alive,
            };
            return Some((
                limits.clamp(workers.saturating_sub(observed.idle_workers)),
                reason,
            ));
        }
        None
    }
}
// ANCHOR_END: decide

// ANCHOR: autoscale
/// The pool's size and queue at one tick, for the chart.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// When, since the pool started.
    pub at: Duration,
    /// Workers running.
    pub workers: usize,
    /// Jobs waiting.
    pub queue_depth: usize,
}

/// The autoscaler of one pool: what it remembers from tick to tick. It borrows the pool rather
/// than owning it; `'pool` names that borrow's lifetime, and the compiler refuses any use of an
/// autoscaler that could outlive its pool (a Go struct would hold a pointer and trust you).
pub struct Autoscaler<'pool> {
    pool: &'pool WorkerPool,
    policy: Policy,
    /// When the pool last grew, for the cooldown.
    last_growth: Option<Duration>,
    /// The wait histogram's count and sum at the last tick, to average the waits since.
    waits_before: (u64, Duration),
    samples: Vec<Sample>,
}

impl<'pool> Autoscaler<'pool> {
    /// An autoscaler for `pool`; it does nothing until [`Autoscaler::run_until`].
    pub fn new(pool: &'pool WorkerPool, policy: Policy) -> Self {
        Self {
            pool,
            policy,
            last_growth: None,
            waits_before: (0, Duration::ZERO),
            samples: Vec::new(),
        }
    }

    /// On every tick: observe, decide, resize, and report a resize to `on_event`; until
    /// `finished(pool)` is true after a tick, or `context` is cancelled. Between ticks the thread
    /// blocks in `select!`, so a cancellation ends the wait at once.
    pub fn run_until(
        &mut self,
        context: &Context,
        finished: impl Fn(&WorkerPool) -> bool,
        mut on_event: impl FnMut(&ScalingEvent),
    ) {
        let ticks = tick(self.policy.tick);
        loop {
            select! {
                recv(context.done()) -> _ => return,
                recv(ticks) -> _ => {}
            }
            if let Some(event) = self.tick() {
                on_event(&event);
            }
            if finished(self.pool) {
                return;
            }
        }
    }

    /// What the autoscaler saw on every tick, for the chart.
    pub fn into_samples(self) -> Vec<Sample> {
        self.samples
    }

    fn tick(&mut self) -> Option<ScalingEvent> {
        let observed = self.observe();
        let mut event = None;
        if let Some((target, reason)) = self.policy.decide(&observed, self.pool.limits()) {
            let to = self.pool.resize(target);
            if to > observed.workers {
                self.last_growth = Some(observed.at);
            }
            event = (to != observed.workers).then_some(ScalingEvent {
                at: observed.at,
                from: observed.workers,
                to,
                reason,
            });
        }
        // What this tick left behind: the queue it saw and the size it chose.
        self.samples.push(Sample {
            at: observed.at,
            workers: event.map_or(observed.workers, |event| event.to),
            queue_depth: observed.queue_depth,
        });
        event
    }

    fn observe(&mut self) -> Observation {
        let metrics = self.pool.metrics();
        let at = metrics.now();
        let (count, sum) = metrics.waits();
        let (count_before, sum_before) = self.waits_before;
        let started = count - count_before;
        let mean_wait =
            (started > 0).then(|| (sum - sum_before) / u32::try_from(started).unwrap_or(u32::MAX));
        self.waits_before = (count, sum);
        let idle_workers = metrics
            .all_workers()
            .iter()
            .filter(|worker| worker.is_running() && worker.idle_for(at) >= self.policy.keep_alive)
            .count();
        Observation {
            at,
            workers: self.pool.size(),
            queue_depth: metrics.queue_depth(),
            mean_wait,
            idle_workers,
            last_growth: self.last_growth,
        }
    }
}
// ANCHOR_END: autoscale

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: Policy = Policy {
        tick: Duration::from_millis(100),
        backlog_per_worker: 4,
        target_wait: Duration::from_millis(50),
        keep_alive: Duration::from_millis(500),
        cooldown: Duration::from_millis(500),
    };
    const LIMITS: Limits = Limits { min: 1, max: 8 };

    fn observation(workers: usize, queue_depth: usize) -> Observation {
        Observation {
            at: Duration::from_secs(10),
            workers,
            queue_depth,
            mean_wait: None,
            idle_workers: 0,
            last_growth: None,
        }
    }

    #[test]
    fn a_burst_takes_the_pool_to_what_the_backlog_needs_at_once() {
        let (target, why) = POLICY
            .decide(&observation(1, 300), LIMITS)
            .expect("a backlog grows the pool");
        assert_eq!(target, 8);
        assert!(matches!(
            why,
            ScalingReason::Backlog {
                queue_depth: 300,
                threshold: 4
            }
        ));
        let (target, _) = POLICY
            .decide(&observation(2, 20), LIMITS)
            .expect("a backlog grows the pool");
        assert_eq!(target, 5);
    }

    #[test]
    fn a_small_backlog_or_a_full_pool_changes_nothing() {
        assert_eq!(POLICY.decide(&observation(2, 8), LIMITS), None);
        assert_eq!(POLICY.decide(&observation(8, 500), LIMITS), None);
    }

    #[test]
    fn slow_waits_double_the_pool() {
        let mut slow = observation(3, 2);
        slow.mean_wait = Some(Duration::from_millis(80));
        assert_eq!(
            POLICY.decide(&slow, LIMITS).map(|(target, _)| target),
            Some(6)
        );
    }

    #[test]
    fn idle_workers_are_retired_only_after_the_cooldown() {
        let mut idle = observation(8, 0);
        idle.idle_workers = 7;
        idle.last_growth = Some(Duration::from_millis(9_800));
        assert_eq!(POLICY.decide(&idle, LIMITS), None, "200 ms after growing");
        idle.last_growth = Some(Duration::from_millis(9_000));
        assert_eq!(
            POLICY.decide(&idle, LIMITS).map(|(target, _)| target),
            Some(1)
        );
    }

    #[test]
    fn the_minimum_is_kept_however_many_are_idle() {
        let mut idle = observation(1, 0);
        idle.idle_workers = 1;
        assert_eq!(POLICY.decide(&idle, LIMITS), None);
    }
}
