//! The broker's promises kept inside one process: for the demo when Redis is not installed, and
//! for the tests, where tokio's paused clock lets a lease run out in no real time.
//!
//! The state is a small model of what Redis keeps for a stream read through a consumer group:
//! the entries by id, the group's "last delivered" cursor, and its pending-entries list. Each
//! operation takes the one lock once and does all its changes under it, which is what makes
//! `complete` and `dead_letter` "both or neither" here, as `MULTI … EXEC` does for Redis.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::pin::pin;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::broker::{Broker, BrokerError, DeadLetter, Delivery, JobSpec, Recorded, Status};

/// A [`Broker`] held in memory: every worker task of one process shares it, and nothing survives
/// the process.
///
/// Lease ages are measured with [`tokio::time::Instant`], so on tokio's paused clock a test can
/// let a lease run out by advancing the clock.
#[derive(Debug, Default)]
pub struct MemoryBroker {
    state: Mutex<State>,
    /// Wakes every `read_new` that is waiting, each time a job is added.
    submitted: Notify,
}

// ANCHOR: state
#[derive(Debug, Default)]
struct State {
    /// The stream: every job ever added, by id. Nothing is ever removed, as in the Redis stream,
    /// where acknowledging an entry leaves it in place.
    jobs: BTreeMap<u64, JobSpec>,
    /// The consumer group's cursor: the highest id `read_new` has handed out, 0 before the first.
    last_delivered: u64,
    /// The consumer group's pending-entries list: jobs delivered and not yet acknowledged.
    pending: BTreeMap<u64, PendingEntry>,
    /// The first output recorded for each job.
    results: BTreeMap<u64, u64>,
    /// For each job, the delivery counts whose run reached `complete`.
    runs: BTreeMap<u64, BTreeSet<u64>>,
    /// Runs that reached `complete` after the job's result was already recorded.
    duplicates: u64,
    /// The dead-letter stream, oldest first.
    dead_letters: Vec<DeadLetter>,
}

/// One job of the pending-entries list.
#[derive(Debug)]
struct PendingEntry {
    /// The job itself, so that handing it out again needs no second look-up in the stream.
    spec: JobSpec,
    /// Who holds it now.
    consumer: String,
    /// How many times it has been delivered, the current delivery included.
    deliveries: u64,
    /// When it was last delivered or had its lease extended: its lease runs from here.
    since: Instant,
}
// ANCHOR_END: state

impl MemoryBroker {
    /// An empty queue: no jobs, nothing pending, nothing recorded.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // No code in this module panics while it holds the lock, so a poisoned lock cannot mean
        // bookkeeping left half-done; the state is as the last operation left it.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Hands `consumer` up to `count` jobs past the group's cursor, if there are any.
    fn deliver_new(&self, consumer: &str, count: usize) -> Vec<Delivery> {
        let mut state = self.lock();
        let now = Instant::now();
        let specs: Vec<JobSpec> = state
            .jobs
            .range((Bound::Excluded(state.last_delivered), Bound::Unbounded))
            .take(count)
            .map(|(_, spec)| *spec)
            .collect();
        if let Some(last) = specs.last() {
            state.last_delivered = last.job.id;
        }
        for spec in &specs {
            let entry = PendingEntry {
                spec: *spec,
                consumer: consumer.to_owned(),
                deliveries: 1,
                since: now,
            };
            state.pending.insert(spec.job.id, entry);
        }
        specs
            .into_iter()
            .map(|spec| Delivery { spec, count: 1 })
            .collect()
    }
}

impl Broker for MemoryBroker {
    async fn submit(&self, spec: JobSpec) -> Result<(), BrokerError> {
        {
            let mut state = self.lock();
            // The stream only grows at its end, as Redis's XADD refuses an id not above the
            // stream's top: an id at or below it is either there already or was passed over for
            // good (the group's cursor may be beyond it, so no reader would ever see it).
            if spec.job.id <= last_id(&state) {
                return Ok(());
            }
            state.jobs.insert(spec.job.id, spec);
        }
        self.submitted.notify_waiters();
        Ok(())
    }

    async fn last_job_id(&self) -> Result<u64, BrokerError> {
        Ok(last_id(&self.lock()))
    }

    async fn read_new(
        &self,
        consumer: &str,
        count: usize,
        block: Duration,
    ) -> Result<Vec<Delivery>, BrokerError> {
        // Nothing could be handed out, so there is nothing to wait for.
        if count == 0 {
            return Ok(Vec::new());
        }
        // One deadline for the whole call: a reader woken for a job another reader took goes
        // back to waiting for what is left of `block`, not for all of it again.
        let mut timeout = pin!(tokio::time::sleep(block));
        loop {
            // Created before looking, so that a job added between the look and the wait still
            // wakes this reader: `notify_waiters` reaches every `Notified` that exists.
            let submitted = self.submitted.notified();
            let delivered = self.deliver_new(consumer, count);
            if !delivered.is_empty() {
                return Ok(delivered);
            }
            tokio::select! {
                () = submitted => {}
                () = &mut timeout => return Ok(Vec::new()),
            }
        }
    }

    async fn claim_expired(
        &self,
        consumer: &str,
        lease: Duration,
        count: usize,
    ) -> Result<Vec<Delivery>, BrokerError> {
        let mut state = self.lock();
        let now = Instant::now();
        let mut claimed = Vec::new();
        // The pending-entries list is ordered by id, so the oldest jobs are taken first.
        for entry in state.pending.values_mut() {
            if claimed.len() == count {
                break;
            }
            if now.duration_since(entry.since) < lease {
                continue;
            }
            consumer.clone_into(&mut entry.consumer);
            entry.deliveries += 1;
            entry.since = now;
            claimed.push(Delivery {
                spec: entry.spec,
                count: entry.deliveries,
            });
        }
        Ok(claimed)
    }

    async fn extend_lease(&self, consumer: &str, job_id: u64) -> Result<(), BrokerError> {
        // A job that is no longer pending stays acknowledged, as XCLAIM without FORCE leaves it.
        if let Some(entry) = self.lock().pending.get_mut(&job_id) {
            // Like XCLAIM, the extension also makes `consumer` the holder: a worker that extends
            // a lease is the one working on the job.
            consumer.clone_into(&mut entry.consumer);
            entry.since = Instant::now();
        }
        Ok(())
    }

    async fn complete(&self, delivery: Delivery, output: u64) -> Result<Recorded, BrokerError> {
        let job_id = delivery.spec.job.id;
        let mut state = self.lock();
        let recorded = match state.results.entry(job_id) {
            Entry::Vacant(result) => {
                result.insert(output);
                Recorded::First
            }
            Entry::Occupied(_) => Recorded::Duplicate,
        };
        // A repeated call for the same delivery (after a lost answer) is the same run again: it
        // adds no run, and so no duplicate either.
        let new_run = state.runs.entry(job_id).or_default().insert(delivery.count);
        if new_run && recorded == Recorded::Duplicate {
            state.duplicates += 1;
        }
        // Acknowledged whoever holds it now, as XACK does: the job's effect is recorded, so a
        // consumer that took it over has nothing left to do for it.
        state.pending.remove(&job_id);
        Ok(recorded)
    }

    async fn dead_letter(&self, delivery: Delivery, error: &str) -> Result<(), BrokerError> {
        let job_id = delivery.spec.job.id;
        let mut state = self.lock();
        if !state.dead_letters.iter().any(|dead| dead.job_id == job_id) {
            state.dead_letters.push(DeadLetter {
                job_id,
                deliveries: delivery.count,
                error: error.to_owned(),
            });
        }
        state.pending.remove(&job_id);
        Ok(())
    }

    async fn status(&self) -> Result<Status, BrokerError> {
        let state = self.lock();
        let mut pending = BTreeMap::new();
        for entry in state.pending.values() {
            *pending.entry(entry.consumer.clone()).or_insert(0) += 1;
        }
        Ok(Status {
            submitted: state.jobs.len() as u64,
            completed: state.results.len() as u64,
            pending,
            dead_lettered: state.dead_letters.len() as u64,
            duplicates: state.duplicates,
        })
    }

    async fn pending_of(&self, consumer: &str) -> Result<Vec<u64>, BrokerError> {
        Ok(self
            .lock()
            .pending
            .iter()
            .filter(|(_, entry)| entry.consumer == consumer)
            .map(|(id, _)| *id)
            .collect())
    }

    async fn results(&self) -> Result<BTreeMap<u64, u64>, BrokerError> {
        Ok(self.lock().results.clone())
    }

    async fn runs(&self) -> Result<BTreeMap<u64, Vec<u64>>, BrokerError> {
        Ok(self
            .lock()
            .runs
            .iter()
            .map(|(id, counts)| (*id, counts.iter().copied().collect()))
            .collect())
    }

    async fn dead_letters(&self) -> Result<Vec<DeadLetter>, BrokerError> {
        Ok(self.lock().dead_letters.clone())
    }
}

/// The highest job id in the stream, 0 when it is empty.
fn last_id(state: &State) -> u64 {
    state.jobs.last_key_value().map_or(0, |(id, _)| *id)
}
