//! What must hold for every run of every stage's pool, however the threads are scheduled: every
//! job runs exactly once, results name real workers, and no more than W jobs run at once.
//!
//! The pools run in-process with a captured or silent console, on workloads small enough to be
//! quick and concurrent enough to catch a pool that loses, repeats or over-admits jobs.

use std::collections::BTreeMap;
use std::thread;
use std::time::{Duration, SystemTime};

use pool_core::{Clock, Console, PoolSize, work};
use test_support::{InFlight, number_after};

/// Shapes that stress the hand-offs differently: a rendezvous queue, a queue of one, a roomy
/// queue; one worker, a few, more workers than cores.
const SHAPES: [PoolSize; 5] = [
    PoolSize {
        workers: 1,
        queue: 0,
    },
    PoolSize {
        workers: 3,
        queue: 0,
    },
    PoolSize {
        workers: 2,
        queue: 1,
    },
    PoolSize {
        workers: 4,
        queue: 100,
    },
    PoolSize {
        workers: 8,
        queue: 3,
    },
];

/// A short sleep makes jobs overlap, so a pool that let too many run at once would be seen.
fn overlapping(gauge: &InFlight, number: u64) -> u64 {
    let _running = gauge.enter();
    thread::sleep(Duration::from_millis(1));
    work::square(number)
}

#[test]
fn stage_1_runs_every_job_once_on_a_real_worker() {
    for size in SHAPES {
        let (console, capture) = Console::captured();
        let gauge = InFlight::default();
        let jobs = 40;
        let mut outputs = stage_1_basic::run_pool(
            size,
            stage_1_basic::article_jobs(jobs),
            |number| overlapping(&gauge, number),
            &console,
        );

        outputs.sort_unstable();
        let expected: Vec<u64> = (1..=jobs).map(|id| work::square(2 * id)).collect();
        assert_eq!(outputs, expected, "{size:?}");

        // Each pick-up line names a job and a worker: every job once, every worker in 1..=W.
        let mut picked_up = BTreeMap::new();
        for line in capture
            .text()
            .lines()
            .filter(|line| line.contains("picked up"))
        {
            let job = number_after(line, "job").expect("a pick-up names its job");
            let worker = number_after(line, "worker").expect("a pick-up names its worker");
            assert!((1..=size.workers as u64).contains(&worker), "{line}");
            *picked_up.entry(job).or_insert(0) += 1;
        }
        assert_eq!(picked_up.len() as u64, jobs, "{size:?}");
        assert!(picked_up.values().all(|&count| count == 1), "{size:?}");

        assert!(
            gauge.peak() <= size.workers,
            "{size:?}: peak {}",
            gauge.peak()
        );
        assert_eq!(
            gauge.now(),
            0,
            "no job is still running after the pool returns"
        );
    }
}

#[test]
fn stage_2_results_name_each_job_once_and_a_real_worker() {
    for size in SHAPES {
        let gauge = InFlight::default();
        let jobs = 40;
        let results = stage_2_metadata::run_pool(
            size,
            stage_2_metadata::article_jobs(jobs),
            |number| overlapping(&gauge, number),
            &Clock::System,
            &Console::silent(),
        );

        let mut job_ids: Vec<u64> = results.iter().map(|result| result.job_id).collect();
        job_ids.sort_unstable();
        assert_eq!(job_ids, (1..=jobs).collect::<Vec<_>>(), "{size:?}");
        for result in &results {
            assert_eq!(result.output, work::square(result.job_id), "{result:?}");
            assert!((1..=size.workers).contains(&result.worker_id), "{result:?}");
        }
        assert!(
            gauge.peak() <= size.workers,
            "{size:?}: peak {}",
            gauge.peak()
        );
    }
}

#[test]
fn stage_2_stamps_results_with_the_pools_clock() {
    let stopped = SystemTime::UNIX_EPOCH + Duration::from_secs(12 * 3600 + 34 * 60 + 56);
    let (console, capture) = Console::captured();
    let results = stage_2_metadata::run_pool(
        PoolSize {
            workers: 2,
            queue: 2,
        },
        stage_2_metadata::article_jobs(3),
        work::square,
        &Clock::Fixed(stopped),
        &console,
    );
    assert!(results.iter().all(|result| result.finished_at == stopped));
    let text = capture.text();
    assert_eq!(
        text.matches("(at 12:34:56 UTC, +0.00s)").count(),
        3,
        "{text}"
    );
}

/// Sum of 1² + 2² + … + n².
fn sum_of_squares(n: u128) -> u128 {
    n * (n + 1) * (2 * n + 1) / 6
}

#[test]
fn stage_1_hundred_thousand_jobs_add_up() {
    let jobs = 100_000;
    let outputs = stage_1_basic::run_pool(
        PoolSize {
            workers: 4,
            queue: 100,
        },
        stage_1_basic::article_jobs(jobs),
        work::square,
        &Console::silent(),
    );
    assert_eq!(outputs.len() as u64, jobs);
    let total: u128 = outputs.iter().map(|&output| u128::from(output)).sum();
    // The numbers are 2, 4, …, 2n, so the squares add up to 4 × (1² + … + n²).
    assert_eq!(total, 4 * sum_of_squares(jobs.into()));
}

#[test]
fn stage_2_hundred_thousand_jobs_add_up() {
    let jobs = 100_000;
    let results = stage_2_metadata::run_pool(
        PoolSize {
            workers: 4,
            queue: 100,
        },
        stage_2_metadata::article_jobs(jobs),
        |number| work::square_slowly(number, Duration::ZERO),
        &Clock::System,
        &Console::silent(),
    );
    assert_eq!(results.len() as u64, jobs);
    let total: u128 = results.iter().map(|result| u128::from(result.output)).sum();
    assert_eq!(total, sum_of_squares(jobs.into()));
}

#[test]
fn a_pool_with_no_jobs_returns_at_once_with_no_results() {
    let size = PoolSize {
        workers: 3,
        queue: 0,
    };
    let console = Console::silent();
    assert!(stage_1_basic::run_pool(size, [], work::square, &console).is_empty());
    let clock = Clock::System;
    assert!(stage_2_metadata::run_pool(size, [], work::square, &clock, &console).is_empty());
}
