//! The default run: a private Redis, three worker processes, one killed with jobs in hand and
//! those jobs taken over, one poison job dead-lettered, and the account.
//!
//! Without `redis-server` on PATH it runs the same story on the in-process broker, with the
//! workers as tasks and the kill as an abort, and says what that gives up.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use pool_core::{Console, number_ranges};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;

use crate::broker::{Broker, Inspect, MemoryBroker, RedisBroker, Retention, redact};
use crate::cli::work_command;
use crate::job::Demo;
use crate::metrics::WorkMetrics;
use crate::produce::{ProduceSettings, produce};
use crate::server::PrivateRedis;
use crate::tally::Tally;
use crate::worker::{WorkSettings, run_pool};

/// Writes one line of the demo to stdout, whole, whichever task writes it.
fn say(text: std::fmt::Arguments<'_>) {
    Console::stdout().line(text);
}

/// The demo's numbers: short jobs and a short lease, so that the whole story takes a few seconds.
const JOBS: u64 = 12;
const POISON_EVERY: u64 = 7;
const WORK: Duration = Duration::from_millis(100);
const SETTINGS: WorkSettings = WorkSettings {
    workers: 2,
    lease: Duration::from_secs(1),
    job_timeout: Duration::from_secs(10),
    max_deliveries: 2,
    exit_when_idle: Some(Duration::from_millis(300)),
};
/// How often the demo looks whether the first worker holds its jobs yet. The demo's one poll:
/// it watches the queue from outside, as an operator would.
const WATCH: Duration = Duration::from_millis(10);

/// Runs the demo against `redis` if given, else a private Redis if `redis-server` is on PATH,
/// else the in-process broker. Everything it shows goes to stdout, the workers' log lines too.
pub async fn run(redis: Option<&str>, name: &str, stop: &CancellationToken) -> Result<(), String> {
    if redis.is_none() && !PrivateRedis::on_path() {
        say(format_args!(
            "demo: redis-server is not on PATH, so this runs on the in-process broker: one \
             process, no crash safety (install Redis to see worker processes survive a kill)"
        ));
        return in_process(stop).await;
    }
    let (private, url) = match redis {
        Some(url) => (None, url.to_owned()),
        None => {
            let folder = std::env::temp_dir().join(format!("stage-6-demo-{}", std::process::id()));
            std::fs::create_dir_all(&folder)
                .map_err(|error| format!("cannot make {}: {error}", folder.display()))?;
            let server = PrivateRedis::start(&folder, false)?;
            let url = server.url();
            (Some((server, folder)), url)
        }
    };
    let broker = RedisBroker::connect(&url, name, Retention::default())
        .await
        .map_err(|error| error.to_string())?;
    let story = with_processes(&broker, &url, name, stop).await;
    if let Some((server, folder)) = private {
        drop(server);
        let _ = std::fs::remove_dir_all(folder);
    }
    story
}

/// The story with worker processes: the same program, started with `work`.
async fn with_processes(
    broker: &RedisBroker,
    url: &str,
    name: &str,
    stop: &CancellationToken,
) -> Result<(), String> {
    introduce(&if url.starts_with("redis+unix") {
        "a private Redis".to_owned()
    } else {
        redact(url)
    });
    add_jobs(broker, stop).await?;
    let mut first = spawn_worker(url, name, "worker-1")?;
    let held = wait_until_holding(broker, "worker-1", stop).await?;
    // SIGKILL: no goodbye and no acknowledgement. Its jobs stay pending under its name.
    signal(&first.child, Signal::SIGKILL);
    first.exited().await;
    if stop.is_cancelled() {
        return report(broker).await;
    }
    say(format_args!(
        "demo: killed worker-1 with SIGKILL while it held jobs {}; they stay pending until their lease runs out",
        number_ranges(held.iter().copied())
    ));

    let mut others = [
        spawn_worker(url, name, "worker-2")?,
        spawn_worker(url, name, "worker-3")?,
    ];
    say(format_args!("demo: started worker-2 and worker-3"));
    for worker in &mut others {
        tokio::select! {
            () = stop.cancelled() => {}
            _ = worker.child.wait() => {}
        }
    }
    // After Ctrl-C the workers are told to stop the way a user would: finish what they hold.
    for worker in &mut others {
        if stop.is_cancelled() {
            signal(&worker.child, Signal::SIGTERM);
        }
        worker.exited().await;
    }
    report(broker).await
}

fn introduce(broker: &str) {
    say(format_args!(
        "demo: {broker}; {JOBS} jobs of {}, every {POISON_EVERY}th one poison; worker processes \
         of {} workers, a lease of {}, {} deliveries at most",
        humantime::format_duration(WORK),
        SETTINGS.workers,
        humantime::format_duration(SETTINGS.lease),
        SETTINGS.max_deliveries,
    ));
}

async fn add_jobs<B: Broker>(broker: &B, stop: &CancellationToken) -> Result<(), String> {
    let settings = ProduceSettings {
        jobs: JOBS,
        job_duration: WORK,
        fail_every: Some(POISON_EVERY),
        max_backlog: None,
    };
    let produced = produce(broker, settings, stop)
        .await
        .map_err(|error| error.to_string())?;
    say(format_args!("demo: {produced}"));
    Ok(())
}

fn signal(child: &Child, signal: Signal) {
    if let Some(pid) = child.id().and_then(|id| i32::try_from(id).ok()) {
        // A child that has already exited cannot be signalled; there is nothing left to do.
        let _ = kill(Pid::from_raw(pid), signal);
    }
}

/// A worker process, and the task that copies its log lines to stdout as they come.
struct WorkerProcess {
    child: Child,
    logs: tokio::task::JoinHandle<()>,
}

impl WorkerProcess {
    /// Waits until it has exited and every line it wrote has been copied.
    async fn exited(&mut self) {
        let _ = self.child.wait().await;
        let _ = (&mut self.logs).await;
    }
}

/// Starts a worker process.
fn spawn_worker(url: &str, name: &str, consumer: &str) -> Result<WorkerProcess, String> {
    let program: PathBuf =
        std::env::current_exe().map_err(|error| format!("cannot find this program: {error}"))?;
    let lease = humantime::format_duration(SETTINGS.lease).to_string();
    let idle = humantime::format_duration(SETTINGS.exit_when_idle.unwrap_or_default()).to_string();
    let mut child = Command::new(program)
        .args(work_command(url, name, consumer))
        .args([
            "--workers",
            &SETTINGS.workers.to_string(),
            "--lease",
            &lease,
        ])
        .args(["--max-deliveries", &SETTINGS.max_deliveries.to_string()])
        .args(["--exit-when-idle", &idle])
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|error| format!("cannot start a worker process: {error}"))?;
    let stderr = child.stderr.take();
    let logs = tokio::spawn(async move {
        if let Some(stderr) = stderr {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                say(format_args!("{line}"));
            }
        }
    });
    Ok(WorkerProcess { child, logs })
}

/// Waits until `consumer` holds as many jobs as it has workers, and returns their ids.
async fn wait_until_holding<B: Inspect>(
    broker: &B,
    consumer: &str,
    stop: &CancellationToken,
) -> Result<Vec<u64>, String> {
    loop {
        let held = broker
            .pending_of(consumer)
            .await
            .map_err(|error| error.to_string())?;
        if held.len() >= SETTINGS.workers || stop.is_cancelled() {
            return Ok(held);
        }
        tokio::time::sleep(WATCH).await;
    }
}

/// The same story inside this process: the workers are tasks, and the kill is an abort.
async fn in_process(stop: &CancellationToken) -> Result<(), String> {
    let broker = MemoryBroker::new();
    introduce("the in-process broker");
    add_jobs(&broker, stop).await?;
    let first = spawn_task(&broker, "worker-1", &CancellationToken::new());
    let held = wait_until_holding(&broker, "worker-1", stop).await?;
    // The stand-in for SIGKILL: the worker's task, and with it its job tasks, dropped mid-job.
    first.abort();
    let _ = first.await;
    if stop.is_cancelled() {
        return report(&broker).await;
    }
    say(format_args!(
        "demo: stopped worker-1 dead while it held jobs {}; they stay pending until their lease runs out",
        number_ranges(held.iter().copied())
    ));
    let others = [
        spawn_task(&broker, "worker-2", stop),
        spawn_task(&broker, "worker-3", stop),
    ];
    say(format_args!("demo: started worker-2 and worker-3"));
    for other in others {
        let _ = other.await;
    }
    report(&broker).await
}

/// A worker process as a task, on its own connection to the in-process broker.
fn spawn_task(
    broker: &MemoryBroker,
    consumer: &'static str,
    stop: &CancellationToken,
) -> tokio::task::JoinHandle<Result<Tally, String>> {
    let (broker, stop) = (Arc::new(broker.clone()), stop.clone());
    tokio::spawn(async move {
        let metrics = WorkMetrics::default();
        run_pool(broker, consumer, SETTINGS, Demo, &metrics, &stop)
            .await
            .map_err(|error| error.to_string())
    })
}

/// The account: every dead letter, then the queue's state, which must add up to the jobs added.
async fn report<B: Inspect>(broker: &B) -> Result<(), String> {
    for dead in broker
        .dead_letters()
        .await
        .map_err(|error| error.to_string())?
    {
        let what = match dead.job_id {
            Some(job_id) => format!("job {job_id}"),
            None => format!("entry {}", dead.entry),
        };
        say(format_args!(
            "dead letter: {what} after {} deliveries: {}",
            dead.deliveries, dead.error
        ));
    }
    let status = broker.status().await.map_err(|error| error.to_string())?;
    say(format_args!("{status}"));
    Ok(())
}
