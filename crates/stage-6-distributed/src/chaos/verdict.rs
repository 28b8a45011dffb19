//! What `chaos` checks once the faults are over, against Redis itself.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use pool_core::work::square;
use tokio_util::sync::CancellationToken;

use super::processes::{Redis, Workers};
use super::say;
use crate::broker::{Broker, Inspect, JobState, RedisBroker, Retention};
use crate::produce::{ProduceSettings, produce};
use pool_core::counted;

/// Checks the account of a queue whose producers added `produced` (each producer's job numbers,
/// in the order it added them) and which has drained, adding a line to `broken` for each promise
/// that did not hold.
pub(super) async fn check(
    broker: &RedisBroker,
    produced: &[Vec<u64>; 2],
    max_deliveries: u64,
    poison_every: u64,
    broken: &mut Vec<String>,
) {
    // The problems of the first check, the jobs' ends, kept apart so that "held" is said only
    // of a check that found none.
    let mut ends = Vec::new();
    let mut fail = |problem: String| ends.push(problem);
    let status = match broker.status().await {
        Ok(status) => status,
        Err(error) => return fail(format!("cannot read the account: {error}")),
    };
    let added: u64 = produced.iter().map(|ids| ids.len() as u64).sum();
    let numbers: BTreeSet<u64> = produced.iter().flatten().copied().collect();
    if status.submitted != added || numbers.len() as u64 != added {
        fail(format!(
            "the producers reported {added} jobs, with {} numbers, and the queue counts {}",
            numbers.len(),
            status.submitted
        ));
    }

    let mut poison = BTreeSet::new();
    let (mut completed, mut dead, mut extra_runs) = (0, 0, 0);
    for ids in produced {
        for (nth, &job_id) in (1..).zip(ids) {
            let is_poison = nth % poison_every == 0;
            if is_poison {
                poison.insert(job_id);
            }
            let record = match broker.job(job_id).await {
                Ok(Some(record)) => record,
                Ok(None) => {
                    fail(format!("job {job_id} has no record"));
                    continue;
                }
                Err(error) => return fail(format!("cannot read job {job_id}: {error}")),
            };
            match &record.state {
                JobState::Completed { output, .. } => {
                    completed += 1;
                    extra_runs += record.runs.len().saturating_sub(1) as u64;
                    if is_poison {
                        fail(format!("job {job_id} is poison, and completed"));
                    } else if *output != square(nth).to_string() {
                        fail(format!("job {job_id}'s result is {output}, not {nth}²"));
                    }
                }
                JobState::DeadLettered { deliveries, error } => {
                    dead += 1;
                    extra_runs += record.runs.len() as u64;
                    if !is_poison {
                        fail(format!(
                            "job {job_id} is no poison, and was dead-lettered: {error}"
                        ));
                    }
                    if *deliveries > max_deliveries + 1 {
                        fail(format!("job {job_id} was delivered {deliveries} times"));
                    }
                }
                other => fail(format!("job {job_id} has not ended: {other:?}")),
            }
        }
    }
    if status.completed != completed || status.dead_lettered != dead {
        fail(format!(
            "the counts say {} completed and {} dead-lettered; the jobs' records, {completed} and {dead}",
            status.completed, status.dead_lettered
        ));
    }
    if status.in_flight() > 0 || status.waiting() > 0 {
        fail(format!("jobs are left over: {status}"));
    }
    if ends.is_empty() {
        say(format_args!(
            "chaos: held: each of the {added} jobs ended once: {completed} completed with its \
             number squared, {dead} dead-lettered (the {} poison jobs, after {max_deliveries} \
             deliveries at most, or one more when a worker died with it)",
            poison.len()
        ));
    }
    broken.extend(ends);
    let mut fail = |problem: String| broken.push(problem);

    match broker.dead_letters().await {
        Ok(letters) => {
            let jobs: BTreeSet<u64> = letters.iter().filter_map(|letter| letter.job_id).collect();
            let strays = letters
                .iter()
                .filter(|letter| letter.job_id.is_none())
                .count();
            if jobs != poison || strays != 2 || status.not_jobs != 2 {
                fail(format!(
                    "the dead-letter stream holds jobs {jobs:?} and {strays} entries that are not \
                     jobs ({} counted); expected the poison jobs and 2",
                    status.not_jobs
                ));
            } else {
                say(format_args!(
                    "chaos: held: the 2 entries that were not jobs were dead-lettered as such, and \
                     held up no job"
                ));
            }
        }
        Err(error) => fail(format!("cannot read the dead letters: {error}")),
    }
    if status.duplicates == extra_runs {
        say(format_args!(
            "chaos: held: {}, each a run of a job that had already ended, counted once",
            counted(status.duplicates, "duplicate run", "duplicate runs")
        ));
    } else {
        fail(format!(
            "the count of duplicate runs is {}, and the jobs' records show {extra_runs}",
            status.duplicates
        ));
    }
}

/// Restarts a Redis that keeps no data under two busy workers, and checks that each one says
/// that the broker lost the queue's state, and exits 1, rather than carrying on as if nothing
/// happened.
pub(super) async fn loss_is_reported(
    folder: &Path,
    stop: &CancellationToken,
    broken: &mut Vec<String>,
) {
    let mut redis = match Redis::own(folder.to_owned(), false) {
        Ok(redis) => redis,
        Err(error) => return broken.push(format!("cannot start a second Redis: {error}")),
    };
    let url = redis.url();
    let name = "forgetful";
    let Ok(broker) = RedisBroker::connect(&url, name, Retention::default()).await else {
        return broken.push("cannot connect to the second Redis".to_owned());
    };
    let settings = ProduceSettings {
        jobs: 200,
        job_duration: Duration::from_millis(50),
        fail_every: None,
        max_backlog: None,
    };
    if let Err(error) = produce(&broker, settings, stop).await {
        return broken.push(format!("cannot add jobs to the second Redis: {error}"));
    }
    let logs = folder.join("workers.log");
    let Ok(mut workers) = Workers::new(&url, name, &logs) else {
        return broken.push("cannot start workers on the second Redis".to_owned());
    };
    for _ in 0..2 {
        if let Err(error) = workers.start() {
            return broken.push(error);
        }
    }
    // Until some jobs are done: the workers are well into the queue.
    while broker
        .status()
        .await
        .is_ok_and(|status| status.completed < 20)
    {
        if stop.is_cancelled() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(broker);
    if let Err(error) = redis.restart().await {
        return broken.push(format!("cannot restart the second Redis: {error}"));
    }
    let codes = workers.wait_for_exits(Duration::from_secs(30)).await;
    let logs = workers.logs();
    let reported = logs.matches("lost the queue's state").count();
    if codes.iter().all(|code| *code == Some(1)) && reported >= codes.len() {
        say(format_args!(
            "chaos: held: a Redis restarted without its data under {} worker processes: each \
             said that the broker lost the queue's state, and exited 1",
            codes.len()
        ));
    } else {
        broken.push(format!(
            "after a Redis lost its data, the workers exited with {codes:?}, and {reported} of \
             them said the state was lost"
        ));
    }
}
