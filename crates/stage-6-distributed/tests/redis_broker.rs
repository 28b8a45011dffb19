//! `RedisBroker` against a real `redis-server`: a private one per test, on a Unix socket in the
//! test's own folder and on no TCP port, so that no test meets another's data or a Redis that
//! someone runs on this machine.
//!
//! Without `redis-server` on `PATH` each test says loudly that it was skipped, and fails instead
//! when `CI` is set, so that a CI machine without it cannot pass by testing nothing.
//!
//! Leases are short (a few hundred milliseconds) and the tests sleep well past them before they
//! expect a claim; what must *not* be claimed is checked right away, well within the lease.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::TcpListener;
use std::time::{Duration, Instant};

mod common;

use common::{Server, private_redis};
use pool_core::Job;
use stage_6_distributed::redis_broker::check_url;
use stage_6_distributed::{
    Broker, BrokerError, DeadLetter, Delivery, JobSpec, Recorded, RedisBroker, Status,
};
use test_support::scratch_folder;

/// A lease short enough for a test to outlast.
const LEASE: Duration = Duration::from_millis(200);

/// Well past [`LEASE`].
const PAST_LEASE: Duration = Duration::from_millis(500);

/// A lease no test outlasts.
const LONG_LEASE: Duration = Duration::from_secs(60);

async fn connect(server: &Server, name: &str) -> RedisBroker {
    RedisBroker::connect(&server.url(), name)
        .await
        .expect("the broker connects")
}

/// Job `id`: an even id is poison, so that both values of the field go through the stream.
fn spec(id: u64) -> JobSpec {
    JobSpec {
        job: Job {
            id,
            number: id + 100,
        },
        work: Duration::from_millis(id * 7),
        poison: id.is_multiple_of(2),
    }
}

async fn submit_all(broker: &RedisBroker, ids: impl IntoIterator<Item = u64>) {
    for id in ids {
        broker.submit(spec(id)).await.expect("submit");
    }
}

fn ids(deliveries: &[Delivery]) -> Vec<u64> {
    deliveries.iter().map(|d| d.spec.job.id).collect()
}

fn counts(deliveries: &[Delivery]) -> Vec<u64> {
    deliveries.iter().map(|d| d.count).collect()
}

fn pending(by_consumer: &[(&str, u64)]) -> BTreeMap<String, u64> {
    by_consumer
        .iter()
        .map(|&(name, count)| (name.to_owned(), count))
        .collect()
}

/// Runs `op` until it does not fail with [`BrokerError::Lost`], for up to 10 s: what a worker
/// does while the broker restarts.
async fn until_ok<T, F, Fut>(mut op: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, BrokerError>>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match op().await {
            Ok(value) => return value,
            Err(BrokerError::Lost(reason)) if Instant::now() < deadline => {
                eprintln!("lost, trying again: {reason}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("{e}"),
        }
    }
}

#[tokio::test]
async fn every_operation_round_trips() {
    let Some(server) = private_redis("round-trip", false) else {
        return;
    };
    let broker = connect(&server, "demo").await;
    assert_eq!(broker.status().await.expect("status"), Status::default());
    assert_eq!(broker.last_job_id().await.expect("last id"), 0);

    submit_all(&broker, 1..=3).await;
    // Again, as a producer does that lost the answer: nothing changes.
    broker
        .submit(spec(2))
        .await
        .expect("submitting again is fine");
    broker
        .submit(spec(3))
        .await
        .expect("submitting again is fine");
    assert_eq!(broker.last_job_id().await.expect("last id"), 3);

    let a = broker.read_new("a", 2, Duration::ZERO).await.expect("read");
    assert_eq!(
        a,
        vec![
            Delivery {
                spec: spec(1),
                count: 1
            },
            Delivery {
                spec: spec(2),
                count: 1
            }
        ]
    );
    let b = broker
        .read_new("b", 10, Duration::from_millis(100))
        .await
        .expect("read");
    assert_eq!(ids(&b), [3]);
    assert_eq!(counts(&b), [1]);
    // Nothing left: a blocking read times out empty, and so does one that does not block.
    let none = broker.read_new("b", 10, Duration::from_millis(50)).await;
    assert_eq!(none, Ok(vec![]));
    let none = broker.read_new("b", 10, Duration::ZERO).await;
    assert_eq!(none, Ok(vec![]));

    assert_eq!(broker.pending_of("a").await, Ok(vec![1, 2]));
    assert_eq!(broker.pending_of("b").await, Ok(vec![3]));
    assert_eq!(broker.pending_of("nobody").await, Ok(vec![]));
    let status = broker.status().await.expect("status");
    assert_eq!(
        status,
        Status {
            submitted: 3,
            completed: 0,
            pending: pending(&[("a", 2), ("b", 1)]),
            dead_lettered: 0,
            duplicates: 0,
        }
    );
    assert_eq!((status.backlog(), status.waiting()), (3, 0));

    assert_eq!(broker.complete(a[0], 101).await, Ok(Recorded::First));
    broker
        .dead_letter(a[1], "poisoned")
        .await
        .expect("dead letter");
    assert_eq!(broker.complete(b[0], 103).await, Ok(Recorded::First));

    assert_eq!(
        broker.results().await,
        Ok(BTreeMap::from([(1, 101), (3, 103)]))
    );
    assert_eq!(
        broker.runs().await,
        Ok(BTreeMap::from([(1, vec![1]), (3, vec![1])]))
    );
    assert_eq!(
        broker.dead_letters().await,
        Ok(vec![DeadLetter {
            job_id: 2,
            deliveries: 1,
            error: "poisoned".to_owned(),
        }])
    );
    assert_eq!(broker.pending_of("a").await, Ok(vec![]));
    assert_eq!(
        broker.status().await,
        Ok(Status {
            submitted: 3,
            completed: 2,
            pending: BTreeMap::new(),
            dead_lettered: 1,
            duplicates: 0,
        })
    );

    // Connecting again finds the group there already (BUSYGROUP) and the same queue.
    let again = connect(&server, "demo").await;
    assert_eq!(again.status().await, broker.status().await);
    // Another name is another queue on the same server.
    let other = connect(&server, "other").await;
    assert_eq!(other.status().await, Ok(Status::default()));
    assert_eq!(other.last_job_id().await, Ok(0));
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
    let submit = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        producer.submit(spec(1)).await
    });
    let read = broker
        .read_new("a", 1, Duration::from_secs(20))
        .await
        .expect("read");
    assert_eq!(ids(&read), [1]);
    assert_eq!(submit.await.expect("the producer task"), Ok(()));
}

#[tokio::test]
async fn claiming_an_expired_lease_raises_the_delivery_count() {
    let Some(server) = private_redis("claim", false) else {
        return;
    };
    let broker = connect(&server, "demo").await;
    submit_all(&broker, 1..=2).await;
    let a = broker.read_new("a", 2, Duration::ZERO).await.expect("read");
    assert_eq!(counts(&a), [1, 1]);

    // Within the lease nothing is claimed.
    assert_eq!(broker.claim_expired("b", LONG_LEASE, 10).await, Ok(vec![]));

    tokio::time::sleep(PAST_LEASE).await;
    let b = broker.claim_expired("b", LEASE, 10).await.expect("claim");
    assert_eq!(ids(&b), [1, 2]);
    assert_eq!(counts(&b), [2, 2]);
    assert_eq!(b[0].spec, spec(1), "the job comes back whole");
    assert_eq!(broker.pending_of("a").await, Ok(vec![]));
    assert_eq!(broker.pending_of("b").await, Ok(vec![1, 2]));
    // Claiming started b's lease.
    assert_eq!(broker.claim_expired("c", LONG_LEASE, 10).await, Ok(vec![]));

    // `count` bounds a claim.
    tokio::time::sleep(PAST_LEASE).await;
    let c = broker.claim_expired("c", LEASE, 1).await.expect("claim");
    assert_eq!((ids(&c), counts(&c)), (vec![1], vec![3]));
    let c = broker.claim_expired("c", LEASE, 10).await.expect("claim");
    assert_eq!((ids(&c), counts(&c)), (vec![2], vec![3]));
    assert_eq!(
        broker.status().await.expect("status").pending,
        pending(&[("c", 2)])
    );
}

#[tokio::test]
async fn extending_a_lease_keeps_the_job_from_being_claimed() {
    let Some(server) = private_redis("extend", false) else {
        return;
    };
    let broker = connect(&server, "demo").await;
    submit_all(&broker, 1..=2).await;
    broker.read_new("a", 2, Duration::ZERO).await.expect("read");

    // A longer lease than elsewhere: what must not happen is checked within it, and a stall of
    // the test between extending and claiming should not be able to outlast it.
    let lease = Duration::from_secs(1);
    let past_lease = Duration::from_millis(1200);
    tokio::time::sleep(past_lease).await;
    broker.extend_lease("a", 1).await.expect("extend");
    // Job 1's lease started again a moment ago; job 2's ran out.
    let b = broker.claim_expired("b", lease, 10).await.expect("claim");
    assert_eq!((ids(&b), counts(&b)), (vec![2], vec![2]));
    assert_eq!(broker.pending_of("a").await, Ok(vec![1]));

    // Extending left job 1's delivery counter alone: claimed once it expires, it is at 2.
    tokio::time::sleep(past_lease).await;
    let b = broker.claim_expired("b", lease, 1).await.expect("claim");
    assert_eq!((ids(&b), counts(&b)), (vec![1], vec![2]));

    // Extending a job that is no longer pending changes nothing.
    broker.complete(b[0], 101).await.expect("complete");
    broker.extend_lease("a", 1).await.expect("extend");
    assert_eq!(broker.pending_of("a").await, Ok(vec![]));
}

#[tokio::test]
async fn a_restart_with_append_only_keeps_the_stream_the_group_and_what_is_pending() {
    let Some(mut server) = private_redis("restart", true) else {
        return;
    };
    let broker = connect(&server, "demo").await;
    submit_all(&broker, 1..=3).await;
    let a = broker.read_new("a", 2, Duration::ZERO).await.expect("read");
    assert_eq!(broker.complete(a[0], 101).await, Ok(Recorded::First));

    server.restart();

    // The same broker reconnects by itself; the first command or two may find the connection
    // gone, which a worker tries again.
    let status = until_ok(|| broker.status()).await;
    assert_eq!(
        status,
        Status {
            submitted: 3,
            completed: 1,
            pending: pending(&[("a", 1)]),
            dead_lettered: 0,
            duplicates: 0,
        }
    );
    assert_eq!(until_ok(|| broker.pending_of("a")).await, vec![2]);
    assert_eq!(until_ok(|| broker.last_job_id()).await, 3);
    assert_eq!(
        until_ok(|| broker.results()).await,
        BTreeMap::from([(1, 101)])
    );
    // The group remembers what it delivered: only job 3 is new.
    let b = until_ok(|| broker.read_new("b", 10, Duration::ZERO)).await;
    assert_eq!(ids(&b), [3]);
    // And the pending job's delivery count survives too.
    tokio::time::sleep(PAST_LEASE).await;
    let c = until_ok(|| broker.claim_expired("c", LEASE, 10)).await;
    assert_eq!((ids(&c), counts(&c)), (vec![2, 3], vec![2, 2]));

    // A broker connected afresh sees the same.
    let fresh = connect(&server, "demo").await;
    assert_eq!(fresh.pending_of("c").await, Ok(vec![2, 3]));
}

/// Asserts that connecting to `url` fails as unreachable, naming `url`, within a few seconds.
async fn assert_unreachable(url: &str) {
    let started = Instant::now();
    let connected = RedisBroker::connect(url, "demo").await;
    let took = started.elapsed();
    match connected {
        Err(BrokerError::Unreachable { at, reason }) => {
            assert_eq!(at, url);
            assert!(!reason.is_empty());
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
    assert_unreachable(&format!("redis+unix://{}/nobody.sock", dir.display())).await;

    // A TCP port nobody listens on: taken from the system, then let go.
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        listener.local_addr().expect("its address").port()
    };
    assert_unreachable(&format!("redis://127.0.0.1:{port}")).await;

    // A port that accepts connections and never answers: the connect timeout has to end it.
    let silent = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = silent.local_addr().expect("its address").port();
    assert_unreachable(&format!("redis://127.0.0.1:{port}")).await;
    drop(silent);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_dropped_server_is_stopped() {
    let Some(mut server) = private_redis("drop", false) else {
        return;
    };
    let url = server.url();
    RedisBroker::connect(&url, "demo")
        .await
        .expect("the broker connects");
    server.stop();
    assert_unreachable(&url).await;
}

#[test]
fn urls_are_checked_before_connecting() {
    assert_eq!(check_url("redis://127.0.0.1:7000"), Ok(()));
    assert_eq!(check_url("redis+unix:///tmp/redis.sock"), Ok(()));
    for bad in [
        "",
        "127.0.0.1:7000",
        "http://127.0.0.1:7000",
        "redis://",
        "redis://h:p",
    ] {
        assert!(check_url(bad).is_err(), "{bad:?} was accepted");
    }
}
