//! What scripts/compare-with-go.sh measures beside criterion, in its probes folder
//! (`target/bench-extra`): the memory of idle workers, the Redis commands per job that stage 6's
//! bench counted, the hand-off probes, how long the measuring took, and the moment the run
//! started.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use crate::run::{Handoff, IdleWorkers, RedisCommands};

/// The shapes of idle worker the probes measure, and the file each one's output is saved in.
pub const IDLE_SHAPES: [(&str, &str); 3] = [
    ("threads", "idle-workers-threads.txt"),
    ("goroutines", "idle-workers-goroutines.txt"),
    ("tasks", "idle-workers-tasks.txt"),
];

/// The file stage 6's bench writes into the folder `BENCH_PROBES` names: a line
/// `<benchmark id> <commands per job>` for each point it counted the commands of.
pub const REDIS_COMMANDS_FILE: &str = "redis-commands-per-job.txt";

/// The file the script saves the hand-off probes' reports in, one after the other, a blank line
/// between two.
pub const HANDOFF_FILE: &str = "handoff.txt";

/// The file in which the script saves how long the measuring took, in seconds.
pub const MEASURING_SECONDS_FILE: &str = "measuring-seconds.txt";

/// The file the script touches before the benches start: criterion's points older than it are
/// left over from an earlier run.
pub const STARTED_FILE: &str = "started";

/// What the probes folder holds; whatever is absent is left out, and the tables name it as
/// missing.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeResults {
    /// The memory of idle workers, one entry per shape measured.
    pub idle_workers: Vec<IdleWorkers>,
    /// The Redis commands per job of the points stage 6's bench counted them for.
    pub redis_commands: Vec<RedisCommands>,
    /// The hand-off probes' setups, each with its runs.
    pub handoff: Vec<Handoff>,
    /// Seconds `cargo bench` spent measuring.
    pub measuring_seconds: Option<u64>,
}

/// Parses the output of `idle-workers threads|tasks` or `go-reference -idle N`:
///
/// ```text
/// shape: threads
/// workers: 10000
/// rss before: 2.7 MiB
/// peak rss: 97.8 MiB
/// per worker: 9968 bytes (9.7 KiB)
/// ```
pub fn parse_idle_workers(text: &str) -> Result<IdleWorkers, String> {
    let fields: BTreeMap<&str, &str> = text
        .lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(key, value)| (key.trim(), value.trim()))
        .collect();
    let field = |key: &str| {
        fields
            .get(key)
            .copied()
            .ok_or_else(|| format!("the probe's output has no `{key}:` line"))
    };
    let first_number = |key: &str| -> Result<f64, String> {
        let value = field(key)?;
        value
            .split_whitespace()
            .next()
            .and_then(|number| number.parse().ok())
            .ok_or_else(|| format!("`{key}: {value}` does not start with a number"))
    };
    Ok(IdleWorkers {
        shape: field("shape")?.to_owned(),
        workers: first_number("workers")? as u64,
        rss_before_mib: first_number("rss before")?,
        peak_rss_mib: first_number("peak rss")?,
        per_worker_bytes: first_number("per worker")? as u64,
    })
}

/// Parses `redis-commands-per-job.txt`: a line `<benchmark id> <commands per job>` each, as
/// `distributed/1-processes/read-100 2.09`. Blank lines are skipped.
pub fn parse_redis_commands(text: &str) -> Result<Vec<RedisCommands>, String> {
    let mut counted = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let parsed = line
            .split_once(' ')
            .and_then(|(id, count)| Some((id, count.trim().parse::<f64>().ok()?)))
            .filter(|(id, count)| id.contains('/') && count.is_finite() && *count >= 0.0);
        let Some((id, commands_per_job)) = parsed else {
            return Err(format!(
                "line {}: `{line}` is not `<benchmark id> <commands per job>`",
                index + 1
            ));
        };
        counted.push(RedisCommands {
            id: id.to_owned(),
            commands_per_job,
        });
    }
    Ok(counted)
}

/// Parses the hand-off probes' reports, one after the other (a blank line between two), and
/// gathers the runs of each setup in the order they ran. A report, from `handoff` or from
/// `go-reference -handoff` (which adds `gomaxprocs:`):
///
/// ```text
/// design: stage-1-basic
/// workers: 2
/// queue: 100
/// jobs: 1000000
/// cpus: 2
/// ns per job: 291.30
/// voluntary switches: 931 (0.931 per 1000 jobs)
/// involuntary switches: 2803 (2.803 per 1000 jobs)
/// ```
///
/// A line that starts with `#` is a note of the script's (a setup it skipped) and is left out.
pub fn parse_handoff(text: &str) -> Result<Vec<Handoff>, String> {
    let mut setups: Vec<Handoff> = Vec::new();
    let mut block: Vec<(usize, &str)> = Vec::new();
    let lines = text
        .lines()
        .enumerate()
        .map(|(index, line)| (index + 1, line));
    for (number, line) in lines.chain(std::iter::once((0, ""))) {
        if line.trim_start().starts_with('#') {
            continue;
        }
        if !line.trim().is_empty() {
            block.push((number, line));
            continue;
        }
        if block.is_empty() {
            continue;
        }
        let run = parse_handoff_report(&block)?;
        block.clear();
        match setups.iter_mut().find(|setup| setup.same_setup(&run)) {
            Some(setup) => {
                setup.ns_per_job.extend(run.ns_per_job);
                setup.voluntary_switches.extend(run.voluntary_switches);
                setup.involuntary_switches.extend(run.involuntary_switches);
            }
            None => setups.push(run),
        }
    }
    Ok(setups)
}

/// One report of the hand-off probe, its lines with their numbers in the file.
fn parse_handoff_report(block: &[(usize, &str)]) -> Result<Handoff, String> {
    let first_line = block.first().map_or(0, |(number, _)| *number);
    let mut fields = BTreeMap::new();
    for (number, line) in block {
        let (key, value) = line
            .split_once(':')
            .ok_or_else(|| format!("line {number}: `{line}` is not `key: value`"))?;
        fields.insert(key.trim(), value.trim());
    }
    let field = |key: &str| {
        fields
            .get(key)
            .copied()
            .ok_or_else(|| format!("the report from line {first_line} has no `{key}:` line"))
    };
    let number = |key: &str| -> Result<f64, String> {
        let value = field(key)?;
        value
            .split_whitespace()
            .next()
            .and_then(|number| number.parse::<f64>().ok())
            .filter(|number| number.is_finite() && *number >= 0.0)
            .ok_or_else(|| {
                format!("line `{key}: {value}` of the report from line {first_line} does not start with a number")
            })
    };
    let count = |key: &str| number(key).map(|value| value as u64);
    Ok(Handoff {
        design: field("design")?.to_owned(),
        workers: count("workers")?,
        queue: count("queue")?,
        jobs: count("jobs")?,
        cpus: count("cpus")?,
        runs_before: match fields.contains_key("runs before") {
            true => count("runs before")?,
            false => 0,
        },
        mmap_threshold: match fields.contains_key("mmap threshold") {
            true => Some(count("mmap threshold")?),
            false => None,
        },
        gomaxprocs: match fields.contains_key("gomaxprocs") {
            true => Some(count("gomaxprocs")?),
            false => None,
        },
        ns_per_job: vec![number("ns per job")?],
        voluntary_switches: vec![count("voluntary switches")?],
        involuntary_switches: vec![count("involuntary switches")?],
    })
}

/// Reads the probes folder `dir`.
pub fn read_probes(dir: &Path) -> Result<ProbeResults, String> {
    let mut idle_workers = Vec::new();
    for (_, file) in IDLE_SHAPES {
        let path = dir.join(file);
        if let Ok(text) = fs::read_to_string(&path) {
            idle_workers.push(
                parse_idle_workers(&text)
                    .map_err(|error| format!("{}: {error}", path.display()))?,
            );
        }
    }
    let in_file = |file: &str, error: String| format!("{}: {error}", dir.join(file).display());
    let redis_commands = match fs::read_to_string(dir.join(REDIS_COMMANDS_FILE)) {
        Ok(text) => {
            parse_redis_commands(&text).map_err(|error| in_file(REDIS_COMMANDS_FILE, error))?
        }
        Err(_) => Vec::new(),
    };
    let handoff = match fs::read_to_string(dir.join(HANDOFF_FILE)) {
        Ok(text) => parse_handoff(&text).map_err(|error| in_file(HANDOFF_FILE, error))?,
        Err(_) => Vec::new(),
    };
    let measuring_seconds = fs::read_to_string(dir.join(MEASURING_SECONDS_FILE))
        .ok()
        .and_then(|text| text.trim().parse().ok());
    Ok(ProbeResults {
        idle_workers,
        redis_commands,
        handoff,
        measuring_seconds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_idle_probes_output_parses() {
        let threads = "shape: threads\nworkers: 10000\nrss before: 2.7 MiB\npeak rss: 97.8 MiB\n\
                       per worker: 9968 bytes (9.7 KiB)\n";
        let parsed = parse_idle_workers(threads).expect("parses");
        assert_eq!(parsed.shape, "threads");
        assert_eq!(parsed.workers, 10_000);
        assert_eq!(parsed.peak_rss_mib, 97.8);
        assert_eq!(parsed.per_worker_bytes, 9_968);
        assert!(parse_idle_workers("shape: threads\n").is_err());
    }

    #[test]
    fn the_redis_commands_file_parses_and_a_bad_line_is_named() {
        let text =
            "distributed/1-processes/read-100 2.09\n\ndistributed/bullmq/concurrency-100 24.03\n";
        let counted = parse_redis_commands(text).expect("parses");
        assert_eq!(
            counted,
            [
                RedisCommands {
                    id: "distributed/1-processes/read-100".to_owned(),
                    commands_per_job: 2.09
                },
                RedisCommands {
                    id: "distributed/bullmq/concurrency-100".to_owned(),
                    commands_per_job: 24.03
                }
            ]
        );
        let error = parse_redis_commands("distributed/bullmq/concurrency-100 many\n")
            .expect_err("not a number");
        assert!(error.starts_with("line 1: "), "{error}");
        assert!(parse_redis_commands("2.09\n").is_err(), "no id");
    }

    const STAGE_1: &str = "design: stage-1-basic\nworkers: 2\nqueue: 100\njobs: 1000000\n\
                           cpus: 2\nns per job: 291.30\n\
                           voluntary switches: 931 (0.931 per 1000 jobs)\n\
                           involuntary switches: 2803 (2.803 per 1000 jobs)\n";

    #[test]
    fn the_handoff_reports_gather_by_setup() {
        let go_pinned = "design: go-reference\nworkers: 2\nqueue: 100\njobs: 1000000\ncpus: 1\n\
                         gomaxprocs: 1\nns per job: 59.25\nvoluntary switches: 9 (0.009 per 1000 \
                         jobs)\ninvoluntary switches: 10 (0.010 per 1000 jobs)\n";
        let second = STAGE_1
            .replace("291.30", "262.00")
            .replace("931 (", "1021 (");
        let text = format!(
            "{STAGE_1}\n# handoff: SKIPPED the pinned Go runs: taskset is not on PATH\n\n\
             {go_pinned}\n\n{second}"
        );
        let setups = parse_handoff(&text).expect("parses");
        assert_eq!(setups.len(), 2, "{setups:?}");
        let stage_1 = &setups[0];
        assert_eq!(stage_1.id(), "handoff/stage-1-basic/all-cores/W2");
        assert_eq!(stage_1.ns_per_job, [291.3, 262.0]);
        assert_eq!(stage_1.voluntary_switches, [931, 1021]);
        assert_eq!(stage_1.involuntary_switches, [2803, 2803]);
        assert_eq!(stage_1.gomaxprocs, None);
        let go = &setups[1];
        assert_eq!(go.id(), "handoff/go-reference/one-core/W2");
        assert_eq!(go.gomaxprocs, Some(1));
        let mut on_every_core = go.clone();
        on_every_core.cpus = 2;
        assert_eq!(on_every_core.placement(), "gomaxprocs-1");
    }

    #[test]
    fn runs_before_and_a_fixed_mmap_threshold_make_setups_of_their_own() {
        let later = STAGE_1.replace(
            "cpus: 2\n",
            "cpus: 2\nruns before: 9\nmmap threshold: 131072\n",
        );
        let setups = parse_handoff(&format!("{STAGE_1}\n{later}")).expect("parses");
        let ids: Vec<String> = setups.iter().map(Handoff::id).collect();
        assert_eq!(
            ids,
            [
                "handoff/stage-1-basic/all-cores/W2",
                "handoff/stage-1-basic/all-cores/W2/after-9-runs/mmap-threshold-131072"
            ]
        );
        assert_eq!(
            (setups[1].runs_before, setups[1].mmap_threshold),
            (9, Some(131_072))
        );
    }

    #[test]
    fn a_handoff_report_without_a_line_is_named_by_where_it_starts() {
        let cut = STAGE_1.replace("cpus: 2\n", "");
        let text = format!("{STAGE_1}\n{cut}");
        let error = parse_handoff(&text).expect_err("no cpus line");
        assert_eq!(error, "the report from line 10 has no `cpus:` line");
        let error = parse_handoff(&STAGE_1.replace("291.30", "fast")).expect_err("no number");
        assert!(error.contains("`ns per job: fast`"), "{error}");
    }
}
