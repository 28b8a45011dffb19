//! One queue on one Redis server: its connections, its keys, and how a script is run on it.

use std::sync::Arc;

use redis::ScriptInvocation;
use redis::aio::ConnectionManager;

use super::errors::broker_error;
use super::health::Health;
use crate::broker::{BrokerError, Retention};

/// One queue on one Redis server, and the connections to it.
#[derive(Debug, Clone)]
pub(super) struct Queue {
    /// Every command but the blocking read, each answered within [`RESPONSE_TIMEOUT`].
    pub(super) commands: ConnectionManager,
    /// The blocking `XREADGROUP … BLOCK` alone, with no response timeout of its own (see
    /// [`RedisBroker::connect`]). Redis answers one connection's commands in order, so reads
    /// made at the same time through one broker wait for each other's `BLOCK`.
    pub(super) blocking: ConnectionManager,
    /// Every key's prefix: the queue's name and a colon.
    pub(super) prefix: String,
    /// The queue's epoch when this broker connected.
    pub(super) epoch: String,
    /// How long ended jobs are remembered.
    pub(super) retention: Retention,
    /// Says when the broker goes away or refuses writes, and when it is back.
    pub(super) health: Arc<Health>,
}

impl Queue {
    /// A connection for ordinary commands.
    pub(super) fn connection(&self) -> ConnectionManager {
        self.commands.clone()
    }

    /// A key of the queue.
    pub(super) fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// The arguments every script starts with: the prefix and the epoch.
    pub(super) fn queue_arguments<'a>(
        &self,
        call: &'a mut ScriptInvocation<'static>,
    ) -> &'a mut ScriptInvocation<'static> {
        call.arg(&self.prefix).arg(&self.epoch)
    }

    /// How long an ended job's record is kept, in whole seconds, as `EXPIRE` takes it.
    pub(super) fn keep_seconds(&self) -> u64 {
        self.retention.results.as_secs().max(1)
    }

    /// Runs `script` with the prefix and epoch and then `args`, and notes how it went.
    pub(super) async fn run<T: redis::FromRedisValue>(
        &self,
        script: &'static redis::Script,
        writes: bool,
        args: impl FnOnce(&mut ScriptInvocation<'static>),
    ) -> Result<T, BrokerError> {
        let mut call = script.prepare_invoke();
        self.queue_arguments(&mut call);
        args(&mut call);
        let result = call
            .invoke_async(&mut self.connection())
            .await
            .map_err(broker_error);
        self.health.note(&result, writes);
        result
    }
}
