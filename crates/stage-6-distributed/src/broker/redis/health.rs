//! One log line when the broker goes away or starts refusing writes, and one when it is back.
//!
//! Every worker task retries on its own, every 20 ms to a second; logging each attempt would
//! bury the news under copies of it. The broker's handle notes how each command went instead,
//! and speaks only when the state changes.

use std::sync::Mutex;

use tokio::time::Instant;

use pool_core::{lock, short_duration};

use crate::broker::BrokerError;

/// What is wrong with the broker now, as this process sees it.
#[derive(Debug, Default)]
pub(super) struct Health {
    /// Since when the connection has been lost, if it is.
    lost_since: Mutex<Option<Instant>>,
    /// Since when the broker has refused writes, if it does.
    refused_since: Mutex<Option<Instant>>,
}

impl Health {
    /// Notes how a command went. `writes`: whether it changes the queue, so that its success
    /// shows that writes are accepted again (a read succeeds on a broker that refuses writes).
    pub(super) fn note<T>(&self, result: &Result<T, BrokerError>, writes: bool) {
        match result {
            Ok(_) => {
                back(&self.lost_since, "the broker answers again");
                if writes {
                    back(&self.refused_since, "the broker accepts writes again");
                }
            }
            Err(error @ BrokerError::Lost(_)) => trouble(&self.lost_since, error),
            Err(error @ BrokerError::Refused(_)) => trouble(&self.refused_since, error),
            Err(_) => {}
        }
    }
}

fn trouble(since: &Mutex<Option<Instant>>, error: &BrokerError) {
    let mut since = lock(since);
    if since.is_none() {
        *since = Some(Instant::now());
        tracing::warn!("{error}; trying again until it does not");
    }
}

fn back(since: &Mutex<Option<Instant>>, news: &str) {
    if let Some(since) = lock(since).take() {
        tracing::info!("{news}, after {}", short_duration(since.elapsed()));
    }
}
