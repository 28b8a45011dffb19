//! The producer: adds jobs to the stream, and with `--max-backlog` holds back while the workers
//! are behind — stage 1's bounded queue, now across processes.

use std::time::Duration;

use pool_core::Job;
use tokio_util::sync::CancellationToken;

use crate::broker::{Broker, BrokerError, JobSpec};
use crate::retrying;

/// `produce --jobs N --delay D --fail-every K --max-backlog B`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProduceSettings {
    /// Jobs to add.
    pub jobs: u64,
    /// The work each job does (a sleep this long).
    pub work: Duration,
    /// Every K-th job is a poison job (`None`: none is).
    pub fail_every: Option<u64>,
    /// Hold back while more than this many jobs are waiting or in flight (`None`: never).
    pub max_backlog: Option<u64>,
}

/// How often a held-back producer looks at the backlog again. A stream has no "wait until the
/// group is behind by fewer than B" command, so this one wait is a poll.
const BACKLOG_POLL: Duration = Duration::from_millis(10);

// ANCHOR: produce
/// Adds `settings.jobs` jobs after the last one in the stream, numbering on from it, and returns
/// the ids added. Stops early, between two jobs, when `stop` is cancelled.
pub async fn produce<B: Broker>(
    broker: &B,
    settings: ProduceSettings,
    stop: &CancellationToken,
) -> Result<Vec<u64>, BrokerError> {
    let last = retrying("find the last job", || broker.last_job_id()).await?;
    let mut added = Vec::new();
    for id in last + 1..=last + settings.jobs {
        if let Some(limit) = settings.max_backlog {
            // Adding one job must leave the backlog at `limit` or below.
            while retrying("read the backlog", || broker.status())
                .await?
                .backlog()
                >= limit
            {
                tokio::select! {
                    () = stop.cancelled() => return Ok(added),
                    () = tokio::time::sleep(BACKLOG_POLL) => {}
                }
            }
        }
        if stop.is_cancelled() {
            break;
        }
        let spec = JobSpec {
            job: Job { id, number: id },
            work: settings.work,
            poison: settings.fail_every.is_some_and(|every| id % every == 0),
        };
        // Adding a job under its id twice adds it once, so a retry after a lost answer is safe.
        retrying("add a job", || broker.submit(spec)).await?;
        added.push(id);
    }
    Ok(added)
}
// ANCHOR_END: produce
