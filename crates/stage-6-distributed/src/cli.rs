//! The command line: `stage-6-distributed [--redis URL] [--name NAME] [COMMAND]`.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use pool_core::cli::{
    parse_duration, parse_duration_at_least, parse_job_count, parse_positive_count,
    parse_positive_duration, parse_worker_count,
};

use crate::broker::{check_url, redact};

/// The pool beyond one process: worker processes sharing a Redis stream through a consumer group.
///
/// With no command, a demo: a private Redis, three worker processes, one killed mid-job and its
/// job taken over, one poison job dead-lettered, and the account.
#[derive(Debug, Parser)]
#[command(version, max_term_width = 100)]
pub struct Cli {
    /// The broker: redis://host:port or redis+unix:///path/to/redis.sock [default: the demo and
    /// `chaos` start a private Redis; the other commands use redis://127.0.0.1:6379]
    #[arg(
        long,
        env = "REDIS_URL",
        value_name = "URL",
        global = true,
        hide_env_values = true
    )]
    pub redis: Option<String>,
    /// Prefixes every key, so that queues can share one Redis
    #[arg(long, value_name = "NAME", default_value = "pool", global = true, value_parser = parse_name)]
    pub name: String,
    /// How log lines look (their level comes from RUST_LOG; default info)
    #[arg(long, value_name = "FORMAT", default_value = "text", global = true)]
    pub log_format: LogFormat,
    /// What to do [default: the demo]
    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    /// The URL checked, or the one-line error for it. clap would repeat a bad value whole in its
    /// error, password and all, so the URL is checked here, after parsing, and shown redacted.
    pub fn checked_redis_url(&self) -> Result<Option<&str>, String> {
        let Some(url) = self.redis.as_deref() else {
            return Ok(None);
        };
        check_url(url).map_err(|problem| {
            format!(
                "error: invalid value '{}' for '--redis <URL>': {problem}",
                redact(url)
            )
        })?;
        Ok(Some(url))
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One line a record, for people.
    Text,
    /// One JSON object a record, for machines.
    Json,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Add jobs to the stream
    Produce(ProduceArgs),
    /// Run one worker process: take jobs from the stream until stopped
    Work(WorkArgs),
    /// Print the queue's account, or one job's record; changes nothing
    Status(StatusArgs),
    /// Run producers and worker processes while injecting faults, then check every promise
    Chaos(ChaosArgs),
}

/// `produce`.
#[derive(Debug, clap::Args)]
pub struct ProduceArgs {
    /// Jobs to add
    #[arg(long, value_name = "N", default_value = "10", value_parser = parse_job_count,
          allow_negative_numbers = true)]
    pub jobs: u64,
    /// The work each job does (a sleep this long)
    #[arg(long, value_name = "DURATION", default_value = "500ms", value_parser = parse_duration)]
    pub delay: Duration,
    /// Make every K-th job a poison job that fails on every delivery
    #[arg(long, value_name = "K", value_parser = parse_positive_count,
          allow_negative_numbers = true)]
    pub fail_every: Option<u64>,
    /// Add a job only while fewer than B are waiting or in flight: wait for the workers first
    #[arg(long, value_name = "B", value_parser = parse_positive_count,
          allow_negative_numbers = true)]
    pub max_backlog: Option<u64>,
}

/// `work`.
#[derive(Debug, clap::Args)]
pub struct WorkArgs {
    /// Jobs this process runs at once (also the most it reads at a time)
    #[arg(long, value_name = "N", default_value = "4", value_parser = parse_worker_count,
          allow_negative_numbers = true)]
    pub workers: usize,
    /// How long a job may go without news from its worker before another worker takes it over
    /// (100ms to 24h)
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_lease)]
    pub lease: Duration,
    /// How long one run of a job may take before it is stopped and counted as failed
    #[arg(long, value_name = "DURATION", default_value = "1m", value_parser = parse_job_timeout)]
    pub job_timeout: Duration,
    /// Deliveries a job gets before it moves to the dead-letter stream
    #[arg(long, value_name = "K", default_value = "3", value_parser = parse_positive_count,
          allow_negative_numbers = true)]
    pub max_deliveries: u64,
    /// Exit after this long with nothing to do [default: run until stopped]
    #[arg(long, value_name = "DURATION", value_parser = parse_positive_duration)]
    pub exit_when_idle: Option<Duration>,
    /// How long a job's result is kept after it ended (1m to 24h)
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = parse_retention)]
    pub keep_results: Duration,
    /// The most entries the dead-letter stream keeps; the oldest go first
    #[arg(long, value_name = "N", default_value = "10000", value_parser = parse_dead_letter_cap,
          allow_negative_numbers = true)]
    pub keep_dead_letters: u64,
    /// Serve Prometheus metrics on this address (e.g. 127.0.0.1:9100) while this process works
    #[arg(long, value_name = "ADDR")]
    pub metrics_addr: Option<SocketAddr>,
    /// This process's name in the consumer group; it must be unique [default: HOST-PID]
    #[arg(long, value_name = "NAME", value_parser = parse_name)]
    pub consumer: Option<String>,
}

/// `status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// One JSON object instead of text
    #[arg(long)]
    pub json: bool,
    /// Print what became of this job instead of the whole queue
    #[arg(long, value_name = "ID", value_parser = parse_positive_count,
          allow_negative_numbers = true)]
    pub job: Option<u64>,
}

/// `chaos`.
#[derive(Debug, clap::Args)]
pub struct ChaosArgs {
    /// Jobs the producers add, between them
    #[arg(long, value_name = "N", default_value = "400", value_parser = parse_job_count,
          allow_negative_numbers = true)]
    pub jobs: u64,
    /// Roughly how many seconds the faults go on
    #[arg(long, value_name = "S", default_value = "6", value_parser = parse_chaos_seconds,
          allow_negative_numbers = true)]
    pub seconds: u64,
}

/// The start of a command line that runs one `work` process as `consumer` of the queue `name`
/// at `url`. The demo, `chaos` and the benchmark start workers with it and add the settings they
/// want.
pub fn work_command<'a>(url: &'a str, name: &'a str, consumer: &'a str) -> [&'a str; 7] {
    [
        "--redis",
        url,
        "--name",
        name,
        "work",
        "--consumer",
        consumer,
    ]
}

/// Below this, a lease is shorter than a slow round trip to the broker plus a scheduler's
/// hiccup, and live workers lose their jobs; Redis also counts idle time in milliseconds.
pub const MIN_LEASE: Duration = Duration::from_millis(100);

fn parse_lease(text: &str) -> Result<Duration, String> {
    parse_duration_at_least(text, MIN_LEASE)
}

fn parse_job_timeout(text: &str) -> Result<Duration, String> {
    parse_duration_at_least(text, Duration::from_millis(1))
}

/// A result kept for less than a minute could be forgotten while a stalled worker still runs
/// the same job, which would then find no trace of it.
fn parse_retention(text: &str) -> Result<Duration, String> {
    parse_duration_at_least(text, Duration::from_secs(60))
}

/// A cap on the dead-letter stream: at least one, and at most ten million (Redis's own limit is
/// far above, and a stream that long is a backlog of failures, not a record of them).
fn parse_dead_letter_cap(text: &str) -> Result<u64, String> {
    match parse_positive_count(text)? {
        cap if cap > 10_000_000 => Err("must be at most 10000000".to_owned()),
        cap => Ok(cap),
    }
}

fn parse_chaos_seconds(text: &str) -> Result<u64, String> {
    match parse_positive_count(text)? {
        seconds if seconds > 3_600 => Err("must be at most 3600 (an hour)".to_owned()),
        seconds => Ok(seconds),
    }
}

/// Names become parts of Redis keys and log lines: keep them to letters, digits, `-`, `_`, `.`.
fn parse_name(text: &str) -> Result<String, String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if text.is_empty() || text.len() > 64 || !text.chars().all(allowed) {
        return Err("use 1 to 64 letters, digits, '-', '_' or '.'".to_owned());
    }
    Ok(text.to_owned())
}
