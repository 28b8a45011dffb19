//! The model drives the real brokers. proptest makes random orders of the model's steps (each
//! step one the model allows in the state it has reached); each is replayed against a broker, the
//! in-process one and Redis, and after every step the broker must hold what the model holds: each
//! job waiting, pending at the same worker with the same delivery count, completed or
//! dead-lettered, and the same jobs pending at each worker. On a failure proptest shrinks the
//! order to a shortest one that still fails, and prints it.
//!
//! The exhaustive check (`check.rs`) shows that the model keeps its promises in every order; this
//! shows that the code does what the model says, in many orders.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::RngSeed;
use stage_6_distributed::{
    Broker, BrokerError, Delivery, Inspect, JobState, Lease, MemoryBroker, PrivateRedis,
    RedisBroker, Retention,
};
use stage_6_model::{
    Delivery as Held, Design, MAX_DELIVERIES, Producer, Protocol, State, Step, Worker,
};
use stateright::{Expectation, Model};
use test_support::scratch_folder;

/// The protocol the brokers implement.
const PROTOCOL: Protocol = Protocol {
    design: Design::CURRENT,
    lost_answers: true,
};

/// The steps of one run: each choice picks one of the steps the model allows at that point.
/// Shrinking makes the run shorter and its choices smaller.
fn choices() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(0..64usize, 1..40)
}

/// Follows `choices` through the model: the steps taken, each with the state it led to.
fn steps_of(choices: &[usize]) -> Vec<(Step, State)> {
    let mut state = PROTOCOL.init_states().remove(0);
    let mut taken = Vec::new();
    for choice in choices {
        let mut allowed = Vec::new();
        PROTOCOL.actions(&state, &mut allowed);
        let allowed: Vec<(Step, State)> = allowed
            .into_iter()
            // Take-overs are replayed as Redis does them, the oldest pending entry first; the
            // model's take-over of a later one has no real counterpart.
            .filter(|step| match step {
                Step::TakeOver(_, job) => oldest_pending(&state) == Some(*job),
                _ => true,
            })
            .filter_map(|step| Some((step, PROTOCOL.next_state(&state, step)?)))
            .collect();
        if allowed.is_empty() {
            break;
        }
        let (step, mut next) = allowed[choice % allowed.len()].clone();
        // A real take-over that finds the oldest pending job ended acknowledges it and goes on
        // to the next, until it has claimed one: one call, several of the model's steps.
        if let Step::TakeOver(worker, _) = step {
            while next.workers[worker] == Worker::Idle {
                let Some(job) = oldest_pending(&next) else {
                    break;
                };
                next = PROTOCOL
                    .next_state(&next, Step::TakeOver(worker, job))
                    .expect("a take-over changes the state");
            }
        }
        taken.push((step, next.clone()));
        state = next;
    }
    taken
}

fn oldest_pending(state: &State) -> Option<u8> {
    state
        .broker
        .entries
        .iter()
        .find(|entry| matches!(entry.delivery, Held::Pending { .. }))
        .map(|entry| entry.job)
}

fn worker_name(worker: usize) -> String {
    format!("worker-{}", worker + 1)
}

/// What the workers hold and the producers have sent, beside the broker.
#[derive(Default)]
struct Replayer {
    /// Each worker's delivery in hand.
    held: BTreeMap<usize, Delivery>,
    /// The next batch number of each producer.
    batches: BTreeMap<usize, u64>,
}

impl Replayer {
    /// Does `step` to `broker`, and checks what the broker answered against `after`, the state
    /// the model went to from `before`.
    async fn replay(
        &mut self,
        broker: &impl Broker,
        step: Step,
        before: &State,
        after: &State,
    ) -> Result<(), BrokerError> {
        match step {
            Step::Submit(producer) => {
                let batch = self.batches.entry(producer).or_insert(0);
                *batch += 1;
                let added = broker
                    .submit(
                        &format!("producer-{}", producer + 1),
                        *batch,
                        &["{}".to_owned()],
                        None,
                    )
                    .await?;
                let Producer::Told(job) = after.producers[producer] else {
                    panic!("the model's producer was told nothing");
                };
                assert_eq!((added.first, added.count), (u64::from(job), 1));
            }
            Step::Read(worker) => {
                let mut read = broker
                    .read_new(&worker_name(worker), 1, Duration::ZERO)
                    .await?;
                assert_eq!(read.len(), 1, "a job to read");
                self.hold(worker, read.remove(0), after);
            }
            Step::TakeOver(worker, _) => {
                let mut claimed = broker
                    .take_over(&worker_name(worker), Duration::ZERO, 1)
                    .await?;
                match after.workers[worker] {
                    // Found ended, and acknowledged instead of claimed.
                    Worker::Idle => assert_eq!(claimed.len(), 0),
                    _ => {
                        assert_eq!(claimed.len(), 1, "a job taken over");
                        self.hold(worker, claimed.remove(0), after);
                    }
                }
            }
            Step::Run(..) | Step::Kill(_) => {}
            Step::Extend(worker) => {
                // The model takes this step only when the lease is lost.
                let delivery = &self.held[&worker];
                assert_eq!(broker.extend_lease(delivery).await?, Lease::Lost);
            }
            Step::Settle(worker) | Step::SettleAnswerLost(worker) => {
                let delivery = &self.held[&worker];
                let Worker::Finished { succeeded, .. } = before.workers[worker] else {
                    unreachable!("the model settles only a finished run")
                };
                if succeeded {
                    broker.complete(delivery, "done").await?;
                } else if delivery.count >= u64::from(MAX_DELIVERIES) {
                    broker.dead_letter(delivery, "failed").await?;
                }
            }
            Step::ReadLast(_) | Step::AddNext(_) | Step::SettleWithTheWriteFailing(_) => {
                unreachable!("first-version steps are not in the current design")
            }
        }
        Ok(())
    }

    /// Keeps `delivery` as `worker`'s, after checking it is the one the model gave it.
    fn hold(&mut self, worker: usize, delivery: Delivery, after: &State) {
        let (Worker::Running { job, count } | Worker::Finished { job, count, .. }) =
            after.workers[worker]
        else {
            panic!("the model's worker holds nothing");
        };
        assert_eq!(
            (delivery.job_id, delivery.count),
            (u64::from(job), u64::from(count))
        );
        self.held.insert(worker, delivery);
    }
}

/// Checks that `broker` holds what `state` holds; panics (with what differs) if not.
async fn assert_same(broker: &impl Inspect, state: &State) -> Result<(), BrokerError> {
    for entry in &state.broker.entries {
        let record = broker.job(u64::from(entry.job)).await?.expect("a record");
        let expected = match entry.delivery {
            _ if entry.completed => "completed".to_owned(),
            _ if entry.dead_lettered => "dead-lettered".to_owned(),
            Held::Unread => "waiting".to_owned(),
            Held::Pending { holder, count } => {
                format!("pending at {} ({count})", worker_name(holder))
            }
            Held::Acknowledged => unreachable!("an acknowledged job has ended"),
        };
        let found = match record.state {
            JobState::Completed { .. } => "completed".to_owned(),
            JobState::DeadLettered { .. } => "dead-lettered".to_owned(),
            JobState::Waiting => "waiting".to_owned(),
            JobState::Pending { consumer, count } => format!("pending at {consumer} ({count})"),
        };
        assert_eq!(found, expected, "job {}", entry.job);
    }
    for worker in 0..2 {
        let expected: Vec<u64> = state
            .broker
            .entries
            .iter()
            .filter(
                |entry| matches!(entry.delivery, Held::Pending { holder, .. } if holder == worker),
            )
            .map(|entry| u64::from(entry.job))
            .collect();
        assert_eq!(broker.pending_of(&worker_name(worker)).await?, expected);
    }
    let status = broker.status().await?;
    let count = |ended: fn(&stage_6_model::Entry) -> bool| {
        state
            .broker
            .entries
            .iter()
            .filter(|entry| ended(entry))
            .count() as u64
    };
    assert_eq!(
        (status.submitted, status.completed, status.dead_lettered),
        (
            u64::from(state.broker.numbered),
            count(|entry| entry.completed),
            count(|entry| entry.dead_lettered)
        )
    );
    assert!(status.adds_up(), "{status:?}");
    Ok(())
}

// ANCHOR: replay
/// Replays the run chosen by `choices` against `broker`. A broker that does something else than
/// the model panics, and the steps up to there are printed first (the last list printed is the
/// shortest run proptest found).
async fn replay(broker: &impl Inspect, choices: &[usize]) -> Result<(), BrokerError> {
    let mut replayer = Replayer::default();
    let mut before = PROTOCOL.init_states().remove(0);
    let steps = steps_of(choices);
    for (done, (step, after)) in steps.iter().enumerate() {
        let _printed_on_a_panic = StepsSoFar(&steps[..=done]);
        replayer.replay(broker, *step, &before, after).await?;
        assert_same(broker, after).await?;
        for property in PROTOCOL.properties() {
            if property.expectation == Expectation::Always {
                assert!((property.condition)(&PROTOCOL, after), "{}", property.name);
            }
        }
        before = after.clone();
    }
    Ok(())
}
// ANCHOR_END: replay

/// Prints its steps if dropped while a check panics.
struct StepsSoFar<'a>(&'a [(Step, State)]);

impl Drop for StepsSoFar<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("the broker and the model differ after these steps:");
            for (number, (step, _)) in self.0.iter().enumerate() {
                eprintln!("{:>3}. {step}", number + 1);
            }
        }
    }
}

/// `cases` runs, from a fixed seed so that every run of the suite replays the same orders; set
/// `PROPTEST_RNG_SEED` to try others.
fn config(cases: u32) -> ProptestConfig {
    let mut config = ProptestConfig::with_cases(cases);
    if config.rng_seed == RngSeed::Random {
        config.rng_seed = RngSeed::Fixed(20_261_206);
    }
    config
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

proptest! {
    #![proptest_config(config(500))]

    #[test]
    fn the_in_process_broker_does_what_the_model_does(choices in choices()) {
        runtime().block_on(replay(&MemoryBroker::new(), &choices)).expect("no broker error");
    }
}

/// One private Redis for the whole test, a fresh queue for each run.
#[test]
fn redis_does_what_the_model_does() {
    if !PrivateRedis::on_path() {
        assert!(
            std::env::var_os("CI").is_none(),
            "redis-server is not on PATH and CI is set: install Redis to run this test"
        );
        eprintln!(
            "\n*** SKIPPED redis_does_what_the_model_does: redis-server is not on PATH ***\n"
        );
        return;
    }
    let dir = scratch_folder("stage-6-model", "replay");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch folder");
    let server = PrivateRedis::start(&dir, false).expect("redis-server starts");
    let runtime = runtime();
    let queues = AtomicUsize::new(0);
    proptest!(config(100), |(choices in choices())| {
        let name = format!("replay-{}", queues.fetch_add(1, Ordering::Relaxed));
        runtime.block_on(async {
            let broker = RedisBroker::connect(&server.url(), &name, Retention::default()).await?;
            replay(&broker, &choices).await
        }).expect("no broker error");
    });
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
