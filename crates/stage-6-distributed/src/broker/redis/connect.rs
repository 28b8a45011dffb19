//! Connecting: a probe first, so that a broker that is not there is said at once; then the
//! connections that reconnect by themselves; then the queue found or made, with its epoch.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncConnectionConfig, Client, RedisError, Value};
use tokio::sync::mpsc;

use super::errors::{broker_error, one_line};
use super::queue::Queue;
use super::recorder::record_in_batches;
use super::url::{check_url, redact};
use super::{RESPONSE_TIMEOUT, RedisBroker, scripts};
use crate::broker::{BrokerError, Retention, fresh_token};

/// How long one attempt to open a connection may take, so that a broker that is not there is
/// reported in seconds rather than waited for.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

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
        Self::reach(url, name, retention, "make").await
    }

    /// Connects to the queue `name` at `url` without writing anything: [`BrokerError::NoQueue`]
    /// if there is none. For `status`, which only looks.
    pub async fn open(url: &str, name: &str) -> Result<RedisBroker, BrokerError> {
        Self::reach(url, name, Retention::default(), "find").await
    }

    async fn reach(
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

        let commands = ConnectionManager::new_with_config(
            client.clone(),
            reconnecting(Some(RESPONSE_TIMEOUT)),
        )
        .await
        .map_err(at_connect)?;
        // The blocking read needs its own connection without a response timeout: the crate's
        // default of 500 ms (or ours) would cut every `BLOCK` longer than that short and report
        // it as a lost connection. `read_new` bounds the wait itself instead.
        let blocking = ConnectionManager::new_with_config(client, reconnecting(None))
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
}

/// The connection manager's settings: answers bounded by `response_timeout` if given, each
/// connection attempt bounded, and a lost connection replaced with a few attempts 100 to 500 ms
/// apart. While the server is down, every command waits for such a round of attempts before it
/// fails, so the round is kept to a couple of seconds: the caller tries again anyway.
fn reconnecting(response_timeout: Option<Duration>) -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(response_timeout)
        .set_min_delay(Duration::from_millis(100))
        .set_max_delay(Duration::from_millis(500))
        .set_number_of_retries(4)
}
