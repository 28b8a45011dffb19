//! Stage 2's timing lesson, measured: N jobs of one delay each on W workers take ⌈N/W⌉ delays.
//!
//! The delay is scaled down from the program's 500 ms to 100 ms. The lower bound is exact: no
//! schedule beats the rounds, however fast the machine. The upper bound only says "in parallel":
//! less than the 1.2 s that one worker alone would need, 900 ms above the ideal 300 ms, far more
//! than a busy scheduler adds to a few sleeping threads' wake-ups.

use std::time::{Duration, Instant};

use pool_core::cli::PoolArgs;
use pool_core::{Clock, Console};

#[test]
fn twelve_jobs_on_four_workers_take_three_rounds() {
    let delay = Duration::from_millis(100);
    let args = PoolArgs {
        workers: 4,
        jobs: 12,
        queue: None,
    };
    let ideal = stage_2_metadata::ideal_makespan(args.jobs, args.workers, delay);
    assert_eq!(ideal, Duration::from_millis(300));

    let (console, capture) = Console::captured();
    let started = Instant::now();
    let report = stage_2_metadata::run(&args, delay, &Clock::System, &console);
    let measured = started.elapsed();

    assert_eq!(report.results.len(), 12);
    assert!(report.elapsed <= measured);
    // No schedule beats the rounds: each worker sleeps a full delay per job.
    assert!(report.elapsed >= ideal, "{:?} < {ideal:?}", report.elapsed);
    // And the pool really runs in parallel: one worker alone would need 1.2 s.
    let one_at_a_time = delay * 12;
    assert!(report.elapsed < one_at_a_time, "{:?}", report.elapsed);
    assert!(
        capture
            .text()
            .contains("ideal 0.30s: ⌈12/4⌉ = 3 rounds of 100ms"),
        "{}",
        capture.text()
    );
}

#[test]
fn the_ideal_is_rounds_times_delay() {
    let delay = Duration::from_millis(500);
    let ideal = stage_2_metadata::ideal_makespan;
    assert_eq!(ideal(10, 3, delay), Duration::from_secs(2));
    assert_eq!(ideal(9, 3, delay), Duration::from_millis(1500));
    assert_eq!(ideal(1, 8, delay), delay);
    assert_eq!(ideal(0, 3, delay), Duration::ZERO);
}
