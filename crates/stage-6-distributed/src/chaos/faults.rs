//! The faults `chaos` injects, and the processes and server it injects them into.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use pool_core::number_ranges;
use redis::aio::MultiplexedConnection;
use tokio::process::{Child, Command};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{LEASE, MAX_DELIVERIES, WORKERS_EACH, drained, say};
use crate::broker::{Inspect, RedisBroker, redact};
use crate::cli::work_command;
use crate::server::PrivateRedis;
use crate::tally::plural;

/// The Redis the faults go to: one `chaos` started (and may restart), or one it was given.
pub(super) enum Redis {
    Given(String),
    Own {
        /// `None` only while it restarts.
        server: Option<PrivateRedis>,
        persistent: bool,
    },
}

impl Redis {
    pub(super) fn given(url: &str) -> Self {
        Self::Given(url.to_owned())
    }

    /// Starts a private Redis in `dir`, keeping its data in an append-only file if `persistent`.
    pub(super) fn own(dir: PathBuf, persistent: bool) -> Result<Self, String> {
        std::fs::create_dir_all(&dir)
            .map_err(|error| format!("cannot make {}: {error}", dir.display()))?;
        let server = PrivateRedis::start(&dir, persistent)?;
        Ok(Self::Own {
            server: Some(server),
            persistent,
        })
    }

    pub(super) fn url(&self) -> String {
        match self {
            Self::Given(url) => url.clone(),
            Self::Own { server, .. } => server.as_ref().map(PrivateRedis::url).unwrap_or_default(),
        }
    }

    pub(super) fn is_own(&self) -> bool {
        matches!(self, Self::Own { .. })
    }

    pub(super) fn describe(&self) -> String {
        match self {
            Self::Given(url) => redact(url),
            Self::Own {
                persistent: true, ..
            } => "a private Redis that keeps its data in an append-only file".to_owned(),
            Self::Own { .. } => "a private Redis that keeps no data on disk".to_owned(),
        }
    }

    /// Stops the server and starts it again in the same folder: with its data if it keeps an
    /// append-only file, empty if not.
    pub(super) async fn restart(&mut self) -> Result<(), String> {
        let Self::Own { server, .. } = self else {
            return Ok(());
        };
        let Some(mut running) = server.take() else {
            return Err("the server is not running".to_owned());
        };
        // Stopping and starting wait on the child process: off the async thread.
        let restarted = tokio::task::spawn_blocking(move || {
            let restarted = running.restart();
            (running, restarted)
        })
        .await
        .map_err(|error| format!("the restart did not finish: {error}"))?;
        *server = Some(restarted.0);
        restarted.1
    }
}

/// A plain connection, for the commands a fault sends itself.
pub(super) async fn connection(url: &str) -> Result<MultiplexedConnection, String> {
    redis::Client::open(url)
        .map_err(|error| error.to_string())?
        .get_multiplexed_async_connection()
        .await
        .map_err(|error| format!("cannot reach {}: {error}", redact(url)))
}

/// The worker processes: the same program, started with `work`, their logs in one file.
pub(super) struct Workers {
    url: String,
    name: String,
    logs: PathBuf,
    started: usize,
    running: Vec<(String, Child)>,
    /// How each stopped worker ended, and whether this run meant it to end so.
    ended: Vec<(String, ExitStatus, bool)>,
}

impl Workers {
    pub(super) fn new(url: &str, name: &str, logs: &Path) -> Result<Self, String> {
        File::create(logs).map_err(|error| format!("cannot make {}: {error}", logs.display()))?;
        Ok(Self {
            url: url.to_owned(),
            name: name.to_owned(),
            logs: logs.to_owned(),
            started: 0,
            running: Vec::new(),
            ended: Vec::new(),
        })
    }

    /// Starts one more worker process, `worker-<n>`.
    pub(super) fn start(&mut self) -> Result<String, String> {
        self.started += 1;
        let consumer = format!("worker-{}", self.started);
        let program = std::env::current_exe()
            .map_err(|error| format!("cannot find this program: {error}"))?;
        let log = File::options()
            .append(true)
            .open(&self.logs)
            .map_err(|error| format!("cannot open {}: {error}", self.logs.display()))?;
        let child = Command::new(program)
            .args(work_command(&self.url, &self.name, &consumer))
            .args(["--workers", &WORKERS_EACH.to_string()])
            .args(["--lease", &humantime::format_duration(LEASE).to_string()])
            .args(["--max-deliveries", &MAX_DELIVERIES.to_string()])
            .args(["--job-timeout", "10s"])
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .map_err(|error| format!("cannot start a worker process: {error}"))?;
        self.running.push((consumer.clone(), child));
        Ok(consumer)
    }

    /// Sends `signal` to the first running worker, and returns its name.
    fn signal_first(&self, signal: Signal) -> Option<String> {
        let (consumer, child) = self.running.first()?;
        send(child, signal);
        Some(consumer.clone())
    }

    /// Kills the first running worker with SIGKILL and reaps it.
    async fn kill_first(&mut self) -> Option<String> {
        if self.running.is_empty() {
            return None;
        }
        let (consumer, mut child) = self.running.remove(0);
        send(&child, Signal::SIGKILL);
        if let Ok(status) = child.wait().await {
            self.ended.push((consumer.clone(), status, true));
        }
        Some(consumer)
    }

    /// Stops every running worker the way a user would, with SIGTERM, and waits for each.
    pub(super) async fn stop_all(&mut self) {
        for (_, child) in &self.running {
            send(child, Signal::SIGTERM);
        }
        for (consumer, mut child) in self.running.drain(..) {
            let status = tokio::time::timeout(Duration::from_secs(30), child.wait()).await;
            match status {
                Ok(Ok(status)) => self.ended.push((consumer, status, false)),
                _ => {
                    let _ = child.kill().await;
                }
            }
        }
    }

    /// Workers that exited other than as told to: SIGTERM gives 130 (or 0 if it was done).
    pub(super) fn unexpected_exits(&self) -> Vec<String> {
        self.ended
            .iter()
            .filter(|(_, status, meant)| !meant && !matches!(status.code(), Some(0 | 130)))
            .map(|(consumer, status, _)| format!("{consumer} exited with {status}"))
            .collect()
    }

    /// How many are running.
    pub(super) fn count(&self) -> usize {
        self.running.len()
    }

    /// Waits for every running worker to exit by itself, for at most `limit`; returns the exit
    /// codes, `None` for one that did not exit in time (it is killed).
    pub(super) async fn wait_for_exits(&mut self, limit: Duration) -> Vec<Option<i32>> {
        let mut codes = Vec::new();
        for (_, mut child) in self.running.drain(..) {
            match tokio::time::timeout(limit, child.wait()).await {
                Ok(Ok(status)) => codes.push(status.code()),
                _ => {
                    let _ = child.kill().await;
                    codes.push(None);
                }
            }
        }
        codes
    }

    /// Everything the workers logged.
    pub(super) fn logs(&self) -> String {
        std::fs::read_to_string(&self.logs).unwrap_or_default()
    }
}

fn send(child: &Child, signal: Signal) {
    if let Some(pid) = child.id().and_then(|id| i32::try_from(id).ok()) {
        // A child that has exited cannot be signalled; there is nothing left to do.
        let _ = kill(Pid::from_raw(pid), signal);
    }
}

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
            plural(held.len() as u64, "job", "jobs"),
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
