//! The broker's promises kept inside one process: for the demo when Redis is not installed, and
//! for the tests, where tokio's paused clock lets a lease run out in no real time.
//!
//! The state is a small model of what Redis keeps for a stream read through a consumer group —
//! the entries by id, the group's "last delivered" cursor, its pending-entries list — and of
//! what the Redis broker's scripts keep beside it. Each operation takes the one lock once and
//! does all its checks and changes under it, which is what makes it one atomic, conditional
//! step here, as a script is on Redis.

use std::collections::{BTreeMap, BTreeSet};
use std::pin::pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use pool_core::lock;
use tokio::sync::Notify;
use tokio::time::Instant;

mod inspect;
mod state;

use self::state::{Ended, JobEntry, State, entry_id};
use crate::broker::{
    Added, Broker, BrokerError, DeadLetter, Delivery, Lease, Retention, Settlement, Status,
};

/// A [`Broker`] held in memory: every worker task of one process shares it, and nothing survives
/// the process.
///
/// Lease ages are measured with [`tokio::time::Instant`], so on tokio's paused clock a test can
/// let a lease run out by advancing the clock. A clone is the same connection; [`connect`]
/// makes a new one, as a process started now would.
///
/// [`connect`]: MemoryBroker::connect
#[derive(Debug, Clone)]
pub struct MemoryBroker {
    shared: Arc<Shared>,
    /// The queue's epoch when this handle connected.
    epoch: u64,
    retention: Retention,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    /// Wakes every `read_new` that is waiting, each time entries are added.
    added: Notify,
}

impl Default for MemoryBroker {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryBroker {
    /// An empty queue, with the default retention.
    pub fn new() -> Self {
        Self::with_retention(Retention::default())
    }

    /// An empty queue that keeps ended jobs as `retention` says.
    pub fn with_retention(retention: Retention) -> Self {
        Self {
            shared: Arc::default(),
            epoch: 0,
            retention,
        }
    }

    /// A new connection to the same queue, knowing it by the epoch it has now.
    pub fn connect(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
            epoch: lock(&self.shared.state).epoch,
            retention: self.retention,
        }
    }

    /// What a broker restarted without its data looks like: the queue is empty and has a new
    /// epoch, so every connection made before sees [`BrokerError::StateLost`];
    /// [`MemoryBroker::connect`] finds the new, empty queue.
    pub fn lose_everything(&self) {
        let mut state = lock(&self.shared.state);
        let epoch = state.epoch + 1;
        *state = State {
            epoch,
            ..State::default()
        };
    }

    /// Adds an entry with these fields as they are, as another program or a person might: for
    /// the tests of entries that are not jobs.
    pub fn add_entry(&self, fields: &[(&str, &str)]) {
        let mut state = lock(&self.shared.state);
        state.last_entry += 1;
        let id = state.last_entry;
        let fields = fields
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        state.entries.insert(id, fields);
        drop(state);
        self.shared.added.notify_waiters();
    }

    /// The state, if it is still the queue this handle connected to.
    fn state(&self) -> Result<MutexGuard<'_, State>, BrokerError> {
        let state = lock(&self.shared.state);
        if state.epoch != self.epoch {
            return Err(BrokerError::StateLost(
                "its epoch changed: the broker lost its data".to_owned(),
            ));
        }
        Ok(state)
    }
}

impl Broker for MemoryBroker {
    async fn submit(
        &self,
        producer: &str,
        batch: u64,
        payloads: &[String],
        max_backlog: Option<u64>,
    ) -> Result<Added, BrokerError> {
        let added = {
            let mut state = self.state()?;
            if let Some((last_batch, added)) = state.producers.get(producer)
                && *last_batch == batch
            {
                return Ok(*added);
            }
            let mut room = payloads.len() as u64;
            if let Some(most) = max_backlog {
                let backlog = state.last_job - state.completed - state.dead_lettered;
                room = room.min(most.saturating_sub(backlog));
            }
            if room == 0 {
                return Ok(Added { first: 0, count: 0 });
            }
            let first = state.last_job + 1;
            for (job_id, payload) in (first..).zip(payloads).take(room as usize) {
                state.last_entry += 1;
                let entry = state.last_entry;
                let fields = vec![
                    ("job".to_owned(), job_id.to_string()),
                    ("payload".to_owned(), payload.clone()),
                ];
                state.entries.insert(entry, fields);
                let record = JobEntry {
                    entry,
                    ended: None,
                    runs: BTreeSet::new(),
                    forget_at: None,
                };
                state.jobs.insert(job_id, record);
                state.last_job = job_id;
            }
            let added = Added { first, count: room };
            state.producers.insert(producer.to_owned(), (batch, added));
            added
        };
        self.shared.added.notify_waiters();
        Ok(added)
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
            let added = self.shared.added.notified();
            let delivered = self.state()?.deliver_new(consumer, count, &self.retention);
            if !delivered.is_empty() {
                return Ok(delivered);
            }
            tokio::select! {
                () = added => {}
                () = &mut timeout => return Ok(Vec::new()),
            }
        }
    }

    async fn take_over(
        &self,
        consumer: &str,
        lease: Duration,
        count: usize,
    ) -> Result<Vec<Delivery>, BrokerError> {
        let mut state = self.state()?;
        let now = Instant::now();
        let expired: Vec<u64> = state
            .pending
            .iter()
            .filter(|(_, held)| now.duration_since(held.since) >= lease)
            .map(|(id, _)| *id)
            .collect();
        let mut claimed = Vec::new();
        // The pending-entries list is ordered by id, so the oldest entries are taken first.
        for id in expired {
            if claimed.len() == count {
                break;
            }
            let Some(held) = state.pending.get_mut(&id) else {
                continue;
            };
            consumer.clone_into(&mut held.consumer);
            held.count += 1;
            held.since = now;
            let count = held.count;
            let Some(delivery) = state.job_or_reject(id, consumer, count, &self.retention) else {
                continue;
            };
            let ended = state
                .record_of(delivery.job_id, &delivery.entry)
                .is_some_and(|record| record.ended.is_some());
            if ended {
                // Recorded by a worker that had lost its lease, whose job's new holder died.
                state.acknowledge(&delivery.entry, delivery.job_id, &self.retention);
            } else {
                claimed.push(delivery);
            }
        }
        Ok(claimed)
    }

    async fn extend_lease(&self, delivery: &Delivery) -> Result<Lease, BrokerError> {
        let mut state = self.state()?;
        if !state.holds(delivery) {
            return Ok(Lease::Lost);
        }
        if let Some(held) = entry_id(&delivery.entry).and_then(|id| state.pending.get_mut(&id)) {
            held.since = Instant::now();
        }
        Ok(Lease::Extended)
    }

    async fn complete(&self, delivery: &Delivery, output: &str) -> Result<Settlement, BrokerError> {
        let mut state = self.state()?;
        let held = state.holds(delivery);
        let pending = entry_id(&delivery.entry).is_some_and(|id| state.pending.contains_key(&id));
        let Some(ended) = state.ended(delivery) else {
            return Ok(state.not_a_job(delivery, held, &self.retention));
        };
        let settlement = match ended {
            // This very call again, after a lost answer.
            Some(Ended::Completed { by, .. }) if by == delivery.count => {
                return Ok(Settlement::Recorded);
            }
            Some(_) => {
                if state.add_run(delivery) {
                    state.duplicates += 1;
                }
                Settlement::Duplicate
            }
            None if pending => {
                state.add_run(delivery);
                state.end(
                    delivery,
                    Ended::Completed {
                        output: output.to_owned(),
                        by: delivery.count,
                    },
                );
                state.completed += 1;
                if held {
                    Settlement::Recorded
                } else {
                    Settlement::RecordedNotHeld
                }
            }
            None => return Ok(Settlement::NotHeld),
        };
        if held {
            state.acknowledge(&delivery.entry, delivery.job_id, &self.retention);
        }
        Ok(settlement)
    }

    async fn dead_letter(
        &self,
        delivery: &Delivery,
        reason: &str,
    ) -> Result<Settlement, BrokerError> {
        let mut state = self.state()?;
        let held = state.holds(delivery);
        let Some(ended) = state.ended(delivery) else {
            return Ok(state.not_a_job(delivery, held, &self.retention));
        };
        let settlement = match ended {
            Some(Ended::Completed { .. }) => Settlement::AlreadyCompleted,
            Some(Ended::DeadLettered { .. }) => Settlement::DeadLettered,
            None if !held => return Ok(Settlement::NotHeld),
            None => {
                state.end(
                    delivery,
                    Ended::DeadLettered {
                        by: delivery.count,
                        error: reason.to_owned(),
                    },
                );
                state.dead_lettered += 1;
                let letter = DeadLetter {
                    job_id: Some(delivery.job_id),
                    entry: delivery.entry.clone(),
                    deliveries: delivery.count,
                    error: reason.to_owned(),
                };
                state.add_dead_letter(letter, &self.retention);
                Settlement::DeadLettered
            }
        };
        if held {
            state.acknowledge(&delivery.entry, delivery.job_id, &self.retention);
        }
        Ok(settlement)
    }

    async fn status(&self) -> Result<Status, BrokerError> {
        let state = self.state()?;
        let mut pending = BTreeMap::new();
        for held in state.pending.values() {
            *pending.entry(held.consumer.clone()).or_insert(0) += 1;
        }
        Ok(Status {
            submitted: state.last_job,
            completed: state.completed,
            dead_lettered: state.dead_lettered,
            pending,
            unread: Some(state.entries.range(state.last_delivered + 1..).count() as u64),
            duplicates: state.duplicates,
            not_jobs: state.not_jobs,
        })
    }

    /// The in-process group keeps no list of consumers, so there are none to forget.
    async fn trim(&self, _forget_idle: Duration) -> Result<u64, BrokerError> {
        let mut state = self.state()?;
        let keep_from = state
            .pending
            .keys()
            .next()
            .copied()
            .unwrap_or(u64::MAX)
            .min(state.last_delivered);
        let kept = state.entries.split_off(&keep_from);
        let trimmed = std::mem::replace(&mut state.entries, kept).len() as u64;
        // Records past their retention go too, as Redis expires their keys.
        let now = Instant::now();
        state
            .jobs
            .retain(|_, record| record.forget_at.is_none_or(|at| at > now));
        Ok(trimmed)
    }

    async fn leave(&self, consumer: &str) -> Result<bool, BrokerError> {
        // The in-process group keeps no list of consumers: a consumer is known by what it holds.
        let state = self.state()?;
        Ok(!state.pending.values().any(|held| held.consumer == consumer))
    }
}
