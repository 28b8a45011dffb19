//! `RedisBroker` against a real `redis-server`, for what only Redis can do to it: block a read
//! past the client's timeout, restart, refuse writes when full, hold a key of the wrong type,
//! lose its group, or not be Redis at all. (What both backends promise is in `contract.rs`.)
//!
//! Each test has a private server, on a Unix socket in its own folder and on no TCP port, so that
//! no test meets another's data or a Redis that someone runs on this machine. Without
//! `redis-server` on `PATH` each test says loudly that it was skipped, and fails instead when `CI`
//! is set, so that a CI machine without it cannot pass by testing nothing.

use std::future::Future;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;

use common::{Server, payload, private_redis};
use stage_6_distributed::{
    Broker, BrokerError, Demo, Inspect, JobState, RedisBroker, Retention, Settlement, WorkMetrics,
    WorkSettings, run_pool,
};
use test_support::scratch_folder;
use tokio_util::sync::CancellationToken;

async fn connect(server: &Server, name: &str) -> RedisBroker {
    RedisBroker::connect(&server.url(), name, Retention::default())
        .await
        .expect("the broker connects")
}

async fn submit(broker: &RedisBroker, count: u32) {
    let payloads: Vec<String> = (1..=count).map(payload).collect();
    let added = broker
        .submit("test", 1, &payloads, None)
        .await
        .expect("submit");
    assert_eq!(added.count, u64::from(count));
}

/// One command to the server from outside, its answer ignored.
async fn command(server: &Server, words: &[&str]) {
    let mut connection = server.connection().await;
    redis::cmd(words[0])
        .arg(&words[1..])
        .query_async::<redis::Value>(&mut connection)
        .await
        .unwrap_or_else(|error| panic!("{words:?}: {error}"));
}

/// Runs `op` until it does not fail with [`BrokerError::Lost`], for up to 10 s: what a worker
/// does while the broker restarts.
async fn until_ok<T, F, Fut>(mut op: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, BrokerError>>,
{
    let give_up = Instant::now() + Duration::from_secs(10);
    loop {
        match op().await {
            Ok(value) => return value,
            Err(BrokerError::Lost(_)) if Instant::now() < give_up => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("gave up: {e}"),
        }
    }
}

#[tokio::test]
async fn a_read_blocks_past_the_crates_default_response_timeout() {
    let Some(server) = private_redis("blocking-read", false) else {
        return;
    };
    let broker = connect(&server, "demo").await;

    // The redis crate's default response timeout is 500 ms; a read blocking longer must come
    // back empty, not as a lost connection.
    let started = Instant::now();
    let read = broker.read_new("a", 1, Duration::from_millis(1500)).await;
    assert_eq!(read, Ok(vec![]));
    assert!(
        started.elapsed() >= Duration::from_millis(1400),
        "it blocked"
    );

    // A job submitted while a read blocks is delivered to it.
    let producer = broker.clone();
    let submitted = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        submit(&producer, 1).await;
    });
    let read = broker
        .read_new("a", 1, Duration::from_secs(20))
        .await
        .expect("read");
    assert_eq!(read.len(), 1);
    submitted.await.expect("the producer task");
}

#[tokio::test]
async fn a_restart_with_append_only_keeps_the_queue_and_what_is_pending() {
    let Some(mut server) = private_redis("restart", true) else {
        return;
    };
    let broker = connect(&server, "demo").await;
    submit(&broker, 3).await;
    let a = broker.read_new("a", 2, Duration::ZERO).await.expect("read");
    assert_eq!(broker.complete(&a[0], "1").await, Ok(Settlement::Recorded));

    server.restart();

    // The same broker reconnects by itself (and sends its scripts again, which the restarted
    // server has forgotten); the first command or two may find the connection gone.
    let status = until_ok(|| broker.status()).await;
    assert_eq!((status.submitted, status.completed), (3, 1));
    assert_eq!(status.in_flight(), 1);
    assert_eq!(until_ok(|| broker.pending_of("a")).await, vec![2]);
    // The group remembers what it delivered: only job 3 is new.
    let b = until_ok(|| broker.read_new("b", 10, Duration::ZERO)).await;
    assert_eq!(b.iter().map(|d| d.job_id).collect::<Vec<_>>(), [3]);
    // The epoch survived with the data: the earlier delivery still settles.
    assert_eq!(
        until_ok(|| broker.complete(&a[1], "4")).await,
        Settlement::Recorded
    );
}

/// A step that would fail half-way leaves no part of itself done: the script checks the types of
/// the keys it writes before its first write, because Redis does not roll a script back.
#[tokio::test]
async fn a_step_that_would_fail_half_way_changes_nothing() {
    let Some(server) = private_redis("wrong-type", false) else {
        return;
    };
    let broker = connect(&server, "demo").await;
    submit(&broker, 2).await;
    let read = broker.read_new("a", 2, Duration::ZERO).await.expect("read");
    // Someone sets the completed count to a list: recording would write the job's record, then
    // fail on the count, with the entry acknowledged and no result kept.
    command(&server, &["DEL", "demo:completed"]).await;
    command(&server, &["RPUSH", "demo:completed", "oops"]).await;
    let recorded = broker.complete(&read[0], "1").await;
    assert!(
        matches!(&recorded, Err(BrokerError::Damaged(e)) if e.contains("demo:completed holds a list")),
        "{recorded:?}"
    );
    assert_eq!(
        broker.pending_of("a").await,
        Ok(vec![1, 2]),
        "nothing acknowledged"
    );
    assert!(matches!(
        broker
            .job(1)
            .await
            .expect("read")
            .map(|record| record.state),
        Some(JobState::Pending { .. })
    ));
    // The dead-letter step checks its keys the same way.
    command(&server, &["SET", "demo:dead", "not a stream"]).await;
    let moved = broker.dead_letter(&read[1], "boom").await;
    assert!(
        matches!(&moved, Err(BrokerError::Damaged(e)) if e.contains("demo:dead")),
        "{moved:?}"
    );
    assert_eq!(broker.pending_of("a").await, Ok(vec![1, 2]));
    let status = broker.status().await;
    assert!(status.is_err(), "the count is not a number: {status:?}");
}

/// A full Redis refuses every step that writes, and none of it is done half-way; reads go on.
/// Once there is room again, the same calls succeed. `status` and a new connection to the queue
/// work throughout, and the broker says that it is full.
#[tokio::test]
async fn a_full_redis_refuses_writes_whole_and_takes_them_again_later() {
    let Some(server) = private_redis("full", false) else {
        return;
    };
    let broker = connect(&server, "demo").await;
    submit(&broker, 2).await;
    let read = broker.read_new("a", 1, Duration::ZERO).await.expect("read");
    command(&server, &["CONFIG", "SET", "maxmemory", "1"]).await;

    fn refused<T>(result: &Result<T, BrokerError>) -> bool {
        matches!(result, Err(BrokerError::Refused(_)))
    }
    assert!(refused(&broker.complete(&read[0], "1").await));
    assert!(refused(&broker.dead_letter(&read[0], "boom").await));
    assert!(refused(&broker.submit("p", 1, &[payload(3)], None).await));
    let status = broker.status().await.expect("status reads a full broker");
    assert_eq!(
        (status.submitted, status.completed, status.in_flight()),
        (2, 0, 1)
    );
    assert!(
        broker
            .full()
            .await
            .expect("INFO")
            .is_some_and(|full| full.contains("the broker is full"))
    );
    let again = RedisBroker::connect(&server.url(), "demo", Retention::default()).await;
    assert!(
        again.is_ok(),
        "a worker can start on a full broker: {again:?}"
    );
    let looking = RedisBroker::open(&server.url(), "demo").await;
    assert!(
        looking.is_ok(),
        "status can start on a full broker: {looking:?}"
    );

    command(&server, &["CONFIG", "SET", "maxmemory", "0"]).await;
    assert_eq!(broker.full().await, Ok(None));
    assert_eq!(
        broker.complete(&read[0], "1").await,
        Ok(Settlement::Recorded)
    );
    assert_eq!(broker.status().await.expect("status").completed, 1);
}

/// A broker whose group is gone (destroyed by hand, or a failover to a replica that never had
/// it) is a lost state, not something to quietly make again.
#[tokio::test]
async fn a_group_that_is_gone_is_a_lost_state() {
    let Some(server) = private_redis("nogroup", false) else {
        return;
    };
    let broker = connect(&server, "demo").await;
    submit(&broker, 1).await;
    command(&server, &["XGROUP", "DESTROY", "demo:jobs", "workers"]).await;
    let read = broker.read_new("a", 1, Duration::ZERO).await;
    assert!(matches!(read, Err(BrokerError::StateLost(_))), "{read:?}");
    let again = RedisBroker::connect(&server.url(), "demo", Retention::default()).await;
    assert!(matches!(again, Err(BrokerError::StateLost(_))), "{again:?}");
}

/// `status` under a name no queue has says so and creates nothing.
#[tokio::test]
async fn opening_a_queue_that_is_not_there_writes_nothing() {
    let Some(server) = private_redis("no-queue", false) else {
        return;
    };
    let opened = RedisBroker::open(&server.url(), "mistyped").await;
    assert_eq!(
        opened.map(|_| ()),
        Err(BrokerError::NoQueue("mistyped".to_owned()))
    );
    let mut connection = server.connection().await;
    let keys: u64 = redis::cmd("DBSIZE")
        .query_async(&mut connection)
        .await
        .expect("DBSIZE");
    assert_eq!(keys, 0);
}

/// Asserts that connecting to `url` fails as unreachable, naming `shown`, in one line, within a
/// few seconds.
async fn assert_unreachable(url: &str, shown: &str) {
    let started = Instant::now();
    let connected = RedisBroker::connect(url, "demo", Retention::default()).await;
    let took = started.elapsed();
    match connected {
        Err(BrokerError::Unreachable { at, reason }) => {
            assert_eq!(at, shown);
            assert!(!reason.is_empty() && !reason.contains('\n'), "{reason}");
        }
        Err(e) => panic!("{url}: expected Unreachable, got {e:?}"),
        Ok(_) => panic!("{url}: connected to nothing"),
    }
    assert!(took < Duration::from_secs(8), "{url}: took {took:?}");
}

#[tokio::test]
async fn a_broker_that_is_not_there_is_unreachable_within_seconds() {
    // No socket file at all.
    let dir = scratch_folder("stage-6-redis", "unreachable");
    let url = format!("redis+unix://{}/nobody.sock", dir.display());
    assert_unreachable(&url, &url).await;

    // A TCP port nobody listens on: taken from the system, then let go. The password in the URL
    // is never shown.
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        listener.local_addr().expect("its address").port()
    };
    assert_unreachable(
        &format!("redis://:secret@127.0.0.1:{port}"),
        &format!("redis://:***@127.0.0.1:{port}"),
    )
    .await;

    // A port that accepts connections and never answers: the connect timeout has to end it.
    let silent = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = silent.local_addr().expect("its address").port();
    let url = format!("redis://127.0.0.1:{port}");
    assert_unreachable(&url, &url).await;
    drop(silent);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Trimming forgets the consumers that hold nothing and have been idle long enough (processes
/// that died with nothing in hand), and keeps any that holds a job, however long idle.
#[tokio::test]
async fn trimming_forgets_idle_consumers_that_hold_nothing() {
    let Some(server) = private_redis("forget-consumers", false) else {
        return;
    };
    let broker = connect(&server, "pool").await;
    submit(&broker, 2).await;
    let done = broker
        .read_new("done", 1, Duration::ZERO)
        .await
        .expect("read");
    broker.complete(&done[0], "1").await.expect("complete");
    broker
        .read_new("holding", 1, Duration::ZERO)
        .await
        .expect("read");
    broker.trim(Duration::from_secs(3600)).await.expect("trim");
    assert_eq!(consumers(&server).await, ["done", "holding"]);
    // Redis counts idleness in milliseconds: past a few, both are idle for more than zero.
    tokio::time::sleep(Duration::from_millis(20)).await;
    broker.trim(Duration::ZERO).await.expect("trim");
    assert_eq!(consumers(&server).await, ["holding"]);
}

/// The names of the group's consumers, as Redis lists them.
async fn consumers(server: &Server) -> Vec<String> {
    let reply: redis::streams::StreamInfoConsumersReply = redis::cmd("XINFO")
        .arg(&["CONSUMERS", "pool:jobs", "workers"])
        .query_async(&mut server.connection().await)
        .await
        .expect("XINFO CONSUMERS");
    let mut names: Vec<String> = reply.consumers.into_iter().map(|c| c.name).collect();
    names.sort();
    names
}

/// A wrong password gets one line that says what went wrong, and the password is never shown.
#[tokio::test]
async fn a_wrong_password_gets_one_line_that_says_so() {
    let Some(server) = private_redis("password", false) else {
        return;
    };
    command(&server, &["CONFIG", "SET", "requirepass", "right-one"]).await;
    let url = format!("{}?pass=wrong-one", server.url());
    let error = RedisBroker::connect(&url, "demo", Retention::default())
        .await
        .map(|_| ())
        .expect_err("a wrong password")
        .to_string();
    assert!(
        !error.contains('\n') && !error.contains("wrong-one"),
        "{error}"
    );
    assert!(error.contains("password"), "{error}");
}

/// A server on the port that is not Redis (a web server, say) gets one line that says so.
#[tokio::test]
async fn a_server_that_is_not_redis_gets_one_line() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = listener.local_addr().expect("its address").port();
    let answering = std::thread::spawn(move || {
        for stream in listener.incoming().take(1) {
            let mut stream = stream.expect("a connection");
            let mut request = [0; 256];
            let _ = stream.read(&mut request);
            let _ = stream.write_all(
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n<html>\r\nnope\r\n",
            );
        }
    });
    let connected = RedisBroker::connect(
        &format!("redis://127.0.0.1:{port}"),
        "demo",
        Retention::default(),
    )
    .await;
    let error = connected.map(|_| ()).expect_err("not Redis").to_string();
    assert!(!error.contains('\n'), "{error}");
    assert!(error.starts_with("cannot reach the broker"), "{error}");
    answering.join().expect("the fake server");
}

#[tokio::test]
async fn a_dropped_server_is_stopped() {
    let Some(mut server) = private_redis("drop", false) else {
        return;
    };
    let url = server.url();
    connect(&server, "demo").await;
    server.stop();
    assert_unreachable(&url, &url).await;
}

/// A hundred thousand jobs through the queue, and once their results' retention has passed, the
/// broker holds about as much memory as before: the stream is trimmed as it goes, the records
/// expire, and the counts are all that stays.
#[tokio::test]
async fn a_hundred_thousand_jobs_leave_the_broker_as_small_as_they_found_it() {
    let Some(server) = private_redis("memory", false) else {
        return;
    };
    let retention = Retention {
        results: Duration::from_secs(1),
        dead_letters: 100,
    };
    let broker = RedisBroker::connect(&server.url(), "memory", retention)
        .await
        .expect("connect");
    let before = used_memory(&server).await;
    let jobs = 100_000;
    let settings = stage_6_distributed::ProduceSettings {
        jobs,
        job_duration: Duration::ZERO,
        fail_every: Some(1_000),
        max_backlog: None,
    };
    let stop = CancellationToken::new();
    let produced = stage_6_distributed::produce(&broker, settings, &stop)
        .await
        .expect("produce");
    assert_eq!(produced.job_ids.len() as u64, jobs);
    let work = WorkSettings {
        workers: 100,
        lease: Duration::from_secs(10),
        job_timeout: Duration::from_secs(10),
        max_deliveries: 1,
        exit_when_idle: Some(Duration::from_millis(200)),
    };
    run_pool(
        Arc::new(broker.clone()),
        "only",
        work,
        Demo,
        &WorkMetrics::default(),
        &stop,
    )
    .await
    .expect("work");
    let status = broker.status().await.expect("status");
    assert_eq!(
        (status.completed, status.dead_lettered, status.backlog()),
        (99_900, 100, 0)
    );
    broker.trim(Duration::from_secs(3600)).await.expect("trim");

    // The records expire a second after their job ended; Redis expires keys in the background,
    // a sample at a time, so wait until only the queue's own keys are left.
    let give_up = Instant::now() + Duration::from_secs(60);
    while keys(&server).await > 8 {
        assert!(
            Instant::now() < give_up,
            "{} keys left",
            keys(&server).await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let after = used_memory(&server).await;
    assert!(
        after < before + 512 * 1024,
        "{before} bytes before, {after} after"
    );
    assert_eq!(
        broker.status().await.expect("status"),
        status,
        "the counts stay"
    );
}

async fn used_memory(server: &Server) -> u64 {
    let mut connection = server.connection().await;
    let info: String = redis::cmd("INFO")
        .arg("memory")
        .query_async(&mut connection)
        .await
        .expect("INFO");
    info.lines()
        .find_map(|line| line.strip_prefix("used_memory:"))
        .and_then(|bytes| bytes.trim().parse().ok())
        .expect("used_memory in INFO")
}

async fn keys(server: &Server) -> u64 {
    let mut connection = server.connection().await;
    redis::cmd("DBSIZE")
        .query_async(&mut connection)
        .await
        .expect("DBSIZE")
}
