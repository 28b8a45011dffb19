//! One run of the benchmarks, as a file of the record holds it (`book/src/record/runs/*.json`).

use serde::{Deserialize, Serialize};

/// The version of a run file's layout; a reader of another layout fails with a clear line.
/// Format 1 was a single `record/run.json` with criterion's `function`/`value` names.
pub const FORMAT: u32 = 2;

/// The sentence at the top of every run file.
pub const ABOUT: &str = "One run of `cargo bench` (scripts/compare-with-go.sh), added to the \
    record by `cargo run -p bench-report -- record`. Times are criterion's, in nanoseconds per \
    iteration of a benchmark; an iteration does `jobs_per_iteration` jobs, so a time per job is \
    the time divided by that. The book's tables in book/src/record/ are rendered from every run \
    in this directory.";

/// One run of the benchmarks, with the machine it ran on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// A sentence for whoever opens the file: what it is and how its times are counted.
    pub about: String,
    /// [`FORMAT`] at the time of writing.
    pub format: u32,
    /// When and from which commit the run was recorded.
    pub recorded: Recorded,
    /// The machine the run measured.
    pub machine: Machine,
    /// Seconds `cargo bench` spent measuring (without the build), if the script timed it.
    pub measuring_seconds: Option<u64>,
    /// The memory of idle workers, one entry per shape the probes measured.
    pub idle_workers: Vec<IdleWorkers>,
    /// The Redis commands per job of the distributed points the bench counted them for (absent
    /// from runs recorded before the bench counted them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redis_commands: Vec<RedisCommands>,
    /// The hand-off probes: stage 1's pool and the article's design in Go, on every core and on
    /// one (absent from runs recorded before the probes existed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub handoff: Vec<Handoff>,
    /// Every criterion point, sorted by id.
    pub points: Vec<Point>,
}

/// When the run was recorded and from what source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recorded {
    /// UTC, `YYYY-MM-DD HH:MM UTC` (see [`crate::machine::utc_minute`]).
    pub date: String,
    /// `git rev-parse --short HEAD`, if the tree is a git checkout.
    pub commit: Option<String>,
    /// Whether the tree had uncommitted changes.
    pub dirty: Option<bool>,
}

/// What the run ran on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// The CPU's model name from `/proc/cpuinfo`.
    pub cpu: Option<String>,
    /// Cores available to the process.
    pub cores: usize,
    /// `uname -sr`.
    pub os: Option<String>,
    /// `rustc -V`.
    pub rustc: Option<String>,
    /// `go version`, if Go is installed.
    pub go: Option<String>,
}

impl Machine {
    /// The hardware, as the machine line names it: the cores and the CPU model.
    pub fn hardware(&self) -> String {
        let cpu = self.cpu.as_deref().unwrap_or("an unknown CPU");
        format!("{} cores of {cpu}", self.cores)
    }
}

/// One criterion benchmark: its id and criterion's estimates, in nanoseconds per iteration of
/// the benchmarked routine (an iteration does `jobs_per_iteration` jobs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// The full id, `group/contender/parameter` with an absent parameter left out.
    pub id: String,
    /// Criterion's group.
    pub group: String,
    /// What is measured: criterion's function id, or, for a benchmark named by its parameter
    /// alone (`BenchmarkId::from_parameter`), that parameter.
    pub contender: String,
    /// The parameter (`W2/Q100`, a worker count, a route), if the benchmark has one beside its
    /// function id.
    pub parameter: Option<String>,
    /// Jobs per iteration (criterion's `Throughput::Elements`); 1 for a benchmark without
    /// throughput.
    pub jobs_per_iteration: u64,
    /// Criterion's median of the per-iteration times, ns.
    pub median_ns: f64,
    /// The low end of the median's confidence interval, ns.
    pub median_low_ns: f64,
    /// The high end of the median's confidence interval, ns.
    pub median_high_ns: f64,
    /// The interval's confidence level (0.95 by default).
    pub confidence_level: f64,
    /// The median absolute deviation of the per-iteration times, ns.
    pub median_abs_dev_ns: f64,
    /// How many samples criterion took.
    pub samples: usize,
    /// The fastest sample, per iteration, ns.
    pub fastest_ns: Option<f64>,
    /// The slowest sample, per iteration, ns.
    pub slowest_ns: Option<f64>,
}

impl Point {
    /// Median time per job, ns.
    pub fn per_job(&self) -> f64 {
        self.median_ns / self.jobs_per_iteration as f64
    }
}

/// The memory of idle workers of one shape, as `idle-workers` or `go-reference -idle` printed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdleWorkers {
    /// `threads`, `tasks` or `goroutines`.
    pub shape: String,
    /// How many waited at once.
    pub workers: u64,
    /// Resident memory before they started, MiB (as printed, one decimal).
    pub rss_before_mib: f64,
    /// Peak resident memory while they waited, MiB.
    pub peak_rss_mib: f64,
    /// (peak − before) / workers, bytes.
    pub per_worker_bytes: u64,
}

/// How many commands Redis ran per job while one distributed benchmark drained its jobs, as
/// `crates/stage-6-distributed/benches/distributed.rs` counted them (the median of its drains).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RedisCommands {
    /// The benchmark's full id, `distributed/1-processes/read-100`.
    pub id: String,
    /// Commands per job (`total_commands_processed`, those inside scripts included).
    pub commands_per_job: f64,
}

/// One setup of the hand-off probe (`handoff` for stage 1, `go-reference -handoff` for Go): the
/// same pool, size and number of jobs on the same CPUs, run several times, each run a process of
/// its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Handoff {
    /// `stage-1-basic` or `go-reference` (the article's design in Go).
    pub design: String,
    /// Worker threads (goroutines in Go).
    pub workers: u64,
    /// Room for jobs in the queue.
    pub queue: u64,
    /// Jobs in each timed run.
    pub jobs: u64,
    /// CPUs the process was allowed to run on: 1 when pinned.
    pub cpus: u64,
    /// Go's GOMAXPROCS, for the Go program.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gomaxprocs: Option<u64>,
    /// Runs of the same size the process made before the timed one (stage 1's probe only).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub runs_before: u64,
    /// glibc's mmap threshold, where the run fixed it (`MALLOC_MMAP_THRESHOLD_`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mmap_threshold: Option<u64>,
    /// Each run's time per job, ns, in the order they ran.
    pub ns_per_job: Vec<f64>,
    /// Each run's voluntary context switches (a thread blocked and gave up its core).
    pub voluntary_switches: Vec<u64>,
    /// Each run's involuntary context switches (the kernel took a core from a thread).
    pub involuntary_switches: Vec<u64>,
}

impl Handoff {
    /// Where the setup ran: `one-core` (pinned), `gomaxprocs-1` (every core, one Go thread
    /// running goroutines at a time) or `all-cores`.
    pub fn placement(&self) -> &'static str {
        if self.cpus == 1 {
            "one-core"
        } else if self.gomaxprocs == Some(1) {
            "gomaxprocs-1"
        } else {
            "all-cores"
        }
    }

    /// The setup's id in the tables: `handoff/<design>/<placement>/W<workers>`, then
    /// `/after-<n>-runs` and `/mmap-threshold-<bytes>` where the setup has them.
    pub fn id(&self) -> String {
        let mut id = format!(
            "handoff/{}/{}/W{}",
            self.design,
            self.placement(),
            self.workers
        );
        if self.runs_before > 0 {
            id.push_str(&format!("/after-{}-runs", self.runs_before));
        }
        if let Some(threshold) = self.mmap_threshold {
            id.push_str(&format!("/mmap-threshold-{threshold}"));
        }
        id
    }

    /// Whether `other` is a run of the same setup.
    pub fn same_setup(&self, other: &Handoff) -> bool {
        (
            &self.design,
            self.workers,
            self.queue,
            self.jobs,
            self.cpus,
            self.gomaxprocs,
            self.runs_before,
            self.mmap_threshold,
        ) == (
            &other.design,
            other.workers,
            other.queue,
            other.jobs,
            other.cpus,
            other.gomaxprocs,
            other.runs_before,
            other.mmap_threshold,
        )
    }
}

impl Run {
    /// The hand-off setup with this id (see [`Handoff::id`]).
    pub fn handoff(&self, id: &str) -> Option<&Handoff> {
        self.handoff.iter().find(|setup| setup.id() == id)
    }

    /// The Redis commands per job counted for the point with this id.
    pub fn redis_commands(&self, id: &str) -> Option<f64> {
        self.redis_commands
            .iter()
            .find(|counted| counted.id == id)
            .map(|counted| counted.commands_per_job)
    }

    /// The point with this full id.
    pub fn point(&self, id: &str) -> Option<&Point> {
        self.points.iter().find(|point| point.id == id)
    }

    /// The run's file name in the record's `runs/` directory, from the minute it was recorded:
    /// `2026-11-29 21:24 UTC` is `2026-11-29-2124.json`, so the files sort by date.
    pub fn file_name(&self) -> String {
        let minute = self.recorded.date.trim_end_matches(" UTC");
        let stem: String = minute
            .chars()
            .filter(|c| *c != ':')
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        format!("{stem}.json")
    }

    /// Whether `other` holds the same measurements: the same criterion results recorded twice
    /// are one run, not two.
    pub fn same_measurements(&self, other: &Run) -> bool {
        self.points.len() == other.points.len()
            && self
                .points
                .iter()
                .zip(&other.points)
                .all(|(mine, theirs)| mine.id == theirs.id && mine.median_ns == theirs.median_ns)
    }

    /// The run as its file holds it: pretty JSON, fields in declaration order, points sorted.
    pub fn to_json(&self) -> Result<String, String> {
        let mut sorted = self.clone();
        sorted.points.sort_by(|a, b| a.id.cmp(&b.id));
        serde_json::to_string_pretty(&sorted)
            .map(|json| json + "\n")
            .map_err(|error| format!("cannot write the run as JSON: {error}"))
    }

    /// Reads a run written by [`Run::to_json`].
    pub fn from_json(text: &str) -> Result<Run, String> {
        let format = serde_json::from_str::<serde_json::Value>(text)
            .map_err(|error| format!("not JSON: {error}"))?
            .get("format")
            .and_then(serde_json::Value::as_u64);
        if format != Some(u64::from(FORMAT)) {
            let found = format.map_or_else(|| "no format".to_owned(), |n| format!("format {n}"));
            return Err(format!(
                "the run has {found}, this tool reads format {FORMAT}: record it again"
            ));
        }
        serde_json::from_str(text).map_err(|error| format!("not a run of the record: {error}"))
    }
}

/// For serde: a count of zero is the default and is left out of the record.
fn is_zero(count: &u64) -> bool {
    *count == 0
}
