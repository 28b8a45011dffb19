//! The [`Broker`] on a Redis stream read through a consumer group, with commands Redis 6.2 has.
//!
//! Under the name `name` it keeps:
//!
//! - `{name}:jobs`: the stream of jobs, one entry per job with the id `0-<job id>` and the
//!   fields `number`, `work_ms` and `poison` (`0` or `1`), read through the group `workers`;
//! - `{name}:results`: a hash from job id to output, written once per job (`HSETNX`);
//! - `{name}:runs`: a hash with a field `<job id>:<delivery count>` for each delivery whose run
//!   finished, so that a job run twice shows two;
//! - `{name}:dead`: the dead-letter stream, with the fields `job`, `deliveries` and `error`;
//! - `{name}:dead-jobs`: the set of job ids in the dead-letter stream, so that moving a job
//!   there twice adds it once.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use pool_core::Job;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{
    AsyncConnectionConfig, Client, ErrorKind, FromRedisValue, RedisError, ServerErrorKind, Value,
};

use tokio::sync::{mpsc, oneshot};

use crate::broker::{Broker, BrokerError, DeadLetter, Delivery, JobSpec, Recorded, Status};

/// The consumer group every worker process reads through.
const GROUP: &str = "workers";

/// How long one attempt to open a connection may take, so that a broker that is not there is
/// reported in seconds rather than waited for.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// How long an ordinary command may wait for its answer before the connection counts as lost.
/// The redis crate's default is 500 ms, short enough to fail a command on a busy machine.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(3);

// ANCHOR: dead_letter_script
/// Moves a job to the dead-letter stream once, and acknowledges it every time, in one step: a
/// script runs with nothing else in between, so two workers giving up on the same job (or one
/// worker repeating the call after a lost answer) add one entry. The XADD comes before the SADD
/// so that if it fails, nothing is marked as moved.
///
/// KEYS: the dead set, the dead-letter stream, the job stream.
/// ARGV: job id, deliveries, error, group, the job's entry id.
const DEAD_LETTER_SCRIPT: &str = r"
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then
  redis.call('XADD', KEYS[2], '*', 'job', ARGV[1], 'deliveries', ARGV[2], 'error', ARGV[3])
  redis.call('SADD', KEYS[1], ARGV[1])
end
redis.call('XACK', KEYS[3], ARGV[4], ARGV[5])
return 1
";
// ANCHOR_END: dead_letter_script

/// A [`Broker`] on a Redis server: see the module documentation for what it keeps there.
///
/// Cloning it is cheap and the clones share its connections.
#[derive(Debug, Clone)]
pub struct RedisBroker {
    /// Every command but the blocking read, each answered within [`RESPONSE_TIMEOUT`].
    commands: ConnectionManager,
    /// The blocking `XREADGROUP … BLOCK` alone, with no response timeout of its own (see
    /// [`RedisBroker::connect`]). Redis answers one connection's commands in order, so reads
    /// made at the same time through one broker wait for each other's `BLOCK`.
    blocking: ConnectionManager,
    /// The key names under the broker's name.
    keys: Keys,
    /// Finished runs on their way to [`record_in_batches`], which records them together.
    to_record: mpsc::UnboundedSender<ToRecord>,
}

/// A finished run waiting to be recorded, and where to say what recording found.
#[derive(Debug)]
struct ToRecord {
    delivery: Delivery,
    output: u64,
    answer: oneshot::Sender<Result<Recorded, BrokerError>>,
}

/// The most runs one transaction records: a bound on one reply's size.
const MOST_RECORDED_AT_ONCE: usize = 1_000;

/// The names of the keys one broker uses.
#[derive(Debug, Clone)]
struct Keys {
    jobs: String,
    results: String,
    runs: String,
    dead: String,
    dead_jobs: String,
}

impl Keys {
    fn new(name: &str) -> Self {
        Self {
            jobs: format!("{name}:jobs"),
            results: format!("{name}:results"),
            runs: format!("{name}:runs"),
            dead: format!("{name}:dead"),
            dead_jobs: format!("{name}:dead-jobs"),
        }
    }
}

/// Checks that `url` is one the broker can use (`redis://host:port` or
/// `redis+unix:///path/to/socket`), without connecting, so that a program can refuse it as bad
/// input before it starts. The error says what is wrong with it.
pub fn check_url(url: &str) -> Result<(), String> {
    if !url.starts_with("redis://") && !url.starts_with("redis+unix://") {
        return Err("expected redis://host:port or redis+unix:///path/to/socket".to_owned());
    }
    // The crate's message ends in its error kind (" - InvalidClientConfig"), which says nothing
    // to someone who typed a URL.
    Client::open(url)
        .map(|_| ())
        .map_err(|e| e.to_string().replace(" - InvalidClientConfig", ""))
}

impl RedisBroker {
    /// Connects to the Redis server at `url` and makes sure the job stream and its consumer group
    /// exist, keeping every key under `name`.
    ///
    /// A server that is not there, or does not answer, is reported as
    /// [`BrokerError::Unreachable`] within a few seconds. So is a URL [`check_url`] refuses,
    /// which callers should have checked first.
    pub async fn connect(url: &str, name: &str) -> Result<RedisBroker, BrokerError> {
        let unreachable = |reason: String| BrokerError::Unreachable {
            at: url.to_owned(),
            reason,
        };
        let at_connect = |e: RedisError| match broker_error(e) {
            BrokerError::Lost(reason) => unreachable(reason),
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
        let keys = Keys::new(name);
        let (to_record, waiting) = mpsc::unbounded_channel();
        // Ends when the last clone of the broker is dropped and its queue closes.
        tokio::spawn(record_in_batches(commands.clone(), keys.clone(), waiting));
        let broker = RedisBroker {
            commands,
            blocking,
            keys,
            to_record,
        };

        // The group reads from the start of the stream (`0`), so jobs submitted before the
        // first worker came are delivered too. MKSTREAM creates the stream if no producer has.
        let created = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(&broker.keys.jobs)
            .arg(GROUP)
            .arg("0")
            .arg("MKSTREAM")
            .query_async::<Value>(&mut broker.commands.clone())
            .await;
        match created {
            Ok(_) => {}
            // Another process (or an earlier run) made it: that is the one to share.
            Err(e) if e.code() == Some("BUSYGROUP") => {}
            Err(e) => return Err(at_connect(e)),
        }
        Ok(broker)
    }

    /// A connection for ordinary commands.
    fn con(&self) -> ConnectionManager {
        self.commands.clone()
    }

    /// The delivery counts of `claimed`, which `consumer` has just claimed: XAUTOCLAIM raises
    /// the counters but does not say them. One `XPENDING` per job, sent together. A job that is
    /// no longer pending for `consumer` (acknowledged, or claimed by someone else since) is left
    /// out: it is not this consumer's to run any more.
    async fn with_counts(
        &self,
        consumer: &str,
        claimed: Vec<JobSpec>,
    ) -> Result<Vec<Delivery>, BrokerError> {
        if claimed.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for spec in &claimed {
            let id = entry_id(spec.job.id);
            pipe.cmd("XPENDING")
                .arg(&self.keys.jobs)
                .arg(GROUP)
                .arg(&id)
                .arg(&id)
                .arg(1)
                .arg(consumer);
        }
        let replies: Vec<Value> = pipe
            .query_async(&mut self.con())
            .await
            .map_err(broker_error)?;
        if replies.len() != claimed.len() {
            return Err(BrokerError::Protocol(format!(
                "{} answers to {} XPENDING commands",
                replies.len(),
                claimed.len()
            )));
        }
        let mut deliveries = Vec::with_capacity(claimed.len());
        for (spec, reply) in claimed.into_iter().zip(replies) {
            if let Some(pending) = array(reply, "XPENDING's list")?.into_iter().next() {
                let count = pending_entry(pending)?.count;
                deliveries.push(Delivery { spec, count });
            }
        }
        Ok(deliveries)
    }
}

/// The connection manager's settings: answers bounded by `response_timeout` if given, each
/// connection attempt bounded, and a lost connection replaced with a few attempts 100 to 500 ms
/// apart. While the server is down, every command waits for such a round of attempts before it
/// fails, so the round is kept to a couple of seconds: the caller tries again anyway, and should
/// hear that the broker is gone while it can still say so.
fn managed(response_timeout: Option<Duration>) -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(response_timeout)
        .set_min_delay(Duration::from_millis(100))
        .set_max_delay(Duration::from_millis(500))
        .set_number_of_retries(4)
}

impl Broker for RedisBroker {
    async fn submit(&self, spec: JobSpec) -> Result<(), BrokerError> {
        let added = redis::cmd("XADD")
            .arg(&self.keys.jobs)
            .arg(entry_id(spec.job.id))
            .arg("number")
            .arg(spec.job.number)
            .arg("work_ms")
            .arg(millis(spec.work))
            .arg("poison")
            .arg(if spec.poison { "1" } else { "0" })
            .query_async::<Value>(&mut self.con())
            .await;
        match added {
            Ok(_) => Ok(()),
            // Ids only grow, so an id at or below the top is one a producer added before (the
            // producer numbers its jobs in order and goes on from `last_job_id`).
            Err(e)
                if e.kind() == ErrorKind::Server(ServerErrorKind::ResponseError)
                    && e.detail().is_some_and(|d| d.contains("equal or smaller")) =>
            {
                Ok(())
            }
            Err(e) => Err(broker_error(e)),
        }
    }

    async fn last_job_id(&self) -> Result<u64, BrokerError> {
        let top = redis::cmd("XREVRANGE")
            .arg(&self.keys.jobs)
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1)
            .query_async::<Value>(&mut self.con())
            .await
            .map_err(broker_error)?;
        // A missing stream reads as an empty one.
        match array(top, "XREVRANGE's entries")?.into_iter().next() {
            None => Ok(0),
            Some(entry) => job_id_of(&entry_parts(entry)?.0),
        }
    }

    // ANCHOR: read_new
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
            read.arg("STREAMS").arg(&self.keys.jobs).arg(">");
            read.query_async::<Value>(&mut self.con()).await
        } else {
            // At least 1 ms, so that a wait under a millisecond does not become `BLOCK 0`.
            read.arg("BLOCK")
                .arg(millis(block).max(1))
                .arg("STREAMS")
                .arg(&self.keys.jobs)
                .arg(">");
            // The blocking connection has no response timeout, so the wait is bounded here:
            // the server answers by the end of the block unless the connection is gone.
            let mut con = self.blocking.clone();
            match tokio::time::timeout(
                block.saturating_add(RESPONSE_TIMEOUT),
                read.query_async::<Value>(&mut con),
            )
            .await
            {
                Ok(reply) => reply,
                Err(_) => {
                    return Err(BrokerError::Lost(format!(
                        "no answer to a read blocking {block:?} within {RESPONSE_TIMEOUT:?} more"
                    )));
                }
            }
        };
        let reply = reply.map_err(broker_error)?;
        let mut deliveries = Vec::new();
        for (_stream, entries) in streams(reply)? {
            for entry in array(entries, "XREADGROUP's entries")? {
                if let Some(spec) = job_entry(entry)? {
                    deliveries.push(Delivery { spec, count: 1 });
                }
            }
        }
        Ok(deliveries)
    }
    // ANCHOR_END: read_new

    // ANCHOR: claim_expired
    async fn claim_expired(
        &self,
        consumer: &str,
        lease: Duration,
        count: usize,
    ) -> Result<Vec<Delivery>, BrokerError> {
        if count == 0 {
            return Ok(Vec::new());
        }
        // XAUTOCLAIM looks at a bounded stretch of the pending list per call (Redis 7: COUNT × 10
        // entries) and says where to go on; with many jobs in flight the expired ones can lie
        // past it, so go on until enough are claimed or the list is done ("0-0").
        let mut claimed = Vec::new();
        let mut cursor = "0-0".to_owned();
        loop {
            let reply = redis::cmd("XAUTOCLAIM")
                .arg(&self.keys.jobs)
                .arg(GROUP)
                .arg(consumer)
                .arg(millis(lease))
                .arg(&cursor)
                .arg("COUNT")
                .arg(count - claimed.len())
                .query_async::<Value>(&mut self.con())
                .await
                .map_err(broker_error)?;
            // Redis 6.2 answers [next, entries]; Redis 7 adds a third element, the ids of
            // entries deleted from the stream, which it has dropped from the pending list
            // already. Jobs are never deleted here, so there is nothing to do with them.
            let mut parts = array(reply, "XAUTOCLAIM's answer")?.into_iter();
            let (Some(next), Some(entries)) = (parts.next(), parts.next()) else {
                return Err(BrokerError::Protocol(
                    "XAUTOCLAIM answered with fewer than two parts".to_owned(),
                ));
            };
            cursor = convert(next, "XAUTOCLAIM's next id")?;
            for entry in array(entries, "XAUTOCLAIM's entries")? {
                // Redis 6.2 lists an entry deleted from the stream as nil.
                if let Some(spec) = job_entry(entry)? {
                    claimed.push(spec);
                }
            }
            if claimed.len() >= count || cursor == "0-0" {
                break;
            }
        }
        self.with_counts(consumer, claimed).await
    }
    // ANCHOR_END: claim_expired

    // ANCHOR: extend_lease
    async fn extend_lease(&self, consumer: &str, job_id: u64) -> Result<(), BrokerError> {
        // Claiming with a minimum idle time of 0 resets the idle time, which is the lease; JUSTID
        // leaves the delivery counter alone. A job no longer pending is simply not claimed.
        redis::cmd("XCLAIM")
            .arg(&self.keys.jobs)
            .arg(GROUP)
            .arg(consumer)
            .arg(0)
            .arg(entry_id(job_id))
            .arg("JUSTID")
            .query_async::<Value>(&mut self.con())
            .await
            .map_err(broker_error)?;
        Ok(())
    }
    // ANCHOR_END: extend_lease

    // ANCHOR: complete
    async fn complete(&self, delivery: Delivery, output: u64) -> Result<Recorded, BrokerError> {
        // Handed to the recorder, which writes every run that finished meanwhile in one
        // transaction: see `record_in_batches`.
        let (answer, answered) = oneshot::channel();
        let stopped = || BrokerError::Lost("the recorder has stopped".to_owned());
        self.to_record
            .send(ToRecord {
                delivery,
                output,
                answer,
            })
            .map_err(|_| stopped())?;
        answered.await.map_err(|_| stopped())?
    }
    // ANCHOR_END: complete

    async fn dead_letter(&self, delivery: Delivery, error: &str) -> Result<(), BrokerError> {
        let id = delivery.spec.job.id;
        redis::cmd("EVAL")
            .arg(DEAD_LETTER_SCRIPT)
            .arg(3)
            .arg(&self.keys.dead_jobs)
            .arg(&self.keys.dead)
            .arg(&self.keys.jobs)
            .arg(id)
            .arg(delivery.count)
            .arg(error)
            .arg(GROUP)
            .arg(entry_id(id))
            .query_async::<Value>(&mut self.con())
            .await
            .map_err(broker_error)?;
        Ok(())
    }

    async fn status(&self) -> Result<Status, BrokerError> {
        // One MULTI … EXEC, so that the numbers are of one moment and add up.
        let (submitted, completed, pending, dead_lettered, runs): (u64, u64, Value, u64, u64) =
            redis::pipe()
                .atomic()
                .cmd("XLEN")
                .arg(&self.keys.jobs)
                .cmd("HLEN")
                .arg(&self.keys.results)
                .cmd("XPENDING")
                .arg(&self.keys.jobs)
                .arg(GROUP)
                .cmd("XLEN")
                .arg(&self.keys.dead)
                .cmd("HLEN")
                .arg(&self.keys.runs)
                .query_async(&mut self.con())
                .await
                .map_err(broker_error)?;
        Ok(Status {
            submitted,
            completed,
            pending: pending_by_consumer(pending)?,
            dead_lettered,
            duplicates: runs.saturating_sub(completed),
        })
    }

    async fn pending_of(&self, consumer: &str) -> Result<Vec<u64>, BrokerError> {
        // A page at a time, each starting just after the last id of the one before.
        const PAGE: usize = 1000;
        let mut ids = Vec::new();
        let mut start = "-".to_owned();
        loop {
            let reply = redis::cmd("XPENDING")
                .arg(&self.keys.jobs)
                .arg(GROUP)
                .arg(&start)
                .arg("+")
                .arg(PAGE)
                .arg(consumer)
                .query_async::<Value>(&mut self.con())
                .await
                .map_err(broker_error)?;
            let page = array(reply, "XPENDING's list")?;
            let full = page.len() == PAGE;
            for pending in page {
                ids.push(pending_entry(pending)?.job_id);
            }
            match ids.last() {
                Some(&last) if full => start = entry_id(last + 1),
                _ => return Ok(ids),
            }
        }
    }

    async fn results(&self) -> Result<BTreeMap<u64, u64>, BrokerError> {
        let all = redis::cmd("HGETALL")
            .arg(&self.keys.results)
            .query_async::<Value>(&mut self.con())
            .await
            .map_err(broker_error)?;
        convert(all, "the results")
    }

    async fn runs(&self) -> Result<BTreeMap<u64, Vec<u64>>, BrokerError> {
        let all = redis::cmd("HGETALL")
            .arg(&self.keys.runs)
            .query_async::<Value>(&mut self.con())
            .await
            .map_err(broker_error)?;
        let fields: HashMap<String, String> = convert(all, "the runs")?;
        let mut runs: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
        for field in fields.keys() {
            let run = field
                .split_once(':')
                .and_then(|(job, count)| Some((job.parse().ok()?, count.parse().ok()?)));
            let Some((job, count)) = run else {
                return Err(BrokerError::Protocol(format!(
                    "run {field:?} is not <job id>:<delivery count>"
                )));
            };
            runs.entry(job).or_default().push(count);
        }
        for counts in runs.values_mut() {
            counts.sort_unstable();
        }
        Ok(runs)
    }

    async fn dead_letters(&self) -> Result<Vec<DeadLetter>, BrokerError> {
        let all = redis::cmd("XRANGE")
            .arg(&self.keys.dead)
            .arg("-")
            .arg("+")
            .query_async::<Value>(&mut self.con())
            .await
            .map_err(broker_error)?;
        let mut letters = Vec::new();
        for entry in array(all, "the dead-letter stream")? {
            let (id, fields) = entry_parts(entry)?;
            let Some(fields) = fields else { continue };
            let field = |name: &str| {
                fields.get(name).ok_or_else(|| {
                    BrokerError::Protocol(format!("dead letter {id} has no field {name:?}"))
                })
            };
            letters.push(DeadLetter {
                job_id: number(field("job")?, "a dead letter's job")?,
                deliveries: number(field("deliveries")?, "a dead letter's deliveries")?,
                error: field("error")?.clone(),
            });
        }
        Ok(letters)
    }
}

// ANCHOR: record_in_batches
/// Records finished runs in batches: whatever finished while the last transaction was on the
/// wire goes into the next one (group commit). One transaction, however many runs: a round trip
/// and a `MULTI … EXEC` a batch instead of a job, which is most of what a trivial job costs.
async fn record_in_batches(
    connection: ConnectionManager,
    keys: Keys,
    mut waiting: mpsc::UnboundedReceiver<ToRecord>,
) {
    let mut batch = Vec::new();
    while waiting.recv_many(&mut batch, MOST_RECORDED_AT_ONCE).await > 0 {
        match record(&mut connection.clone(), &keys, &batch).await {
            Ok(recorded) => {
                for (run, recorded) in batch.drain(..).zip(recorded) {
                    // A caller that gave up waiting has nothing to be told.
                    let _ = run.answer.send(Ok(recorded));
                }
            }
            Err(error) => {
                for run in batch.drain(..) {
                    let _ = run.answer.send(Err(error.clone()));
                }
            }
        }
    }
}

/// One `MULTI … EXEC` for `batch`: per run, its result keyed by the job (`HSETNX`, so the first
/// run's stays) and the run itself keyed by job and delivery; then one `XACK` for every job. All
/// of it or none of it, so a worker that dies in between leaves its jobs pending, never recorded
/// and pending, nor acknowledged and unrecorded.
async fn record(
    connection: &mut ConnectionManager,
    keys: &Keys,
    batch: &[ToRecord],
) -> Result<Vec<Recorded>, BrokerError> {
    let mut transaction = redis::pipe();
    transaction.atomic();
    for run in batch {
        let id = run.delivery.spec.job.id;
        transaction
            .cmd("HSETNX")
            .arg(&keys.results)
            .arg(id)
            .arg(run.output)
            .cmd("HSETNX")
            .arg(&keys.runs)
            .arg(format!("{id}:{}", run.delivery.count))
            .arg(1);
    }
    let acknowledge = transaction.cmd("XACK").arg(&keys.jobs).arg(GROUP);
    for run in batch {
        acknowledge.arg(entry_id(run.delivery.spec.job.id));
    }
    let replies: Vec<u64> = transaction
        .query_async(connection)
        .await
        .map_err(broker_error)?;
    if replies.len() != 2 * batch.len() + 1 {
        return Err(BrokerError::Protocol(format!(
            "{} answers to a transaction of {} commands",
            replies.len(),
            2 * batch.len() + 1
        )));
    }
    // Every other answer, from the first: the results' HSETNX, 1 where this run set it.
    Ok(replies
        .iter()
        .step_by(2)
        .take(batch.len())
        .map(|&set| {
            if set == 1 {
                Recorded::First
            } else {
                Recorded::Duplicate
            }
        })
        .collect())
}
// ANCHOR_END: record_in_batches

/// The broker's error for one of the redis crate's: a connection that broke or did not answer in
/// time is [`BrokerError::Lost`], and so is a server still loading its data after a restart
/// (both pass if tried again); everything else is an answer this program did not expect.
fn broker_error(e: RedisError) -> BrokerError {
    if e.is_io_error() || e.kind() == ErrorKind::Server(ServerErrorKind::BusyLoading) {
        BrokerError::Lost(e.to_string())
    } else {
        BrokerError::Protocol(e.to_string())
    }
}

/// The stream entry id of a job.
fn entry_id(job_id: u64) -> String {
    format!("0-{job_id}")
}

/// The job id in a stream entry id `0-<job id>`.
fn job_id_of(entry_id: &str) -> Result<u64, BrokerError> {
    entry_id
        .strip_prefix("0-")
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| {
            BrokerError::Protocol(format!("stream entry {entry_id:?} is not 0-<job id>"))
        })
}

/// A duration in whole milliseconds, as Redis takes them.
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// `value` as a list, or an error that says what was expected.
fn array(value: Value, what: &str) -> Result<Vec<Value>, BrokerError> {
    match value {
        // A missing key reads as an empty list.
        Value::Nil => Ok(Vec::new()),
        Value::Array(items) | Value::Set(items) => Ok(items),
        other => Err(BrokerError::Protocol(format!(
            "expected {what}, got {other:?}"
        ))),
    }
}

/// `value` converted by the redis crate, or an error that says what was expected.
fn convert<T: FromRedisValue>(value: Value, what: &str) -> Result<T, BrokerError> {
    redis::from_redis_value(value).map_err(|e| BrokerError::Protocol(format!("{what}: {e}")))
}

/// A number in a field.
fn number(text: &str, what: &str) -> Result<u64, BrokerError> {
    text.parse()
        .map_err(|_| BrokerError::Protocol(format!("{what} is {text:?}, not a number")))
}

/// The streams in an `XREADGROUP` answer, each with its entries: a list of `[name, entries]`
/// pairs (RESP2) or a map (RESP3). Nil — nothing came — is no streams.
fn streams(reply: Value) -> Result<Vec<(Value, Value)>, BrokerError> {
    match reply {
        Value::Map(pairs) => Ok(pairs),
        other => array(other, "XREADGROUP's streams")?
            .into_iter()
            .map(|stream| {
                let mut parts = array(stream, "a stream and its entries")?.into_iter();
                match (parts.next(), parts.next()) {
                    (Some(name), Some(entries)) => Ok((name, entries)),
                    _ => Err(BrokerError::Protocol(
                        "XREADGROUP answered a stream without its entries".to_owned(),
                    )),
                }
            })
            .collect(),
    }
}

/// A stream entry's id and fields. The fields are `None` for an entry deleted from the stream
/// while pending, which Redis lists with nil fields.
fn entry_parts(entry: Value) -> Result<(String, Option<HashMap<String, String>>), BrokerError> {
    let mut parts = array(entry, "a stream entry")?.into_iter();
    let (Some(id), Some(fields)) = (parts.next(), parts.next()) else {
        return Err(BrokerError::Protocol(
            "a stream entry without an id and fields".to_owned(),
        ));
    };
    let id: String = convert(id, "a stream entry's id")?;
    let fields = match fields {
        Value::Nil => None,
        fields => Some(convert(fields, "a stream entry's fields")?),
    };
    Ok((id, fields))
}

/// The job in an entry of the job stream; `None` for an entry deleted from it.
fn job_entry(entry: Value) -> Result<Option<JobSpec>, BrokerError> {
    if entry == Value::Nil {
        return Ok(None);
    }
    let (id, fields) = entry_parts(entry)?;
    let Some(fields) = fields else {
        return Ok(None);
    };
    let id = job_id_of(&id)?;
    let field = |name: &str| {
        fields
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| BrokerError::Protocol(format!("job {id} has no field {name:?}")))
    };
    let poison = match field("poison")? {
        "0" => false,
        "1" => true,
        other => {
            return Err(BrokerError::Protocol(format!(
                "job {id} has poison {other:?}, not 0 or 1"
            )));
        }
    };
    Ok(Some(JobSpec {
        job: Job {
            id,
            number: number(field("number")?, "a job's number")?,
        },
        work: Duration::from_millis(number(field("work_ms")?, "a job's work_ms")?),
        poison,
    }))
}

/// One entry of the extended `XPENDING` form, the parts used here.
struct Pending {
    job_id: u64,
    count: u64,
}

/// Parses `[id, consumer, idle ms, delivery count]`.
fn pending_entry(value: Value) -> Result<Pending, BrokerError> {
    let mut parts = array(value, "an XPENDING entry")?.into_iter();
    let (Some(id), Some(_consumer), Some(_idle), Some(count)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(BrokerError::Protocol(
            "an XPENDING entry with fewer than four parts".to_owned(),
        ));
    };
    let id: String = convert(id, "an XPENDING entry's id")?;
    Ok(Pending {
        job_id: job_id_of(&id)?,
        count: convert(count, "an XPENDING entry's delivery count")?,
    })
}

/// The pending jobs by consumer, from the summary form of `XPENDING`:
/// `[total, lowest id, highest id, [[consumer, count], …]]`, the list nil when nothing is pending.
fn pending_by_consumer(summary: Value) -> Result<BTreeMap<String, u64>, BrokerError> {
    let Some(consumers) = array(summary, "XPENDING's summary")?.into_iter().nth(3) else {
        return Err(BrokerError::Protocol(
            "XPENDING's summary has fewer than four parts".to_owned(),
        ));
    };
    let mut pending = BTreeMap::new();
    for consumer in array(consumers, "XPENDING's consumers")? {
        let (name, count): (String, u64) = convert(consumer, "an XPENDING consumer")?;
        pending.insert(name, count);
    }
    Ok(pending)
}
