//! The flags every stage shares, their validation, and how a bad one is reported.
//!
//! A stage's `main.rs` flattens [`PoolArgs`] into its own `clap` parser, adds the flags of its
//! lesson, and calls [`parse_or_exit`]. Bad input never reaches a stage's library: it ends here,
//! as one line on stderr that names the flag and the problem, with exit code 2.

use std::ffi::OsString;
use std::process;
use std::time::Duration;

use clap::{Args, Parser};

use crate::PoolSize;

/// More worker threads than this is a typo, not a pool: each thread has a stack of its own, and
/// for trivial jobs more workers than cores only adds hand-offs.
pub const MAX_WORKERS: usize = 1024;
/// The pools keep every result in memory (stage 2's are 40 bytes each), so ten million jobs is
/// about as many as a laptop holds comfortably; every square still fits in a `u64`.
pub const MAX_JOBS: u64 = 10_000_000;
/// A bounded queue reserves all of its slots up front, so its capacity is memory spent at once.
pub const MAX_QUEUE: usize = 1_000_000;

/// The exit code for bad input, clap's own: also for problems that only show once the flags are
/// parsed, such as a `--timeline` file that cannot be written.
pub const BAD_INPUT: u8 = 2;

/// The exit code of a run that Ctrl-C or SIGTERM stopped: 128 + 2, as shells report a process
/// that SIGINT killed.
pub const INTERRUPTED: u8 = 130;

/// The shape of every stage's pool: how many workers, how many jobs, how much room in the queue.
#[derive(Debug, Clone, Args)]
pub struct PoolArgs {
    /// Workers that take jobs from the queue
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = parse_worker_count,
          allow_negative_numbers = true)]
    pub workers: usize,

    /// Jobs to submit
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = parse_job_count,
          allow_negative_numbers = true)]
    pub jobs: u64,

    /// Jobs the queue holds before a submitter has to wait; 0 hands each job straight to a
    /// waiting worker [default: the number of jobs]
    #[arg(long, value_name = "N", value_parser = parse_queue_capacity, allow_negative_numbers = true)]
    pub queue: Option<usize>,
}

impl PoolArgs {
    /// The pool these flags ask for.
    pub fn pool_size(&self) -> PoolSize {
        PoolSize {
            workers: self.workers,
            queue: self.queue_capacity(),
        }
    }

    /// The job queue's capacity: `--queue`, or else room for every job (the article's choice,
    /// which lets the submitter hand over all jobs without waiting), within [`MAX_QUEUE`].
    pub fn queue_capacity(&self) -> usize {
        self.queue.unwrap_or_else(|| {
            usize::try_from(self.jobs)
                .unwrap_or(MAX_QUEUE)
                .min(MAX_QUEUE)
        })
    }
}

/// The defaults that differ from stage to stage. They are set before parsing, so `--help` shows
/// the stage's own values.
#[derive(Debug, Clone, Copy)]
pub struct StageDefaults {
    /// The default for `--jobs`.
    pub jobs: u64,
    /// The default for `--workers`.
    pub workers: usize,
}

/// Parses this process's arguments into `C`. On `--help` prints the help and exits 0; on bad
/// input prints [`one_line`] to stderr and exits 2.
pub fn parse_or_exit<C: Parser>(defaults: StageDefaults) -> C {
    or_exit(try_parse_from::<C>(std::env::args_os(), defaults))
}

/// [`parse_or_exit`] for a program without the stages' pool flags (stage 6's commands, the
/// probes): this process's arguments into `C`, the help and exit 0 on `--help`, [`one_line`] and
/// exit 2 on bad input.
pub fn parse_args_or_exit<C: Parser>() -> C {
    or_exit(C::try_parse())
}

fn or_exit<C>(parsed: Result<C, clap::Error>) -> C {
    match parsed {
        Ok(cli) => cli,
        Err(error) if error.use_stderr() => {
            eprintln!("{}", one_line(&error));
            process::exit(error.exit_code());
        }
        Err(help_or_version) => {
            let _ = help_or_version.print();
            process::exit(0);
        }
    }
}

/// Parses `args` (program name first) into `C`, with the stage's defaults in place.
pub fn try_parse_from<C: Parser>(
    args: impl IntoIterator<Item = impl Into<OsString> + Clone>,
    defaults: StageDefaults,
) -> Result<C, clap::Error> {
    let command = C::command()
        .mut_arg("jobs", |jobs| jobs.default_value(defaults.jobs.to_string()))
        .mut_arg("workers", |workers| {
            workers.default_value(defaults.workers.to_string())
        });
    let mut matches = command.try_get_matches_from(args)?;
    C::from_arg_matches_mut(&mut matches)
}

/// The first line of clap's report, which names the flag and the problem, e.g.
/// `error: invalid value '0' for '--workers <N>': must be at least 1`. The rest (usage, a pointer
/// to `--help`) is left out: one line is what a script's log or a reader's eye can take in.
///
/// Where clap lists the accepted values on the next line, they join the first:
/// `error: invalid value 'fibers' for '<SHAPE>' [possible values: threads, tasks]`.
pub fn one_line(error: &clap::Error) -> String {
    let report = error.render().to_string();
    let mut lines = report.lines();
    let mut line = lines.next().unwrap_or("error: bad arguments").to_owned();
    if let Some(values) = lines.next().map(str::trim)
        && values.starts_with("[possible values:")
    {
        line.push(' ');
        line.push_str(values);
    }
    line
}

/// `--workers`: from 1 to [`MAX_WORKERS`].
pub fn parse_worker_count(text: &str) -> Result<usize, String> {
    match whole_number(text)? {
        0 => Err("a pool needs at least 1 worker".to_owned()),
        n => at_most(n, MAX_WORKERS),
    }
}

/// `--jobs`: from 0 to [`MAX_JOBS`].
pub fn parse_job_count(text: &str) -> Result<u64, String> {
    at_most(whole_number(text)?, MAX_JOBS)
}

/// A count that must be at least 1, such as `--fail-every`.
pub fn parse_positive_count(text: &str) -> Result<u64, String> {
    match whole_number(text)? {
        0 => Err("must be at least 1".to_owned()),
        n => at_most(n, u64::MAX),
    }
}

/// `--queue`: from 0 (a rendezvous) to [`MAX_QUEUE`].
pub fn parse_queue_capacity(text: &str) -> Result<usize, String> {
    at_most(whole_number(text)?, MAX_QUEUE)
}

/// The longest duration any flag takes: a day. Anything longer is a typo (`1000000000y`), and
/// would overflow the clock arithmetic it feeds.
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 60 * 60);

/// A human duration such as `500ms`, `2s` or `1m 30s`, at most [`MAX_DURATION`].
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text.trim())
        .map_err(|_| "not a duration; write it like 500ms, 2s or 1m30s".to_owned())?;
    if duration > MAX_DURATION {
        return Err("must be at most a day (24h)".to_owned());
    }
    Ok(duration)
}

/// A duration longer than zero, such as a tick or a keep-alive.
pub fn parse_positive_duration(text: &str) -> Result<Duration, String> {
    match parse_duration(text)? {
        Duration::ZERO => Err("must be longer than 0".to_owned()),
        duration => Ok(duration),
    }
}

/// A duration of at least `least`, for a flag below which the program cannot keep its promises
/// (a lease shorter than a round trip to the broker, say).
pub fn parse_duration_at_least(text: &str, least: Duration) -> Result<Duration, String> {
    let duration = parse_duration(text)?;
    if duration < least {
        return Err(format!(
            "must be at least {}",
            humantime::format_duration(least)
        ));
    }
    Ok(duration)
}

fn whole_number(text: &str) -> Result<u128, String> {
    let text = text.trim();
    if let Some(digits) = text.strip_prefix('-')
        && digits.parse::<u128>().is_ok()
    {
        return Err("must not be negative".to_owned());
    }
    text.parse::<u128>()
        .map_err(|_| "not a whole number".to_owned())
}

fn at_most<T>(value: u128, limit: T) -> Result<T, String>
where
    T: TryFrom<u128> + PartialOrd + std::fmt::Display + Copy,
{
    T::try_from(value)
        .ok()
        .filter(|&value| value <= limit)
        .ok_or_else(|| format!("must be at most {limit}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        pool: PoolArgs,
    }

    fn parse(args: &[&str]) -> Result<PoolArgs, String> {
        let defaults = StageDefaults {
            jobs: 10,
            workers: 3,
        };
        try_parse_from::<Cli>(
            std::iter::once("prog").chain(args.iter().copied()),
            defaults,
        )
        .map(|cli| cli.pool)
        .map_err(|error| one_line(&error))
    }

    #[test]
    fn the_stage_default_for_jobs_applies_and_the_queue_follows_it() {
        let pool = parse(&[]).expect("no flags is valid");
        assert_eq!(
            (pool.workers, pool.jobs, pool.queue_capacity()),
            (3, 10, 10)
        );
        let pool = parse(&["--jobs", "7", "--queue", "0"]).expect("valid flags");
        assert_eq!((pool.jobs, pool.queue_capacity()), (7, 0));
    }

    #[test]
    fn bad_counts_are_one_line_that_names_the_flag() {
        for (args, flag, problem) in [
            (&["--workers", "0"][..], "--workers", "at least 1 worker"),
            (&["--jobs", "-3"][..], "--jobs", "must not be negative"),
            (&["--jobs", "many"][..], "--jobs", "not a whole number"),
            (
                &["--queue", "99999999999"][..],
                "--queue",
                "at most 1000000",
            ),
            (&["--workers", "5000"][..], "--workers", "at most 1024"),
        ] {
            let message = parse(args).expect_err("bad input is refused");
            assert!(!message.contains('\n'), "{message}");
            assert!(
                message.contains(flag) && message.contains(problem),
                "{message}"
            );
        }
    }

    #[test]
    fn durations_read_like_people_write_them() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert!(parse_duration("banana").is_err());
    }

    #[test]
    fn durations_are_bounded_on_both_sides() {
        assert_eq!(parse_duration("24h"), Ok(MAX_DURATION));
        assert_eq!(
            parse_duration("1000000000y"),
            Err("must be at most a day (24h)".to_owned())
        );
        assert_eq!(
            parse_duration("25h"),
            Err("must be at most a day (24h)".to_owned())
        );
        let least = Duration::from_millis(100);
        assert_eq!(
            parse_duration_at_least("1ns", least),
            Err("must be at least 100ms".to_owned())
        );
        assert_eq!(parse_duration_at_least("100ms", least), Ok(least));
    }

    #[test]
    fn queue_default_is_capped_for_huge_job_counts() {
        let pool = parse(&["--jobs", "10000000"]).expect("valid flags");
        assert_eq!(pool.queue_capacity(), MAX_QUEUE);
    }
}
