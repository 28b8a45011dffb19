//! What the pool needs from a queue that many processes share, and nothing more.
//!
//! The operations are those of a Redis stream read through a consumer group, each made one
//! atomic, conditional step: [`RedisBroker`] runs every step that changes a job as one Lua script
//! on the server, and [`MemoryBroker`] keeps the same promises inside one process. The worker
//! loop is written against [`Broker`] alone, so the contract tests run the same checks on both;
//! what only `status`, the demo and the tests need is in [`Inspect`].

mod inspect;
mod memory;
mod redis;

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::time::{Duration, SystemTime};

pub use inspect::{DeadLetter, Inspect, JobRecord, JobState};
pub use memory::MemoryBroker;
pub use redis::{RedisBroker, check_url, redact};

// ANCHOR: delivery
/// One delivery of a job to one consumer: which job, what it carries, and which delivery this
/// is. The last three fields are the delivery's identity, which fences it: once the job has been
/// taken over, this delivery can no longer settle it (see [`Settlement::NotHeld`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The job's number, given by the broker when the job was added, from 1.
    pub job_id: u64,
    /// The job as its producer wrote it: the program decides what it means.
    pub payload: String,
    /// Where the job sits in the stream (`1733480000000-0` on Redis).
    pub entry: String,
    /// The consumer the job was delivered to.
    pub consumer: String,
    /// How many times the job has been delivered, this time included: 1 for the first.
    pub count: u64,
}
// ANCHOR_END: delivery

/// What the broker made of a worker's news about one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    /// This run's result is now the job's, and the job is acknowledged.
    Recorded,
    /// This run's result is now the job's, but the delivery had been taken over, so it was not
    /// acknowledged: whoever holds the job now will find it done.
    RecordedNotHeld,
    /// Another run had ended the job first (a result, or a dead letter): nothing changed, and
    /// the run is counted as a duplicate.
    Duplicate,
    /// The job is in the dead-letter stream now, and acknowledged.
    DeadLettered,
    /// Asked to dead-letter a job that has a result: acknowledged as completed instead.
    AlreadyCompleted,
    /// The delivery is no longer this worker's (another worker took the job over): nothing was
    /// done, and whatever the worker held for it must stop.
    NotHeld,
    /// The entry only claimed to be a job: it was dead-lettered as "not a job".
    NotAJob,
}

/// Whether a lease extension found the delivery still the caller's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lease {
    /// Extended: nobody may take the job over for another lease.
    Extended,
    /// Another worker has taken the job over (or it was settled): the caller must stop it.
    Lost,
}

/// Jobs added by one call of [`Broker::submit`]: numbers `first` to `first + count - 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Added {
    /// The first job's number.
    pub first: u64,
    /// How many were added: fewer than asked when the backlog had less room, 0 when it had none.
    pub count: u64,
}

/// The whole queue at one moment, as `status` prints it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    /// Jobs ever added by producers.
    pub submitted: u64,
    /// Jobs with a recorded result.
    pub completed: u64,
    /// Jobs moved to the dead-letter stream.
    pub dead_lettered: u64,
    /// Entries delivered and not yet acknowledged, by consumer name.
    pub pending: BTreeMap<String, u64>,
    /// Entries the group has not read yet, where the broker says (Redis 7 keeps the group's lag).
    pub unread: Option<u64>,
    /// Runs that finished after their job had already ended.
    pub duplicates: u64,
    /// Entries that were not jobs (written by another program, or by hand), dead-lettered as such.
    pub not_jobs: u64,
}

impl Status {
    /// Entries in flight: delivered to some consumer and not yet acknowledged.
    pub fn in_flight(&self) -> u64 {
        self.pending.values().sum()
    }

    /// Jobs not ended either way: waiting to be read, or in flight. The producer's
    /// `--max-backlog` bounds this.
    pub fn backlog(&self) -> u64 {
        self.submitted
            .saturating_sub(self.completed)
            .saturating_sub(self.dead_lettered)
    }

    /// Jobs that no consumer has read yet.
    pub fn waiting(&self) -> u64 {
        self.backlog().saturating_sub(self.in_flight())
    }

    /// Jobs that have not ended, are held by nobody, and will never be read: a consumer deleted
    /// with jobs in hand, or entries deleted by hand. Known only where the broker says how much
    /// is unread.
    pub fn lost(&self) -> u64 {
        self.unread.map_or(0, |unread| {
            self.backlog()
                .saturating_sub(self.in_flight())
                .saturating_sub(unread)
        })
    }

    /// Whether the numbers can be of one queue: no more jobs ended than were ever added, and none
    /// lost. A broker that lost part of its data, or keys changed by hand, break it.
    pub fn adds_up(&self) -> bool {
        self.lost() == 0
            && self
                .completed
                .checked_add(self.dead_lettered)
                .is_some_and(|ended| ended <= self.submitted)
    }

    /// Whether nothing is left that any worker could do: nothing in flight, and nothing to read.
    pub fn drained(&self) -> bool {
        self.in_flight() == 0 && (self.backlog() == 0 || self.unread == Some(0))
    }
}

/// How long the broker keeps what ended, and how much of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// How long a job's result (or its dead-letter mark) is kept after the job ended. A run that
    /// finishes later than this after its job ended is still counted as a duplicate, but its
    /// result cannot be compared with the first.
    pub results: Duration,
    /// The most entries the dead-letter stream keeps; the oldest go first.
    pub dead_letters: u64,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            results: Duration::from_secs(24 * 60 * 60),
            dead_letters: 10_000,
        }
    }
}

/// Why a broker operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrokerError {
    /// The broker could not be reached at the start: `at` says where it was tried, with any
    /// password replaced by `***`.
    Unreachable {
        /// The address tried.
        at: String,
        /// What the connection attempt said.
        reason: String,
    },
    /// The connection broke during an operation. The operation may or may not have taken effect;
    /// every operation here is safe to try again.
    Lost(String),
    /// The broker refused the operation for now and took no part of it: it is out of memory, a
    /// read-only replica, busy with a script, or loading its data. Try again later.
    Refused(String),
    /// The queue lost its state since this process connected: the broker restarted without its
    /// data, or failed over to a replica that never had it. Nothing that was in flight can be
    /// settled any more, and the account no longer adds up.
    StateLost(String),
    /// The queue's data was changed behind its back (a key of the wrong type, a count that is not
    /// a number, a count of jobs lost): no step can be sure of what it would write.
    Damaged(String),
    /// There is no queue under this name on the broker.
    NoQueue(String),
    /// The broker answered with something this program does not understand.
    Protocol(String),
}

impl BrokerError {
    /// Whether trying again later can succeed: the connection or the broker's refusal may pass.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Lost(_) | Self::Refused(_))
    }

    /// Whether the queue itself is gone or damaged: a worker can settle nothing any more, and
    /// stops.
    pub fn is_fatal(&self) -> bool {
        matches!(self, Self::StateLost(_) | Self::Damaged(_))
    }
}

impl fmt::Display for BrokerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unreachable { at, reason } => {
                write!(f, "cannot reach the broker at {at}: {reason}")
            }
            Self::Lost(reason) => write!(f, "lost the connection to the broker: {reason}"),
            Self::Refused(reason) => write!(f, "the broker refuses writes for now: {reason}"),
            Self::StateLost(reason) => write!(f, "the broker lost the queue's state: {reason}"),
            Self::Damaged(reason) => write!(f, "the queue's data is damaged: {reason}"),
            Self::NoQueue(name) => write!(f, "there is no queue named {name:?} on the broker"),
            Self::Protocol(reason) => write!(f, "unexpected answer from the broker: {reason}"),
        }
    }
}

impl std::error::Error for BrokerError {}

// ANCHOR: broker
/// A queue shared by worker processes: a stream of jobs, read through one consumer group.
///
/// Every operation can be tried again after a [`BrokerError::Lost`] or
/// [`BrokerError::Refused`] without doing its effect twice, and every operation that settles a
/// job is one atomic step on the broker that checks before it writes: the delivery is still the
/// caller's, and the job has not ended another way.
// ANCHOR_END: broker
///
/// # Example
///
/// One job's life on the in-process broker: added, delivered, completed, and then nothing left.
///
/// ```
/// use std::time::Duration;
///
/// use stage_6_distributed::{Broker, MemoryBroker, Settlement};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), stage_6_distributed::BrokerError> {
/// let broker = MemoryBroker::new();
/// let added = broker.submit("producer-1", 1, &[r#"{"n":7}"#.to_owned()], None).await?;
/// assert_eq!((added.first, added.count), (1, 1));
///
/// let delivery = broker.read_new("worker-1", 10, Duration::ZERO).await?.remove(0);
/// assert_eq!((delivery.job_id, delivery.count), (1, 1));
/// assert_eq!(broker.complete(&delivery, "49").await?, Settlement::Recorded);
///
/// let status = broker.status().await?;
/// assert_eq!((status.completed, status.backlog()), (1, 0));
/// # Ok(())
/// # }
/// ```
// ANCHOR: broker_body
pub trait Broker: Send + Sync + 'static {
    /// Adds `payloads` as jobs, numbered by the broker, and returns which numbers they got.
    /// With `max_backlog`, adds only as many as keep the backlog (jobs not yet ended) at or
    /// below it, perhaps none. `batch` identifies the call for `producer`: repeating a call with
    /// the same producer and batch (after a lost answer) adds nothing and returns the first
    /// answer, so a producer numbers its batches 1, 2, 3, … and repeats one until it is answered.
    fn submit(
        &self,
        producer: &str,
        batch: u64,
        payloads: &[String],
        max_backlog: Option<u64>,
    ) -> impl Future<Output = Result<Added, BrokerError>> + Send;

    /// Up to `count` jobs that no consumer has read yet, now delivered to `consumer` (Redis:
    /// `XREADGROUP … COUNT count BLOCK block STREAMS jobs >`). Waits up to `block` for the first
    /// one; an empty list means none came. Entries that are not jobs are dead-lettered on the
    /// way, and not returned.
    fn read_new(
        &self,
        consumer: &str,
        count: usize,
        block: Duration,
    ) -> impl Future<Output = Result<Vec<Delivery>, BrokerError>> + Send;

    /// Up to `count` jobs whose lease ran out — delivered at least `lease` ago and neither
    /// settled nor extended since — now delivered to `consumer`, each delivery count one
    /// higher (Redis: `XAUTOCLAIM`). A job found ended (recorded by a worker whose delivery had
    /// been taken over) is acknowledged instead.
    fn take_over(
        &self,
        consumer: &str,
        lease: Duration,
        count: usize,
    ) -> impl Future<Output = Result<Vec<Delivery>, BrokerError>> + Send;

    /// Starts the delivery's lease again, if the delivery is still the caller's.
    fn extend_lease(
        &self,
        delivery: &Delivery,
    ) -> impl Future<Output = Result<Lease, BrokerError>> + Send;

    /// Records `output` as the job's result and acknowledges the job, in one step. The first run
    /// to finish records its result; a later run of the same job changes nothing and is counted
    /// as a duplicate. A delivery that is no longer held still records a result the job does not
    /// have yet, but acknowledges nothing.
    fn complete(
        &self,
        delivery: &Delivery,
        output: &str,
    ) -> impl Future<Output = Result<Settlement, BrokerError>> + Send;

    /// Moves the job to the dead-letter stream with `reason`, and acknowledges it, in one step:
    /// only if the delivery is still the caller's and the job has no result.
    fn dead_letter(
        &self,
        delivery: &Delivery,
        reason: &str,
    ) -> impl Future<Output = Result<Settlement, BrokerError>> + Send;

    /// The queue at this moment, checked to be the queue this broker connected to.
    fn status(&self) -> impl Future<Output = Result<Status, BrokerError>> + Send;

    /// Forgets what nobody needs any more: the stream's entries below the oldest one still
    /// pending or unread, and the consumers that hold nothing and have not read for
    /// `forget_idle` (processes that died with nothing in hand). Returns how many entries went.
    fn trim(&self, forget_idle: Duration) -> impl Future<Output = Result<u64, BrokerError>> + Send;

    /// Takes `consumer` out of the group if it holds nothing, as a process that stopped
    /// cleanly does; a consumer with jobs pending stays, so that they can be taken over.
    fn leave(&self, consumer: &str) -> impl Future<Output = Result<bool, BrokerError>> + Send;
}
// ANCHOR_END: broker_body

/// A token no other process has made: 64 bits from the standard library's random hasher seed,
/// and the time. Names a queue's incarnation (its epoch) and a producer.
pub(crate) fn fresh_token() -> String {
    let random = RandomState::new().hash_one(std::process::id());
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!("{random:016x}-{now:x}")
}
