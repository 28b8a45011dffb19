//! What `status`, the demo, `chaos` and the tests read of a queue: a job's record, the dead
//! letters, the jobs one consumer holds. Nothing here is needed to work off jobs.

use std::future::Future;

use super::{Broker, BrokerError};

/// What `status`, the demo, `chaos` and the tests read, beyond what a worker needs.
pub trait Inspect: Broker {
    /// The numbers of the jobs `consumer` holds: delivered to it and not acknowledged.
    fn pending_of(
        &self,
        consumer: &str,
    ) -> impl Future<Output = Result<Vec<u64>, BrokerError>> + Send;

    /// What became of job `job_id`; `None` for a number never given out, or one whose record was
    /// dropped after its retention.
    fn job(
        &self,
        job_id: u64,
    ) -> impl Future<Output = Result<Option<JobRecord>, BrokerError>> + Send;

    /// The dead-letter stream, oldest first.
    fn dead_letters(&self) -> impl Future<Output = Result<Vec<DeadLetter>, BrokerError>> + Send;

    /// Why the broker will not keep the queue's writes, if it will not: it is full and refuses
    /// them, or it evicts keys when full, which would lose jobs.
    fn full(&self) -> impl Future<Output = Result<Option<String>, BrokerError>> + Send;
}

/// What became of one job, as the broker keeps it (`status --job`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobState {
    /// Added, and not yet read by any consumer.
    Waiting,
    /// Delivered to `consumer`, `count` times in all, and not yet ended.
    Pending {
        /// Who holds it now.
        consumer: String,
        /// Its deliveries so far.
        count: u64,
    },
    /// Ended with a result.
    Completed {
        /// The result, as the work wrote it.
        output: String,
        /// The delivery whose run recorded it.
        delivery: u64,
    },
    /// Ended in the dead-letter stream.
    DeadLettered {
        /// Its deliveries when it was moved.
        deliveries: u64,
        /// Why.
        error: String,
    },
}

/// One job as the broker keeps it: its state and the deliveries whose runs finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRecord {
    /// Where it stands.
    pub state: JobState,
    /// The delivery counts whose run reached [`Broker::complete`], in order: a job run twice to
    /// the end has two.
    pub runs: Vec<u64>,
}

/// An entry in the dead-letter stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// The job's number; `None` for an entry that was not a job.
    pub job_id: Option<u64>,
    /// Its stream entry.
    pub entry: String,
    /// Its deliveries when it was moved.
    pub deliveries: u64,
    /// Why it was moved.
    pub error: String,
}
