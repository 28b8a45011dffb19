//! A Redis queue changed behind the broker's back, or full at the worst moment: an entry that is
//! not text, a stray read while writes are refused, a job's record of the wrong type or deleted,
//! counts that are not numbers, a stream whose ids are used up, a count of jobs deleted, a
//! consumer deleted with jobs in hand. Each must cost at most the entry or job it touches, be
//! said for what it is, and never leave a step half-done.

mod common;

use std::time::Duration;

use common::{Server, payload, private_redis};
use stage_6_distributed::{
    Broker, BrokerError, Inspect, JobState, RedisBroker, Retention, Settlement,
};

async fn connect(server: &Server) -> RedisBroker {
    RedisBroker::connect(&server.url(), "pool", Retention::default())
        .await
        .expect("the broker connects")
}

async fn submit(broker: &RedisBroker, count: u32) {
    let payloads: Vec<String> = (1..=count).map(payload).collect();
    let added = broker
        .submit("test", rand_batch(), &payloads, None)
        .await
        .expect("submit");
    assert_eq!(added.count, u64::from(count));
}

/// A batch number no earlier call of a test used.
fn rand_batch() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// One command to the server from outside, with arguments as bytes.
async fn command(server: &Server, words: &[&[u8]]) -> redis::RedisResult<redis::Value> {
    let mut connection = server.connection().await;
    let mut command = redis::cmd(std::str::from_utf8(words[0]).expect("a command name"));
    for word in &words[1..] {
        command.arg(*word);
    }
    command.query_async(&mut connection).await
}

fn ids(deliveries: &[stage_6_distributed::Delivery]) -> Vec<u64> {
    deliveries.iter().map(|delivery| delivery.job_id).collect()
}

#[tokio::test]
async fn an_entry_that_is_not_text_is_dead_lettered_and_holds_up_nothing() {
    let Some(server) = private_redis("not-text", false) else {
        return;
    };
    let broker = connect(&server).await;
    submit(&broker, 1).await;
    command(
        &server,
        &[
            b"XADD",
            b"pool:jobs",
            b"*",
            b"job",
            b"\xff\xfe",
            b"payload",
            b"x",
        ],
    )
    .await
    .expect("the entry is added");
    submit(&broker, 1).await;
    let read = broker
        .read_new("a", 10, Duration::ZERO)
        .await
        .expect("the read is not failed by one entry");
    assert_eq!(ids(&read), [1, 2]);
    let letters = broker.dead_letters().await.expect("dead letters");
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].error, "not a job: its field \"job\" is not text");
    assert_eq!(broker.status().await.expect("status").not_jobs, 1);
}

#[tokio::test]
async fn a_stray_that_cannot_be_moved_while_writes_are_refused_holds_up_no_job() {
    let Some(server) = private_redis("full-stray", false) else {
        return;
    };
    let broker = connect(&server).await;
    submit(&broker, 1).await;
    command(&server, &[b"XADD", b"pool:jobs", b"*", b"hello", b"world"])
        .await
        .expect("the entry is added");
    submit(&broker, 1).await;
    command(&server, &[b"CONFIG", b"SET", b"maxmemory", b"1"])
        .await
        .expect("maxmemory");
    let read = broker
        .read_new("a", 10, Duration::ZERO)
        .await
        .expect("the jobs are read although the stray cannot be moved");
    assert_eq!(ids(&read), [1, 2]);
    command(&server, &[b"CONFIG", b"SET", b"maxmemory", b"0"])
        .await
        .expect("maxmemory");
    // The stray stays pending under the reader, and is moved when it is taken over.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let taken = broker
        .take_over("b", Duration::from_millis(10), 10)
        .await
        .expect("take over");
    assert_eq!(
        ids(&taken),
        [1, 2],
        "the jobs come back; the stray does not"
    );
    assert_eq!(broker.status().await.expect("status").not_jobs, 1);
}

#[tokio::test]
async fn a_record_of_the_wrong_type_costs_its_own_job_and_no_other() {
    let Some(server) = private_redis("bad-record", false) else {
        return;
    };
    let broker = connect(&server).await;
    submit(&broker, 3).await;
    let read = broker
        .read_new("a", 10, Duration::ZERO)
        .await
        .expect("read");
    command(&server, &[b"DEL", b"pool:job:2"])
        .await
        .expect("DEL");
    command(&server, &[b"SET", b"pool:job:2", b"oops"])
        .await
        .expect("SET");
    // Finished together, so recorded in one call.
    let (one, two, three) = tokio::join!(
        broker.complete(&read[0], "1"),
        broker.complete(&read[1], "4"),
        broker.complete(&read[2], "9"),
    );
    assert_eq!(one, Ok(Settlement::Recorded));
    assert_eq!(two, Ok(Settlement::NotAJob));
    assert_eq!(three, Ok(Settlement::Recorded));
    let status = broker.status().await.expect("status");
    assert_eq!((status.completed, status.in_flight()), (2, 0));
}

#[tokio::test]
async fn a_count_that_is_not_a_number_damages_the_queue_and_no_step_is_half_done() {
    let Some(server) = private_redis("bad-count", false) else {
        return;
    };
    let broker = connect(&server).await;
    submit(&broker, 2).await;
    let read = broker
        .read_new("a", 10, Duration::ZERO)
        .await
        .expect("read");
    for (key, value) in [
        (&b"pool:completed"[..], &b"abc"[..]),
        (b"pool:dead-lettered", b"9223372036854775807"),
    ] {
        command(&server, &[b"SET", key, value]).await.expect("SET");
    }
    let recorded = broker.complete(&read[0], "1").await;
    assert!(
        matches!(recorded, Err(BrokerError::Damaged(_))),
        "{recorded:?}"
    );
    let moved = broker.dead_letter(&read[1], "boom").await;
    assert!(matches!(moved, Err(BrokerError::Damaged(_))), "{moved:?}");
    for job_id in [1, 2] {
        let record = broker.job(job_id).await.expect("job").expect("a record");
        assert!(
            matches!(record.state, JobState::Pending { .. }),
            "job {job_id}: {record:?}"
        );
    }
    assert!(matches!(
        broker.status().await,
        Err(BrokerError::Damaged(_))
    ));
    assert!(BrokerError::Damaged(String::new()).is_fatal());
}

#[tokio::test]
async fn a_stream_whose_ids_are_used_up_takes_no_job_and_loses_no_number() {
    let Some(server) = private_redis("ids-used-up", false) else {
        return;
    };
    let broker = connect(&server).await;
    submit(&broker, 1).await;
    command(
        &server,
        &[
            b"XADD",
            b"pool:jobs",
            b"18446744073709551615-18446744073709551614",
            b"hello",
            b"world",
        ],
    )
    .await
    .expect("the entry is added");
    let added = broker
        .submit("test", rand_batch(), &[payload(2), payload(3)], None)
        .await;
    assert!(matches!(added, Err(BrokerError::Damaged(_))), "{added:?}");
    assert_eq!(broker.status().await.expect("status").submitted, 1);
}

#[tokio::test]
async fn a_lost_count_of_jobs_gives_no_number_twice() {
    let Some(server) = private_redis("lost-count", false) else {
        return;
    };
    let broker = connect(&server).await;
    submit(&broker, 2).await;
    command(&server, &[b"DEL", b"pool:next-job"])
        .await
        .expect("DEL");
    let added = broker
        .submit("test", rand_batch(), &[payload(3)], None)
        .await;
    assert!(matches!(added, Err(BrokerError::Damaged(_))), "{added:?}");
}

#[tokio::test]
async fn an_epoch_of_the_wrong_type_is_damage_and_stops_a_worker() {
    let Some(server) = private_redis("bad-epoch", false) else {
        return;
    };
    let broker = connect(&server).await;
    submit(&broker, 1).await;
    command(&server, &[b"DEL", b"pool:epoch"])
        .await
        .expect("DEL");
    command(&server, &[b"HSET", b"pool:epoch", b"e", b"x"])
        .await
        .expect("HSET");
    let status = broker.status().await;
    assert!(
        status.as_ref().is_err_and(BrokerError::is_fatal),
        "{status:?}"
    );
}

#[tokio::test]
async fn a_job_whose_record_was_deleted_is_dead_lettered_as_such() {
    let Some(server) = private_redis("lost-record", false) else {
        return;
    };
    let broker = connect(&server).await;
    submit(&broker, 2).await;
    let read = broker
        .read_new("a", 10, Duration::ZERO)
        .await
        .expect("read");
    command(&server, &[b"DEL", b"pool:job:1"])
        .await
        .expect("DEL");
    assert_eq!(
        broker.complete(&read[0], "1").await,
        Ok(Settlement::DeadLettered)
    );
    let letters = broker.dead_letters().await.expect("dead letters");
    assert_eq!(letters[0].job_id, Some(1));
    assert!(letters[0].error.contains("record was lost"), "{letters:?}");
    broker.complete(&read[1], "4").await.expect("complete");
    let status = broker.status().await.expect("status");
    assert!(status.adds_up(), "{status:?}");
    assert_eq!(
        (status.completed, status.dead_lettered, status.backlog()),
        (1, 1, 0)
    );
}

#[tokio::test]
async fn jobs_that_left_the_group_without_ending_are_counted_lost() {
    let Some(server) = private_redis("lost-jobs", false) else {
        return;
    };
    let broker = connect(&server).await;
    submit(&broker, 3).await;
    broker.read_new("a", 2, Duration::ZERO).await.expect("read");
    command(
        &server,
        &[b"XGROUP", b"DELCONSUMER", b"pool:jobs", b"workers", b"a"],
    )
    .await
    .expect("DELCONSUMER");
    let status = broker.status().await.expect("status");
    assert_eq!(
        (status.in_flight(), status.unread, status.lost()),
        (0, Some(1), 2)
    );
    assert!(!status.adds_up());
    assert!(!status.drained(), "job 3 is still to read");
    broker
        .read_new("b", 10, Duration::ZERO)
        .await
        .expect("read");
    let status = broker.status().await.expect("status");
    assert_eq!(status.lost(), 2);
}
