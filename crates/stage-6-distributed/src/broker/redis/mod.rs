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

mod health;
mod recorder;
mod replies;
mod scripts;
mod url;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncConnectionConfig, Client, ErrorKind, RedisError, ScriptInvocation, Value};
use tokio::sync::{mpsc, oneshot};

pub use url::{check_url, redact};

use self::health::Health;
use self::recorder::{ToRecord, record_in_batches};
use self::replies::{Entry, array, convert};
use crate::broker::{
    Added, Broker, BrokerError, DeadLetter, Delivery, Inspect, JobRecord, Lease, Retention,
    Settlement, Status, fresh_token,
};

/// The consumer group every worker process reads through.
const GROUP: &str = "workers";

/// How long one attempt to open a connection may take, so that a broker that is not there is
/// reported in seconds rather than waited for.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

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

/// One queue on one Redis server, and the connections to it.
#[derive(Debug, Clone)]
struct Queue {
    /// Every command but the blocking read, each answered within [`RESPONSE_TIMEOUT`].
    commands: ConnectionManager,
    /// The blocking `XREADGROUP … BLOCK` alone, with no response timeout of its own (see
    /// [`RedisBroker::connect`]). Redis answers one connection's commands in order, so reads
    /// made at the same time through one broker wait for each other's `BLOCK`.
    blocking: ConnectionManager,
    /// Every key's prefix: the queue's name and a colon.
    prefix: String,
    /// The queue's epoch when this broker connected.
    epoch: String,
    /// How long ended jobs are remembered.
    retention: Retention,
    /// Says when the broker goes away or refuses writes, and when it is back.
    health: Arc<Health>,
}

impl RedisBroker {
    /// Connects to the Redis server at `url` and finds the queue `name` there, or makes it: the
    /// job stream, its consumer group and its epoch. For workers and producers.
    ///
    /// A server that is not there, or does not answer, is reported as
    /// [`BrokerError::Unreachable`] within a few seconds. So is a URL [`check_url`] refuses,
    /// which callers should have checked first.
    pub async fn connect(
        url: &str,
        name: &str,
        retention: Retention,
    ) -> Result<RedisBroker, BrokerError> {
        Self::start(url, name, retention, "make").await
    }

    /// Connects to the queue `name` at `url` without writing anything: [`BrokerError::NoQueue`]
    /// if there is none. For `status`, which only looks.
    pub async fn open(url: &str, name: &str) -> Result<RedisBroker, BrokerError> {
        Self::start(url, name, Retention::default(), "find").await
    }

    async fn start(
        url: &str,
        name: &str,
        retention: Retention,
        mode: &str,
    ) -> Result<RedisBroker, BrokerError> {
        let unreachable = |reason: String| BrokerError::Unreachable {
            at: redact(url),
            reason: one_line(&reason),
        };
        // At the start, a server that drops the connection or does not speak Redis is one that
        // cannot be reached.
        let at_connect = |e: RedisError| match broker_error(e) {
            BrokerError::Lost(reason) | BrokerError::Protocol(reason) => unreachable(reason),
            other => other,
        };
        check_url(url).map_err(unreachable)?;
        let client = Client::open(url).map_err(|e| unreachable(e.to_string()))?;

        // One plain connection and a PING first. The connection managers below retry a failed
        // connection with backoff, for when the server goes away mid-run; at start that would
        // only delay the news that it is not there, and hide why.
        let probe = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(CONNECT_TIMEOUT));
        let mut first = client
            .get_multiplexed_async_connection_with_config(&probe)
            .await
            .map_err(at_connect)?;
        redis::cmd("PING")
            .query_async::<Value>(&mut first)
            .await
            .map_err(at_connect)?;
        drop(first);

        let commands =
            ConnectionManager::new_with_config(client.clone(), managed(Some(RESPONSE_TIMEOUT)))
                .await
                .map_err(at_connect)?;
        // The blocking read needs its own connection without a response timeout: the crate's
        // default of 500 ms (or ours) would cut every `BLOCK` longer than that short and report
        // it as a lost connection. `read_new` bounds the wait itself instead.
        let blocking = ConnectionManager::new_with_config(client, managed(None))
            .await
            .map_err(at_connect)?;

        let prefix = format!("{name}:");
        let epoch: String = scripts::CONNECT
            .prepare_invoke()
            .arg(&prefix)
            .arg(fresh_token())
            .arg(mode)
            .invoke_async(&mut commands.clone())
            .await
            .map_err(|e| match broker_error(e) {
                BrokerError::NoQueue(_) => BrokerError::NoQueue(name.to_owned()),
                other => other,
            })?;

        let queue = Queue {
            commands,
            blocking,
            prefix,
            epoch,
            retention,
            health: Arc::default(),
        };
        let (to_record, waiting) = mpsc::unbounded_channel();
        // Ends when the last clone of the broker is dropped and its queue closes.
        tokio::spawn(record_in_batches(queue.clone(), waiting));
        let broker = RedisBroker { queue, to_record };
        Ok(broker)
    }

    /// Splits entries into deliveries of jobs, dead-lettering on the way the entries that are
    /// not jobs: they are never handed to a worker, and never hold up the jobs beside them.
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
                Err(reason) => {
                    self.reject(&entry.id, consumer, count, &reason).await?;
                }
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
        tracing::warn!(entry, "{reason}: moved to the dead-letter stream");
        let _: String = self
            .queue
            .run(&scripts::REJECT, true, |call| {
                call.arg(self.queue.retention.dead_letters)
                    .arg(entry)
                    .arg(consumer)
                    .arg(count)
                    .arg(reason);
            })
            .await?;
        Ok(())
    }

    /// What a settling script's answer means; an entry that only claimed to be a job is
    /// rejected on the spot.
    async fn settled(
        &self,
        delivery: &Delivery,
        answer: Settlement,
    ) -> Result<Settlement, BrokerError> {
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

impl Queue {
    /// A connection for ordinary commands.
    fn connection(&self) -> ConnectionManager {
        self.commands.clone()
    }

    /// A key of the queue.
    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// The arguments every script starts with: the prefix and the epoch.
    fn start<'a>(
        &self,
        call: &'a mut ScriptInvocation<'static>,
    ) -> &'a mut ScriptInvocation<'static> {
        call.arg(&self.prefix).arg(&self.epoch)
    }

    /// How long an ended job's record is kept, in whole seconds, as `EXPIRE` takes it.
    fn keep_seconds(&self) -> u64 {
        self.retention.results.as_secs().max(1)
    }

    /// Runs `script` with the prefix and epoch and then `args`, and notes how it went.
    async fn run<T: redis::FromRedisValue>(
        &self,
        script: &'static redis::Script,
        writes: bool,
        args: impl FnOnce(&mut ScriptInvocation<'static>),
    ) -> Result<T, BrokerError> {
        let mut call = script.prepare_invoke();
        self.start(&mut call);
        args(&mut call);
        let result = call
            .invoke_async(&mut self.connection())
            .await
            .map_err(broker_error);
        self.health.note(&result, writes);
        result
    }
}

/// The connection manager's settings: answers bounded by `response_timeout` if given, each
/// connection attempt bounded, and a lost connection replaced with a few attempts 100 to 500 ms
/// apart. While the server is down, every command waits for such a round of attempts before it
/// fails, so the round is kept to a couple of seconds: the caller tries again anyway.
fn managed(response_timeout: Option<Duration>) -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(response_timeout)
        .set_min_delay(Duration::from_millis(100))
        .set_max_delay(Duration::from_millis(500))
        .set_number_of_retries(4)
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
            .run(&scripts::TAKE_OVER, true, |call| {
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
        self.settled(delivery, settlement(&answer)?).await
    }

    async fn status(&self) -> Result<Status, BrokerError> {
        let reply: Value = self.queue.run(&scripts::STATUS, false, |_| {}).await?;
        let ([submitted, completed, dead_lettered, duplicates, not_jobs], pending) =
            replies::status_counts(reply)?;
        Ok(Status {
            submitted,
            completed,
            dead_lettered,
            pending,
            duplicates,
            not_jobs,
        })
    }

    async fn trim(&self) -> Result<u64, BrokerError> {
        self.queue.run(&scripts::TRIM, false, |_| {}).await
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

impl Inspect for RedisBroker {
    async fn pending_of(&self, consumer: &str) -> Result<Vec<u64>, BrokerError> {
        // A page at a time; each entry's job number is in the entry itself.
        const PAGE: usize = 1000;
        let mut jobs = Vec::new();
        let mut start = "-".to_owned();
        loop {
            let reply = redis::cmd("XPENDING")
                .arg(self.queue.key("jobs"))
                .arg(GROUP)
                .arg(&start)
                .arg("+")
                .arg(PAGE)
                .arg(consumer)
                .query_async::<Value>(&mut self.queue.connection())
                .await
                .map_err(broker_error)?;
            let page = array(reply, "XPENDING's list")?;
            let full = page.len() == PAGE;
            let mut last = None;
            for line in page {
                let (entry, _consumer, _idle, _count): (String, String, u64, u64) =
                    convert(line, "an XPENDING line")?;
                let found = redis::cmd("XRANGE")
                    .arg(self.queue.key("jobs"))
                    .arg(&entry)
                    .arg(&entry)
                    .query_async::<Value>(&mut self.queue.connection())
                    .await
                    .map_err(broker_error)?;
                if let Some(found) = array(found, "XRANGE's entries")?.into_iter().next()
                    && let Ok((job_id, _)) = replies::entry_of(found)?.job()
                {
                    jobs.push(job_id);
                }
                last = Some(entry);
            }
            match last {
                // `(` makes the range start just after the last entry of this page.
                Some(last) if full => start = format!("({last}"),
                _ => return Ok(jobs),
            }
        }
    }

    async fn job(&self, job_id: u64) -> Result<Option<JobRecord>, BrokerError> {
        let fields: BTreeMap<String, String> = redis::cmd("HGETALL")
            .arg(self.queue.key(&format!("job:{job_id}")))
            .query_async(&mut self.queue.connection())
            .await
            .map_err(broker_error)?;
        let pending = match fields.get("entry") {
            Some(entry) => redis::cmd("XPENDING")
                .arg(self.queue.key("jobs"))
                .arg(GROUP)
                .arg(entry)
                .arg(entry)
                .arg(1)
                .query_async::<Value>(&mut self.queue.connection())
                .await
                .map_err(broker_error)?,
            None => Value::Nil,
        };
        replies::job_record(fields, pending)
    }

    async fn dead_letters(&self) -> Result<Vec<DeadLetter>, BrokerError> {
        let all = redis::cmd("XRANGE")
            .arg(self.queue.key("dead"))
            .arg("-")
            .arg("+")
            .query_async::<Value>(&mut self.queue.connection())
            .await
            .map_err(broker_error)?;
        replies::dead_letters(all)
    }

    async fn full(&self) -> Result<Option<String>, BrokerError> {
        let info: String = redis::cmd("INFO")
            .arg("memory")
            .query_async(&mut self.queue.connection())
            .await
            .map_err(broker_error)?;
        Ok(replies::memory_trouble(&info))
    }
}

/// A settling script's one-word answer.
fn settlement(answer: &str) -> Result<Settlement, BrokerError> {
    Ok(match answer {
        "recorded" => Settlement::Recorded,
        "recorded-not-held" => Settlement::RecordedNotHeld,
        "duplicate" => Settlement::Duplicate,
        "dead-lettered" => Settlement::DeadLettered,
        "already-completed" => Settlement::AlreadyCompleted,
        "not-held" => Settlement::NotHeld,
        "not-a-job" => Settlement::NotAJob,
        other => {
            return Err(BrokerError::Protocol(format!(
                "a script answered {other:?}"
            )));
        }
    })
}

/// The error codes with which Redis refuses a command for now, taking no part of it.
const REFUSALS: [&str; 8] = [
    "OOM",
    "READONLY",
    "BUSY",
    "LOADING",
    "MASTERDOWN",
    "TRYAGAIN",
    "NOREPLICAS",
    "CLUSTERDOWN",
];

// ANCHOR: broker_error
/// The broker's error for one of the redis crate's: a connection that broke or did not answer in
/// time is lost; a refusal for now (out of memory, a read-only replica, a busy script, a server
/// loading its data) is refused; a queue whose epoch or group is gone lost its state; anything
/// else is an answer this program did not expect.
fn broker_error(e: RedisError) -> BrokerError {
    if e.is_io_error() || e.is_timeout() || e.is_connection_dropped() {
        return BrokerError::Lost(one_line(&e.to_string()));
    }
    let code = e.code().unwrap_or_default();
    let detail = one_line(&script_location_removed(e.detail().unwrap_or_default()));
    // Redis ends some messages with a full stop; they are quoted mid-sentence here.
    let detail = detail.trim_end_matches('.');
    // Redis 6.2 reports a command refused inside a script as `ERR Error running script … -OOM …`.
    let refused_in_script = |refusal: &&str| detail.contains(&format!("-{refusal} "));
    if REFUSALS.contains(&code) || (code == "ERR" && REFUSALS.iter().any(refused_in_script)) {
        BrokerError::Refused(format!("{code} {detail}"))
    } else if code == "STATELOST" || code == "NOGROUP" {
        BrokerError::StateLost(detail.to_owned())
    } else if code == "NOQUEUE" {
        BrokerError::NoQueue(String::new())
    } else if e.kind() == ErrorKind::Parse {
        BrokerError::Protocol("the server does not speak Redis's protocol".to_owned())
    } else {
        BrokerError::Protocol(format!("{code} {detail}"))
    }
}
// ANCHOR_END: broker_error

/// An error from inside a script ends with where in the script it was raised (`script: <sha>,
/// on @user_script:12.`): noise to the person reading the log.
fn script_location_removed(detail: &str) -> String {
    match detail.find(" script: ") {
        Some(at) => detail[..at].to_owned(),
        None => detail.to_owned(),
    }
}

/// A message on one line: some servers' errors span several.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A duration in whole milliseconds, as Redis takes them.
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server_error(code: &str, detail: &str) -> BrokerError {
        broker_error(redis::make_extension_error(
            code.to_owned(),
            Some(detail.to_owned()),
        ))
    }

    #[test]
    fn a_refusal_for_now_is_told_from_a_lost_state_and_from_a_surprise() {
        for code in REFUSALS {
            assert!(
                matches!(server_error(code, "not now"), BrokerError::Refused(_)),
                "{code}"
            );
        }
        // Redis 6.2 wraps a refusal inside a script in an ERR.
        assert!(matches!(
            server_error(
                "ERR",
                "Error running script (call to f_1): @user_script:9: -OOM command not allowed"
            ),
            BrokerError::Refused(_)
        ));
        assert!(matches!(
            server_error("NOGROUP", "No such key 'pool:jobs' or consumer group"),
            BrokerError::StateLost(_)
        ));
        assert_eq!(
            server_error(
                "STATELOST",
                "its epoch is missing script: 4f1e0c, on @user_script:27."
            ),
            BrokerError::StateLost("its epoch is missing".to_owned())
        );
        assert!(matches!(
            server_error("WRONGTYPE", "pool:completed holds a list"),
            BrokerError::Protocol(_)
        ));
    }

    #[test]
    fn a_full_server_and_an_evicting_one_are_told_apart() {
        let info = |used: u64, limit: u64, policy: &str| {
            format!(
                "# Memory\r\nused_memory:{used}\r\nmaxmemory:{limit}\r\nmaxmemory_policy:{policy}\r\n"
            )
        };
        assert_eq!(
            replies::memory_trouble(&info(5 << 20, 0, "noeviction")),
            None
        );
        assert_eq!(
            replies::memory_trouble(&info(5 << 20, 10 << 20, "noeviction")),
            None
        );
        assert_eq!(
            replies::memory_trouble(&info(10 << 20, 10 << 20, "noeviction")),
            Some(
                "the broker is full (10.0 MiB used of maxmemory 10.0 MiB): it refuses new jobs \
                 and results until memory is freed"
                    .to_owned()
            )
        );
        assert!(
            replies::memory_trouble(&info(1, 10 << 20, "allkeys-lru"))
                .is_some_and(|trouble| trouble.contains("may drop jobs"))
        );
    }
}
