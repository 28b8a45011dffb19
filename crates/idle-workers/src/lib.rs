//! How much memory an idle worker holds, measured the only way that counts: the process's
//! resident set (RSS) before the workers start and at its peak while they wait for jobs.
//!
//! Two shapes, each the way a stage waits: a thread blocked on a crossbeam queue (stages 1–4) and
//! a tokio task waiting on an async mutex around the queue (stage 5). Run one shape per process,
//! so that nothing else the process did is counted.

use std::fs;
use std::io;
use std::sync::Arc;
use std::thread;

use crossbeam_channel::bounded;
use tokio::sync::{Mutex, mpsc};

/// What one measurement found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Footprint {
    /// Workers that were waiting at once when the peak was read.
    pub workers: usize,
    /// Resident memory before any worker started, in bytes.
    pub before: u64,
    /// The process's peak resident memory with every worker waiting, in bytes.
    pub peak: u64,
}

impl Footprint {
    /// The growth per worker, in bytes.
    pub fn per_worker(&self) -> u64 {
        self.peak.saturating_sub(self.before) / self.workers.max(1) as u64
    }
}

/// Reads a `kB` field (`VmRSS`, `VmHWM`) of `/proc/self/status`, in bytes. Linux only: elsewhere
/// the file does not exist and the error says so.
fn status_field(name: &str) -> io::Result<u64> {
    let status = fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
        .and_then(|value| value.trim().strip_suffix("kB")?.trim().parse::<u64>().ok())
        .map(|kilobytes| kilobytes * 1024)
        .ok_or_else(|| io::Error::other(format!("/proc/self/status has no {name} field")))
}

// ANCHOR: threads
/// Starts `workers` threads that each wait for a job on one shared queue, as stage 1's workers
/// do, reads the peak RSS once every one of them is waiting, then closes the queue and joins them.
/// Fails if the system refuses a thread (a limit on threads per user or per cgroup).
///
/// # Panics
///
/// If `workers` is 0: there would be nothing to measure.
pub fn idle_threads(workers: usize) -> io::Result<Footprint> {
    assert!(workers > 0, "measure at least one worker");
    let before = status_field("VmRSS")?;
    let (job_sender, job_receiver) = bounded::<u64>(workers);
    let (started_sender, started) = bounded::<()>(workers);
    let peak = thread::scope(|scope| {
        for _ in 0..workers {
            let jobs = job_receiver.clone();
            let started = started_sender.clone();
            let spawned = thread::Builder::new().spawn_scoped(scope, move || {
                started.send(()).ok();
                for _job in jobs {}
            });
            if let Err(refused) = spawned {
                drop(job_sender); // The threads already started return; the scope joins them.
                return Err(refused);
            }
        }
        started.iter().take(workers).for_each(drop);
        let peak = status_field("VmHWM");
        drop(job_sender); // The workers' loops end; the scope joins them.
        peak
    })?;
    Ok(Footprint {
        workers,
        before,
        peak,
    })
}
// ANCHOR_END: threads

// ANCHOR: tasks
/// Starts `workers` tokio tasks on a two-thread runtime that each wait for a job on one shared
/// queue, as stage 5's workers do (the one holding the lock waits on the queue, the rest wait
/// for the lock), reads the peak RSS once every task has started, then closes the queue.
///
/// # Panics
///
/// If `workers` is 0: there would be nothing to measure.
pub fn idle_tasks(workers: usize) -> io::Result<Footprint> {
    assert!(workers > 0, "measure at least one worker");
    let before = status_field("VmRSS")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()?;
    let peak = runtime.block_on(async {
        let (job_sender, job_receiver) = mpsc::channel::<u64>(workers);
        let queue = Arc::new(Mutex::new(job_receiver));
        let (started_sender, mut started) = mpsc::channel::<()>(workers);
        let tasks: Vec<_> = (0..workers)
            .map(|_| {
                let queue = Arc::clone(&queue);
                let started = started_sender.clone();
                tokio::spawn(async move {
                    started.send(()).await.ok();
                    while queue.lock().await.recv().await.is_some() {}
                })
            })
            .collect();
        for _ in 0..workers {
            started.recv().await;
        }
        let peak = status_field("VmHWM");
        drop(job_sender);
        for task in tasks {
            task.await.map_err(io::Error::other)?;
        }
        peak
    })?;
    Ok(Footprint {
        workers,
        before,
        peak,
    })
}
// ANCHOR_END: tasks

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_worker_divides_the_growth() {
        let footprint = Footprint {
            workers: 4,
            before: 1000,
            peak: 9000,
        };
        assert_eq!(footprint.per_worker(), 2000);
    }

    #[test]
    fn the_status_fields_read_as_bytes() {
        let rss = status_field("VmRSS").expect("Linux has /proc/self/status");
        assert!(rss > 0 && rss.is_multiple_of(1024));
        assert!(status_field("NoSuchField").is_err());
    }
}
