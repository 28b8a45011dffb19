//! The faults `chaos` injects, one after another, and the waits around them.

use std::time::Duration;

use nix::sys::signal::Signal;
use pool_core::number_ranges;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::processes::{Redis, Workers, connection};
use super::{LEASE, drained, say};
use crate::broker::{Inspect, RedisBroker};
use pool_core::counted;

/// Two entries that are not jobs: one with fields nobody here writes, and one that claims a job
/// number it was never given.
pub(super) async fn add_entries_that_are_not_jobs(url: &str, name: &str) -> Result<(), String> {
    let mut connection = connection(url).await?;
    let stream = format!("{name}:jobs");
    for fields in [
        &["hello", "world"][..],
        &[
            "job",
            "1",
            "payload",
            r#"{"number":1,"work_ms":0,"poison":false}"#,
        ],
    ] {
        let mut add = redis::cmd("XADD");
        add.arg(&stream).arg("*").arg(fields);
        add.query_async::<String>(&mut connection)
            .await
            .map_err(|error| format!("cannot add an entry: {error}"))?;
    }
    say(format_args!(
        "chaos: added 2 entries that are not jobs: one without a job's fields, one that claims job 1"
    ));
    Ok(())
}

/// The faults, one after another across `window`.
pub(super) async fn inject(
    redis: &mut Redis,
    workers: &mut Workers,
    broker: &RedisBroker,
    window: Duration,
    stop: &CancellationToken,
    broken: &mut Vec<String>,
) {
    let step = window / 6;
    let pause = |length: Duration| async move {
        tokio::select! {
            () = stop.cancelled() => {}
            () = tokio::time::sleep(length) => {}
        }
    };
    pause(step).await;
    let held = match workers.running.first() {
        Some((consumer, _)) => broker.pending_of(consumer).await.unwrap_or_default(),
        None => Vec::new(),
    };
    if let Some(killed) = workers.kill_first().await {
        let replacement = workers.start().unwrap_or_default();
        say(format_args!(
            "chaos: SIGKILL {killed}, which held {} ({}); started {replacement}",
            counted(held.len() as u64, "job", "jobs"),
            number_ranges(held.iter().copied())
        ));
    }
    pause(step).await;
    if let Some(stopped) = workers.signal_first(Signal::SIGSTOP) {
        let asleep = LEASE * 3 / 2;
        pause(asleep).await;
        workers.signal_first(Signal::SIGCONT);
        say(format_args!(
            "chaos: SIGSTOP {stopped} for {}, past its lease, then SIGCONT",
            pool_core::short_duration(asleep)
        ));
    }
    if !redis.is_own() || stop.is_cancelled() {
        return;
    }
    pause(step).await;
    let url = redis.url();
    let paused = Duration::from_millis(800);
    if let Err(error) = command(
        &url,
        &["CLIENT", "PAUSE", &paused.as_millis().to_string(), "WRITE"],
    )
    .await
    {
        broken.push(format!("could not pause writes: {error}"));
    }
    pause(paused).await;
    say(format_args!(
        "chaos: CLIENT PAUSE WRITE for {}",
        pool_core::short_duration(paused)
    ));
    pause(step).await;
    let refusing = Duration::from_secs(1);
    if let Err(error) = command(&url, &["CONFIG", "SET", "maxmemory", "1"]).await {
        broken.push(format!("could not lower maxmemory: {error}"));
    }
    pause(refusing).await;
    if let Err(error) = command(&url, &["CONFIG", "SET", "maxmemory", "0"]).await {
        broken.push(format!("could not restore maxmemory: {error}"));
    }
    say(format_args!(
        "chaos: maxmemory of 1 byte for {}: the broker refused every write",
        pool_core::short_duration(refusing)
    ));
    pause(step).await;
    match redis.restart().await {
        Ok(()) => say(format_args!(
            "chaos: restarted Redis, which kept its data in its append-only file"
        )),
        Err(error) => broken.push(format!("could not restart Redis: {error}")),
    }
}

/// One command to the server, its answer ignored.
async fn command(url: &str, words: &[&str]) -> Result<(), String> {
    let mut connection = connection(url).await?;
    let mut command = redis::cmd(words[0]);
    command.arg(&words[1..]);
    command
        .query_async::<redis::Value>(&mut connection)
        .await
        .map(|_| ())
        .map_err(|error| error.to_string())
}

/// How long the queue may take to drain once the faults are over.
const DRAIN_LIMIT: Duration = Duration::from_secs(90);

/// Waits until every job has ended and nothing is pending.
pub(super) async fn wait_until_drained(
    broker: &RedisBroker,
    workers: &mut Workers,
    stop: &CancellationToken,
) -> Result<(), String> {
    let started = Instant::now();
    while !drained(broker).await {
        if stop.is_cancelled() {
            return Ok(());
        }
        if started.elapsed() > DRAIN_LIMIT || workers.count() == 0 {
            let status = crate::broker::Broker::status(broker).await;
            return Err(format!(
                "the queue did not drain within {}: {}",
                pool_core::short_duration(DRAIN_LIMIT),
                status.map_or_else(|error| error.to_string(), |status| status.to_string())
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    say(format_args!(
        "chaos: every job ended, nothing pending; stopping the workers with SIGTERM"
    ));
    Ok(())
}

/// Deletes this run's keys from a Redis it was given, a page at a time (`SCAN`, not `KEYS`,
/// which would hold up everyone else's commands on a large server).
pub(super) async fn remove_keys(url: &str, name: &str) {
    let Ok(mut connection) = connection(url).await else {
        return;
    };
    let mut cursor = 0_u64;
    loop {
        let page: Result<(u64, Vec<String>), _> = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{name}:*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut connection)
            .await;
        let Ok((next, keys)) = page else { return };
        if !keys.is_empty() {
            let _ = redis::cmd("DEL")
                .arg(&keys)
                .query_async::<redis::Value>(&mut connection)
                .await;
        }
        if next == 0 {
            return;
        }
        cursor = next;
    }
}
