//! Stage 6 at full speed: worker processes draining trivial jobs from a private Redis, with 1, 2
//! and 4 processes at read counts 1, 10 and 100, and beside them the ceiling `redis-benchmark`
//! reaches for pipelined `XADD` on the same server.
//!
//! The ids are `distributed/<P>-processes/read-<R>` and `distributed/redis-benchmark/pipelined-xadd`;
//! criterion reports each as time per job (per `XADD` for the ceiling), so jobs per second and the
//! fraction of the ceiling follow from one run. `cargo run -p bench-report` shows both.
//!
//! A drain is timed from the moment the worker processes are started (the jobs are already in
//! the stream) until the last job's result is recorded, seen by a watcher that reads the queue's
//! status every millisecond. Workers log at `warn`: a line per job would measure the terminal.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use stage_6_distributed::cli::work_command;
use stage_6_distributed::{Broker, PrivateRedis, ProduceSettings, RedisBroker, Retention, produce};
use tokio::runtime::Runtime;
use tokio_util::sync::CancellationToken;

/// Jobs drained per run: enough that starting the processes is a small part of a run.
const JOBS: u64 = 20_000;
/// `XADD`s per `redis-benchmark` run, 50 to a pipeline.
const CEILING_XADDS: u64 = 200_000;
const CEILING_PIPELINE: u64 = 50;

fn drain(c: &mut Criterion) {
    if !PrivateRedis::on_path() {
        assert!(
            std::env::var_os("CI").is_none(),
            "redis-server is not on PATH and CI is set: the distributed bench must run"
        );
        eprintln!("distributed: SKIPPED, redis-server is not on PATH (install Redis to run it)");
        return;
    }
    let folder = std::env::temp_dir().join(format!("stage-6-bench-{}", std::process::id()));
    std::fs::create_dir_all(&folder).expect("a scratch folder");
    let server = PrivateRedis::start(&folder, false).expect("a private redis-server starts");
    let url = server.url();
    let runtime = Runtime::new().expect("a runtime");

    let mut group = c.benchmark_group("distributed");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(200))
        .measurement_time(Duration::from_secs(3));
    group.throughput(Throughput::Elements(JOBS));
    for processes in [1, 2, 4] {
        for read_count in [1, 10, 100] {
            let id = BenchmarkId::new(
                format!("{processes}-processes"),
                format!("read-{read_count}"),
            );
            group.bench_function(id, |b| {
                b.iter_custom(|runs| {
                    (0..runs)
                        .map(|_| time_one_drain(&runtime, &url, processes, read_count))
                        .sum()
                });
            });
        }
    }
    group.throughput(Throughput::Elements(CEILING_XADDS));
    group.bench_function(BenchmarkId::new("redis-benchmark", "pipelined-xadd"), |b| {
        b.iter_custom(|runs| (0..runs).map(|_| time_pipelined_xadds(&server)).sum());
    });
    group.finish();
    drop(server);
    let _ = std::fs::remove_dir_all(folder);
}

/// Adds [`JOBS`] jobs under a fresh name, then times `processes` worker processes of
/// `read_count` workers each draining them.
fn time_one_drain(runtime: &Runtime, url: &str, processes: usize, read_count: usize) -> Duration {
    static RUN: AtomicUsize = AtomicUsize::new(0);
    let name = format!("bench-{}", RUN.fetch_add(1, Ordering::Relaxed));
    let broker = runtime
        .block_on(RedisBroker::connect(url, &name, Retention::default()))
        .expect("the private server answers");
    let settings = ProduceSettings {
        jobs: JOBS,
        job_duration: Duration::ZERO,
        fail_every: None,
        max_backlog: None,
    };
    runtime
        .block_on(produce(&broker, settings, &CancellationToken::new()))
        .expect("the jobs are added");

    let started = Instant::now();
    let mut workers: Vec<Child> = (1..=processes)
        .map(|n| worker(url, &name, &format!("worker-{n}"), read_count))
        .collect();
    loop {
        let status = runtime.block_on(broker.status()).expect("status");
        if status.completed == JOBS {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let elapsed = started.elapsed();
    for worker in &mut workers {
        // Untimed: the drain is over. SIGKILL is enough, nothing is in flight.
        let _ = worker.kill();
        let _ = worker.wait();
    }
    runtime
        .block_on(async {
            let mut connection = redis::Client::open(url)?
                .get_multiplexed_async_connection()
                .await?;
            // The next run starts from an empty server, so that memory does not grow run to run.
            redis::cmd("FLUSHALL")
                .query_async::<()>(&mut connection)
                .await
        })
        .expect("the server is emptied");
    elapsed
}

fn worker(url: &str, name: &str, consumer: &str, read_count: usize) -> Child {
    Command::new(program())
        .args(work_command(url, name, consumer))
        .args(["--workers", &read_count.to_string(), "--lease", "1m"])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("a worker process starts")
}

fn program() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_stage-6-distributed"))
}

/// One `redis-benchmark` run of pipelined `XADD`s, timed by its own report of requests per
/// second (its run includes no process start).
fn time_pipelined_xadds(server: &PrivateRedis) -> Duration {
    let socket = server.url();
    let socket = socket.trim_start_matches("redis+unix://");
    let output = Command::new("redis-benchmark")
        .args(["-s", socket, "-q", "-n", &CEILING_XADDS.to_string()])
        .args(["-P", &CEILING_PIPELINE.to_string()])
        .args(["XADD", "ceiling", "*", "field", "value"])
        .output()
        .expect("redis-benchmark runs (it comes with redis-server)");
    let report = String::from_utf8_lossy(&output.stdout);
    let per_second = requests_per_second(&report)
        .unwrap_or_else(|| panic!("no requests per second in redis-benchmark's report: {report}"));
    Duration::from_secs_f64(CEILING_XADDS as f64 / per_second)
}

/// The rate on redis-benchmark's last line: `XADD …: 865051.88 requests per second, p50=…`
/// (its progress lines before it are separated by carriage returns).
fn requests_per_second(report: &str) -> Option<f64> {
    let last = report
        .rsplit(['\r', '\n'])
        .find(|line| line.contains("requests per second"))?;
    let (before, _) = last.split_once(" requests per second")?;
    before.rsplit(' ').next()?.parse().ok()
}

criterion_group!(benches, drain);
criterion_main!(benches);
