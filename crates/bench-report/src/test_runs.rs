//! Small synthetic runs for the unit tests: a point is an id and a time per job, with a
//! confidence interval of ±`NOISE` around it.

use crate::record::Record;
use crate::run::{ABOUT, FORMAT, IdleWorkers, Machine, Point, Recorded, Run};

/// The half-width of a synthetic point's confidence interval, as a share of its median.
pub const NOISE: f64 = 0.02;

/// A point of `id` (`group/contender[/parameter]`) at `per_job` ns, 1 000 jobs an iteration.
pub fn point(id: &str, per_job: f64) -> Point {
    let mut parts = id.splitn(3, '/');
    let group = parts.next().unwrap_or_default().to_owned();
    let contender = parts.next().unwrap_or_default().to_owned();
    let parameter = parts.next().map(str::to_owned);
    let jobs = 1_000;
    let median = per_job * jobs as f64;
    Point {
        id: id.to_owned(),
        group,
        contender,
        parameter,
        jobs_per_iteration: jobs,
        median_ns: median,
        median_low_ns: median * (1.0 - NOISE),
        median_high_ns: median * (1.0 + NOISE),
        confidence_level: 0.95,
        median_abs_dev_ns: median * NOISE,
        samples: 10,
        fastest_ns: Some(median * 0.8),
        slowest_ns: Some(median * 1.5),
    }
}

/// A run of these points, recorded at `date`.
pub fn run(date: &str, points: &[(&str, f64)]) -> Run {
    Run {
        about: ABOUT.to_owned(),
        format: FORMAT,
        recorded: Recorded {
            date: date.to_owned(),
            commit: Some("abc1234".to_owned()),
            dirty: Some(false),
        },
        machine: Machine {
            cpu: Some("Test CPU".to_owned()),
            cores: 2,
            os: Some("Linux 6.1".to_owned()),
            rustc: Some("rustc 1.88.0".to_owned()),
            go: None,
        },
        measuring_seconds: Some(300),
        idle_workers: vec![IdleWorkers {
            shape: "threads".to_owned(),
            workers: 10_000,
            rss_before_mib: 2.7,
            peak_rss_mib: 97.8,
            per_worker_bytes: 9_968,
        }],
        redis_commands: Vec::new(),
        handoff: Vec::new(),
        points: points
            .iter()
            .map(|(id, per_job)| point(id, *per_job))
            .collect(),
    }
}

/// A record of runs, one per list of points, a day apart.
pub fn record(runs: &[&[(&str, f64)]]) -> Record {
    Record {
        runs: runs
            .iter()
            .enumerate()
            .map(|(day, points)| run(&format!("2026-12-{:02} 05:18 UTC", day + 1), points))
            .collect(),
    }
}
