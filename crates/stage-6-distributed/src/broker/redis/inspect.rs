//! What `status`, the demo, `chaos` and the tests read from a Redis queue, beyond what a worker
//! needs: plain reads, no scripts.

use std::collections::BTreeMap;

use redis::Value;

use super::errors::broker_error;
use super::replies::{self, array, convert};
use super::{GROUP, RedisBroker};
use crate::broker::{BrokerError, DeadLetter, Inspect, JobRecord};

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
                let (entry, _consumer, _idle, _count): (String, Vec<u8>, u64, u64) =
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
