//! What a hand-off costs: stage 1's pool (one job queue, one results channel, W worker threads)
//! on N trivial jobs, timed, with the context switches the process made meanwhile, on every core
//! the process may use or pinned to one of them.
//!
//! A job that squares a number costs next to nothing, so the time per job is the cost of moving a
//! job to a worker and its result back. Two threads on two cores pass each job from one core's
//! cache to the other's; two threads pinned to one core pass it within one cache, but take turns
//! on the core. The context switches say which of the two a run paid for: a **voluntary** switch
//! is a thread that blocked (a full queue, an empty one) and gave up its core; an **involuntary**
//! one is the kernel taking a core from a thread that could have gone on. `go-reference -handoff`
//! measures the article's design in Go the same way and prints the same lines.
//!
//! The counts are the process's (`getrusage(RUSAGE_SELF)`), every thread included, taken just
//! before and just after the timed run.

use std::io;
use std::time::{Duration, Instant};

use nix::sched::{CpuSet, sched_getaffinity, sched_setaffinity};
use nix::sys::resource::{UsageWho, getrusage};
use nix::unistd::Pid;
use pool_core::{Console, PoolSize, work};
use stage_1_basic::{article_jobs, run_pool};

/// What one timed run of the pool cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Handoff {
    /// The pool's size.
    pub size: PoolSize,
    /// Jobs in the timed run.
    pub jobs: u64,
    /// Runs of the pool, as large as the timed one, made in the same process before it.
    pub runs_before: u32,
    /// glibc's mmap threshold, where `MALLOC_MMAP_THRESHOLD_` fixes it for the process.
    pub mmap_threshold: Option<u64>,
    /// CPUs the process was allowed to run on.
    pub cpus: usize,
    /// How long the timed run took, from the first job sent to the last result collected and
    /// every worker joined.
    pub elapsed: Duration,
    /// Times a thread of the process blocked and gave up its core during the run.
    pub voluntary: u64,
    /// Times the kernel took a core from a thread of the process during the run.
    pub involuntary: u64,
}

impl Handoff {
    /// The run as the probe prints it, a `key: value` line each, in the order `go-reference
    /// -handoff` prints them (without its `gomaxprocs:` line):
    ///
    /// ```text
    /// design: stage-1-basic
    /// workers: 2
    /// queue: 100
    /// jobs: 1000000
    /// cpus: 2
    /// ns per job: 291.30
    /// voluntary switches: 931 (0.931 per 1000 jobs)
    /// involuntary switches: 2803 (2.803 per 1000 jobs)
    /// ```
    pub fn report(&self) -> String {
        let jobs = self.jobs.max(1) as f64;
        let per_thousand = |count: u64| 1000.0 * count as f64 / jobs;
        format!(
            "design: stage-1-basic\nworkers: {}\nqueue: {}\njobs: {}\ncpus: {}\n\
             {}ns per job: {:.2}\n\
             voluntary switches: {} ({:.3} per 1000 jobs)\n\
             involuntary switches: {} ({:.3} per 1000 jobs)\n",
            self.size.workers,
            self.size.queue,
            self.jobs,
            self.cpus,
            self.extra_lines(),
            self.elapsed.as_nanos() as f64 / jobs,
            self.voluntary,
            per_thousand(self.voluntary),
            self.involuntary,
            per_thousand(self.involuntary),
        )
    }
}

impl Handoff {
    /// The lines a run prints only when it departs from the plain setup: the runs before it, and
    /// a fixed mmap threshold.
    fn extra_lines(&self) -> String {
        let mut lines = String::new();
        if self.runs_before > 0 {
            lines.push_str(&format!("runs before: {}\n", self.runs_before));
        }
        if let Some(threshold) = self.mmap_threshold {
            lines.push_str(&format!("mmap threshold: {threshold}\n"));
        }
        lines
    }
}

/// glibc's mmap threshold as `MALLOC_MMAP_THRESHOLD_` sets it for this process, if it does.
/// Left alone, glibc raises the threshold each time a large block is freed, which changes where
/// later runs' memory comes from; fixed, it stays put.
fn mmap_threshold() -> Option<u64> {
    std::env::var("MALLOC_MMAP_THRESHOLD_")
        .ok()
        .and_then(|value| value.trim().parse().ok())
}

/// The context switches of the process so far: (voluntary, involuntary).
fn switches() -> io::Result<(u64, u64)> {
    let usage = getrusage(UsageWho::RUSAGE_SELF).map_err(io::Error::from)?;
    let count = |switches: i64| u64::try_from(switches).unwrap_or(0);
    Ok((
        count(usage.voluntary_context_switches()),
        count(usage.involuntary_context_switches()),
    ))
}

/// The CPUs this thread may run on, by number.
fn allowed() -> io::Result<Vec<usize>> {
    let set = sched_getaffinity(Pid::from_raw(0)).map_err(io::Error::from)?;
    Ok((0..CpuSet::count())
        .filter(|&cpu| set.is_set(cpu).unwrap_or(false))
        .collect())
}

/// How many CPUs this thread may run on (the threads it starts inherit the same).
pub fn allowed_cpus() -> io::Result<usize> {
    allowed().map(|cpus| cpus.len())
}

/// Pins the calling thread, and so every thread it starts afterwards, to the first CPU it may run
/// on (CPU 0 on most machines, as `taskset -c 0` pins the Go program). Call it before the pool
/// starts its threads. Returns the CPU.
pub fn pin_to_one_core() -> io::Result<usize> {
    let first = allowed()?
        .first()
        .copied()
        .ok_or_else(|| io::Error::other("the process may run on no CPU"))?;
    let mut one = CpuSet::new();
    one.set(first).map_err(io::Error::from)?;
    sched_setaffinity(Pid::from_raw(0), &one).map_err(io::Error::from)?;
    Ok(first)
}

/// Runs stage 1's pool once on a tenth of `jobs` (untimed: the first allocations and page faults
/// are not the hand-off's), then `runs_before` times on `jobs`, untimed (criterion's repeated
/// runs in one process, in miniature), then once on `jobs`, timed, counting the context switches
/// of the process around the timed run. Fails if the kernel will not say what the process may run on or
/// how often it switched.
///
/// # Panics
///
/// If `size.workers` is 0, as stage 1's pool does, or if the pool loses a result.
pub fn measure(size: PoolSize, jobs: u64, runs_before: u32) -> io::Result<Handoff> {
    let console = Console::silent();
    let warm_up = (jobs / 10).max(1);
    run_pool(size, article_jobs(warm_up), work::square, &console);
    for _ in 0..runs_before {
        run_pool(size, article_jobs(jobs), work::square, &console);
    }
    let cpus = allowed_cpus()?;
    let before = switches()?;
    let started = Instant::now();
    let outputs = run_pool(size, article_jobs(jobs), work::square, &console);
    let elapsed = started.elapsed();
    let after = switches()?;
    assert_eq!(outputs.len() as u64, jobs, "stage 1 lost results");
    Ok(Handoff {
        size,
        jobs,
        runs_before,
        mmap_threshold: mmap_threshold(),
        cpus,
        elapsed,
        voluntary: after.0.saturating_sub(before.0),
        involuntary: after.1.saturating_sub(before.1),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_has_the_probes_lines_in_order() {
        let run = Handoff {
            size: PoolSize {
                workers: 2,
                queue: 100,
            },
            jobs: 1_000_000,
            runs_before: 0,
            mmap_threshold: None,
            cpus: 2,
            elapsed: Duration::from_nanos(291_300_000),
            voluntary: 931,
            involuntary: 2_803,
        };
        assert_eq!(
            run.report(),
            "design: stage-1-basic\nworkers: 2\nqueue: 100\njobs: 1000000\ncpus: 2\n\
             ns per job: 291.30\nvoluntary switches: 931 (0.931 per 1000 jobs)\n\
             involuntary switches: 2803 (2.803 per 1000 jobs)\n"
        );
    }

    #[test]
    fn a_small_run_is_measured() {
        let size = PoolSize {
            workers: 2,
            queue: 4,
        };
        let run = measure(size, 2_000, 1).expect("Linux tells");
        assert_eq!((run.size, run.jobs), (size, 2_000));
        assert!(run.cpus >= 1 && run.elapsed > Duration::ZERO, "{run:?}");
    }
}
