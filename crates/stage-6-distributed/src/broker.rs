//! What the pool needs from a queue that many processes share, and nothing more.
//!
//! The operations are those of a Redis stream read through a consumer group; `RedisBroker` does
//! each with one or two Redis commands and `MemoryBroker` keeps the same promises inside one
//! process. The worker loop in `lib.rs` is written against this trait alone, so the contract
//! tests run the same checks on both.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::time::Duration;

use pool_core::Job;

// ANCHOR: job_spec
/// A job as the producer writes it to the stream: stage 1's job (an id and a number to square),
/// how long the work takes, and whether it is a poison job that fails on every delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobSpec {
    /// The id is the job's place in the stream (`0-<id>`), numbered from 1 as in every stage.
    pub job: Job,
    /// The simulated work: a sleep this long.
    pub work: Duration,
    /// Made to fail, every time, so that it ends in the dead-letter stream.
    pub poison: bool,
}

/// A job handed to one consumer: the stream's delivery counter says how many times it has been
/// handed out, this time included. The first delivery is 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// The job as submitted.
    pub spec: JobSpec,
    /// How many times the job has been delivered, this time included.
    pub count: u64,
}
// ANCHOR_END: job_spec

/// What recording a result found: the first record of the job's effect, or a run whose effect
/// an earlier run had already recorded (so nothing changed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// The job's result is now recorded, and the job acknowledged.
    First,
    /// Another run of the job had recorded it first; this run only acknowledged.
    Duplicate,
}

/// A job that gave up: moved to the dead-letter stream with the error of its last delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// The job's id.
    pub job_id: u64,
    /// Its deliveries when it was moved.
    pub deliveries: u64,
    /// Why its last delivery failed.
    pub error: String,
}

// ANCHOR: status
/// The whole queue at one moment, as `status` prints it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    /// Jobs ever added to the stream.
    pub submitted: u64,
    /// Distinct jobs with a recorded result.
    pub completed: u64,
    /// Jobs delivered and not yet acknowledged, by consumer name.
    pub pending: BTreeMap<String, u64>,
    /// Jobs moved to the dead-letter stream.
    pub dead_lettered: u64,
    /// Runs that finished after the job's result was already recorded.
    pub duplicates: u64,
}
// ANCHOR_END: status

impl Status {
    /// Jobs in flight: delivered to some consumer and not yet acknowledged.
    pub fn in_flight(&self) -> u64 {
        self.pending.values().sum()
    }

    /// Jobs not finished either way: waiting to be read, or in flight. The producer's
    /// `--max-backlog` bounds this.
    pub fn backlog(&self) -> u64 {
        self.submitted
            .saturating_sub(self.completed)
            .saturating_sub(self.dead_lettered)
    }

    /// Jobs in the stream that no consumer has read yet: the consumer group's lag.
    pub fn waiting(&self) -> u64 {
        self.backlog().saturating_sub(self.in_flight())
    }
}

/// Why a broker operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrokerError {
    /// The broker could not be reached (connect refused or timed out): `at` says where it tried.
    Unreachable {
        /// The address tried, as the user gave it.
        at: String,
        /// What the connection attempt said.
        reason: String,
    },
    /// The connection broke during an operation. The operation may or may not have taken effect;
    /// every operation here is safe to try again.
    Lost(String),
    /// The broker answered with something this program does not understand.
    Protocol(String),
}

impl fmt::Display for BrokerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unreachable { at, reason } => {
                write!(f, "cannot reach the broker at {at}: {reason}")
            }
            Self::Lost(reason) => write!(f, "lost the connection to the broker: {reason}"),
            Self::Protocol(reason) => write!(f, "unexpected answer from the broker: {reason}"),
        }
    }
}

impl std::error::Error for BrokerError {}

// ANCHOR: broker
/// A queue shared by worker processes: a stream of jobs, read through one consumer group.
///
/// Every operation can be retried after a [`BrokerError::Lost`] without doing its effect twice.
pub trait Broker: Send + Sync + 'static {
    /// Adds a job to the stream under its id. Adding an id that is already there changes nothing
    /// and is not an error, so a producer that lost the answer can simply add it again.
    fn submit(&self, spec: JobSpec) -> impl Future<Output = Result<(), BrokerError>> + Send;

    /// The highest job id in the stream, 0 when it is empty: where a new producer run goes on.
    fn last_job_id(&self) -> impl Future<Output = Result<u64, BrokerError>> + Send;

    /// Up to `count` jobs that no consumer has read yet, now delivered to `consumer` (Redis:
    /// `XREADGROUP … COUNT count BLOCK block STREAMS jobs >`). Waits up to `block` for the first
    /// one; an empty list means none came.
    fn read_new(
        &self,
        consumer: &str,
        count: usize,
        block: Duration,
    ) -> impl Future<Output = Result<Vec<Delivery>, BrokerError>> + Send;

    /// Up to `count` jobs whose lease ran out — delivered to some consumer at least `lease` ago
    /// and neither acknowledged nor extended since — now delivered to `consumer`, each delivery
    /// counter one higher (Redis: `XAUTOCLAIM`).
    fn claim_expired(
        &self,
        consumer: &str,
        lease: Duration,
        count: usize,
    ) -> impl Future<Output = Result<Vec<Delivery>, BrokerError>> + Send;

    /// Starts the job's lease again, so that nobody claims it while `consumer` is still working
    /// on it (Redis: `XCLAIM … 0 <id> JUSTID`, which leaves the delivery counter alone).
    fn extend_lease(
        &self,
        consumer: &str,
        job_id: u64,
    ) -> impl Future<Output = Result<(), BrokerError>> + Send;

    /// Records the job's output, keyed by the job, and acknowledges it, both or neither (Redis:
    /// one `MULTI … EXEC`). A job run twice records its effect once: the second run finds
    /// [`Recorded::Duplicate`] (as does the same call repeated after a lost answer, though it is
    /// not counted as a second run).
    fn complete(
        &self,
        delivery: Delivery,
        output: u64,
    ) -> impl Future<Output = Result<Recorded, BrokerError>> + Send;

    /// Moves the job to the dead-letter stream with `error` and acknowledges it, both or neither.
    /// Moving a job that is already there changes nothing.
    fn dead_letter(
        &self,
        delivery: Delivery,
        error: &str,
    ) -> impl Future<Output = Result<(), BrokerError>> + Send;

    /// The queue at this moment.
    fn status(&self) -> impl Future<Output = Result<Status, BrokerError>> + Send;

    /// The ids of the jobs `consumer` holds: delivered to it and not acknowledged.
    fn pending_of(
        &self,
        consumer: &str,
    ) -> impl Future<Output = Result<Vec<u64>, BrokerError>> + Send;

    /// Every recorded result, by job id.
    fn results(&self) -> impl Future<Output = Result<BTreeMap<u64, u64>, BrokerError>> + Send;

    /// Every finished run, by job id: the delivery counts whose run reached [`Broker::complete`].
    /// A job run more than once has more than one; a repeated call for the same delivery (after
    /// a lost answer) counts once.
    fn runs(&self) -> impl Future<Output = Result<BTreeMap<u64, Vec<u64>>, BrokerError>> + Send;

    /// The dead-letter stream, oldest first.
    fn dead_letters(&self) -> impl Future<Output = Result<Vec<DeadLetter>, BrokerError>> + Send;
}
// ANCHOR_END: broker
