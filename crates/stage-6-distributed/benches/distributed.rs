//! Stage 6 at full speed: worker processes draining trivial jobs from a private Redis, with 1, 2
//! and 4 processes at read counts 1, 10 and 100; beside them BullMQ, the job queue Node programs
//! use, draining as many jobs from the same server at the same concurrency as one process of 100
//! workers; and the ceiling `redis-benchmark` reaches for pipelined `XADD` on the same server.
//!
//! The ids are `distributed/<P>-processes/read-<R>`, `distributed/bullmq/concurrency-100` and
//! `distributed/redis-benchmark/pipelined-xadd`; criterion reports each as time per job (per
//! `XADD` for the ceiling), so jobs per second and the fraction of the ceiling follow from one
//! run. `cargo run -p bench-report` shows both.
//!
//! A drain is timed from the moment the worker processes are started (the jobs are already in
//! the stream) until the last job's result is recorded, seen by a watcher that reads the count of
//! completed jobs every millisecond. Workers log at `warn`: a line per job would measure the
//! terminal. BullMQ's drain is timed by its script (`benches/bullmq/drain.cjs`) from the start of
//! its worker, in the Node process that added the jobs. BullMQ runs where `node` and `npm` are on
//! `PATH`, and is skipped with a line that says so where they are not.
//!
//! For stage 6 at one process of 100 and for BullMQ, the bench also counts the commands Redis ran
//! per job (`total_commands_processed`, which counts those inside scripts too, less the watcher's
//! reads); with `BENCH_PROBES` naming a folder (`scripts/compare-with-go.sh` sets it), it writes
//! them to `redis-commands-per-job.txt` there for `bench-report`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use stage_6_distributed::cli::work_command;
use stage_6_distributed::{PrivateRedis, ProduceSettings, RedisBroker, Retention, produce};
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
    let mut commands = Commands::default();
    for processes in [1, 2, 4] {
        for read_count in [1, 10, 100] {
            let (function, parameter) = (
                format!("{processes}-processes"),
                format!("read-{read_count}"),
            );
            let label = format!("distributed/{function}/{parameter}");
            let id = BenchmarkId::new(function, parameter);
            let counted = processes == 1 && read_count == BULLMQ_CONCURRENCY;
            group.bench_function(id, |b| {
                b.iter_custom(|runs| {
                    (0..runs)
                        .map(|_| {
                            let drain = time_one_drain(&runtime, &url, processes, read_count);
                            if counted {
                                commands.add(&label, drain.commands_per_job);
                            }
                            drain.took
                        })
                        .sum()
                });
            });
        }
    }
    match BullMq::install() {
        Ok(bullmq) => {
            let id = BenchmarkId::new("bullmq", format!("concurrency-{BULLMQ_CONCURRENCY}"));
            group.bench_function(id, |b| {
                b.iter_custom(|runs| {
                    (0..runs)
                        .map(|_| {
                            let drain = bullmq.drain(&runtime, &url);
                            commands.add(
                                &format!("distributed/bullmq/concurrency-{BULLMQ_CONCURRENCY}"),
                                drain.commands_per_job,
                            );
                            drain.took
                        })
                        .sum()
                });
            });
        }
        Err(why) => eprintln!("distributed: SKIPPED BullMQ: {why}"),
    }
    commands.write();
    group.throughput(Throughput::Elements(CEILING_XADDS));
    group.bench_function(BenchmarkId::new("redis-benchmark", "pipelined-xadd"), |b| {
        b.iter_custom(|runs| (0..runs).map(|_| time_pipelined_xadds(&server)).sum());
    });
    group.finish();
    drop(server);
    let _ = std::fs::remove_dir_all(folder);
}

/// BullMQ's concurrency, and the read count of the stage-6 process it is set beside.
const BULLMQ_CONCURRENCY: usize = 100;

/// One drain: how long it took, and how many commands Redis ran per job meanwhile.
struct Drain {
    took: Duration,
    commands_per_job: f64,
}

/// Adds [`JOBS`] jobs under a fresh name, then times `processes` worker processes of
/// `read_count` workers each draining them.
fn time_one_drain(runtime: &Runtime, url: &str, processes: usize, read_count: usize) -> Drain {
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

    let mut connection = runtime
        .block_on(connection(url))
        .expect("the private server answers");
    let commands_before = runtime.block_on(commands_processed(&mut connection));
    let started = Instant::now();
    let mut workers: Vec<Child> = (1..=processes)
        .map(|n| worker(url, &name, &format!("worker-{n}"), read_count))
        .collect();
    // One GET a millisecond: the cheapest way to see the end, and easy to leave out of the count.
    let completed_key = format!("{name}:completed");
    let mut reads = 0;
    loop {
        reads += 1;
        let completed: Option<u64> = runtime
            .block_on(
                redis::cmd("GET")
                    .arg(&completed_key)
                    .query_async(&mut connection),
            )
            .expect("the count of completed jobs");
        if completed == Some(JOBS) {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let elapsed = started.elapsed();
    let commands = runtime.block_on(commands_processed(&mut connection)) - commands_before;
    // The watcher's reads and the INFO that counted them are not the drain's.
    let commands_per_job = (commands - reads - 1) as f64 / JOBS as f64;
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
    Drain {
        took: elapsed,
        commands_per_job,
    }
}

async fn connection(url: &str) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
    redis::Client::open(url)?
        .get_multiplexed_async_connection()
        .await
}

/// The commands the server has run since it started, those inside scripts included.
async fn commands_processed(connection: &mut redis::aio::MultiplexedConnection) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("stats")
        .query_async(connection)
        .await
        .expect("INFO stats");
    info.lines()
        .find_map(|line| line.strip_prefix("total_commands_processed:"))
        .and_then(|count| count.trim().parse().ok())
        .expect("INFO stats counts the commands processed")
}

/// The commands per job of every counted drain, by benchmark id, for `bench-report`.
#[derive(Default)]
struct Commands(BTreeMap<String, Vec<f64>>);

impl Commands {
    fn add(&mut self, id: &str, per_job: f64) {
        self.0.entry(id.to_owned()).or_default().push(per_job);
    }

    /// Writes each id's median to `$BENCH_PROBES/redis-commands-per-job.txt`, one `id value`
    /// line each, if `BENCH_PROBES` is set.
    fn write(&self) {
        let Some(folder) = std::env::var_os("BENCH_PROBES") else {
            return;
        };
        let lines: String = self
            .0
            .iter()
            .map(|(id, counts)| {
                let mut sorted = counts.clone();
                sorted.sort_by(f64::total_cmp);
                format!("{id} {:.2}\n", sorted[sorted.len() / 2])
            })
            .collect();
        let path = Path::new(&folder).join("redis-commands-per-job.txt");
        std::fs::write(&path, lines)
            .unwrap_or_else(|error| panic!("cannot write {}: {error}", path.display()));
    }
}

/// BullMQ, installed from `benches/bullmq/` (its versions pinned by the lockfile) into a folder
/// of its own under the system's temporary directory, once.
struct BullMq {
    folder: PathBuf,
}

impl BullMq {
    fn install() -> Result<BullMq, String> {
        for tool in ["node", "npm"] {
            let found = Command::new(tool)
                .arg("--version")
                .output()
                .is_ok_and(|output| output.status.success());
            if !found {
                return Err(format!(
                    "`{tool}` is not on PATH (install Node 20 or later to run it)"
                ));
            }
        }
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/bullmq");
        let folder = std::env::temp_dir().join("stage-6-bench-bullmq");
        std::fs::create_dir_all(&folder).map_err(|error| error.to_string())?;
        let mut changed = false;
        for file in ["package.json", "package-lock.json", "drain.cjs"] {
            let text =
                std::fs::read(source.join(file)).map_err(|error| format!("{file}: {error}"))?;
            let target = folder.join(file);
            if std::fs::read(&target).ok().as_ref() != Some(&text) {
                std::fs::write(&target, text).map_err(|error| error.to_string())?;
                changed = true;
            }
        }
        if changed || !folder.join("node_modules").exists() {
            // The lockfile's versions exactly; no install scripts (msgpackr's optional native
            // part falls back to JavaScript).
            let installed = Command::new("npm")
                .args([
                    "ci",
                    "--no-audit",
                    "--no-fund",
                    "--ignore-scripts",
                    "--loglevel=error",
                ])
                .current_dir(&folder)
                .output()
                .map_err(|error| format!("npm ci: {error}"))?;
            if !installed.status.success() {
                return Err(format!(
                    "npm ci failed: {}",
                    String::from_utf8_lossy(&installed.stderr)
                ));
            }
        }
        Ok(BullMq { folder })
    }

    /// Runs one drain of [`JOBS`] jobs and reads back what the script measured.
    fn drain(&self, runtime: &Runtime, url: &str) -> Drain {
        let mut connection = runtime
            .block_on(connection(url))
            .expect("the private server answers");
        let before = runtime.block_on(commands_processed(&mut connection));
        let output = Command::new("node")
            .arg("drain.cjs")
            .args([url, &JOBS.to_string(), &BULLMQ_CONCURRENCY.to_string()])
            .current_dir(&self.folder)
            .stdin(Stdio::null())
            .output()
            .expect("node runs");
        let report = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "BullMQ's drain failed: {report}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let report: serde_json::Value =
            serde_json::from_str(report.trim()).expect("the script's report is JSON");
        let seconds = report["seconds"]
            .as_f64()
            .expect("the report has the seconds");
        let during_drain = report["commands"]
            .as_u64()
            .expect("the report counts the commands");
        let after = runtime.block_on(commands_processed(&mut connection));
        assert!(
            after >= before + during_drain,
            "the commands were counted on this server"
        );
        runtime
            .block_on(redis::cmd("FLUSHALL").query_async::<()>(&mut connection))
            .expect("the server is emptied");
        Drain {
            took: Duration::from_secs_f64(seconds),
            commands_per_job: during_drain as f64 / JOBS as f64,
        }
    }
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
