//! The producer: adds jobs to the stream, and with `--max-backlog` holds back while the workers
//! are behind — stage 1's bounded queue, now across processes.

use std::fmt;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::broker::{Broker, BrokerError, fresh_token};
use crate::delivery::until_told;
use crate::job::JobSpec;
use pool_core::counted;

/// `produce --jobs N --delay D --fail-every K --max-backlog B`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProduceSettings {
    /// Jobs to add.
    pub jobs: u64,
    /// The work each job does (a sleep this long).
    pub job_duration: Duration,
    /// Every K-th job is a poison job (`None`: none is).
    pub fail_every: Option<u64>,
    /// Add a job only while fewer than this many are waiting or in flight (`None`: always).
    pub max_backlog: Option<u64>,
}

/// The jobs one producer added, by number. Other producers may have added jobs in between, so
/// the numbers need not be one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Produced {
    /// The numbers the queue gave this producer's jobs, in order.
    pub job_ids: Vec<u64>,
}

impl fmt::Display for Produced {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let added = counted(self.job_ids.len() as u64, "job", "jobs");
        match self.job_ids.len() {
            0 => write!(f, "added no jobs"),
            _ => write!(
                f,
                "added {added}: {}",
                pool_core::number_ranges(self.job_ids.iter().copied())
            ),
        }
    }
}

/// A producer that stopped on an error, and what it had added before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProduceError {
    /// The jobs that are in the stream.
    pub added: Produced,
    /// Why it stopped.
    pub error: BrokerError,
}

impl fmt::Display for ProduceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}; before that, {}", self.error, self.added)
    }
}

/// Jobs per call to the broker: one round trip adds this many.
const BATCH: u64 = 100;

/// How often a held-back producer looks at the backlog again. A stream has no "wait until the
/// group is behind by fewer than B" command, so this one wait is a poll.
const BACKLOG_POLL: Duration = Duration::from_millis(10);

// ANCHOR: produce
/// Adds `settings.jobs` jobs, numbered by the queue, in batches, and returns the numbers they
/// got. Stops early, between two batches, when `stop` is cancelled. Every job it reports is in
/// the stream; on an error it still says which those are.
pub async fn produce<B: Broker>(
    broker: &B,
    settings: ProduceSettings,
    stop: &CancellationToken,
) -> Result<Produced, ProduceError> {
    // The producer's name for itself: the broker remembers its last batch under it, so that a
    // batch repeated after a lost answer is added once.
    let producer = fresh_token();
    let mut produced = Produced::default();
    let mut batch_number = 0;
    let mut next = 1;
    while next <= settings.jobs && !stop.is_cancelled() {
        let last = settings.jobs.min(next + BATCH - 1);
        let payloads: Vec<String> = (next..=last)
            .map(|nth| {
                let spec = JobSpec {
                    // The producer's own count, which fits: `--jobs` is at most ten million.
                    number: u32::try_from(nth).unwrap_or(u32::MAX),
                    duration: settings.job_duration,
                    poison: settings.fail_every.is_some_and(|every| nth % every == 0),
                };
                spec.encode()
            })
            .collect();
        batch_number += 1;
        let added = until_told(stop, || {
            broker.submit(&producer, batch_number, &payloads, settings.max_backlog)
        })
        .await
        .map_err(|error| ProduceError {
            added: produced.clone(),
            error,
        })?;
        produced
            .job_ids
            .extend(added.first..added.first + added.count);
        next += added.count;
        if added.count == 0 {
            // The backlog is full: wait for the workers to make room.
            tokio::select! {
                () = stop.cancelled() => {}
                () = tokio::time::sleep(BACKLOG_POLL) => {}
            }
        }
    }
    Ok(produced)
}
// ANCHOR_END: produce
