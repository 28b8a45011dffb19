//! Reading Redis's replies into the broker's types. Machinery: the lesson is in the scripts and
//! in `mod.rs`; this is only how their answers are taken apart.

use std::collections::BTreeMap;

use redis::{FromRedisValue, Value};

use crate::broker::{BrokerError, DeadLetter, JobRecord, JobState, Status};

/// A stream entry as read: its id and its fields, in order, as bytes: an entry written by
/// someone else may hold anything, and one that is not text must not fail the read it came in.
pub(super) struct Entry {
    pub(super) id: String,
    pub(super) fields: Vec<Field>,
}

/// One field of an entry: its name and its value.
type Field = (Vec<u8>, Vec<u8>);

impl Entry {
    /// The value of field `name`, if the entry has it.
    pub(super) fn field(&self, name: &str) -> Option<&[u8]> {
        self.fields
            .iter()
            .find(|(field, _)| field == name.as_bytes())
            .map(|(_, value)| value.as_slice())
    }

    /// The value of field `name` as text, if the entry has it; `Err` if it is not text.
    fn text(&self, name: &str) -> Result<Option<&str>, String> {
        self.field(name)
            .map(|value| {
                std::str::from_utf8(value)
                    .map_err(|_| format!("not a job: its field {name:?} is not text"))
            })
            .transpose()
    }

    /// The job this entry carries, or why it is not one: a job has a number from 1 and a payload.
    pub(super) fn job(&self) -> Result<(u64, String), String> {
        let number = self
            .text("job")?
            .ok_or("not a job: it has no field \"job\"")?;
        let job_id = number
            .parse::<u64>()
            .ok()
            .filter(|&id| id > 0)
            .ok_or_else(|| {
                format!("not a job: its job number {number:?} is not a number from 1")
            })?;
        let payload = self
            .text("payload")?
            .ok_or("not a job: it has no field \"payload\"")?;
        Ok((job_id, payload.to_owned()))
    }
}

/// `value` as a list, or an error that says what was expected. Nil, a missing key, is empty.
pub(super) fn array(value: Value, what: &str) -> Result<Vec<Value>, BrokerError> {
    match value {
        Value::Nil => Ok(Vec::new()),
        Value::Array(items) | Value::Set(items) => Ok(items),
        other => Err(BrokerError::Protocol(format!(
            "expected {what}, got {other:?}"
        ))),
    }
}

/// `value` converted by the redis crate, or an error that says what was expected.
pub(super) fn convert<T: FromRedisValue>(value: Value, what: &str) -> Result<T, BrokerError> {
    redis::from_redis_value(value).map_err(|e| BrokerError::Protocol(format!("{what}: {e}")))
}

/// The entries of an `XREADGROUP` reply: a list of `[stream, entries]` pairs (RESP2) or a map
/// (RESP3), for the one stream read. Nil, when nothing came, is none.
pub(super) fn read_entries(reply: Value) -> Result<Vec<Entry>, BrokerError> {
    let streams = match reply {
        Value::Map(pairs) => pairs,
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
            .collect::<Result<_, _>>()?,
    };
    let mut entries = Vec::new();
    for (_stream, listed) in streams {
        for entry in array(listed, "XREADGROUP's entries")? {
            entries.push(entry_of(entry)?);
        }
    }
    Ok(entries)
}

/// An entry `[id, [field, value, …]]`. Redis lists the fields of an entry deleted while pending
/// as nil, which reads as no fields: such an entry is no job.
pub(super) fn entry_of(value: Value) -> Result<Entry, BrokerError> {
    let mut parts = array(value, "a stream entry")?.into_iter();
    let (Some(id), Some(fields)) = (parts.next(), parts.next()) else {
        return Err(BrokerError::Protocol(
            "a stream entry without an id and fields".to_owned(),
        ));
    };
    Ok(Entry {
        id: convert(id, "a stream entry's id")?,
        fields: field_pairs(fields)?,
    })
}

fn field_pairs(fields: Value) -> Result<Vec<Field>, BrokerError> {
    if let Value::Map(pairs) = fields {
        return pairs
            .into_iter()
            .map(|(name, value)| {
                Ok((
                    convert(name, "a field's name")?,
                    convert(value, "a field's value")?,
                ))
            })
            .collect();
    }
    let flat: Vec<Vec<u8>> = convert(fields, "a stream entry's fields")?;
    Ok(flat
        .chunks_exact(2)
        .map(|pair| (pair[0].clone(), pair[1].clone()))
        .collect())
}

/// The take-over script's answer: `[entry, delivery count, fields]` per entry claimed.
pub(super) fn claimed_entries(reply: Value) -> Result<Vec<(Entry, u64)>, BrokerError> {
    array(reply, "the entries taken over")?
        .into_iter()
        .map(|claimed| {
            let mut parts = array(claimed, "an entry taken over")?.into_iter();
            let (Some(id), Some(count), Some(fields)) = (parts.next(), parts.next(), parts.next())
            else {
                return Err(BrokerError::Protocol(
                    "an entry taken over without its count and fields".to_owned(),
                ));
            };
            let entry = Entry {
                id: convert(id, "an entry's id")?,
                fields: field_pairs(fields)?,
            };
            Ok((entry, convert(count, "a delivery count")?))
        })
        .collect()
}

/// The status script's answer: five counts (submitted, completed, dead-lettered, duplicates, not
/// jobs), then `[[consumer, pending], …]`, then the group's lag (-1 where the server does not say).
pub(super) fn status(reply: Value) -> Result<Status, BrokerError> {
    let mut parts = array(reply, "the status")?.into_iter();
    let mut counts = [0; 5];
    for count in &mut counts {
        let value = parts
            .next()
            .ok_or_else(|| BrokerError::Protocol("a status with too few counts".to_owned()))?;
        *count = convert(value, "a count")?;
    }
    let mut pending = BTreeMap::new();
    for consumer in array(parts.next().unwrap_or(Value::Nil), "the consumers")? {
        // A consumer's name is whatever its process chose; one that is not text is shown as
        // near to it as text can be, not refused.
        let (name, jobs): (Vec<u8>, u64) = convert(consumer, "a consumer's pending count")?;
        pending.insert(String::from_utf8_lossy(&name).into_owned(), jobs);
    }
    let unread: i64 = convert(parts.next().unwrap_or(Value::Int(-1)), "the group's lag")?;
    let [submitted, completed, dead_lettered, duplicates, not_jobs] = counts;
    Ok(Status {
        submitted,
        completed,
        dead_lettered,
        pending,
        unread: u64::try_from(unread).ok(),
        duplicates,
        not_jobs,
    })
}

/// A job's record (`HGETALL` of its key) and its entry's pending line (`XPENDING entry entry 1`).
pub(super) fn job_record(
    fields: BTreeMap<String, String>,
    pending: Value,
) -> Result<Option<JobRecord>, BrokerError> {
    if fields.is_empty() {
        return Ok(None);
    }
    let number = |name: &str| -> Result<u64, BrokerError> {
        let text = fields.get(name).map_or("0", String::as_str);
        text.parse()
            .map_err(|_| BrokerError::Protocol(format!("a job's {name} is {text:?}")))
    };
    let runs: Vec<u64> = fields
        .keys()
        .filter_map(|field| field.strip_prefix("run:")?.parse().ok())
        .collect();
    let state = match fields.get("state").map(String::as_str) {
        Some("completed") => JobState::Completed {
            output: fields.get("output").cloned().unwrap_or_default(),
            delivery: number("by")?,
        },
        Some("dead") => JobState::DeadLettered {
            deliveries: number("by")?,
            error: fields.get("error").cloned().unwrap_or_default(),
        },
        _ => match array(pending, "XPENDING's list")?.into_iter().next() {
            None => JobState::Waiting,
            Some(line) => {
                let (_entry, consumer, _idle, count): (String, Vec<u8>, u64, u64) =
                    convert(line, "an XPENDING line")?;
                let consumer = String::from_utf8_lossy(&consumer).into_owned();
                JobState::Pending { consumer, count }
            }
        },
    };
    Ok(Some(JobRecord { state, runs }))
}

/// The dead-letter stream's entries.
pub(super) fn dead_letters(reply: Value) -> Result<Vec<DeadLetter>, BrokerError> {
    array(reply, "the dead-letter stream")?
        .into_iter()
        .map(|value| {
            let letter = entry_of(value)?;
            let field = |name: &str| {
                String::from_utf8_lossy(letter.field(name).unwrap_or_default()).into_owned()
            };
            Ok(DeadLetter {
                job_id: field("job").parse().ok(),
                entry: field("entry"),
                deliveries: field("deliveries").parse().unwrap_or(0),
                error: field("error"),
            })
        })
        .collect()
}

/// From `INFO memory`: why the server will not keep the queue's writes, if it will not.
pub(super) fn memory_trouble(info: &str) -> Option<String> {
    let field = |name: &str| {
        info.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
            .map(str::trim)
    };
    let number = |name: &str| field(name).and_then(|value| value.parse::<u64>().ok());
    let limit = number("maxmemory").filter(|&limit| limit > 0)?;
    let used = number("used_memory").unwrap_or(0);
    let policy = field("maxmemory_policy").unwrap_or("noeviction");
    if policy != "noeviction" {
        return Some(format!(
            "the broker evicts keys when it is full (maxmemory-policy {policy}): it may drop jobs \
             and results; set maxmemory-policy noeviction"
        ));
    }
    (used >= limit).then(|| {
        format!(
            "the broker is full ({} used of maxmemory {}): it refuses new jobs and results until \
             memory is freed",
            size(used),
            size(limit)
        )
    })
}

/// A size in its most readable unit: `512 bytes`, `2.5 KiB`, `10.0 MiB`.
fn size(bytes: u64) -> String {
    let kib = 1024.0;
    match bytes as f64 {
        b if b < kib => format!("{bytes} bytes"),
        b if b < kib * kib => format!("{:.1} KiB", b / kib),
        b => format!("{:.1} MiB", b / kib / kib),
    }
}
