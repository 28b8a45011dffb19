//! The backend contract: each promise of the `Broker` trait, checked the same way on every
//! backend, so that the in-process broker the demo and the tests use cannot drift from Redis.
//!
//! Each check is a generic function of a fresh, empty broker and a [`Lease`]; the
//! `contract_tests!` macro turns every check into one `#[tokio::test]` for a backend. The checks
//! count what the broker hands out and records; time enters only through leases, with at least two
//! fifths of a lease to spare either side of each expiry.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use pool_core::Job;
use stage_6_distributed::{
    Broker, BrokerError, DeadLetter, Delivery, JobSpec, MemoryBroker, Recorded, RedisBroker, Status,
};
use tokio::time::{Instant, sleep};

/// The lease the checks give jobs; time passes for it through `tokio::time::sleep`.
///
/// On tokio's paused clock (the memory backend) a sleep advances the clock at once, so any lease
/// costs no real time. On the real clock (Redis) it is a real wait: there the lease must be long
/// enough that the few commands between two waits take much less than two fifths of it.
#[derive(Debug, Clone, Copy)]
struct Lease(Duration);

impl Lease {
    /// Lets three fifths of the lease pass: once is well short of it, twice well past it.
    async fn wait_part(self) {
        sleep(self.0 * 3 / 5).await;
    }

    /// Lets the lease run out, with half a lease to spare.
    async fn wait_past(self) {
        sleep(self.0 * 3 / 2).await;
    }

    /// A `block` for reads that expect nothing new: long enough for the broker to look, short
    /// enough not to slow the suite down.
    fn short_block(self) -> Duration {
        self.0 / 10
    }
}

/// One `#[tokio::test]` per check, in a module named after the backend.
///
/// `contract_tests!(module, #[test attribute], make, lease)`:
/// - `#[test attribute]`: `#[tokio::test(start_paused = true)]` for a backend whose leases run on
///   tokio's clock, plain `#[tokio::test]` for one that runs on real time (Redis);
/// - `make`: an `async fn() -> Option<(impl Broker, impl Sized)>` giving a fresh, empty broker and
///   whatever has to live as long as the test (for Redis, the private server; `()` in memory);
/// - `lease`: a `Duration`, see [`Lease`].
macro_rules! contract_tests {
    ($backend:ident, #[$test:meta], $make:path, $lease:expr) => {
        contract_tests!(@each $backend, #[$test], $make, $lease, [
            a_submitted_job_is_read_back_with_delivery_count_1,
            read_count_bounds_what_is_handed_out,
            read_new_wakes_for_a_job_submitted_while_it_waits,
            a_job_submitted_to_waiting_readers_goes_to_one_of_them,
            a_job_is_delivered_to_one_consumer_only,
            claim_expired_takes_a_job_only_once_its_lease_ran_out,
            extend_lease_keeps_a_job_from_being_claimed,
            extend_lease_makes_the_caller_the_holder,
            extend_lease_brings_back_no_job_that_is_not_pending,
            a_completed_job_is_never_delivered_again,
            a_second_run_finds_duplicate_and_both_runs_are_counted,
            repeating_complete_for_one_delivery_counts_one_run,
            dead_letter_records_a_job_once_and_acknowledges_it,
            status_counts_add_up,
            submitting_an_existing_id_changes_nothing,
            last_job_id_is_the_highest_id,
        ]);
    };
    (@each $backend:ident, #[$test:meta], $make:path, $lease:expr, [$($check:ident),+ $(,)?]) => {
        mod $backend {
            use super::*;

            $(
                #[$test]
                async fn $check() -> Result<(), BrokerError> {
                    // `None`: the backend is not installed here (said loudly by `make`).
                    let Some((broker, _alive)) = $make().await else {
                        return Ok(());
                    };
                    let checked = super::$check(&broker, Lease($lease)).await;
                    // The broker goes first; `_alive` (its server, for Redis) at the end of the test.
                    drop(broker);
                    checked
                }
            )+
        }
    };
}

/// The in-process broker needs nothing kept alive beside it.
async fn memory_broker() -> Option<(MemoryBroker, ())> {
    Some((MemoryBroker::new(), ()))
}

// On the paused clock a lease costs nothing, so it can be long enough that nothing in a check
// comes near it by accident.
contract_tests!(
    memory,
    #[tokio::test(start_paused = true)],
    memory_broker,
    Duration::from_secs(30)
);

/// A fresh Redis for each check, in a folder of its own; `None` without `redis-server`.
async fn redis_broker() -> Option<(RedisBroker, common::Server)> {
    static NEXT: AtomicUsize = AtomicUsize::new(1);
    let test = format!("contract-{}", NEXT.fetch_add(1, Ordering::Relaxed));
    let server = common::private_redis(&test, false)?;
    let broker = RedisBroker::connect(&server.url(), "contract")
        .await
        .expect("the private server answers");
    Some((broker, server))
}

// Real time: the server's idle clock does not follow tokio's. A second is long enough that a
// busy machine does not stretch a check's steps past the margins around it.
contract_tests!(redis, #[tokio::test], redis_broker, Duration::from_secs(1));

/// Job `id`: its number is ten times the id, its work `id` milliseconds, and it is no poison.
fn spec(id: u64) -> JobSpec {
    JobSpec {
        job: Job {
            id,
            number: id * 10,
        },
        work: Duration::from_millis(id),
        poison: false,
    }
}

async fn submit_all(
    broker: &impl Broker,
    ids: impl IntoIterator<Item = u64>,
) -> Result<(), BrokerError> {
    for id in ids {
        broker.submit(spec(id)).await?;
    }
    Ok(())
}

fn ids(deliveries: &[Delivery]) -> Vec<u64> {
    deliveries
        .iter()
        .map(|delivery| delivery.spec.job.id)
        .collect()
}

fn counts(deliveries: &[Delivery]) -> Vec<u64> {
    deliveries.iter().map(|delivery| delivery.count).collect()
}

fn pending<const N: usize>(by_consumer: [(&str, u64); N]) -> BTreeMap<String, u64> {
    by_consumer
        .into_iter()
        .map(|(consumer, jobs)| (consumer.to_owned(), jobs))
        .collect()
}

/// Every field of a job comes back as it went in, on its first delivery, now held by the reader.
async fn a_submitted_job_is_read_back_with_delivery_count_1(
    broker: &impl Broker,
    lease: Lease,
) -> Result<(), BrokerError> {
    let plain = spec(1);
    let poison = JobSpec {
        job: Job { id: 2, number: 7 },
        work: Duration::from_millis(250),
        poison: true,
    };
    broker.submit(plain).await?;
    broker.submit(poison).await?;
    let delivered = broker.read_new("a", 10, lease.short_block()).await?;
    assert_eq!(
        delivered,
        [
            Delivery {
                spec: plain,
                count: 1
            },
            Delivery {
                spec: poison,
                count: 1
            },
        ]
    );
    assert_eq!(broker.pending_of("a").await?, [1, 2]);
    Ok(())
}

/// `count` jobs at most, in id order, and each read goes on where the last one stopped.
async fn read_count_bounds_what_is_handed_out(
    broker: &impl Broker,
    lease: Lease,
) -> Result<(), BrokerError> {
    submit_all(broker, 1..=5).await?;
    let first = broker.read_new("a", 2, lease.short_block()).await?;
    assert_eq!(ids(&first), [1, 2]);
    let rest = broker.read_new("a", 10, lease.short_block()).await?;
    assert_eq!(ids(&rest), [3, 4, 5]);
    let none = broker.read_new("a", 10, lease.short_block()).await?;
    assert_eq!(none, [], "every job was read already");
    Ok(())
}

/// A reader waiting on an empty stream gets a job submitted meanwhile, long before its `block`
/// is over; while it waits, the broker still takes the submission.
async fn read_new_wakes_for_a_job_submitted_while_it_waits(
    broker: &impl Broker,
    lease: Lease,
) -> Result<(), BrokerError> {
    let started = Instant::now();
    let submit_later = async {
        lease.wait_part().await;
        broker.submit(spec(1)).await
    };
    let (delivered, submitted) = tokio::join!(broker.read_new("a", 10, lease.0 * 10), submit_later);
    submitted?;
    assert_eq!(ids(&delivered?), [1]);
    assert!(
        started.elapsed() < lease.0 * 5,
        "the reader was woken by the job, not by the end of its block"
    );
    Ok(())
}

/// Two readers waiting when one job comes: one gets it, the other goes on waiting and gets
/// nothing.
async fn a_job_submitted_to_waiting_readers_goes_to_one_of_them(
    broker: &impl Broker,
    lease: Lease,
) -> Result<(), BrokerError> {
    let submit_later = async {
        lease.wait_part().await;
        broker.submit(spec(1)).await
    };
    let (a, b, submitted) = tokio::join!(
        broker.read_new("a", 10, lease.0 * 2),
        broker.read_new("b", 10, lease.0 * 2),
        submit_later,
    );
    submitted?;
    let (a, b) = (ids(&a?), ids(&b?));
    let mut both = [a.clone(), b.clone()].concat();
    both.sort_unstable();
    assert_eq!(both, [1], "a read {a:?}, b read {b:?}");
    Ok(())
}

/// Readers at the same time split the jobs between them: each job goes to one of them.
async fn a_job_is_delivered_to_one_consumer_only(
    broker: &impl Broker,
    lease: Lease,
) -> Result<(), BrokerError> {
    submit_all(broker, 1..=4).await?;
    let (a, b) = tokio::join!(
        broker.read_new("a", 3, lease.short_block()),
        broker.read_new("b", 3, lease.short_block()),
    );
    let (a, b) = (ids(&a?), ids(&b?));
    assert!(a.len() <= 3 && b.len() <= 3, "a read {a:?}, b read {b:?}");
    let mut both = [a.clone(), b.clone()].concat();
    both.sort_unstable();
    assert_eq!(both, [1, 2, 3, 4], "a read {a:?}, b read {b:?}");
    assert_eq!(broker.read_new("c", 10, lease.short_block()).await?, []);
    assert_eq!(broker.pending_of("a").await?, a);
    assert_eq!(broker.pending_of("b").await?, b);
    Ok(())
}

/// Not before the lease ran out; after, the oldest first, at most `count`, each delivery count one
/// higher, now held by the claimer, and with a new lease (so not claimed again at once).
async fn claim_expired_takes_a_job_only_once_its_lease_ran_out(
    broker: &impl Broker,
    lease: Lease,
) -> Result<(), BrokerError> {
    submit_all(broker, 1..=3).await?;
    broker.read_new("a", 10, lease.short_block()).await?;
    assert_eq!(broker.claim_expired("b", lease.0, 10).await?, []);
    assert_eq!(broker.pending_of("a").await?, [1, 2, 3]);

    lease.wait_past().await;
    let claimed = broker.claim_expired("b", lease.0, 2).await?;
    assert_eq!((ids(&claimed), counts(&claimed)), (vec![1, 2], vec![2, 2]));
    assert_eq!(
        claimed[0].spec,
        spec(1),
        "a claimed job comes with its spec"
    );
    assert_eq!(broker.pending_of("a").await?, [3]);
    assert_eq!(broker.pending_of("b").await?, [1, 2]);

    let rest = broker.claim_expired("c", lease.0, 10).await?;
    assert_eq!((ids(&rest), counts(&rest)), (vec![3], vec![2]));
    assert_eq!(broker.claim_expired("c", lease.0, 10).await?, []);
    Ok(())
}

/// An extended lease runs from the extension; the delivery count stays as it was.
async fn extend_lease_keeps_a_job_from_being_claimed(
    broker: &impl Broker,
    lease: Lease,
) -> Result<(), BrokerError> {
    submit_all(broker, 1..=2).await?;
    broker.read_new("a", 10, lease.short_block()).await?;
    lease.wait_part().await;
    broker.extend_lease("a", 1).await?;
    lease.wait_part().await;

    let claimed = broker.claim_expired("b", lease.0, 10).await?;
    assert_eq!(
        ids(&claimed),
        [2],
        "only the job whose lease was not extended"
    );
    assert_eq!(broker.pending_of("a").await?, [1]);

    lease.wait_part().await;
    let claimed = broker.claim_expired("b", lease.0, 10).await?;
    assert_eq!(
        (ids(&claimed), counts(&claimed)),
        (vec![1], vec![2]),
        "the extended lease runs out in its turn, and the extension was no delivery"
    );
    Ok(())
}

/// As with Redis's XCLAIM: a worker still running a job that another took over gets it back by
/// extending its lease (and so the job's lease starts again).
async fn extend_lease_makes_the_caller_the_holder(
    broker: &impl Broker,
    lease: Lease,
) -> Result<(), BrokerError> {
    broker.submit(spec(1)).await?;
    broker.read_new("a", 10, lease.short_block()).await?;
    lease.wait_past().await;
    assert_eq!(ids(&broker.claim_expired("b", lease.0, 10).await?), [1]);

    broker.extend_lease("a", 1).await?;
    assert_eq!(broker.pending_of("a").await?, [1]);
    assert_eq!(broker.pending_of("b").await?, Vec::<u64>::new());
    assert_eq!(broker.status().await?.pending, pending([("a", 1)]));
    lease.wait_part().await;
    assert_eq!(broker.claim_expired("c", lease.0, 10).await?, []);
    Ok(())
}

/// Extending the lease of a job that is acknowledged, or not yet read, changes nothing.
async fn extend_lease_brings_back_no_job_that_is_not_pending(
    broker: &impl Broker,
    lease: Lease,
) -> Result<(), BrokerError> {
    broker.submit(spec(1)).await?;
    let [delivery] = broker.read_new("a", 10, lease.short_block()).await?[..] else {
        panic!("one job submitted, one read");
    };
    broker.complete(delivery, 10).await?;
    broker.extend_lease("a", 1).await?;
    broker.submit(spec(2)).await?;
    broker.extend_lease("a", 2).await?;
    assert_eq!(broker.pending_of("a").await?, Vec::<u64>::new());
    assert_eq!(broker.status().await?.in_flight(), 0);

    let unread = broker.read_new("b", 10, lease.short_block()).await?;
    assert_eq!((ids(&unread), counts(&unread)), (vec![2], vec![1]));
    lease.wait_past().await;
    assert_eq!(ids(&broker.claim_expired("c", lease.0, 10).await?), [2]);
    Ok(())
}

/// Completing acknowledges: the job leaves its holder, and no lease of it is left to run out.
async fn a_completed_job_is_never_delivered_again(
    broker: &impl Broker,
    lease: Lease,
) -> Result<(), BrokerError> {
    submit_all(broker, 1..=2).await?;
    let delivered = broker.read_new("a", 10, lease.short_block()).await?;
    assert_eq!(broker.complete(delivered[0], 10).await?, Recorded::First);
    assert_eq!(broker.pending_of("a").await?, [2]);

    lease.wait_past().await;
    assert_eq!(ids(&broker.claim_expired("b", lease.0, 10).await?), [2]);
    assert_eq!(broker.read_new("b", 10, lease.short_block()).await?, []);
    assert_eq!(broker.results().await?, BTreeMap::from([(1, 10)]));
    Ok(())
}

/// Job 1 delivered to `a`, then, once its lease ran out, taken over by `b`: both deliveries.
async fn delivered_twice(
    broker: &impl Broker,
    lease: Lease,
) -> Result<(Vec<Delivery>, Vec<Delivery>), BrokerError> {
    broker.submit(spec(1)).await?;
    let first = broker.read_new("a", 10, lease.short_block()).await?;
    lease.wait_past().await;
    let second = broker.claim_expired("b", lease.0, 10).await?;
    Ok((first, second))
}

/// A job taken over while its first run was still going runs twice: the first run to finish
/// records its output, the other finds it recorded, and both runs are counted.
async fn a_second_run_finds_duplicate_and_both_runs_are_counted(
    broker: &impl Broker,
    lease: Lease,
) -> Result<(), BrokerError> {
    let (first, second) = delivered_twice(broker, lease).await?;
    assert_eq!((counts(&first), counts(&second)), (vec![1], vec![2]));

    assert_eq!(broker.complete(first[0], 100).await?, Recorded::First);
    assert_eq!(broker.complete(second[0], 999).await?, Recorded::Duplicate);
    assert_eq!(
        broker.results().await?,
        BTreeMap::from([(1, 100)]),
        "the first output recorded stays"
    );
    let mut runs = broker.runs().await?;
    runs.values_mut().for_each(|counts| counts.sort_unstable());
    assert_eq!(runs, BTreeMap::from([(1, vec![1, 2])]));

    let status = broker.status().await?;
    assert_eq!((status.completed, status.duplicates), (1, 1));
    assert_eq!(status.in_flight(), 0);
    Ok(())
}

/// The same call again, as after a lost answer, finds the result recorded but is no new run.
async fn repeating_complete_for_one_delivery_counts_one_run(
    broker: &impl Broker,
    lease: Lease,
) -> Result<(), BrokerError> {
    broker.submit(spec(1)).await?;
    let delivered = broker.read_new("a", 10, lease.short_block()).await?;
    assert_eq!(broker.complete(delivered[0], 10).await?, Recorded::First);
    assert_eq!(
        broker.complete(delivered[0], 10).await?,
        Recorded::Duplicate
    );
    assert_eq!(broker.results().await?, BTreeMap::from([(1, 10)]));
    assert_eq!(broker.runs().await?, BTreeMap::from([(1, vec![1])]));
    let status = broker.status().await?;
    assert_eq!((status.completed, status.duplicates), (1, 0));
    Ok(())
}

/// The first move to the dead-letter stream is the one kept, whichever run makes it; every move
/// acknowledges.
async fn dead_letter_records_a_job_once_and_acknowledges_it(
    broker: &impl Broker,
    lease: Lease,
) -> Result<(), BrokerError> {
    let (first, second) = delivered_twice(broker, lease).await?;

    broker.dead_letter(second[0], "boom").await?;
    assert_eq!(broker.pending_of("b").await?, Vec::<u64>::new());
    broker.dead_letter(second[0], "boom").await?;
    broker.dead_letter(first[0], "late").await?;
    assert_eq!(
        broker.dead_letters().await?,
        [DeadLetter {
            job_id: 1,
            deliveries: 2,
            error: "boom".to_owned()
        }]
    );
    let status = broker.status().await?;
    assert_eq!((status.dead_lettered, status.in_flight()), (1, 0));
    assert_eq!(status.backlog(), 0);

    lease.wait_past().await;
    assert_eq!(broker.claim_expired("c", lease.0, 10).await?, []);
    Ok(())
}

/// Submitted, completed, pending by consumer, dead-lettered and duplicates, and the backlog and
/// the waiting jobs worked out from them, through a run with each kind of end.
async fn status_counts_add_up(broker: &impl Broker, lease: Lease) -> Result<(), BrokerError> {
    let status = broker.status().await?;
    assert_eq!(status, Status::default());
    assert_eq!((status.backlog(), status.waiting()), (0, 0));

    submit_all(broker, 1..=6).await?;
    let by_a = broker.read_new("a", 3, lease.short_block()).await?;
    let by_b = broker.read_new("b", 1, lease.short_block()).await?;
    assert_eq!((ids(&by_a), ids(&by_b)), (vec![1, 2, 3], vec![4]));
    let status = broker.status().await?;
    assert_eq!(status.submitted, 6);
    assert_eq!(status.pending, pending([("a", 3), ("b", 1)]));
    assert_eq!(
        (status.in_flight(), status.backlog(), status.waiting()),
        (4, 6, 2)
    );

    broker.complete(by_a[0], 10).await?;
    broker.dead_letter(by_b[0], "boom").await?;
    lease.wait_past().await;
    let by_c = broker.claim_expired("c", lease.0, 10).await?;
    assert_eq!(ids(&by_c), [2, 3]);
    assert_eq!(broker.complete(by_c[0], 20).await?, Recorded::First);
    assert_eq!(broker.complete(by_a[1], 20).await?, Recorded::Duplicate);

    let status = broker.status().await?;
    assert_eq!(
        status,
        Status {
            submitted: 6,
            completed: 2,
            pending: pending([("c", 1)]),
            dead_lettered: 1,
            duplicates: 1,
        }
    );
    assert_eq!(
        (status.in_flight(), status.backlog(), status.waiting()),
        (1, 3, 2)
    );

    assert_eq!(
        ids(&broker.read_new("d", 10, lease.short_block()).await?),
        [5, 6]
    );
    let status = broker.status().await?;
    assert_eq!(status.pending, pending([("c", 1), ("d", 2)]));
    assert_eq!(
        (status.in_flight(), status.backlog(), status.waiting()),
        (3, 3, 0)
    );
    Ok(())
}

/// A producer that lost the answer adds the job again: the job, as first added, is there once,
/// and once finished it does not come back.
async fn submitting_an_existing_id_changes_nothing(
    broker: &impl Broker,
    lease: Lease,
) -> Result<(), BrokerError> {
    let again = JobSpec {
        job: Job { id: 1, number: 99 },
        ..spec(1)
    };
    broker.submit(spec(1)).await?;
    broker.submit(again).await?;
    assert_eq!(broker.status().await?.submitted, 1);
    let delivered = broker.read_new("a", 10, lease.short_block()).await?;
    assert_eq!(
        delivered,
        [Delivery {
            spec: spec(1),
            count: 1
        }]
    );

    broker.complete(delivered[0], 10).await?;
    broker.submit(again).await?;
    assert_eq!(broker.read_new("a", 10, lease.short_block()).await?, []);
    let status = broker.status().await?;
    assert_eq!((status.submitted, status.backlog()), (1, 0));
    Ok(())
}

/// 0 for an empty stream, then the highest id added, which adding an old id again leaves alone.
async fn last_job_id_is_the_highest_id(
    broker: &impl Broker,
    _lease: Lease,
) -> Result<(), BrokerError> {
    assert_eq!(broker.last_job_id().await?, 0);
    submit_all(broker, 1..=3).await?;
    assert_eq!(broker.last_job_id().await?, 3);
    broker.submit(spec(2)).await?;
    assert_eq!(broker.last_job_id().await?, 3);
    broker.submit(spec(4)).await?;
    assert_eq!(broker.last_job_id().await?, 4);
    Ok(())
}
