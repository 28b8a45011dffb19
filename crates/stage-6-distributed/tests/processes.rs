//! Worker processes on a real Redis, killed, stopped and starved, losing no job. Every
//! invariant is counted from the broker's own records; time only bounds how long a test waits.

mod common;

use std::collections::BTreeSet;
use std::thread;
use std::time::{Duration, Instant};

use std::collections::BTreeMap;

use common::{Harness, harness};
use stage_6_distributed::{
    Broker, Inspect, JobState, ProduceSettings, RedisBroker, Retention, Status, produce,
};
use test_support::{Signal, Spawned};
use tokio_util::sync::CancellationToken;

/// Long enough for anything a test waits for; only a hung program reaches it.
const GIVE_UP: Duration = Duration::from_secs(120);

fn add_jobs(harness: &Harness, jobs: u64, work: Duration, fail_every: Option<u64>) {
    let settings = ProduceSettings {
        jobs,
        job_duration: work,
        fail_every,
        max_backlog: None,
    };
    let produced = harness
        .block_on(produce(
            &harness.broker,
            settings,
            &CancellationToken::new(),
        ))
        .expect("the jobs are added");
    assert_eq!(produced.job_ids.len() as u64, jobs);
}

fn status(harness: &Harness) -> Status {
    harness.block_on(harness.broker.status()).expect("status")
}

/// Waits, looking every few milliseconds, until `done` holds for the queue.
fn wait_for(harness: &Harness, what: &str, done: impl Fn(&Status) -> bool) -> Status {
    let give_up = Instant::now() + GIVE_UP;
    loop {
        let status = status(harness);
        if done(&status) {
            return status;
        }
        assert!(
            Instant::now() < give_up,
            "gave up waiting for {what}: {status:?}"
        );
        thread::sleep(Duration::from_millis(5));
    }
}

fn held_by(harness: &Harness, consumer: &str) -> Vec<u64> {
    harness
        .block_on(harness.broker.pending_of(consumer))
        .expect("pending")
}

/// Every job's record, by number, from the broker.
fn records(harness: &Harness) -> BTreeMap<u64, stage_6_distributed::JobRecord> {
    let submitted = status(harness).submitted;
    (1..=submitted)
        .filter_map(|job_id| {
            let record = harness.block_on(harness.broker.job(job_id)).expect("a job");
            Some((job_id, record?))
        })
        .collect()
}

/// The recorded results, by job (on a fresh queue with one producer, job `n` squares `n`).
fn results(harness: &Harness) -> BTreeMap<u64, String> {
    records(harness)
        .into_iter()
        .filter_map(|(job_id, record)| match record.state {
            JobState::Completed { output, .. } => Some((job_id, output)),
            _ => None,
        })
        .collect()
}

/// Every job that was not made to fail has exactly one result, its number squared; nothing is
/// pending or waiting; the dead letters are exactly the poison jobs.
fn assert_all_accounted(harness: &Harness, jobs: u64, poison: &BTreeSet<u64>) {
    let status = status(harness);
    assert_eq!(status.submitted, jobs);
    assert_eq!(status.in_flight(), 0, "{status:?}");
    assert_eq!(status.waiting(), 0, "{status:?}");
    let expected: Vec<(u64, String)> = (1..=jobs)
        .filter(|id| !poison.contains(id))
        .map(|id| (id, (id * id).to_string()))
        .collect();
    assert_eq!(results(harness).into_iter().collect::<Vec<_>>(), expected);
    let dead: BTreeSet<u64> = harness
        .block_on(harness.broker.dead_letters())
        .expect("dead letters")
        .iter()
        .filter_map(|dead| dead.job_id)
        .collect();
    assert_eq!(&dead, poison);
}

fn finish(worker: Spawned) -> test_support::Finished {
    worker.finish_within(GIVE_UP)
}

#[test]
fn killing_workers_loses_no_job_and_reruns_only_what_they_held() {
    let Some(harness) = harness("killed-workers", false) else {
        return;
    };
    const JOBS: u64 = 5_000;
    add_jobs(&harness, JOBS, Duration::from_millis(2), Some(500));
    let poison: BTreeSet<u64> = (1..=JOBS).filter(|id| id % 500 == 0).collect();
    let args = [
        "--workers",
        "4",
        "--lease",
        "1s",
        "--max-deliveries",
        "3",
        "--exit-when-idle",
        "200ms",
    ];
    let mut workers: Vec<(String, Spawned)> = (1..=3)
        .map(|n| {
            let name = format!("w{n}-1");
            let worker = harness.worker(&name, &args);
            (name, worker)
        })
        .collect();

    // One worker in turn is killed every 300 ms and started again under a new name, until the
    // queue drains. What each held at its death is read from the group right after: nobody can
    // take those jobs over for a lease (1 s), so the list is exact.
    let mut held_when_killed = BTreeSet::new();
    let mut kills = 0;
    while status(&harness).backlog() > 0 {
        thread::sleep(Duration::from_millis(300));
        let slot = kills % workers.len();
        let (_, victim) = &mut workers[slot];
        if victim.has_exited() {
            break;
        }
        victim.signal(Signal::SIGKILL);
        kills += 1;
        let name = format!("w{}-{}", slot + 1, kills + 1);
        let replacement = harness.worker(&name, &args);
        let (killed_name, killed) = std::mem::replace(&mut workers[slot], (name, replacement));
        // Dead and reaped before its jobs are listed: a dying process sends nothing more.
        let ended = finish(killed);
        assert_eq!(ended.status.code(), None, "killed by a signal");
        held_when_killed.extend(held_by(&harness, &killed_name));
    }
    for (_, worker) in workers {
        let ended = finish(worker);
        assert!(ended.status.success(), "{}", ended.stderr);
    }
    assert!(kills >= 2, "the run outlived at least two kills ({kills})");

    assert_all_accounted(&harness, JOBS, &poison);
    let status = status(&harness);
    assert_eq!(
        status.duplicates, 0,
        "a killed worker never recorded what it held"
    );
    // A job that finished on a later delivery than its first was re-run: it must have been in a
    // killed worker's hands (poison jobs are re-run by design and never finish).
    for (job_id, record) in records(&harness) {
        let deliveries = record.runs;
        if poison.contains(&job_id) {
            continue;
        }
        assert_eq!(
            deliveries.len(),
            1,
            "job {job_id} finished once: {deliveries:?}"
        );
        if deliveries[0] > 1 {
            assert!(
                held_when_killed.contains(&job_id),
                "job {job_id} was re-run but no killed worker held it"
            );
        }
    }
}

#[test]
fn a_redis_restart_mid_run_loses_nothing() {
    let Some(mut harness) = harness("redis-restart", true) else {
        return;
    };
    const JOBS: u64 = 2_000;
    add_jobs(&harness, JOBS, Duration::from_millis(2), None);
    let args = [
        "--workers",
        "4",
        "--lease",
        "2s",
        "--exit-when-idle",
        "200ms",
    ];
    let workers = [harness.worker("r1", &args), harness.worker("r2", &args)];
    wait_for(&harness, "some jobs done", |status| status.completed >= 200);
    harness.server.restart();
    let broker = harness
        .block_on(RedisBroker::connect(
            &harness.url,
            &harness.name,
            Retention::default(),
        ))
        .expect("the restarted server answers");
    harness.broker = broker;
    for worker in workers {
        let ended = finish(worker);
        assert!(ended.status.success(), "{}", ended.stderr);
    }
    assert_all_accounted(&harness, JOBS, &BTreeSet::new());
    assert_eq!(status(&harness).duplicates, 0);
}

#[test]
fn sigterm_finishes_and_acknowledges_the_jobs_in_hand() {
    let Some(harness) = harness("graceful-drain", false) else {
        return;
    };
    // Jobs longer than the heartbeat, so the worker extends their leases while it finishes them.
    add_jobs(&harness, 4, Duration::from_millis(700), None);
    let worker = harness.worker("drainer", &["--workers", "2", "--lease", "1s"]);
    wait_for(&harness, "two jobs in hand", |status| {
        status.in_flight() == 2
    });
    let held = held_by(&harness, "drainer");
    worker.signal(Signal::SIGTERM);
    let ended = finish(worker);
    assert_eq!(ended.status.code(), Some(130), "{}", ended.stderr);
    assert!(
        ended.stdout.contains("2 deliveries: 2 recorded"),
        "{}",
        ended.stdout
    );

    let status = status(&harness);
    assert_eq!(status.completed, 2);
    assert_eq!(
        status.in_flight(),
        0,
        "nothing left for anyone to take over"
    );
    assert_eq!(
        status.waiting(),
        2,
        "the jobs it never read wait for the next worker"
    );
    assert_eq!(results(&harness).keys().copied().collect::<Vec<_>>(), held);
}

#[test]
fn a_live_worker_keeps_a_job_longer_than_its_lease() {
    let Some(harness) = harness("lease-kept", false) else {
        return;
    };
    // 1.5 s of work on a 400 ms lease: only the worker's heartbeats keep the job its own.
    add_jobs(&harness, 1, Duration::from_millis(1_500), None);
    let args = [
        "--workers",
        "1",
        "--lease",
        "400ms",
        "--exit-when-idle",
        "200ms",
    ];
    let slow = harness.worker("slow", &args);
    wait_for(&harness, "the job in hand", |status| {
        status.in_flight() == 1
    });
    let watcher = harness.worker("watcher", &args);
    for worker in [slow, watcher] {
        let ended = finish(worker);
        assert!(ended.status.success(), "{}", ended.stderr);
        assert!(!ended.stderr.contains("taken over"), "{}", ended.stderr);
    }
    let record = harness.block_on(harness.broker.job(1)).expect("job 1");
    assert_eq!(
        record.map(|record| record.runs),
        Some(vec![1]),
        "one delivery, one run"
    );
}

#[test]
fn a_dead_workers_job_is_taken_over_once_its_lease_runs_out() {
    let Some(harness) = harness("lease-expired", false) else {
        return;
    };
    add_jobs(&harness, 1, Duration::from_secs(30), None);
    let lease = Duration::from_millis(600);
    let args = ["--workers", "1", "--lease", "600ms"];
    let doomed = harness.worker("doomed", &args);
    wait_for(&harness, "the job in hand", |status| {
        status.in_flight() == 1
    });
    let mut heir = harness.worker("heir", &args);
    doomed.signal(Signal::SIGKILL);
    let killed_at = Instant::now();
    finish(doomed);
    // The heir learns of the job only by claiming it; its holder's last heartbeat was at most
    // half a lease before the kill, so no claim can come sooner than half a lease after it.
    let give_up = Instant::now() + GIVE_UP;
    while held_by(&harness, "heir").is_empty() {
        assert!(Instant::now() < give_up, "the job was never taken over");
        thread::sleep(Duration::from_millis(5));
    }
    assert!(
        killed_at.elapsed() >= lease / 2,
        "taken over before the lease could run out"
    );
    heir.signal(Signal::SIGKILL);
    let _ = heir.has_exited();
}

#[test]
fn a_poison_job_is_dead_lettered_after_exactly_k_deliveries() {
    let Some(harness) = harness("poison", false) else {
        return;
    };
    add_jobs(&harness, 6, Duration::ZERO, Some(3));
    let args = [
        "--workers",
        "2",
        "--lease",
        "300ms",
        "--max-deliveries",
        "3",
        "--exit-when-idle",
        "100ms",
        "--log-format",
        "json",
    ];
    let worker = harness.worker("tester", &args);
    let ended = finish(worker);
    assert!(ended.status.success(), "{}", ended.stderr);
    assert_all_accounted(&harness, 6, &BTreeSet::from([3, 6]));
    // Every log line is a JSON object, and every line about a job names the worker, the job
    // and the delivery: 6 first deliveries, then 2 more of each poison job.
    let mut deliveries_logged = BTreeSet::new();
    for line in ended.stderr.lines() {
        let record: serde_json::Value = serde_json::from_str(line).expect("a JSON log line");
        if let Some(job) = record.get("span") {
            assert_eq!(job["worker"], "tester", "{line}");
            deliveries_logged.insert((job["job"].as_u64(), job["delivery"].as_u64()));
        }
    }
    assert_eq!(deliveries_logged.len(), 6 + 2 * 2, "{}", ended.stderr);

    // `status --json`: one object with the queue's counts.
    let mut status = harness.program();
    status.args(["status", "--json"]);
    let status: serde_json::Value =
        serde_json::from_str(&test_support::stdout_of(&mut status)).expect("one JSON object");
    assert_eq!(
        (
            &status["submitted"],
            &status["completed"],
            &status["pending"],
            &status["dead_lettered"],
            &status["duplicates"],
        ),
        (&6.into(), &4.into(), &0.into(), &2.into(), &0.into())
    );
    let dead = harness
        .block_on(harness.broker.dead_letters())
        .expect("dead letters");
    for letter in &dead {
        assert_eq!(letter.deliveries, 3, "{letter:?}");
        assert!(letter.error.contains("poison"), "{letter:?}");
    }
    assert!(
        ended
            .stdout
            .contains("4 failed and left for retry, 2 dead-lettered"),
        "{}",
        ended.stdout
    );
}

#[test]
fn produce_with_a_max_backlog_never_lets_it_grow_past_the_limit() {
    let Some(harness) = harness("back-pressure", false) else {
        return;
    };
    const LIMIT: u64 = 8;
    let worker = harness.worker("slowpoke", &["--workers", "2", "--lease", "5s"]);
    let mut producer = harness.program();
    producer.args([
        "produce",
        "--jobs",
        "120",
        "--delay",
        "10ms",
        "--max-backlog",
        &LIMIT.to_string(),
    ]);
    let producer = Spawned::start(&mut producer);
    // A watcher samples the backlog while the producer runs. Sampling can miss a moment, never
    // invent one: a sample above the limit is a real breach.
    let mut largest = 0;
    let mut running = producer;
    while !running.has_exited() {
        largest = largest.max(status(&harness).backlog());
    }
    let ended = finish(running);
    assert!(ended.status.success(), "{}", ended.stderr);
    assert!(largest <= LIMIT, "the backlog reached {largest}");
    assert!(
        largest >= LIMIT / 2,
        "the limit was never approached ({largest}), so never tested"
    );
    worker.signal(Signal::SIGTERM);
    assert_eq!(finish(worker).status.code(), Some(130));
}

#[test]
fn the_metrics_endpoint_counts_what_the_worker_did() {
    let Some(harness) = harness("metrics", false) else {
        return;
    };
    add_jobs(&harness, 6, Duration::ZERO, Some(3));
    let mut worker = harness.worker(
        "measured",
        &[
            "--workers",
            "2",
            "--lease",
            "300ms",
            "--max-deliveries",
            "2",
            "--metrics-addr",
            "127.0.0.1:0",
        ],
    );
    let line = worker.read_until(|line| line.starts_with("metrics: "));
    let address = line
        .trim_start_matches("metrics: http://")
        .trim_end_matches("/metrics")
        .to_owned();
    wait_for(&harness, "every job finished", |status| {
        status.backlog() == 0
    });
    // The broker knows a job is done a moment before the worker has counted it: scrape until the
    // worker has nothing in flight.
    let give_up = Instant::now() + GIVE_UP;
    let scrape = loop {
        let scrape = scrape(&address);
        if scrape.lines().any(|line| line == "stage6_in_flight 0") {
            break scrape;
        }
        assert!(Instant::now() < give_up, "jobs stayed in flight:\n{scrape}");
        thread::sleep(Duration::from_millis(5));
    };
    worker.signal(Signal::SIGTERM);
    assert_eq!(finish(worker).status.code(), Some(130));
    for expected in [
        "stage6_completed_total 4",
        "stage6_dead_lettered_total 2",
        "stage6_failed_total 4",
        "stage6_taken_over_total 2",
        "stage6_in_flight 0",
        "stage6_lag 0",
    ] {
        assert!(
            scrape.lines().any(|line| line == expected),
            "no {expected:?} in:\n{scrape}"
        );
    }
}

/// One `GET /metrics`, as Prometheus would send it, and the body of the answer.
fn scrape(address: &str) -> String {
    use std::io::{Read, Write};
    let mut connection = std::net::TcpStream::connect(address).expect("the endpoint answers");
    connection
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("a read timeout");
    write!(
        connection,
        "GET /metrics HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .expect("the request is sent");
    let mut answer = String::new();
    connection
        .read_to_string(&mut answer)
        .expect("the answer is read");
    answer
}

/// The job numbers a `produce` process reports: `added 500 jobs: 1–100, 201–300, …`.
fn numbers_added(line: &str) -> Vec<u64> {
    let (_, ranges) = line.split_once(": ").expect("added N jobs: ranges");
    ranges
        .split(", ")
        .flat_map(|range| {
            let (first, last) = range.split_once('–').unwrap_or((range, range));
            let number = |text: &str| text.trim().parse::<u64>().expect("a job number");
            number(first)..=number(last)
        })
        .collect()
}

#[test]
fn two_producers_at_once_each_add_all_their_jobs_with_numbers_of_their_own() {
    let Some(harness) = harness("two-producers", false) else {
        return;
    };
    let producer = || {
        let mut produce = harness.program();
        produce.args(["produce", "--jobs", "1000", "--delay", "0ms"]);
        Spawned::start(&mut produce)
    };
    let (a, b) = (producer(), producer());
    let (a, b) = (finish(a), finish(b));
    let mut all = BTreeSet::new();
    for ended in [a, b] {
        assert!(ended.status.success(), "{}", ended.stderr);
        let numbers = numbers_added(ended.stdout.trim());
        assert_eq!(numbers.len(), 1000, "{}", ended.stdout);
        for number in numbers {
            assert!(all.insert(number), "job {number} reported by both");
        }
    }
    assert_eq!(all, (1..=2000).collect());
    assert_eq!(status(&harness).submitted, 2000);
}

/// A worker stopped (SIGSTOP) past its lease, mid-job, while another worker takes the job over
/// and, its deliveries used up, dead-letters it. When the first one wakes and finishes, the job
/// stays dead-lettered: a job ends one way, and the late run counts as a duplicate.
#[test]
fn a_worker_stalled_past_its_lease_cannot_end_a_job_a_second_way() {
    let Some(harness) = harness("stalled", false) else {
        return;
    };
    add_jobs(&harness, 1, Duration::from_millis(1_500), None);
    let args = [
        "--workers",
        "1",
        "--lease",
        "400ms",
        "--max-deliveries",
        "1",
    ];
    let stalled = harness.worker("stalled", &args);
    wait_for(&harness, "the job in hand", |status| {
        status.in_flight() == 1
    });
    stalled.signal(Signal::SIGSTOP);
    let heir = harness.worker(
        "heir",
        &[&args[..], &["--exit-when-idle", "200ms"]].concat(),
    );
    wait_for(&harness, "the dead letter", |status| {
        status.dead_lettered == 1
    });
    stalled.signal(Signal::SIGCONT);
    // The stalled worker's job ends, one way or the other (a late run, or a lost lease), and
    // then it is stopped the usual way.
    let give_up = Instant::now() + GIVE_UP;
    while status(&harness).duplicates == 0
        && !harness
            .block_on(harness.broker.pending_of("stalled"))
            .is_ok_and(|held| held.is_empty())
    {
        assert!(Instant::now() < give_up, "the stalled worker never woke");
        thread::sleep(Duration::from_millis(10));
    }
    thread::sleep(Duration::from_secs(2));
    stalled.signal(Signal::SIGTERM);
    let ended = finish(stalled);
    assert_eq!(ended.status.code(), Some(130), "{}", ended.stderr);
    assert!(ended.stdout.contains("0 recorded"), "{}", ended.stdout);
    assert!(finish(heir).status.success());

    let status = status(&harness);
    assert_eq!(
        (status.completed, status.dead_lettered, status.in_flight()),
        (0, 1, 0),
        "{status}"
    );
    let record = harness.block_on(harness.broker.job(1)).expect("job 1");
    assert!(
        matches!(
            record.map(|record| record.state),
            Some(JobState::DeadLettered { .. })
        ),
        "{status}"
    );
}

/// Redis restarted without its data under two busy workers: each says in one line that the
/// broker lost the queue's state, and exits 1, instead of logging NOGROUP for ever.
#[test]
fn a_redis_that_comes_back_empty_stops_every_worker_with_one_line() {
    let Some(mut harness) = harness("forgetful", false) else {
        return;
    };
    add_jobs(&harness, 500, Duration::from_millis(20), None);
    let args = ["--workers", "4", "--lease", "1s", "--exit-when-idle", "1s"];
    let workers = [harness.worker("f1", &args), harness.worker("f2", &args)];
    wait_for(&harness, "some jobs done", |status| status.completed >= 20);
    harness.server.restart();
    for worker in workers {
        let ended = finish(worker);
        assert_eq!(ended.status.code(), Some(1), "{}", ended.stderr);
        let said: Vec<&str> = ended
            .stderr
            .lines()
            .filter(|line| line.contains("lost the queue's state"))
            .collect();
        assert_eq!(said.len(), 1, "{}", ended.stderr);
        assert!(said[0].starts_with("error: "), "{}", ended.stderr);
        assert_eq!(ended.stderr.lines().last(), Some(said[0]));
    }
    // `status` on the emptied server finds no queue at all, and says so.
    let mut looking = harness.program();
    let looked = looking.arg("status").output().expect("status runs");
    assert_eq!(looked.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&looked.stderr).contains("there is no queue named"),
        "{looked:?}"
    );
}

/// One command to the harness's server from outside.
fn redis_command(harness: &Harness, words: &[&str]) {
    harness.block_on(async {
        let mut connection = harness.server.connection().await;
        redis::cmd(words[0])
            .arg(&words[1..])
            .query_async::<redis::Value>(&mut connection)
            .await
            .expect("the command runs");
    });
}

/// A Redis that refuses writes for a while (out of memory): the workers hold the jobs they ran
/// and try again, say so once each way, and lose nothing; `status` and a new `work` start on the
/// full broker and say it is full.
#[test]
fn a_full_redis_holds_up_the_workers_and_loses_nothing() {
    let Some(harness) = harness("full", false) else {
        return;
    };
    add_jobs(&harness, 300, Duration::from_millis(10), None);
    let args = [
        "--workers",
        "4",
        "--lease",
        "5s",
        "--exit-when-idle",
        "300ms",
    ];
    let mut workers = vec![harness.worker("m1", &args), harness.worker("m2", &args)];
    wait_for(&harness, "some jobs done", |status| status.completed >= 30);
    redis_command(&harness, &["CONFIG", "SET", "maxmemory", "1"]);

    let mut looking = harness.program();
    let looked = test_support::stdout_of(looking.arg("status"));
    assert!(looked.contains("the broker is full"), "{looked}");
    workers.push(harness.worker("m3", &args));
    thread::sleep(Duration::from_millis(1_500));
    redis_command(&harness, &["CONFIG", "SET", "maxmemory", "0"]);

    for worker in workers {
        let ended = finish(worker);
        assert!(ended.status.success(), "{}", ended.stderr);
        let refusals = ended.stderr.matches("refuses writes").count();
        let recoveries = ended.stderr.matches("accepts writes again").count();
        assert!(refusals <= 1 && refusals == recoveries, "{}", ended.stderr);
    }
    assert_all_accounted(&harness, 300, &BTreeSet::new());
    assert_eq!(status(&harness).duplicates, 0);
}

/// A job that runs past `--job-timeout` is stopped, counted as a failed delivery, tried again
/// after its lease, and dead-lettered with the reason once its deliveries are used up.
#[test]
fn a_job_past_its_deadline_is_stopped_retried_and_dead_lettered() {
    let Some(harness) = harness("deadline", false) else {
        return;
    };
    add_jobs(&harness, 1, Duration::from_secs(30), None);
    let worker = harness.worker(
        "impatient",
        &[
            "--workers",
            "1",
            "--lease",
            "500ms",
            "--job-timeout",
            "200ms",
            "--max-deliveries",
            "2",
            "--exit-when-idle",
            "200ms",
        ],
    );
    let ended = finish(worker);
    assert!(ended.status.success(), "{}", ended.stderr);
    assert!(
        ended
            .stdout
            .contains("1 failed and left for retry, 1 dead-lettered"),
        "{}",
        ended.stdout
    );
    let letters = harness
        .block_on(harness.broker.dead_letters())
        .expect("dead letters");
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].error, "ran past its deadline of 200ms");
    assert_eq!(letters[0].deliveries, 2);
}

/// A client of the metrics endpoint that sends a byte now and then and never finishes its
/// request neither blocks a scrape nor keeps the worker from exiting on SIGTERM.
#[test]
fn a_slow_metrics_client_blocks_neither_a_scrape_nor_the_exit() {
    let Some(harness) = harness("metrics-client", false) else {
        return;
    };
    let mut worker = harness.worker("watched", &["--metrics-addr", "127.0.0.1:0"]);
    let line = worker.read_until(|line| line.starts_with("metrics: "));
    let address = line
        .trim_start_matches("metrics: http://")
        .trim_end_matches("/metrics")
        .to_owned();
    let mut slow = std::net::TcpStream::connect(&address).expect("the endpoint accepts");
    let dribbling = thread::spawn(move || {
        use std::io::Write;
        // Until the server hangs up on it, or a minute has passed.
        for _ in 0..300 {
            if slow.write_all(b"G").is_err() {
                return;
            }
            thread::sleep(Duration::from_millis(200));
        }
    });
    assert!(
        scrape(&address).contains("stage6_in_flight"),
        "answered beside the slow client"
    );
    worker.signal(Signal::SIGTERM);
    // The guard is the test's: a worker held by its client would wait it out.
    let ended = finish(worker);
    assert_eq!(ended.status.code(), Some(130), "{}", ended.stderr);
    dribbling.join().expect("the slow client");
}
