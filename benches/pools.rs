//! Every stage's pool, the tuned pool and the peers a reader might use instead, on the same
//! workloads, in one criterion run. The groups:
//!
//! - `http`: stage 5 doing what it is for, requests to a demo server on loopback;
//! - `side-by-side`: every stage and every peer at W = 2, Q = 100, N = 1 000 000, on one chart;
//! - `reference`: the pools over W ∈ {1, 2, 4} and Q ∈ {0, 1, 100, 1024}; and, for the article's
//!   rule of thumb (a queue of two to three times the workers), stage 1, the tuned pool and the
//!   Go programs at Q ∈ {W, 2W, 3W} for W ∈ {2, 4};
//! - `job-cost`: 0, 1, 10 and 100 µs of CPU work per job, where a pool starts to pay off;
//! - `cancellation`: how long a stage-3 pool takes to stop once its deadline passes.
//!
//! The reference workload is the article's: N jobs that each square a number, W workers, a job
//! queue of capacity Q, every result collected. The work is as small as work gets, so what is
//! measured is the pool's own cost per job: the hand-offs through the channels, the wake-ups,
//! the threads' start and join. Criterion reports it as time per element (job).
//!
//! A benchmark's id is `group/contender` in `side-by-side`, `group/contender/W<w>/Q<q>` in
//! `reference`, and `group/contender/<parameter>` in the others: `reference/stage-1-basic/W2/Q4`,
//! `job-cost/fast-pool/1000` (ns of work per job), `cancellation/stage-3-cancel/4` (workers),
//! `http/stage-5-http/20ms-latency`, `http/go-http-client/no-latency`. The contenders are the crates' names (`stage-1-basic` …
//! `stage-5-http`, with `stage-4-fixed` and `stage-4-autoscaled` for stage 4, `fast-pool` and its
//! steps `fast-pool-step-1-batched-jobs` and `fast-pool-step-2-local-results`) and the peers'
//! functions (`peer-sequential`, `peer-rayon-par-iter`, `peer-rayon-spawn`, `peer-mpsc-mutex`,
//! `peer-thread-per-job`).
//!
//! Run with `cargo bench --bench pools`; the HTML report lands in `target/criterion/report/`.
//! With `GO_REFERENCE` naming a build of `go-reference/`, the Go program joins the `side-by-side`
//! and `reference` groups in both of its designs: `go-reference`, the article's pool, and
//! `go-tuned`, the tuned pool's design (workers taking batches from a shared source, results kept
//! per worker); and its plain HTTP client (`go-http-client`) joins the `http` group, against the
//! same demo server as stage 5. `scripts/compare-with-go.sh` builds it and sets the variable.

use std::hint::black_box;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{
    BenchmarkGroup, BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group,
    criterion_main,
};
use pool_core::work::sleep_unless_cancelled;
use pool_core::{Clock, Console, Job, PoolSize, work};
use stage_3_cancel::{Context, JobError};
use stage_4_scaling::{Limits, Policy, PoolSettings, WorkFn};
use stage_5_http::demo::DemoServer;
use stage_5_http::{CancellationToken, FetchSettings, Fetcher, Url};
use tokio::runtime::Runtime;

/// Jobs per run where the queue has room to spare.
const JOBS: u64 = 100_000;
/// Jobs per run where the queue holds at most one job. Every hand-off there waits for the other
/// side, which costs microseconds rather than nanoseconds, so fewer jobs give a steady enough
/// figure per job and keep the whole bench (every stage, every point) inside ten minutes.
const JOBS_TIGHT_QUEUE: u64 = 2_000;
/// The side-by-side group's N, the figure the tuned pool is held to.
const JOBS_SIDE_BY_SIDE: u64 = 1_000_000;
/// A thread per job costs tens of microseconds a job; a million would take a minute a run.
const JOBS_THREAD_PER_JOB: u64 = 10_000;

const WORKERS: [usize; 3] = [1, 2, 4];
const QUEUES: [usize; 4] = [0, 1, 100, 1024];
/// The worker counts at which the `reference` group also tries queues of W, 2W and 3W.
const RULE_OF_THUMB_WORKERS: [usize; 2] = [2, 4];
const HEADLINE: PoolSize = PoolSize {
    workers: 2,
    queue: 100,
};

/// Stage 4's autoscaler, scaled down to the benchmark's time scale: a run of 100 000 jobs lasts
/// tens of milliseconds, so it looks every millisecond.
const FAST_POLICY: Policy = Policy {
    tick: Duration::from_millis(1),
    backlog_per_worker: 4,
    target_wait: Duration::from_millis(1),
    keep_alive: Duration::from_millis(10),
    cooldown: Duration::from_millis(10),
};

fn jobs_for(queue: usize) -> u64 {
    if queue <= 1 { JOBS_TIGHT_QUEUE } else { JOBS }
}

/// Ten samples of equal size. Criterion's default (linear) sampling runs the routine 55 times at
/// least, which for a routine of a second (stage 5 at N = 1 000 000, a 20 ms HTTP route) is
/// most of the ten-minute budget; flat sampling runs it 10 times at least and gives the same
/// medians here.
fn configure(group: &mut BenchmarkGroup<'_, WallTime>, measurement: Duration) {
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(200))
        .measurement_time(measurement);
}

/// The demo server's runtime in the `http` group: tokio's default, a worker thread per core of
/// the benchmark machine (two here), as a server would run.
fn demo_server_runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime starts")
}

/// A rayon pool of `threads` threads, built once per point outside the timed runs, as a program
/// would keep rayon's global pool for its whole life.
fn rayon_pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a rayon pool starts")
}

/// The Go program in `go-reference/`, when `GO_REFERENCE` names a build of it. It times its own
/// runs and prints the total, so the process's start is not counted.
struct GoReference {
    program: PathBuf,
}

static GO_REFERENCE: LazyLock<Option<GoReference>> = LazyLock::new(|| {
    let Some(program) = std::env::var_os("GO_REFERENCE") else {
        eprintln!(
            "go-reference: SKIPPED, GO_REFERENCE is not set; scripts/compare-with-go.sh builds \
             the Go program and sets it"
        );
        return None;
    };
    Some(GoReference {
        program: program.into(),
    })
});

/// The two pools the Go program can time, chosen with its `-design` flag, so that each Rust design
/// is compared with the same design in Go.
#[derive(Debug, Clone, Copy)]
enum GoDesign {
    /// The article's pool: a job channel with room for Q and a results channel; stage 1's design.
    Article,
    /// The tuned pool's design (`fast_pool::run_pool`): no channels, the workers take batches of
    /// Q / W jobs from a shared source behind a mutex and keep their outputs until they return.
    Tuned,
}

impl GoDesign {
    const BOTH: [Self; 2] = [Self::Article, Self::Tuned];

    /// The value of the Go program's `-design` flag.
    fn flag(self) -> &'static str {
        match self {
            Self::Article => "article",
            Self::Tuned => "tuned",
        }
    }

    /// The contender's name in a benchmark id.
    fn contender(self) -> &'static str {
        match self {
            Self::Article => "go-reference",
            Self::Tuned => "go-tuned",
        }
    }
}

impl GoReference {
    /// Runs the pool of `design` `runs` times back to back in one Go process and returns the
    /// time the runs took, as the Go program measured it.
    fn time(&self, design: GoDesign, size: PoolSize, jobs: u64, runs: u64) -> Duration {
        let output = Command::new(&self.program)
            .args(["-design", design.flag()])
            .args(["-workers", &size.workers.to_string()])
            .args(["-queue", &size.queue.to_string()])
            .args(["-jobs", &jobs.to_string()])
            .args(["-runs", &runs.to_string()])
            .output()
            .expect("GO_REFERENCE names a program that starts");
        elapsed_of(&output)
    }

    /// Fetches `url` `requests` times on `workers` goroutines, `runs` times in one Go process with
    /// one client, and returns the time the runs took, as the Go program measured it.
    fn time_http_client(&self, url: &Url, workers: usize, requests: u64, runs: u64) -> Duration {
        let output = Command::new(&self.program)
            .args(["-http-client", url.as_str()])
            .args(["-workers", &workers.to_string()])
            .args(["-requests", &requests.to_string()])
            .args(["-runs", &runs.to_string()])
            .output()
            .expect("GO_REFERENCE names a program that starts");
        elapsed_of(&output)
    }

    /// Starts the Go program's HTTP server in a process of its own, serving `/fast` on a free
    /// port of 127.0.0.1, for the `http` group's setup with the server apart from both clients.
    fn start_http_server(&self) -> GoServer {
        let mut process = Command::new(&self.program)
            .args(["-http-server", "127.0.0.1:0"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("GO_REFERENCE names a program that starts");
        let stdout = process.stdout.take().expect("the server's stdout is piped");
        let mut first_line = String::new();
        BufReader::new(stdout)
            .read_line(&mut first_line)
            .expect("the Go server prints its URL");
        let base = Url::parse(first_line.trim()).expect("the Go server prints a URL");
        GoServer { process, base }
    }
}

/// The Go program serving `/fast` in a process of its own. It serves until its standard input
/// closes, which dropping this does, and the drop waits for it to exit.
struct GoServer {
    process: std::process::Child,
    base: Url,
}

impl GoServer {
    fn url(&self, path: &str) -> Url {
        self.base.join(path).expect("a path joins the server's URL")
    }
}

impl Drop for GoServer {
    fn drop(&mut self) {
        drop(self.process.stdin.take());
        let _ = self.process.wait();
    }
}

/// The time a run of the Go program reports, `elapsed_ns=<n>` on stdout.
fn elapsed_of(output: &std::process::Output) -> Duration {
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the Go reference failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let nanos = stdout
        .split_whitespace()
        .find_map(|field| field.strip_prefix("elapsed_ns="))
        .and_then(|nanos| nanos.parse().ok())
        .expect("the Go reference prints elapsed_ns=<n>");
    Duration::from_nanos(nanos)
}

/// Registers both of the Go program's designs on `group`, each under `id(its contender name)`.
fn bench_go(
    group: &mut BenchmarkGroup<'_, WallTime>,
    id: impl Fn(&str) -> BenchmarkId,
    size: PoolSize,
    jobs: u64,
    go: &GoReference,
) {
    for design in GoDesign::BOTH {
        group.bench_function(id(design.contender()), |b| {
            b.iter_custom(|runs| go.time(design, size, jobs, runs));
        });
    }
}

fn bench_stage_1(
    group: &mut BenchmarkGroup<'_, WallTime>,
    id: impl Fn(&str) -> BenchmarkId,
    size: PoolSize,
    jobs: u64,
) {
    let console = Console::silent();
    group.bench_function(id("stage-1-basic"), |b| {
        b.iter(|| {
            let jobs = stage_1_basic::article_jobs(jobs);
            black_box(stage_1_basic::run_pool(size, jobs, work::square, &console))
        });
    });
}

fn bench_fast_pool(
    group: &mut BenchmarkGroup<'_, WallTime>,
    id: impl Fn(&str) -> BenchmarkId,
    size: PoolSize,
    jobs: u64,
) {
    group.bench_function(id("fast-pool"), |b| {
        b.iter(|| {
            let jobs = stage_1_basic::article_jobs(jobs);
            black_box(fast_pool::run_pool(size, jobs, work::square))
        });
    });
}

/// Registers every pool that has W workers and a queue of Q on `group`, each under
/// `id(its name)`: the five stages (stage 4 at a fixed size and autoscaled), the tuned pool, the
/// classic mpsc pool and, if it is built, the Go program in both designs.
fn bench_pools(
    group: &mut BenchmarkGroup<'_, WallTime>,
    id: impl Fn(&str) -> BenchmarkId,
    size: PoolSize,
    jobs: u64,
    go: Option<&GoReference>,
) {
    let console = Console::silent();
    let clock = Clock::System;
    group.throughput(Throughput::Elements(jobs));

    bench_stage_1(group, &id, size, jobs);
    group.bench_function(id("stage-2-metadata"), |b| {
        b.iter(|| {
            let jobs = stage_2_metadata::article_jobs(jobs);
            let work = |number| work::square_slowly(number, Duration::ZERO);
            black_box(stage_2_metadata::run_pool(
                size, jobs, work, &clock, &console,
            ))
        });
    });
    group.bench_function(id("stage-3-cancel"), |b| {
        b.iter(|| {
            let jobs = stage_2_metadata::article_jobs(jobs);
            let work = |job: &Job, _: &Context| Ok(work::square(job.number));
            let context = Context::new();
            black_box(stage_3_cancel::run_pool(
                size, jobs, work, &context, &clock, &console,
            ))
        });
    });
    // Stage 4 at a fixed size (min = max = W) measures what monitoring and resizability cost per
    // job; autoscaled (from 1 up to W), what the autoscaler adds on top.
    let square: Arc<WorkFn> = Arc::new(|job: &Job, _: &Context| Ok(work::square(job.number)));
    let fixed = Limits {
        min: size.workers,
        max: size.workers,
    };
    let scaled = Limits {
        min: 1,
        max: size.workers,
    };
    for (name, limits, policy) in [
        ("stage-4-fixed", fixed, None),
        ("stage-4-autoscaled", scaled, Some(&FAST_POLICY)),
    ] {
        let settings = PoolSettings {
            limits,
            queue: size.queue,
        };
        group.bench_function(id(name), |b| {
            b.iter(|| {
                let jobs = stage_2_metadata::article_jobs(jobs);
                let square = Arc::clone(&square);
                black_box(stage_4_scaling::run_pool(
                    &settings,
                    policy,
                    jobs,
                    square,
                    &Context::new(),
                ))
            });
        });
    }
    // Stage 5's pool is async; its queue has room for at least one job (tokio has no rendezvous
    // channel), so Q = 0 runs as Q = 1. The runtime is its own and is shut down before the next
    // pool runs: with one runtime kept alive for the whole group, its idle worker threads took
    // CPU from the thread pools measured after them (in the run that showed it, stage 4 measured
    // 1.32 times stage 3 at W2/Q100 that way, and 0.97 times with the runtime gone).
    let runtime = stage_5_http::runtime().expect("stage 5's runtime starts");
    group.bench_function(id("stage-5-http"), |b| {
        b.iter(|| {
            let token = CancellationToken::new();
            let pool = stage_5_http::run_pool(
                size.workers,
                size.queue,
                1..=jobs,
                |_, &number, _| async move {
                    Ok::<_, stage_5_http::JobError<()>>(work::square(number))
                },
                &token,
                |_| {},
            );
            black_box(runtime.block_on(pool))
        });
    });
    drop(runtime);
    bench_fast_pool(group, &id, size, jobs);
    group.bench_function(id("peer-mpsc-mutex"), |b| {
        b.iter(|| black_box(peers::mpsc_mutex_pool(size, jobs, work::square)));
    });
    if let Some(go) = go {
        bench_go(group, &id, size, jobs, go);
    }
}

/// Every stage and every peer at one point, W = 2, Q = 100, N = 1 000 000, so that criterion
/// draws them on one chart; and the tuned pool's steps, each measured on its own.
fn side_by_side(c: &mut Criterion) {
    // Says whether the Go program takes part before the first benchmark, not in the middle.
    let go = GO_REFERENCE.as_ref();
    let mut group = c.benchmark_group("side-by-side");
    configure(&mut group, Duration::from_secs(1));
    let jobs = JOBS_SIDE_BY_SIDE;
    let id = |name: &str| BenchmarkId::from_parameter(name);
    bench_pools(&mut group, id, HEADLINE, jobs, go);

    group.bench_function("fast-pool-step-1-batched-jobs", |b| {
        b.iter(|| {
            let jobs = stage_1_basic::article_jobs(jobs);
            black_box(fast_pool::batched_jobs::run_pool(
                HEADLINE,
                jobs,
                work::square,
            ))
        });
    });
    group.bench_function("fast-pool-step-2-local-results", |b| {
        b.iter(|| {
            let jobs = stage_1_basic::article_jobs(jobs);
            black_box(fast_pool::local_results::run_pool(
                HEADLINE,
                jobs,
                work::square,
            ))
        });
    });
    group.bench_function("peer-sequential", |b| {
        b.iter(|| black_box(peers::sequential(jobs, work::square)));
    });
    let rayon = rayon_pool(HEADLINE.workers);
    group.bench_function("peer-rayon-par-iter", |b| {
        b.iter(|| black_box(peers::rayon_par_iter(&rayon, jobs, work::square)));
    });
    group.bench_function("peer-rayon-spawn", |b| {
        b.iter(|| black_box(peers::rayon_spawn_per_job(&rayon, jobs, work::square)));
    });
    drop(rayon);
    group.throughput(Throughput::Elements(JOBS_THREAD_PER_JOB));
    group.bench_function("peer-thread-per-job", |b| {
        b.iter(|| black_box(peers::thread_per_job(JOBS_THREAD_PER_JOB, work::square)));
    });
    group.finish();
}

/// The pools over a grid of worker counts and queue capacities, N = 100 000 (2 000 where the
/// queue holds at most one job). Then the article's rule of thumb, a queue of two to three times
/// the workers, between the tight queues and the roomy ones: Q = W, 2W and 3W at W = 2 and 4, for
/// the article's design and the tuned one, in Rust and in Go. The other stages share stage 1's
/// hand-offs and would only repeat its curve, at a few seconds a point.
fn reference_workload(c: &mut Criterion) {
    let go = GO_REFERENCE.as_ref();
    let mut group = c.benchmark_group("reference");
    configure(&mut group, Duration::from_millis(500));
    let point_id = |size: PoolSize| {
        let point = format!("W{}/Q{}", size.workers, size.queue);
        move |name: &str| BenchmarkId::new(name, &point)
    };
    for workers in WORKERS {
        for queue in QUEUES {
            let size = PoolSize { workers, queue };
            bench_pools(&mut group, point_id(size), size, jobs_for(queue), go);
        }
    }
    for workers in RULE_OF_THUMB_WORKERS {
        for queue in [workers, 2 * workers, 3 * workers] {
            let size = PoolSize { workers, queue };
            let (id, jobs) = (point_id(size), jobs_for(queue));
            group.throughput(Throughput::Elements(jobs));
            bench_stage_1(&mut group, &id, size, jobs);
            bench_fast_pool(&mut group, &id, size, jobs);
            if let Some(go) = go {
                bench_go(&mut group, &id, size, jobs, go);
            }
        }
    }
    group.finish();
}

/// `rounds` steps of a multiply-and-add chain that the compiler can neither skip nor shorten:
/// CPU work of a chosen length for the job-cost sweep.
fn burn(number: u64, rounds: u64) -> u64 {
    let mut state = number;
    for _ in 0..rounds {
        state = black_box(
            state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1),
        );
    }
    state
}

/// How many [`burn`] rounds take one microsecond on this machine, timed once per bench run.
static ROUNDS_PER_MICROSECOND: LazyLock<u64> = LazyLock::new(|| {
    const CALIBRATION_ROUNDS: u64 = 20_000_000;
    let start = Instant::now();
    black_box(burn(1, CALIBRATION_ROUNDS));
    let micros = start.elapsed().as_secs_f64() * 1e6;
    (CALIBRATION_ROUNDS as f64 / micros).round().max(1.0) as u64
});

/// The same jobs with 0, 1, 10 and 100 µs of CPU work each, for the plain loop, rayon, stage 1,
/// the tuned pool and the classic mpsc pool at W = 2, Q = 100. N shrinks as the work grows, so
/// every run does about 20 ms of work (100 000 jobs at 0 µs). The parameter is the work per job
/// in nanoseconds, so criterion draws one line per contender.
fn job_cost(c: &mut Criterion) {
    let mut group = c.benchmark_group("job-cost");
    configure(&mut group, Duration::from_millis(500));
    let console = Console::silent();
    for (micros, jobs) in [(0, JOBS), (1, 20_000), (10, 2_000), (100, 200)] {
        let rounds = micros * *ROUNDS_PER_MICROSECOND;
        let job = move |number: u64| burn(number, rounds);
        let nanos = micros * 1_000;
        group.throughput(Throughput::Elements(jobs));
        group.bench_function(BenchmarkId::new("peer-sequential", nanos), |b| {
            b.iter(|| black_box(peers::sequential(jobs, job)));
        });
        // A pool of its own, gone before the thread pools run: idle rayon threads spin for a
        // while before they sleep, and would take CPU from whatever runs next.
        let rayon = rayon_pool(HEADLINE.workers);
        group.bench_function(BenchmarkId::new("peer-rayon-par-iter", nanos), |b| {
            b.iter(|| black_box(peers::rayon_par_iter(&rayon, jobs, job)));
        });
        drop(rayon);
        group.bench_function(BenchmarkId::new("stage-1-basic", nanos), |b| {
            b.iter(|| {
                let jobs = stage_1_basic::article_jobs(jobs);
                black_box(stage_1_basic::run_pool(HEADLINE, jobs, job, &console))
            });
        });
        group.bench_function(BenchmarkId::new("fast-pool", nanos), |b| {
            b.iter(|| {
                let jobs = stage_1_basic::article_jobs(jobs);
                black_box(fast_pool::run_pool(HEADLINE, jobs, job))
            });
        });
        group.bench_function(BenchmarkId::new("peer-mpsc-mutex", nanos), |b| {
            b.iter(|| black_box(peers::mpsc_mutex_pool(HEADLINE, jobs, job)));
        });
    }
    group.finish();
}

/// From a deadline to every worker joined, with every worker in the middle of an hour-long job:
/// how long a run keeps going after its time is up. Each sample starts a fresh pool under a
/// deadline 20 ms away (time enough for the workers to take their jobs) and times only what
/// follows the deadline: the timer thread waking, the workers waking, the pool joining them.
fn cancellation_latency(c: &mut Criterion) {
    let mut group = c.benchmark_group("cancellation");
    configure(&mut group, Duration::from_millis(500));
    for workers in [1, 2, 4, 8] {
        group.bench_function(BenchmarkId::new("stage-3-cancel", workers), |b| {
            b.iter_custom(|runs| (0..runs).map(|_| time_one_deadline(workers)).sum());
        });
    }
    group.finish();
}

fn time_one_deadline(workers: usize) -> Duration {
    let (context, _timer) = Context::new()
        .with_timeout(Duration::from_millis(20))
        .expect("a timer starts");
    let deadline = context.deadline().expect("a timeout sets a deadline");
    let hour_long_job = |_: &Job, context: &Context| {
        sleep_unless_cancelled(Duration::from_secs(3600), context.done());
        Err::<u64, _>(JobError::Cancelled)
    };
    let jobs = stage_2_metadata::article_jobs(2 * workers as u64);
    let size = PoolSize {
        workers,
        queue: workers,
    };
    let account = stage_3_cancel::run_pool(
        size,
        jobs,
        hour_long_job,
        &context,
        &Clock::System,
        &Console::silent(),
    );
    let latency = Instant::now().saturating_duration_since(deadline);
    assert_eq!(account.total(), 2 * workers);
    latency
}

/// Stage 5 doing what it is for: HTTP requests to the demo server on loopback with 64 workers and
/// no rate limit or retries. Against the route that answers at once, 20 000 requests a run (so
/// that a run's set-up is a small part of it), and, with `GO_REFERENCE` set, a plain Go client
/// on the same server beside it (`http/go-http-client/no-latency`). Against the route that takes
/// 20 ms, 2 000 requests: the ideal is 2 000 × 20 ms / 64 workers = 625 ms a run; the chapter
/// compares.
///
/// The server runs on a runtime of its own, so that stage 5's client has its runtime to itself as
/// the Go client has its process: both share the machine with the same server, and nothing else.
/// With `GO_REFERENCE` set, both clients are also measured against the Go program's server in a
/// process of its own (`…/no-latency-server-apart`): which setup favours which client is the
/// performance chapter's question.
fn http_requests(c: &mut Criterion) {
    const WORKERS: usize = 64;
    const ROUTES: [(&str, &str, u64); 2] = [
        ("no-latency", "/fast", 20_000),
        ("20ms-latency", "/delay/20", 2_000),
    ];
    let go = GO_REFERENCE.as_ref();
    let server_runtime = demo_server_runtime();
    let server = server_runtime
        .block_on(DemoServer::start())
        .expect("the demo server starts");
    let runtime = stage_5_http::runtime().expect("stage 5's runtime starts");
    let settings = FetchSettings {
        timeout: Duration::from_secs(10),
        max_body: 1024 * 1024,
        retries: 0,
        backoff: Duration::from_millis(10),
        rate: None,
    };
    let fetcher = Arc::new(
        runtime
            .block_on(async { Fetcher::new(settings) })
            .expect("a client"),
    );

    let bench_stage_5 = |group: &mut BenchmarkGroup<'_, WallTime>, id: &str, url: Url, requests| {
        group.bench_function(BenchmarkId::new("stage-5-http", id), |b| {
            b.iter(|| {
                let token = CancellationToken::new();
                let fetcher = Arc::clone(&fetcher);
                let pool = stage_5_http::run_pool(
                    WORKERS,
                    WORKERS,
                    std::iter::repeat_n(url.clone(), requests as usize),
                    move |_, url: &Url, token| {
                        let (fetcher, url) = (Arc::clone(&fetcher), url.clone());
                        async move { fetcher.fetch(url, &token).await }
                    },
                    &token,
                    |_| {},
                );
                black_box(runtime.block_on(pool))
            });
        });
    };

    let mut group = c.benchmark_group("http");
    configure(&mut group, Duration::from_secs(2));
    for (route, path, requests) in ROUTES {
        group.throughput(Throughput::Elements(requests));
        let url = server.url(path);
        bench_stage_5(&mut group, route, url.clone(), requests);
        if let (Some(go), "no-latency") = (go, route) {
            group.bench_function(BenchmarkId::new("go-http-client", route), |b| {
                b.iter_custom(|runs| go.time_http_client(&url, WORKERS, requests, runs));
            });
        }
    }
    // The same route served by Go in a process of its own: neither client shares its process
    // with the server, and the server's threads are Go's, not a tokio runtime's.
    if let Some(go) = go {
        let (route, requests) = ("no-latency-server-apart", ROUTES[0].2);
        let go_server = go.start_http_server();
        let url = go_server.url("/fast");
        group.throughput(Throughput::Elements(requests));
        bench_stage_5(&mut group, route, url.clone(), requests);
        group.bench_function(BenchmarkId::new("go-http-client", route), |b| {
            b.iter_custom(|runs| go.time_http_client(&url, WORKERS, requests, runs));
        });
    }
    group.finish();
    drop(runtime);
    server_runtime.block_on(server.stop());
}

// The HTTP group runs first. Run after the thread-heavy reference group, in the same process, its
// 20 ms benchmark took 803 ms instead of 663 ms: the earlier groups start and stop many thousands
// of threads, and whatever state that leaves behind (the cause was not pinned down) slows the
// requests. Run first, or on its own, it measures the pool and the network alone.
criterion_group! {
    name = benches;
    // 20 000 bootstrap resamples instead of 100 000: the confidence intervals come out the same to
    // two digits, and the analysis of ~150 benchmarks takes a minute less.
    config = Criterion::default().nresamples(20_000);
    targets = http_requests, side_by_side, reference_workload, job_cost, cancellation_latency
}
criterion_main!(benches);
