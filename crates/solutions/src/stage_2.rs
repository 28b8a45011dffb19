//! Solutions to the exercises of the chapter stage 2.

use std::time::Duration;

use pool_core::cli::PoolArgs;
use pool_core::{Clock, Console, JobResult, work};
use stage_2_metadata::{article_jobs, ideal_makespan, run_pool};

// ANCHOR: fewest_workers
/// Exercise 1: the fewest workers that run `jobs` jobs of one `delay` each within `budget`,
/// found by trying pool sizes in turn against stage 2's own [`ideal_makespan`]; `None` if even
/// one worker per job cannot (the budget is shorter than one delay).
pub fn fewest_workers_within(jobs: u64, delay: Duration, budget: Duration) -> Option<usize> {
    let most = usize::try_from(jobs).ok()?.max(1);
    (1..=most).find(|&workers| ideal_makespan(jobs, workers, delay) <= budget)
}
// ANCHOR_END: fewest_workers

// ANCHOR: slow_thirds
/// Exercise 2: the work for `run`'s closure, with every third job twice as slow. In stage 2
/// job `id` carries the number `id`, so the number says which job this is.
pub fn every_third_twice_as_slow(number: u64, delay: Duration) -> u64 {
    let delay = if number.is_multiple_of(3) {
        delay.saturating_mul(2)
    } else {
        delay
    };
    work::square_slowly(number, delay)
}

/// How long a pool of `workers` takes for jobs of the given lengths, in an ideal world where
/// hand-offs cost nothing: jobs leave the queue in order, each to whichever worker is free
/// first, which is what stage 2's workers do.
pub fn makespan(job_lengths: &[Duration], workers: usize) -> Duration {
    let mut free_at = vec![Duration::ZERO; workers.max(1)];
    for &length in job_lengths {
        let first_free = free_at
            .iter_mut()
            .min()
            .expect("a pool has at least one worker");
        *first_free += length;
    }
    free_at.into_iter().max().unwrap_or_default()
}
// ANCHOR_END: slow_thirds

// ANCHOR: sorted_at_the_end
/// Exercise 3: stage 2's run, then every result again, sorted by job id. The sorting waits until
/// `run_pool` has returned: only then has the receiving thread seen every result. A worker sees
/// only its own results, so it cannot know where one belongs among the others'.
pub fn run_then_sort(
    args: &PoolArgs,
    delay: Duration,
    clock: &Clock,
    console: &Console,
) -> Vec<JobResult> {
    let mut results = run_pool(
        args.pool_size(),
        article_jobs(args.jobs),
        |number| work::square_slowly(number, delay),
        clock,
        console,
    );
    results.sort_by_key(|result| result.job_id);
    console.line(format_args!("sorted by job:"));
    for result in &results {
        console.line(format_args!(
            "job {:>2}: {:>3} (worker {})",
            result.job_id, result.output, result.worker_id
        ));
    }
    results
}
// ANCHOR_END: sorted_at_the_end

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    const HALF_SECOND: Duration = Duration::from_millis(500);

    #[test]
    fn ten_jobs_take_one_more_round_than_nine_and_four_workers_fix_it() {
        assert_eq!(
            ideal_makespan(9, 3, HALF_SECOND),
            Duration::from_millis(1500)
        );
        assert_eq!(ideal_makespan(10, 3, HALF_SECOND), Duration::from_secs(2));
        let budget = Duration::from_millis(1500);
        assert_eq!(fewest_workers_within(10, HALF_SECOND, budget), Some(4));
        assert_eq!(
            fewest_workers_within(10, HALF_SECOND, HALF_SECOND),
            Some(10)
        );
        assert_eq!(fewest_workers_within(10, HALF_SECOND, Duration::ZERO), None);
    }

    #[test]
    fn every_third_job_is_slow_and_still_squares() {
        assert_eq!(every_third_twice_as_slow(3, Duration::ZERO), 9);
        assert_eq!(every_third_twice_as_slow(4, Duration::ZERO), 16);
    }

    #[test]
    fn slow_thirds_make_ten_jobs_on_three_workers_take_two_and_a_half_seconds() {
        let lengths: Vec<Duration> = (1..=10u32)
            .map(|id| HALF_SECOND * if id % 3 == 0 { 2 } else { 1 })
            .collect();
        // 6.5 s of work on 3 workers; no schedule fits it into 2 s, as 3 × 2 s = 6 s.
        assert_eq!(
            lengths.iter().sum::<Duration>(),
            Duration::from_millis(6500)
        );
        assert_eq!(makespan(&lengths, 3), Duration::from_millis(2500));
        // The same jobs, all equal, would take stage 2's four rounds.
        assert_eq!(makespan(&[HALF_SECOND; 10], 3), Duration::from_secs(2));
        // Two slow jobs on the same worker: the run ends when that worker does.
        let two_slow_first = [HALF_SECOND * 4, HALF_SECOND, HALF_SECOND];
        assert_eq!(makespan(&two_slow_first, 2), Duration::from_secs(2));
    }

    #[test]
    fn the_sorted_block_lists_every_job_in_order_after_the_arrival_order_lines() {
        let args = PoolArgs {
            workers: 4,
            jobs: 40,
            queue: Some(2),
        };
        let (console, capture) = Console::captured();
        let clock = Clock::Fixed(UNIX_EPOCH);
        let results = run_then_sort(&args, Duration::ZERO, &clock, &console);

        let ids: Vec<u64> = results.iter().map(|result| result.job_id).collect();
        assert_eq!(ids, (1..=40).collect::<Vec<_>>());
        let text = capture.text();
        let (arrivals, sorted) = text.split_once("sorted by job:\n").expect("a sorted block");
        assert_eq!(arrivals.lines().count(), 40);
        let sorted_ids: Vec<u64> = sorted
            .lines()
            .map(|line| {
                line.trim_start_matches("job ")
                    .split(':')
                    .next()
                    .and_then(|id| id.trim().parse().ok())
                    .expect("a job id")
            })
            .collect();
        assert_eq!(sorted_ids, ids);
    }
}
