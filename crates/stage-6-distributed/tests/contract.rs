//! The backend contract: each promise of the `Broker` and `Inspect` traits, checked the same way
//! on every backend, so that the in-process broker the demo and the tests use cannot drift from
//! Redis.
//!
//! Each check is a generic function of a fresh, empty broker, the [`Faults`] its backend can be
//! dealt (an entry that is not a job, a loss of everything), and a [`Lease`]; the
//! `contract_tests!` macro turns every check into one `#[tokio::test]` for a backend. The checks
//! count what the broker hands out and records; time enters only through leases and retention,
//! with at least two fifths of a lease to spare either side of each expiry.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use stage_6_distributed::{
    Added, Broker, BrokerError, Delivery, Inspect, JobSpec, JobState, Lease as Leased,
    MemoryBroker, RedisBroker, Retention, Settlement, Status,
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

    /// What every check's broker keeps: results for four leases, and five dead letters.
    fn retention(self) -> Retention {
        Retention {
            results: self.0 * 4,
            dead_letters: 5,
        }
    }
}

/// What a test can do to a backend from outside, as another program or an accident would.
trait Faults {
    /// The broker type a reconnection gives.
    type Broker: Inspect;
    /// Adds an entry with exactly these fields to the job stream.
    fn add_entry(&self, fields: &[(&str, &str)]) -> impl Future<Output = ()>;
    /// The broker loses every key, as when it restarts without persistence.
    fn lose_everything(&self) -> impl Future<Output = ()>;
    /// A new connection to the queue, as a process started now would make.
    fn reconnect(&self) -> impl Future<Output = Self::Broker>;
}

impl Faults for MemoryBroker {
    type Broker = MemoryBroker;

    async fn add_entry(&self, fields: &[(&str, &str)]) {
        MemoryBroker::add_entry(self, fields);
    }

    async fn lose_everything(&self) {
        MemoryBroker::lose_everything(self);
    }

    async fn reconnect(&self) -> MemoryBroker {
        self.connect()
    }
}

/// A test's own Redis, and the queue the check uses on it.
struct RedisFaults {
    server: common::Server,
    name: String,
    retention: Retention,
}

impl Faults for RedisFaults {
    type Broker = RedisBroker;

    async fn add_entry(&self, fields: &[(&str, &str)]) {
        let mut add = ::redis::cmd("XADD");
        add.arg(format!("{}:jobs", self.name)).arg("*");
        for (name, value) in fields {
            add.arg(name).arg(value);
        }
        let mut connection = self.server.connection().await;
        add.query_async::<String>(&mut connection)
            .await
            .expect("the entry is added");
    }

    async fn lose_everything(&self) {
        let mut connection = self.server.connection().await;
        ::redis::cmd("FLUSHALL")
            .query_async::<()>(&mut connection)
            .await
            .expect("the server forgets everything");
    }

    async fn reconnect(&self) -> RedisBroker {
        RedisBroker::connect(&self.server.url(), &self.name, self.retention)
            .await
            .expect("the private server answers")
    }
}

/// One `#[tokio::test]` per check, in a module named after the backend.
///
/// `contract_tests!(module, #[test attribute], make, lease)`:
/// - `#[test attribute]`: `#[tokio::test(start_paused = true)]` for a backend whose leases run on
///   tokio's clock, plain `#[tokio::test]` for one that runs on real time (Redis);
/// - `make`: an `async fn(Retention) -> Option<(impl Inspect, impl Faults)>` giving a fresh, empty
///   broker and its faults (which, for Redis, keep the private server alive);
/// - `lease`: a `Duration`, see [`Lease`].
macro_rules! contract_tests {
    ($backend:ident, #[$test:meta], $make:path, $lease:expr) => {
        contract_tests!(@each $backend, #[$test], $make, $lease, [
            a_submitted_job_is_read_back_with_delivery_count_1,
            read_count_bounds_what_is_handed_out,
            read_new_wakes_for_a_job_submitted_while_it_waits,
            a_job_submitted_to_waiting_readers_goes_to_one_of_them,
            a_job_is_delivered_to_one_consumer_only,
            take_over_takes_a_job_only_once_its_lease_ran_out,
            extend_lease_keeps_a_job_from_being_taken_over,
            a_delivery_taken_over_can_no_longer_extend_or_dead_letter,
            a_late_completion_is_recorded_once_and_the_holder_finds_it_done,
            a_job_ends_one_way_never_two,
            take_over_acknowledges_a_job_that_ended_meanwhile,
            a_completed_job_is_never_delivered_again,
            repeating_complete_for_one_delivery_counts_one_run,
            dead_letter_moves_a_job_once_and_acknowledges_it,
            status_counts_add_up,
            producers_at_once_get_numbers_nobody_else_has,
            a_repeated_batch_adds_nothing,
            max_backlog_bounds_what_is_added,
            entries_that_are_not_jobs_are_dead_lettered_and_hold_up_nothing,
            an_entry_that_claims_a_job_number_is_not_that_job,
            a_broker_that_lost_its_state_says_so,
            trim_keeps_every_entry_still_needed,
            leaving_the_group_needs_nothing_held,
            ended_jobs_are_forgotten_after_their_retention,
            dead_letters_are_capped,
        ]);
    };
    (@each $backend:ident, #[$test:meta], $make:path, $lease:expr, [$($check:ident),+ $(,)?]) => {
        mod $backend {
            use super::*;

            $(
                #[$test]
                async fn $check() -> Result<(), BrokerError> {
                    let lease = Lease($lease);
                    // `None`: the backend is not installed here (said loudly by `make`).
                    let Some((broker, faults)) = $make(lease.retention()).await else {
                        return Ok(());
                    };
                    super::$check(&broker, &faults, lease).await
                }
            )+
        }
    };
}

/// The in-process broker is its own means of faults.
async fn memory_broker(retention: Retention) -> Option<(MemoryBroker, MemoryBroker)> {
    let broker = MemoryBroker::with_retention(retention);
    Some((broker.clone(), broker))
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
async fn redis_broker(retention: Retention) -> Option<(RedisBroker, RedisFaults)> {
    static NEXT: AtomicUsize = AtomicUsize::new(1);
    let test = format!("contract-{}", NEXT.fetch_add(1, Ordering::Relaxed));
    let server = common::private_redis(&test, false)?;
    let faults = RedisFaults {
        server,
        name: "contract".to_owned(),
        retention,
    };
    Some((faults.reconnect().await, faults))
}

// Real time: the server's idle clock does not follow tokio's. A second is long enough that a
// busy machine does not stretch a check's steps past the margins around it.
contract_tests!(redis, #[tokio::test], redis_broker, Duration::from_secs(1));

/// A queue with nothing in it.
const EMPTY: Status = Status {
    submitted: 0,
    completed: 0,
    dead_lettered: 0,
    pending: BTreeMap::new(),
    unread: Some(0),
    duplicates: 0,
    not_jobs: 0,
};

/// Asserts that `status` is `expected`, where the number of unread entries may also be unknown:
/// Redis keeps it from 7.0 on, and 6.2 does not say.
#[track_caller]
fn assert_status(status: &Status, expected: &Status) {
    if status.unread.is_none() {
        assert_eq!(
            status,
            &Status {
                unread: None,
                ..expected.clone()
            }
        );
    } else {
        assert_eq!(status, expected);
    }
}

/// How long a consumer that holds nothing may be idle before `trim` forgets it, in checks about
/// entries: longer than any check runs.
const KEEP_CONSUMERS: Duration = Duration::from_secs(3600);

/// Job number `n`'s payload, as the producer writes it: its number is `n`.
fn payload(n: u32) -> String {
    JobSpec {
        number: n,
        duration: Duration::from_millis(u64::from(n)),
        poison: false,
    }
    .encode()
}

/// Adds `count` jobs as a producer of its own, and checks they were all added.
async fn submit(broker: &impl Broker, count: u32) -> Result<Added, BrokerError> {
    static PRODUCER: AtomicU64 = AtomicU64::new(0);
    let producer = format!("producer-{}", PRODUCER.fetch_add(1, Ordering::Relaxed));
    let payloads: Vec<String> = (1..=count).map(payload).collect();
    let added = broker.submit(&producer, 1, &payloads, None).await?;
    assert_eq!(added.count, u64::from(count));
    Ok(added)
}

fn ids(deliveries: &[Delivery]) -> Vec<u64> {
    deliveries.iter().map(|delivery| delivery.job_id).collect()
}

fn counts(deliveries: &[Delivery]) -> Vec<u64> {
    deliveries.iter().map(|delivery| delivery.count).collect()
}

fn one(mut deliveries: Vec<Delivery>) -> Delivery {
    assert_eq!(deliveries.len(), 1, "{deliveries:?}");
    deliveries.remove(0)
}

fn pending<const N: usize>(
    by_consumer: [(&str, u64); N],
) -> std::collections::BTreeMap<String, u64> {
    by_consumer
        .into_iter()
        .map(|(consumer, entries)| (consumer.to_owned(), entries))
        .collect()
}

/// Job 1 delivered to `a`, then, once its lease ran out, taken over by `b`: both deliveries.
async fn delivered_twice(
    broker: &impl Broker,
    lease: Lease,
) -> Result<(Delivery, Delivery), BrokerError> {
    submit(broker, 1).await?;
    let first = one(broker.read_new("a", 10, lease.short_block()).await?);
    lease.wait_past().await;
    let second = one(broker.take_over("b", lease.0, 10).await?);
    Ok((first, second))
}

/// Every field of a job comes back as it went in, numbered by the broker, on its first delivery,
/// now held by the reader.
async fn a_submitted_job_is_read_back_with_delivery_count_1(
    broker: &impl Inspect,
    _faults: &impl Faults,
    lease: Lease,
) -> Result<(), BrokerError> {
    assert_eq!(submit(broker, 2).await?, Added { first: 1, count: 2 });
    let delivered = broker.read_new("a", 10, lease.short_block()).await?;
    assert_eq!(ids(&delivered), [1, 2]);
    for (delivery, n) in delivered.iter().zip(1..) {
        assert_eq!(delivery.payload, payload(n));
        assert_eq!((delivery.consumer.as_str(), delivery.count), ("a", 1));
    }
    assert_ne!(delivered[0].entry, delivered[1].entry);
    assert_eq!(broker.pending_of("a").await?, [1, 2]);
    Ok(())
}

/// `count` jobs at most, in order, and each read goes on where the last one stopped.
async fn read_count_bounds_what_is_handed_out(
    broker: &impl Inspect,
    _faults: &impl Faults,
    lease: Lease,
) -> Result<(), BrokerError> {
    submit(broker, 5).await?;
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
    broker: &impl Inspect,
    _faults: &impl Faults,
    lease: Lease,
) -> Result<(), BrokerError> {
    let started = Instant::now();
    let submit_later = async {
        lease.wait_part().await;
        submit(broker, 1).await
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
    broker: &impl Inspect,
    _faults: &impl Faults,
    lease: Lease,
) -> Result<(), BrokerError> {
    let submit_later = async {
        lease.wait_part().await;
        submit(broker, 1).await
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
    broker: &impl Inspect,
    _faults: &impl Faults,
    lease: Lease,
) -> Result<(), BrokerError> {
    submit(broker, 4).await?;
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
/// higher, now held by the taker, and with a new lease (so not taken again at once).
async fn take_over_takes_a_job_only_once_its_lease_ran_out(
    broker: &impl Inspect,
    _faults: &impl Faults,
    lease: Lease,
) -> Result<(), BrokerError> {
    submit(broker, 3).await?;
    broker.read_new("a", 10, lease.short_block()).await?;
    assert_eq!(broker.take_over("b", lease.0, 10).await?, []);
    assert_eq!(broker.pending_of("a").await?, [1, 2, 3]);

    lease.wait_past().await;
    let taken = broker.take_over("b", lease.0, 2).await?;
    assert_eq!((ids(&taken), counts(&taken)), (vec![1, 2], vec![2, 2]));
    assert_eq!(
        taken[0].payload,
        payload(1),
        "a job taken over comes with its payload"
    );
    assert_eq!(taken[0].consumer, "b");
    assert_eq!(broker.pending_of("a").await?, [3]);
    assert_eq!(broker.pending_of("b").await?, [1, 2]);

    let rest = broker.take_over("c", lease.0, 10).await?;
    assert_eq!((ids(&rest), counts(&rest)), (vec![3], vec![2]));
    assert_eq!(broker.take_over("c", lease.0, 10).await?, []);
    Ok(())
}

/// An extended lease runs from the extension; the delivery count stays as it was.
async fn extend_lease_keeps_a_job_from_being_taken_over(
    broker: &impl Inspect,
    _faults: &impl Faults,
    lease: Lease,
) -> Result<(), BrokerError> {
    submit(broker, 2).await?;
    let delivered = broker.read_new("a", 10, lease.short_block()).await?;
    lease.wait_part().await;
    assert_eq!(broker.extend_lease(&delivered[0]).await?, Leased::Extended);
    lease.wait_part().await;

    let taken = broker.take_over("b", lease.0, 10).await?;
    assert_eq!(
        ids(&taken),
        [2],
        "only the job whose lease was not extended"
    );
    assert_eq!(broker.pending_of("a").await?, [1]);

    lease.wait_part().await;
    let taken = broker.take_over("b", lease.0, 10).await?;
    assert_eq!(
        (ids(&taken), counts(&taken)),
        (vec![1], vec![2]),
        "the extended lease runs out in its turn, and the extension was no delivery"
    );
    Ok(())
}

/// The fence: once a job is taken over, its first delivery cannot extend its lease or move it to
/// the dead letters; the new delivery can.
async fn a_delivery_taken_over_can_no_longer_extend_or_dead_letter(
    broker: &impl Inspect,
    _faults: &impl Faults,
    lease: Lease,
) -> Result<(), BrokerError> {
    let (first, second) = delivered_twice(broker, lease).await?;
    assert_eq!(broker.extend_lease(&first).await?, Leased::Lost);
    assert_eq!(
        broker.dead_letter(&first, "too late").await?,
        Settlement::NotHeld
    );
    assert_eq!(broker.dead_letters().await?, []);
    assert_eq!(broker.pending_of("b").await?, [1], "still the new holder's");
    assert_eq!(broker.extend_lease(&second).await?, Leased::Extended);
    Ok(())
}

/// A worker that lost its lease and finishes anyway records a result the job does not have yet,
/// but does not acknowledge the delivery that is no longer its own; the new holder finds the job
/// done and acknowledges it. One result, two runs, one of them a duplicate.
async fn a_late_completion_is_recorded_once_and_the_holder_finds_it_done(
    broker: &impl Inspect,
    _faults: &impl Faults,
    lease: Lease,
) -> Result<(), BrokerError> {
    let (first, second) = delivered_twice(broker, lease).await?;
    assert_eq!(
        broker.complete(&first, "100").await?,
        Settlement::RecordedNotHeld
    );
    assert_eq!(broker.pending_of("b").await?, [1], "not acknowledged");
    assert_eq!(
        broker.complete(&second, "999").await?,
        Settlement::Duplicate
    );
    let record = broker.job(1).await?.expect("a record");
    assert_eq!(
        record.state,
        JobState::Completed {
            output: "100".to_owned(),
            delivery: 1
        },
        "the first result recorded stays"
    );
    assert_eq!(record.runs, [1, 2]);
    let status = broker.status().await?;
    assert_eq!(
        (status.completed, status.duplicates, status.in_flight()),
        (1, 1, 0)
    );
    Ok(())
}

/// Whatever the order, a job ends completed or dead-lettered, never both: a completion after a
/// dead letter changes nothing, and a dead letter after a result acknowledges it as completed.
async fn a_job_ends_one_way_never_two(
    broker: &impl Inspect,
    _faults: &impl Faults,
    lease: Lease,
) -> Result<(), BrokerError> {
    submit(broker, 2).await?;
    let firsts = broker.read_new("a", 10, lease.short_block()).await?;
    lease.wait_past().await;
    let seconds = broker.take_over("b", lease.0, 10).await?;
    assert_eq!((ids(&firsts), ids(&seconds)), (vec![1, 2], vec![1, 2]));

    // Job 1: the holder gives up first, then the stalled first worker finishes.
    assert_eq!(
        broker.dead_letter(&seconds[0], "boom").await?,
        Settlement::DeadLettered
    );
    assert_eq!(
        broker.complete(&firsts[0], "10").await?,
        Settlement::Duplicate
    );
    // Job 2: the stalled first worker finishes first, then the holder gives up.
    assert_eq!(
        broker.complete(&firsts[1], "20").await?,
        Settlement::RecordedNotHeld
    );
    assert_eq!(
        broker.dead_letter(&seconds[1], "boom").await?,
        Settlement::AlreadyCompleted
    );

    assert!(matches!(
        broker.job(1).await?.map(|record| record.state),
        Some(JobState::DeadLettered { deliveries: 2, .. })
    ));
    assert!(matches!(
        broker.job(2).await?.map(|record| record.state),
        Some(JobState::Completed { .. })
    ));
    let letters = broker.dead_letters().await?;
    assert_eq!(
        letters
            .iter()
            .map(|letter| letter.job_id)
            .collect::<Vec<_>>(),
        [Some(1)]
    );
    let status = broker.status().await?;
    assert_eq!(
        (
            status.completed,
            status.dead_lettered,
            status.duplicates,
            status.in_flight()
        ),
        (1, 1, 1, 0)
    );
    Ok(())
}

/// A job recorded by a worker that had lost its lease, whose new holder then died: when its
/// lease runs out again, it is acknowledged rather than handed out to run a third time.
async fn take_over_acknowledges_a_job_that_ended_meanwhile(
    broker: &impl Inspect,
    _faults: &impl Faults,
    lease: Lease,
) -> Result<(), BrokerError> {
    let (first, _dies) = delivered_twice(broker, lease).await?;
    assert_eq!(
        broker.complete(&first, "10").await?,
        Settlement::RecordedNotHeld
    );
    lease.wait_past().await;
    assert_eq!(broker.take_over("c", lease.0, 10).await?, []);
    let status = broker.status().await?;
    assert_eq!((status.completed, status.in_flight()), (1, 0));
    Ok(())
}

/// Completing acknowledges: the job leaves its holder, and no lease of it is left to run out.
async fn a_completed_job_is_never_delivered_again(
    broker: &impl Inspect,
    _faults: &impl Faults,
    lease: Lease,
) -> Result<(), BrokerError> {
    submit(broker, 2).await?;
    let delivered = broker.read_new("a", 10, lease.short_block()).await?;
    assert_eq!(
        broker.complete(&delivered[0], "10").await?,
        Settlement::Recorded
    );
    assert_eq!(broker.pending_of("a").await?, [2]);

    lease.wait_past().await;
    assert_eq!(ids(&broker.take_over("b", lease.0, 10).await?), [2]);
    assert_eq!(broker.read_new("b", 10, lease.short_block()).await?, []);
    Ok(())
}

/// The same call again, as after a lost answer, is the same run: no second run, no duplicate.
async fn repeating_complete_for_one_delivery_counts_one_run(
    broker: &impl Inspect,
    _faults: &impl Faults,
    lease: Lease,
) -> Result<(), BrokerError> {
    submit(broker, 1).await?;
    let delivered = one(broker.read_new("a", 10, lease.short_block()).await?);
    assert_eq!(
        broker.complete(&delivered, "10").await?,
        Settlement::Recorded
    );
    assert_eq!(
        broker.complete(&delivered, "10").await?,
        Settlement::Recorded
    );
    assert_eq!(broker.job(1).await?.expect("a record").runs, [1]);
    let status = broker.status().await?;
    assert_eq!((status.completed, status.duplicates), (1, 0));
    Ok(())
}

/// The holder moves a job to the dead-letter stream once, however often it asks, and the move
/// acknowledges it.
async fn dead_letter_moves_a_job_once_and_acknowledges_it(
    broker: &impl Inspect,
    _faults: &impl Faults,
    lease: Lease,
) -> Result<(), BrokerError> {
    let (_, second) = delivered_twice(broker, lease).await?;
    assert_eq!(
        broker.dead_letter(&second, "boom").await?,
        Settlement::DeadLettered
    );
    assert_eq!(broker.pending_of("b").await?, Vec::<u64>::new());
    assert_eq!(
        broker.dead_letter(&second, "boom").await?,
        Settlement::DeadLettered
    );
    let letters = broker.dead_letters().await?;
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(
        (
            letters[0].job_id,
            letters[0].deliveries,
            letters[0].error.as_str()
        ),
        (Some(1), 2, "boom")
    );
    let status = broker.status().await?;
    assert_eq!((status.dead_lettered, status.in_flight()), (1, 0));
    assert_eq!(status.backlog(), 0);

    lease.wait_past().await;
    assert_eq!(broker.take_over("c", lease.0, 10).await?, []);
    Ok(())
}

/// Submitted, completed, pending by consumer, dead-lettered and duplicates, and the backlog and
/// the waiting jobs worked out from them, through a run with each kind of end.
async fn status_counts_add_up(
    broker: &impl Inspect,
    _faults: &impl Faults,
    lease: Lease,
) -> Result<(), BrokerError> {
    let status = broker.status().await?;
    assert_status(&status, &EMPTY);
    assert_eq!((status.backlog(), status.waiting()), (0, 0));

    submit(broker, 6).await?;
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

    broker.complete(&by_a[0], "10").await?;
    broker.dead_letter(&by_b[0], "boom").await?;
    lease.wait_past().await;
    let by_c = broker.take_over("c", lease.0, 10).await?;
    assert_eq!(ids(&by_c), [2, 3]);
    assert_eq!(broker.complete(&by_c[0], "20").await?, Settlement::Recorded);
    assert_eq!(
        broker.complete(&by_a[1], "20").await?,
        Settlement::Duplicate
    );

    let status = broker.status().await?;
    assert_status(
        &status,
        &Status {
            submitted: 6,
            completed: 2,
            dead_lettered: 1,
            pending: pending([("c", 1)]),
            unread: Some(2),
            duplicates: 1,
            not_jobs: 0,
        },
    );
    assert!(status.adds_up());
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

/// Producers adding at the same moment each get numbers of their own, and between them every
/// number from 1 up, once.
async fn producers_at_once_get_numbers_nobody_else_has(
    broker: &impl Inspect,
    _faults: &impl Faults,
    _lease: Lease,
) -> Result<(), BrokerError> {
    let (a, b, c) = tokio::join!(submit(broker, 50), submit(broker, 50), submit(broker, 50));
    let mut numbers = BTreeSet::new();
    for added in [a?, b?, c?] {
        for number in added.first..added.first + added.count {
            assert!(numbers.insert(number), "job {number} given out twice");
        }
    }
    assert_eq!(numbers, (1..=150).collect());
    assert_eq!(broker.status().await?.submitted, 150);
    Ok(())
}

/// A producer that lost the answer sends the same batch again: it is added once, and the
/// answer is the first one.
async fn a_repeated_batch_adds_nothing(
    broker: &impl Inspect,
    _faults: &impl Faults,
    _lease: Lease,
) -> Result<(), BrokerError> {
    let jobs = [payload(1), payload(2), payload(3)];
    let first = broker.submit("p", 1, &jobs, None).await?;
    assert_eq!(first, Added { first: 1, count: 3 });
    assert_eq!(broker.submit("p", 1, &jobs, None).await?, first);
    assert_eq!(broker.status().await?.submitted, 3);
    assert_eq!(
        broker.submit("p", 2, &jobs[..1], None).await?,
        Added { first: 4, count: 1 }
    );
    Ok(())
}

/// With a most, a producer adds only what keeps the backlog at or below it; as jobs end, room
/// comes back.
async fn max_backlog_bounds_what_is_added(
    broker: &impl Inspect,
    _faults: &impl Faults,
    lease: Lease,
) -> Result<(), BrokerError> {
    let jobs: Vec<String> = (1..=5).map(payload).collect();
    assert_eq!(
        broker.submit("p", 1, &jobs, Some(3)).await?,
        Added { first: 1, count: 3 }
    );
    assert_eq!(broker.submit("p", 2, &jobs, Some(3)).await?.count, 0);
    let delivered = broker.read_new("a", 1, lease.short_block()).await?;
    broker.complete(&delivered[0], "1").await?;
    assert_eq!(
        broker.submit("p", 3, &jobs, Some(3)).await?,
        Added { first: 4, count: 1 }
    );
    assert_eq!(broker.status().await?.backlog(), 3);
    Ok(())
}

/// Entries written by someone else, without a job's fields, are moved to the dead-letter stream
/// with the reason as they are read, and the jobs read with them go to the reader as usual.
async fn entries_that_are_not_jobs_are_dead_lettered_and_hold_up_nothing(
    broker: &impl Inspect,
    faults: &impl Faults,
    lease: Lease,
) -> Result<(), BrokerError> {
    submit(broker, 1).await?;
    faults.add_entry(&[("hello", "world")]).await;
    faults.add_entry(&[("job", "x"), ("payload", "{}")]).await;
    faults.add_entry(&[("job", "3")]).await;
    submit(broker, 1).await?;
    let delivered = broker.read_new("a", 10, lease.short_block()).await?;
    assert_eq!(ids(&delivered), [1, 2]);
    let letters = broker.dead_letters().await?;
    let errors: Vec<&str> = letters.iter().map(|letter| letter.error.as_str()).collect();
    assert_eq!(
        errors,
        [
            "not a job: it has no field \"job\"",
            "not a job: its job number \"x\" is not a number from 1",
            "not a job: it has no field \"payload\"",
        ]
    );
    assert!(letters.iter().all(|letter| letter.job_id.is_none()));
    let status = broker.status().await?;
    assert_eq!(
        (status.not_jobs, status.in_flight(), status.submitted),
        (3, 2, 2)
    );
    assert!(status.adds_up());
    lease.wait_past().await;
    assert_eq!(ids(&broker.take_over("b", lease.0, 10).await?), [1, 2]);
    Ok(())
}

/// An entry that names a job number the queue gave to another entry is not that job: settling it
/// dead-letters it as not a job, and the real job is left alone.
async fn an_entry_that_claims_a_job_number_is_not_that_job(
    broker: &impl Inspect,
    faults: &impl Faults,
    lease: Lease,
) -> Result<(), BrokerError> {
    submit(broker, 1).await?;
    let forged = payload(1);
    faults
        .add_entry(&[("job", "1"), ("payload", &forged)])
        .await;
    let delivered = broker.read_new("a", 10, lease.short_block()).await?;
    assert_eq!(ids(&delivered), [1, 1]);
    assert_eq!(
        broker.complete(&delivered[1], "666").await?,
        Settlement::NotAJob
    );
    assert_eq!(
        broker.complete(&delivered[0], "1").await?,
        Settlement::Recorded
    );
    assert!(matches!(
        broker.job(1).await?.map(|record| record.state),
        Some(JobState::Completed { output, .. }) if output == "1"
    ));
    let status = broker.status().await?;
    assert_eq!(
        (status.completed, status.not_jobs, status.in_flight()),
        (1, 1, 0)
    );
    Ok(())
}

/// After the broker forgets everything, the handle that knew the queue says the state was lost
/// on every operation, rather than carrying on; a process connecting afresh finds a new, empty
/// queue.
async fn a_broker_that_lost_its_state_says_so(
    broker: &impl Inspect,
    faults: &impl Faults,
    lease: Lease,
) -> Result<(), BrokerError> {
    submit(broker, 2).await?;
    let delivered = broker.read_new("a", 1, lease.short_block()).await?;
    faults.lose_everything().await;
    let lost = |result: Result<_, BrokerError>| matches!(result, Err(BrokerError::StateLost(_)));
    assert!(lost(broker.status().await.map(|_| ())));
    assert!(lost(
        broker
            .read_new("a", 1, lease.short_block())
            .await
            .map(|_| ())
    ));
    assert!(lost(broker.take_over("a", lease.0, 1).await.map(|_| ())));
    assert!(lost(broker.extend_lease(&delivered[0]).await.map(|_| ())));
    assert!(lost(broker.complete(&delivered[0], "1").await.map(|_| ())));
    assert!(lost(
        broker.dead_letter(&delivered[0], "x").await.map(|_| ())
    ));
    assert!(lost(submit(broker, 1).await.map(|_| ())));
    assert!(lost(broker.trim(KEEP_CONSUMERS).await.map(|_| ())));

    let afresh = faults.reconnect().await;
    assert_status(&afresh.status().await?, &EMPTY);
    Ok(())
}

/// Trimming removes the entries that every job below has ended, and keeps the oldest pending
/// entry and everything after it; a job taken over after a trim still has its payload.
async fn trim_keeps_every_entry_still_needed(
    broker: &impl Inspect,
    _faults: &impl Faults,
    lease: Lease,
) -> Result<(), BrokerError> {
    submit(broker, 4).await?;
    let read = broker.read_new("a", 2, lease.short_block()).await?;
    broker.complete(&read[0], "1").await?;
    assert_eq!(broker.trim(KEEP_CONSUMERS).await?, 1, "job 1's entry");
    assert_eq!(broker.trim(KEEP_CONSUMERS).await?, 0);
    lease.wait_past().await;
    let taken = one(broker.take_over("b", lease.0, 10).await?);
    assert_eq!(
        (taken.job_id, taken.payload.as_str()),
        (2, payload(2).as_str())
    );
    let unread = broker.read_new("b", 10, lease.short_block()).await?;
    assert_eq!(ids(&unread), [3, 4]);
    for delivery in [&taken, &unread[0], &unread[1]] {
        broker.complete(delivery, "0").await?;
    }
    // The last entry the group read stays: it marks where reading goes on.
    assert_eq!(
        broker.trim(KEEP_CONSUMERS).await?,
        2,
        "jobs 2 and 3's entries"
    );
    Ok(())
}

/// A consumer leaves the group only when it holds nothing: its pending jobs would go with it.
async fn leaving_the_group_needs_nothing_held(
    broker: &impl Inspect,
    _faults: &impl Faults,
    lease: Lease,
) -> Result<(), BrokerError> {
    submit(broker, 1).await?;
    let delivered = one(broker.read_new("a", 10, lease.short_block()).await?);
    assert!(!broker.leave("a").await?);
    assert_eq!(broker.pending_of("a").await?, [1]);
    broker.complete(&delivered, "1").await?;
    assert!(broker.leave("a").await?);
    Ok(())
}

/// An ended job's record is kept for the retention, then forgotten; the counts stay.
async fn ended_jobs_are_forgotten_after_their_retention(
    broker: &impl Inspect,
    _faults: &impl Faults,
    lease: Lease,
) -> Result<(), BrokerError> {
    submit(broker, 1).await?;
    let delivered = one(broker.read_new("a", 10, lease.short_block()).await?);
    broker.complete(&delivered, "1").await?;
    assert!(broker.job(1).await?.is_some());
    sleep(lease.retention().results + lease.0).await;
    assert_eq!(broker.job(1).await?, None);
    assert_eq!(broker.status().await?.completed, 1);
    Ok(())
}

/// The dead-letter stream keeps the newest dead letters, up to its cap.
async fn dead_letters_are_capped(
    broker: &impl Inspect,
    _faults: &impl Faults,
    lease: Lease,
) -> Result<(), BrokerError> {
    submit(broker, 7).await?;
    for delivery in broker.read_new("a", 10, lease.short_block()).await? {
        broker.dead_letter(&delivery, "boom").await?;
    }
    let kept: Vec<Option<u64>> = broker
        .dead_letters()
        .await?
        .iter()
        .map(|letter| letter.job_id)
        .collect();
    assert_eq!(kept, [Some(3), Some(4), Some(5), Some(6), Some(7)]);
    assert_eq!(broker.status().await?.dead_lettered, 7);
    Ok(())
}
