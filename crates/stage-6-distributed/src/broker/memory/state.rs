//! What the in-process broker keeps, and the steps on it that several operations share.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::ops::Bound;

use tokio::time::Instant;

use crate::broker::{Added, DeadLetter, Delivery, Retention, Settlement};

// ANCHOR: state
#[derive(Debug, Default)]
pub(super) struct State {
    /// Which incarnation of the queue this is: a new one after [`MemoryBroker::lose_everything`].
    pub(super) epoch: u64,
    /// The stream: the entries not yet trimmed, by id, each a list of fields.
    pub(super) entries: BTreeMap<u64, Vec<(String, String)>>,
    /// The last entry id given out.
    pub(super) last_entry: u64,
    /// The consumer group's cursor: the highest entry id handed out, 0 before the first.
    pub(super) last_delivered: u64,
    /// The consumer group's pending-entries list: entries delivered and not yet acknowledged.
    pub(super) pending: BTreeMap<u64, PendingEntry>,
    /// Each job's record, by job number.
    pub(super) jobs: BTreeMap<u64, JobEntry>,
    /// The last job number given out: also the count of jobs submitted.
    pub(super) last_job: u64,
    pub(super) completed: u64,
    pub(super) dead_lettered: u64,
    pub(super) duplicates: u64,
    pub(super) not_jobs: u64,
    /// The dead-letter stream, oldest first, capped.
    pub(super) dead_letters: VecDeque<DeadLetter>,
    /// Each producer's last batch and what it added.
    pub(super) producers: HashMap<String, (u64, Added)>,
}

/// One entry of the pending-entries list.
#[derive(Debug)]
pub(super) struct PendingEntry {
    /// Who holds it now.
    pub(super) consumer: String,
    /// How many times it has been delivered, the current delivery included.
    pub(super) count: u64,
    /// When it was last delivered or had its lease extended: its lease runs from here.
    pub(super) since: Instant,
}

/// A job's record: the entry it was added as, how it ended, and the runs that finished.
#[derive(Debug)]
pub(super) struct JobEntry {
    pub(super) entry: u64,
    pub(super) ended: Option<Ended>,
    pub(super) runs: BTreeSet<u64>,
    /// Set once the job is acknowledged and ended: the record goes after its retention.
    pub(super) forget_at: Option<Instant>,
}

#[derive(Debug, Clone)]
pub(super) enum Ended {
    Completed { output: String, by: u64 },
    DeadLettered { by: u64, error: String },
}
// ANCHOR_END: state

impl State {
    /// Hands `consumer` up to `count` entries past the group's cursor; strays are dead-lettered.
    pub(super) fn deliver_new(
        &mut self,
        consumer: &str,
        count: usize,
        retention: &Retention,
    ) -> Vec<Delivery> {
        let state = self;
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
            if let Some(delivery) = state.job_or_reject(id, consumer, 1, retention) {
                deliveries.push(delivery);
            }
        }
        deliveries
    }

    /// The delivery of entry `id` if it carries a job; else it is dead-lettered as not a job.
    pub(super) fn job_or_reject(
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
    pub(super) fn reject(&mut self, id: u64, count: u64, reason: &str, retention: &Retention) {
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

    pub(super) fn add_dead_letter(&mut self, letter: DeadLetter, retention: &Retention) {
        self.dead_letters.push_back(letter);
        let cap = usize::try_from(retention.dead_letters).unwrap_or(usize::MAX);
        while self.dead_letters.len() > cap {
            self.dead_letters.pop_front();
        }
    }

    /// Whether `delivery` is still pending under its consumer, at its count: the fence.
    pub(super) fn holds(&self, delivery: &Delivery) -> bool {
        entry_id(&delivery.entry)
            .and_then(|id| self.pending.get(&id))
            .is_some_and(|held| held.consumer == delivery.consumer && held.count == delivery.count)
    }

    /// Job `job_id`'s record, if it was added as `entry` and has not been forgotten.
    pub(super) fn record_of(&mut self, job_id: u64, entry: &str) -> Option<&mut JobEntry> {
        let now = Instant::now();
        let record = self.jobs.get_mut(&job_id)?;
        let forgotten = record.forget_at.is_some_and(|at| at <= now);
        (!forgotten && Some(record.entry) == entry_id(entry)).then_some(record)
    }

    /// How the delivery's job ended, if it did (`Some(None)`: not yet); `None` if the delivery
    /// is of no job this queue knows.
    pub(super) fn ended(&mut self, delivery: &Delivery) -> Option<Option<Ended>> {
        let record = self.record_of(delivery.job_id, &delivery.entry)?;
        Some(record.ended.clone())
    }

    /// Marks the delivery's job as ended.
    pub(super) fn end(&mut self, delivery: &Delivery, ended: Ended) {
        if let Some(record) = self.jobs.get_mut(&delivery.job_id) {
            record.ended = Some(ended);
        }
    }

    /// Notes that the delivery's run finished; `false` if it was noted before.
    pub(super) fn add_run(&mut self, delivery: &Delivery) -> bool {
        self.jobs
            .get_mut(&delivery.job_id)
            .is_some_and(|record| record.runs.insert(delivery.count))
    }

    /// A delivery of an entry that only claims to be a job: dead-lettered as not a job if the
    /// caller holds it, else left alone.
    pub(super) fn not_a_job(
        &mut self,
        delivery: &Delivery,
        held: bool,
        retention: &Retention,
    ) -> Settlement {
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
    pub(super) fn acknowledge(&mut self, entry: &str, job_id: u64, retention: &Retention) {
        if let Some(id) = entry_id(entry) {
            self.pending.remove(&id);
        }
        if let Some(record) = self.jobs.get_mut(&job_id) {
            record.forget_at = Some(Instant::now() + retention.results);
        }
    }
}

/// An entry's id as Redis writes them; the in-process stream numbers its entries from 1.
pub(super) fn entry_name(id: u64) -> String {
    format!("{id}-0")
}

/// The number in an entry's id, if it is one of this broker's.
pub(super) fn entry_id(name: &str) -> Option<u64> {
    name.strip_suffix("-0")?.parse().ok()
}
