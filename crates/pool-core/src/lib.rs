//! What every stage of *Worker Pools in Rust* shares and none of them teaches.
//!
//! The stages differ in how their pools move jobs and results around; that is their lesson and it
//! lives in each stage crate. This crate holds the vocabulary they all speak (a [`Job`], a
//! [`JobResult`]), the work they run ([`work`]), how they print ([`Console`], [`Clock`]), the flags
//! they accept and the exit codes they end with ([`cli`]), the text of a panic and of a measured
//! duration ([`panic_message`], [`short_duration`]), a lock that survives a panic ([`lock`]), and
//! the picture they draw of a run ([`timeline`]). It ships no test code: the helpers the tests
//! share are in the dev-only `test-support` crate.

pub mod cli;
mod clock;
mod console;
mod sync;
mod text;
pub mod timeline;
pub mod work;

use std::time::SystemTime;

pub use clock::{Clock, WallTime};
pub use console::{Capture, Console};
pub use sync::lock;
pub use text::{counted, number_ranges, panic_message, short_duration};

// ANCHOR: job
/// One unit of work: the pool's input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Job {
    /// Numbered from 1 in the order the jobs are submitted.
    pub id: u64,
    /// The input the work is done on.
    pub number: u64,
}
// ANCHOR_END: job

/// How big a pool is: its worker threads and the room in its job queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSize {
    /// Worker threads, each running one job at a time.
    pub workers: usize,
    /// Jobs the queue holds before a submitter waits; 0 makes each hand-off a rendezvous.
    pub queue: usize,
}

// ANCHOR: job_result
/// What a worker hands back for one job: the output, and enough about how it was made to see
/// which worker ran it, and when it started and finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobResult {
    /// The [`Job::id`] this result answers.
    pub job_id: u64,
    /// What the work computed.
    pub output: u64,
    /// Which worker ran the job, from 1 to the number of workers.
    pub worker_id: usize,
    /// When the worker started the job, by the pool's [`Clock`].
    pub started_at: SystemTime,
    /// When the worker finished the job, by the same clock.
    pub finished_at: SystemTime,
}
// ANCHOR_END: job_result
