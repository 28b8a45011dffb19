//! The server and the processes `chaos` injects its faults into: a Redis of its own (or one it
//! was given) and the worker processes, this same program started with `work`.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use redis::aio::MultiplexedConnection;
use tokio::process::{Child, Command};

use super::{LEASE, MAX_DELIVERIES, WORKERS_EACH};
use crate::broker::redact;
use crate::cli::work_command;
use crate::server::PrivateRedis;

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
    pub(super) running: Vec<(String, Child)>,
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
    pub(super) fn signal_first(&self, signal: Signal) -> Option<String> {
        let (consumer, child) = self.running.first()?;
        send(child, signal);
        Some(consumer.clone())
    }

    /// Kills the first running worker with SIGKILL and reaps it.
    pub(super) async fn kill_first(&mut self) -> Option<String> {
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
