//! The [`Broker`] on a Redis stream read through a consumer group, with commands Redis 6.2 has.
//!
//! Under the prefix `{name}:` it keeps:
//!
//! - `jobs`: the stream of jobs, read through the group `workers`. Each entry has the fields
//!   `job` (the job's number) and `payload`; the stream gives it its id.
//! - `next-job`: the last job number given out, which is also the count of jobs submitted.
//! - `job:<number>`: the job's record, a hash: the entry it was added as, and once it has ended,
//!   how (`state` `completed` with `output`, or `dead` with `error`), the delivery that ended it
//!   (`by`), and a field `run:<delivery>` for each delivery whose run finished. It expires after
//!   the retention once the job is acknowledged.
//! - `completed`, `dead-lettered`, `duplicates`, `not-jobs`: counts, kept by the same scripts
//!   that change the jobs, so they always agree with them.
//! - `dead`: the dead-letter stream, capped.
//! - `epoch`: a token made with the queue; see [`BrokerError::StateLost`].
//! - `producer:<id>`: each producer's last batch, so that a batch repeated after a lost answer
//!   adds nothing. It expires after a day.
//!
//! The files: `connect.rs` reaches the server and finds or makes the queue; `queue.rs` runs a
//! script on it; `scripts/` holds the scripts, one step each; `recorder.rs` groups the runs that
//! finish together; `errors.rs` tells Redis's errors apart; `replies.rs` reads its answers;
//! `inspect.rs` is what only `status` and the tests read; `health.rs` logs the broker's trouble
//! once; `url.rs` checks URLs and hides their passwords.

mod connect;
mod errors;
mod health;
mod inspect;
mod queue;
mod recorder;
mod replies;
mod scripts;
mod url;

use std::time::Duration;

use redis::Value;
use tokio::sync::{mpsc, oneshot};

pub use url::{check_url, redact};

use self::errors::{broker_error, settlement};
use self::queue::Queue;
use self::recorder::ToRecord;
use self::replies::Entry;
use crate::broker::{Added, Broker, BrokerError, Delivery, Lease, Settlement, Status};

/// The consumer group every worker process reads through.
const GROUP: &str = "workers";

/// How long an ordinary command may wait for its answer before the connection counts as lost.
/// The redis crate's default is 500 ms, short enough to fail a command on a busy machine.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(3);

/// How long a producer's last batch is remembered: longer than any producer waits to repeat it.
const PRODUCER_MEMORY: Duration = Duration::from_secs(24 * 60 * 60);

/// A [`Broker`] on a Redis server: see the module documentation for what it keeps there.
///
/// Cloning it is cheap and the clones share its connections.
#[derive(Debug, Clone)]
pub struct RedisBroker {
    /// The connections, and which queue on them.
    queue: Queue,
    /// Finished runs on their way to [`record_in_batches`].
    to_record: mpsc::UnboundedSender<ToRecord>,
}

impl RedisBroker {
    /// Splits entries into deliveries of jobs, dead-lettering on the way the entries that are
    /// not jobs: they are never handed to a worker, and never hold up the jobs beside them. An
    /// entry that cannot be moved now (the broker refuses writes) stays pending under this
    /// consumer, to be moved when it is taken over again; the jobs go to the workers all the same.
    async fn jobs_among(
        &self,
        consumer: &str,
        entries: Vec<(Entry, u64)>,
    ) -> Result<Vec<Delivery>, BrokerError> {
        let mut deliveries = Vec::with_capacity(entries.len());
        for (entry, count) in entries {
            match entry.job() {
                Ok((job_id, payload)) => deliveries.push(Delivery {
                    job_id,
                    payload,
                    entry: entry.id,
                    consumer: consumer.to_owned(),
                    count,
                }),
                Err(reason) => match self.reject(&entry.id, consumer, count, &reason).await {
                    Ok(()) => {}
                    Err(error) if error.is_transient() => {}
                    Err(error) => return Err(error),
                },
            }
        }
        Ok(deliveries)
    }

    /// Moves an entry that is not a job to the dead-letter stream, and acknowledges it.
    async fn reject(
        &self,
        entry: &str,
        consumer: &str,
        count: u64,
        reason: &str,
    ) -> Result<(), BrokerError> {
        let moved: String = self
            .queue
            .run(&scripts::REJECT, true, |call| {
                call.arg(self.queue.retention.dead_letters)
                    .arg(entry)
                    .arg(consumer)
                    .arg(count)
                    .arg(reason);
            })
            .await?;
        if moved == "not-a-job" {
            tracing::warn!(entry, "{reason}: moved to the dead-letter stream");
        }
        Ok(())
    }

    /// What a settling script's answer means. An entry that only claimed to be a job is
    /// rejected on the spot; a job whose record was lost is dead-lettered, saying so.
    async fn settled(
        &self,
        delivery: &Delivery,
        answer: Option<Settlement>,
    ) -> Result<Settlement, BrokerError> {
        let Some(answer) = answer else {
            let reason = "its record was lost: deleted or evicted from the broker";
            tracing::warn!("{reason}");
            // The dead-letter step makes the record again, so it never answers "lost".
            return self
                .moved_to_dead_letters(delivery, reason)
                .await?
                .ok_or_else(|| BrokerError::Protocol("a record lost twice".to_owned()));
        };
        if answer == Settlement::NotAJob {
            let reason = format!(
                "not a job: it claims job {}, which was added as another entry",
                delivery.job_id
            );
            self.reject(&delivery.entry, &delivery.consumer, delivery.count, &reason)
                .await?;
        }
        Ok(answer)
    }
}

impl RedisBroker {
    /// The dead-letter script's answer for `delivery`.
    async fn moved_to_dead_letters(
        &self,
        delivery: &Delivery,
        reason: &str,
    ) -> Result<Option<Settlement>, BrokerError> {
        let answer: String = self
            .queue
            .run(&scripts::DEAD_LETTER, true, |call| {
                call.arg(self.queue.keep_seconds())
                    .arg(self.queue.retention.dead_letters)
                    .arg(&delivery.entry)
                    .arg(delivery.job_id)
                    .arg(&delivery.consumer)
                    .arg(delivery.count)
                    .arg(reason);
            })
            .await?;
        settlement(&answer)
    }
}

impl Broker for RedisBroker {
    async fn submit(
        &self,
        producer: &str,
        batch: u64,
        payloads: &[String],
        max_backlog: Option<u64>,
    ) -> Result<Added, BrokerError> {
        let (first, count): (u64, u64) = self
            .queue
            .run(&scripts::SUBMIT, true, |call| {
                call.arg(producer)
                    .arg(batch)
                    .arg(PRODUCER_MEMORY.as_secs())
                    .arg(max_backlog.unwrap_or(0));
                for payload in payloads {
                    call.arg(payload);
                }
            })
            .await?;
        Ok(Added { first, count })
    }

    async fn read_new(
        &self,
        consumer: &str,
        count: usize,
        block: Duration,
    ) -> Result<Vec<Delivery>, BrokerError> {
        // COUNT 0 would mean "no limit" to Redis, not "none".
        if count == 0 {
            return Ok(Vec::new());
        }
        let mut read = redis::cmd("XREADGROUP");
        read.arg("GROUP")
            .arg(GROUP)
            .arg(consumer)
            .arg("COUNT")
            .arg(count);
        let reply = if block.is_zero() {
            // `BLOCK 0` would wait forever, so no wait means no BLOCK at all, and the ordinary
            // connection serves.
            read.arg("STREAMS").arg(self.queue.key("jobs")).arg(">");
            read.query_async::<Value>(&mut self.queue.connection())
                .await
                .map_err(broker_error)
        } else {
            // At least 1 ms, so that a wait under a millisecond does not become `BLOCK 0`.
            read.arg("BLOCK")
                .arg(millis(block).max(1))
                .arg("STREAMS")
                .arg(self.queue.key("jobs"))
                .arg(">");
            // The blocking connection has no response timeout, so the wait is bounded here:
            // the server answers by the end of the block unless the connection is gone.
            let mut connection = self.queue.blocking.clone();
            match tokio::time::timeout(
                block.saturating_add(RESPONSE_TIMEOUT),
                read.query_async::<Value>(&mut connection),
            )
            .await
            {
                Ok(reply) => reply.map_err(broker_error),
                Err(_) => Err(BrokerError::Lost(format!(
                    "no answer to a read blocking {} within {} more",
                    pool_core::short_duration(block),
                    pool_core::short_duration(RESPONSE_TIMEOUT)
                ))),
            }
        };
        self.queue.health.note(&reply, false);
        let entries = replies::read_entries(reply?)?;
        // A read hands out each entry for the first time.
        let entries = entries.into_iter().map(|entry| (entry, 1)).collect();
        self.jobs_among(consumer, entries).await
    }

    async fn take_over(
        &self,
        consumer: &str,
        lease: Duration,
        count: usize,
    ) -> Result<Vec<Delivery>, BrokerError> {
        if count == 0 {
            return Ok(Vec::new());
        }
        let reply: Value = self
            .queue
            .run(&scripts::TAKE_OVER, false, |call| {
                call.arg(self.queue.keep_seconds())
                    .arg(consumer)
                    .arg(millis(lease))
                    .arg(count);
            })
            .await?;
        let claimed = replies::claimed_entries(reply)?;
        self.jobs_among(consumer, claimed).await
    }

    async fn extend_lease(&self, delivery: &Delivery) -> Result<Lease, BrokerError> {
        let extended: u64 = self
            .queue
            .run(&scripts::EXTEND, false, |call| {
                call.arg(&delivery.entry)
                    .arg(&delivery.consumer)
                    .arg(delivery.count);
            })
            .await?;
        Ok(if extended == 1 {
            Lease::Extended
        } else {
            Lease::Lost
        })
    }

    async fn complete(&self, delivery: &Delivery, output: &str) -> Result<Settlement, BrokerError> {
        // Handed to the recorder, which records every run that finished meanwhile with one
        // script: see `record_in_batches`.
        let (answer, answered) = oneshot::channel();
        let stopped = || BrokerError::Lost("the recorder has stopped".to_owned());
        self.to_record
            .send(ToRecord {
                delivery: delivery.clone(),
                output: output.to_owned(),
                answer,
            })
            .map_err(|_| stopped())?;
        let answer = answered.await.map_err(|_| stopped())??;
        self.settled(delivery, answer).await
    }

    async fn dead_letter(
        &self,
        delivery: &Delivery,
        reason: &str,
    ) -> Result<Settlement, BrokerError> {
        let answer = self.moved_to_dead_letters(delivery, reason).await?;
        self.settled(delivery, answer).await
    }

    async fn status(&self) -> Result<Status, BrokerError> {
        let reply: Value = self.queue.run(&scripts::STATUS, false, |_| {}).await?;
        replies::status(reply)
    }

    async fn trim(&self, forget_idle: Duration) -> Result<u64, BrokerError> {
        self.queue
            .run(&scripts::TRIM, false, |call| {
                call.arg(millis(forget_idle));
            })
            .await
    }

    async fn leave(&self, consumer: &str) -> Result<bool, BrokerError> {
        let left: u64 = self
            .queue
            .run(&scripts::LEAVE, false, |call| {
                call.arg(consumer);
            })
            .await?;
        Ok(left == 1)
    }
}

/// A duration in whole milliseconds, as Redis takes them.
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
