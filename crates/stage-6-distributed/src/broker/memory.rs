//! The broker's promises kept inside one process: for the demo when Redis is not installed, and
//! for the tests, where tokio's paused clock lets a lease run out in no real time.
//!
//! The state is a small model of what Redis keeps for a stream read through a consumer group —
//! the entries by id, the group's "last delivered" cursor, its pending-entries list — and of
//! what the Redis broker's scripts keep beside it. Each operation takes the one lock once and
//! does all its checks and changes under it, which is what makes it one atomic, conditional
//! step here, as a script is on Redis.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::ops::Bound;
use std::pin::pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use pool_core::lock;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::broker::{
    Added, Broker, BrokerError, DeadLetter, Delivery, Inspect, JobRecord, JobState, Lease,
    Retention, Settlement, Status,
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

// ANCHOR: state
#[derive(Debug, Default)]
struct State {
    /// Which incarnation of the queue this is: a new one after [`MemoryBroker::lose_everything`].
    epoch: u64,
    /// The stream: the entries not yet trimmed, by id, each a list of fields.
    entries: BTreeMap<u64, Vec<(String, String)>>,
    /// The last entry id given out.
    last_entry: u64,
    /// The consumer group's cursor: the highest entry id handed out, 0 before the first.
    last_delivered: u64,
    /// The consumer group's pending-entries list: entries delivered and not yet acknowledged.
    pending: BTreeMap<u64, PendingEntry>,
    /// Each job's record, by job number.
    jobs: BTreeMap<u64, JobEntry>,
    /// The last job number given out: also the count of jobs submitted.
    last_job: u64,
    completed: u64,
    dead_lettered: u64,
    duplicates: u64,
    not_jobs: u64,
    /// The dead-letter stream, oldest first, capped.
    dead_letters: VecDeque<DeadLetter>,
    /// Each producer's last batch and what it added.
    producers: HashMap<String, (u64, Added)>,
}

/// One entry of the pending-entries list.
#[derive(Debug)]
struct PendingEntry {
    /// Who holds it now.
    consumer: String,
    /// How many times it has been delivered, the current delivery included.
    count: u64,
    /// When it was last delivered or had its lease extended: its lease runs from here.
    since: Instant,
}

/// A job's record: the entry it was added as, how it ended, and the runs that finished.
#[derive(Debug)]
struct JobEntry {
    entry: u64,
    ended: Option<Ended>,
    runs: BTreeSet<u64>,
    /// Set once the job is acknowledged and ended: the record goes after its retention.
    forget_at: Option<Instant>,
}

#[derive(Debug, Clone)]
enum Ended {
    Completed { output: String, by: u64 },
    DeadLettered { by: u64, error: String },
}
// ANCHOR_END: state

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

    /// Hands `consumer` up to `count` entries past the group's cursor; strays are dead-lettered.
    fn deliver_new(&self, consumer: &str, count: usize) -> Result<Vec<Delivery>, BrokerError> {
        let mut state = self.state()?;
        let now = Instant::now();
        let ids: Vec<u64> = state
            .entries
            .range((Bound::Excluded(state.last_delivered), Bound::Unbounded))
            .take(count)
            .map(|(id, _)| *id)
            .collect();
        let mut deliveries = Vec::new();
        for id in ids {
            state.last_delivered = id;
            state.pending.insert(
                id,
                PendingEntry {
                    consumer: consumer.to_owned(),
                    count: 1,
                    since: now,
                },
            );
            if let Some(delivery) = state.job_or_reject(id, consumer, 1, &self.retention) {
                deliveries.push(delivery);
            }
        }
        Ok(deliveries)
    }
}

impl State {
    /// The delivery of entry `id` if it carries a job; else it is dead-lettered as not a job.
    fn job_or_reject(
        &mut self,
        id: u64,
        consumer: &str,
        count: u64,
        retention: &Retention,
    ) -> Option<Delivery> {
        let fields = self.entries.get(&id)?;
        let field = |name: &str| {
            fields
                .iter()
                .find(|(field, _)| field == name)
                .map(|(_, value)| value.clone())
        };
        let job = match (field("job"), field("payload")) {
            (None, _) => Err("not a job: it has no field \"job\"".to_owned()),
            (Some(number), payload) => match number.parse::<u64>().ok().filter(|&n| n > 0) {
                None => Err(format!(
                    "not a job: its job number {number:?} is not a number from 1"
                )),
                Some(job_id) => payload
                    .map(|payload| (job_id, payload))
                    .ok_or_else(|| "not a job: it has no field \"payload\"".to_owned()),
            },
        };
        match job {
            Ok((job_id, payload)) => Some(Delivery {
                job_id,
                payload,
                entry: entry_name(id),
                consumer: consumer.to_owned(),
                count,
            }),
            Err(reason) => {
                self.reject(id, count, &reason, retention);
                None
            }
        }
    }

    /// Dead-letters entry `id` as not a job, and acknowledges it.
    fn reject(&mut self, id: u64, count: u64, reason: &str, retention: &Retention) {
        tracing::warn!(
            entry = entry_name(id),
            "{reason}: moved to the dead-letter stream"
        );
        self.not_jobs += 1;
        self.pending.remove(&id);
        self.add_dead_letter(
            DeadLetter {
                job_id: None,
                entry: entry_name(id),
                deliveries: count,
                error: reason.to_owned(),
            },
            retention,
        );
    }

    fn add_dead_letter(&mut self, letter: DeadLetter, retention: &Retention) {
        self.dead_letters.push_back(letter);
        let cap = usize::try_from(retention.dead_letters).unwrap_or(usize::MAX);
        while self.dead_letters.len() > cap {
            self.dead_letters.pop_front();
        }
    }

    /// Whether `delivery` is still pending under its consumer, at its count: the fence.
    fn holds(&self, delivery: &Delivery) -> bool {
        entry_id(&delivery.entry)
            .and_then(|id| self.pending.get(&id))
            .is_some_and(|held| held.consumer == delivery.consumer && held.count == delivery.count)
    }

    /// Job `job_id`'s record, if it was added as `entry` and has not been forgotten.
    fn record_of(&mut self, job_id: u64, entry: &str) -> Option<&mut JobEntry> {
        let now = Instant::now();
        let record = self.jobs.get_mut(&job_id)?;
        let forgotten = record.forget_at.is_some_and(|at| at <= now);
        (!forgotten && Some(record.entry) == entry_id(entry)).then_some(record)
    }

    /// How the delivery's job ended, if it did (`Some(None)`: not yet); `None` if the delivery
    /// is of no job this queue knows.
    fn ended(&mut self, delivery: &Delivery) -> Option<Option<Ended>> {
        let record = self.record_of(delivery.job_id, &delivery.entry)?;
        Some(record.ended.clone())
    }

    /// Marks the delivery's job as ended.
    fn end(&mut self, delivery: &Delivery, ended: Ended) {
        if let Some(record) = self.jobs.get_mut(&delivery.job_id) {
            record.ended = Some(ended);
        }
    }

    /// Notes that the delivery's run finished; `false` if it was noted before.
    fn add_run(&mut self, delivery: &Delivery) -> bool {
        self.jobs
            .get_mut(&delivery.job_id)
            .is_some_and(|record| record.runs.insert(delivery.count))
    }

    /// A delivery of an entry that only claims to be a job: dead-lettered as not a job if the
    /// caller holds it, else left alone.
    fn not_a_job(&mut self, delivery: &Delivery, held: bool, retention: &Retention) -> Settlement {
        let Some(id) = entry_id(&delivery.entry).filter(|_| held) else {
            return Settlement::NotHeld;
        };
        let reason = format!(
            "not a job: it claims job {}, which was added as another entry",
            delivery.job_id
        );
        self.reject(id, delivery.count, &reason, retention);
        Settlement::NotAJob
    }

    /// Acknowledges `entry` and starts the countdown on job `job_id`'s record.
    fn acknowledge(&mut self, entry: &str, job_id: u64, retention: &Retention) {
        if let Some(id) = entry_id(entry) {
            self.pending.remove(&id);
        }
        if let Some(record) = self.jobs.get_mut(&job_id) {
            record.forget_at = Some(Instant::now() + retention.results);
        }
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
            let delivered = self.deliver_new(consumer, count)?;
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
            duplicates: state.duplicates,
            not_jobs: state.not_jobs,
        })
    }

    async fn trim(&self) -> Result<u64, BrokerError> {
        let mut state = self.state()?;
        let keep_from = state
            .pending
            .keys()
            .next()
            .copied()
            .unwrap_or(u64::MAX)
            .min(state.last_delivered + 1);
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

impl Inspect for MemoryBroker {
    async fn pending_of(&self, consumer: &str) -> Result<Vec<u64>, BrokerError> {
        let state = self.state()?;
        let job_of = |id: &u64| {
            let fields = state.entries.get(id)?;
            let (_, number) = fields.iter().find(|(name, _)| name == "job")?;
            number.parse().ok()
        };
        Ok(state
            .pending
            .iter()
            .filter(|(_, held)| held.consumer == consumer)
            .filter_map(|(id, _)| job_of(id))
            .collect())
    }

    async fn job(&self, job_id: u64) -> Result<Option<JobRecord>, BrokerError> {
        let state = self.state()?;
        let now = Instant::now();
        let Some(record) = state
            .jobs
            .get(&job_id)
            .filter(|record| record.forget_at.is_none_or(|at| at > now))
        else {
            return Ok(None);
        };
        let state_now = match &record.ended {
            Some(Ended::Completed { output, by }) => JobState::Completed {
                output: output.clone(),
                delivery: *by,
            },
            Some(Ended::DeadLettered { by, error }) => JobState::DeadLettered {
                deliveries: *by,
                error: error.clone(),
            },
            None => match state.pending.get(&record.entry) {
                Some(held) => JobState::Pending {
                    consumer: held.consumer.clone(),
                    count: held.count,
                },
                None => JobState::Waiting,
            },
        };
        Ok(Some(JobRecord {
            state: state_now,
            runs: record.runs.iter().copied().collect(),
        }))
    }

    async fn dead_letters(&self) -> Result<Vec<DeadLetter>, BrokerError> {
        Ok(self.state()?.dead_letters.iter().cloned().collect())
    }

    async fn full(&self) -> Result<Option<String>, BrokerError> {
        Ok(None)
    }
}

/// An entry's id as Redis writes them; the in-process stream numbers its entries from 1.
fn entry_name(id: u64) -> String {
    format!("{id}-0")
}

/// The number in an entry's id, if it is one of this broker's.
fn entry_id(name: &str) -> Option<u64> {
    name.strip_suffix("-0")?.parse().ok()
}
