//! Stage 6's protocol as a model, for a model checker to run in every order.
//!
//! The tests of `stage-6-distributed` run the steps of the protocol in the orders their scenarios
//! happen to take. The bugs that stage 6 once had (a job completed *and* dead-lettered; jobs
//! acknowledged with no result kept; two producers giving out the same job numbers) each needed a
//! rare order of steps that were right on their own. A model checker tries every order: this crate
//! writes the protocol down as states and steps, small enough to enumerate (two producers with a
//! job each, two worker processes, a job dead-lettered after its second delivery), and
//! [`stateright`] visits every state that any order of steps reaches, checking the
//! [properties](Protocol::properties) in each.
//!
//! The model is abstract where the real program has detail that does not change the order
//! question: a job is its number; time is left out, so that any pending job may be taken over at
//! any moment (which is what a stalled worker looks like to the broker: it cannot tell a dead
//! worker from a slow one); a broker that restarts with its data loses only the answer to a step
//! that it ran, and the worker sends the step again.
//!
//! [`Design`] chooses, step by step, between the current protocol and the first version's. The
//! tests check that the current one keeps every property, and that each first-version step breaks
//! one, with the shortest order of steps that shows it, which the book prints.

mod settle;
mod state;
mod trace;

use stateright::{Model, Property};

use settle::{Run, settle};
use state::new_entry;
pub use state::{Broker, Delivery, Entry, Producer, State, Step, Worker};
pub use trace::{describe, shortest_break};

/// Worker processes in the model.
pub const WORKERS: usize = 2;
/// Producers in the model; each adds one job.
pub const PRODUCERS: usize = 2;
/// Deliveries a job gets before a failed one sends it to the dead letters (`--max-deliveries`).
pub const MAX_DELIVERIES: u8 = 2;

// ANCHOR: design
/// Which version of each step the model runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Design {
    /// The broker numbers each job in the step that adds it. The first version's producer
    /// numbered its job from the stream's last entry, read in one step and added in another.
    pub numbers_from_the_broker: bool,
    /// Recording a result is one script that checks before it writes: the result only if the job
    /// has no end yet, the acknowledgement only by the delivery's holder. The first version sent
    /// the result and the `XACK` in one `MULTI … EXEC`, which does not roll back: when the write
    /// of the result failed, the `XACK` still went through.
    pub record_checks_first: bool,
    /// Dead-lettering is one script that moves the job only if the caller holds the delivery and
    /// the job has no result. The first version moved and acknowledged it unconditionally.
    pub dead_letter_checks_first: bool,
}
// ANCHOR_END: design

impl Design {
    /// The protocol stage 6 runs now.
    pub const CURRENT: Design = Design {
        numbers_from_the_broker: true,
        record_checks_first: true,
        dead_letter_checks_first: true,
    };
}

/// The protocol under a [`Design`]: what [`stateright`] checks.
#[derive(Debug, Clone, Copy)]
pub struct Protocol {
    /// Which version of each step runs.
    pub design: Design,
    /// Whether the broker may lose the answer to a settling step it ran, so that the worker
    /// sends it again. Always on for the checks; off where a trace should show only what breaks.
    pub lost_answers: bool,
}

impl Protocol {
    /// The initial state: nothing added, every worker waiting.
    fn start(&self) -> State {
        State {
            broker: Broker::default(),
            producers: [Producer::Starting; PRODUCERS],
            workers: [Worker::Idle; WORKERS],
        }
    }

    /// Whether no step can change anything.
    pub fn is_finished(&self, state: &State) -> bool {
        let mut steps = Vec::new();
        self.actions(state, &mut steps);
        steps.is_empty()
    }
}

impl Model for Protocol {
    type State = State;
    type Action = Step;

    fn init_states(&self) -> Vec<State> {
        vec![self.start()]
    }

    fn actions(&self, state: &State, steps: &mut Vec<Step>) {
        for (producer, progress) in state.producers.iter().enumerate() {
            match progress {
                Producer::Starting if self.design.numbers_from_the_broker => {
                    steps.push(Step::Submit(producer));
                }
                Producer::Starting => steps.push(Step::ReadLast(producer)),
                Producer::SawLast(_) => steps.push(Step::AddNext(producer)),
                Producer::Told(_) => {}
            }
        }
        let alive = state
            .workers
            .iter()
            .filter(|worker| **worker != Worker::Dead)
            .count();
        for (worker, progress) in state.workers.iter().enumerate() {
            match progress {
                Worker::Idle => {
                    if state
                        .broker
                        .entries
                        .iter()
                        .any(|entry| entry.delivery == Delivery::Unread)
                    {
                        steps.push(Step::Read(worker));
                    }
                    for entry in &state.broker.entries {
                        if matches!(entry.delivery, Delivery::Pending { .. }) {
                            steps.push(Step::TakeOver(worker, entry.job));
                        }
                    }
                }
                Worker::Running { .. } => {
                    steps.push(Step::Run(worker, true));
                    steps.push(Step::Run(worker, false));
                    steps.push(Step::Extend(worker));
                }
                Worker::Finished { succeeded, .. } => {
                    steps.push(Step::Settle(worker));
                    if self.lost_answers {
                        steps.push(Step::SettleAnswerLost(worker));
                    }
                    if *succeeded && !self.design.record_checks_first {
                        steps.push(Step::SettleWithTheWriteFailing(worker));
                    }
                }
                Worker::Dead => {}
            }
            // One worker is left alive, so that there is always someone to finish the jobs.
            if *progress != Worker::Dead && alive > 1 {
                steps.push(Step::Kill(worker));
            }
        }
    }

    fn next_state(&self, state: &State, step: Step) -> Option<State> {
        let mut next = state.clone();
        match step {
            Step::Submit(producer) => {
                next.broker.numbered += 1;
                let job = next.broker.numbered;
                next.broker.entries.push(new_entry(job));
                next.producers[producer] = Producer::Told(job);
            }
            Step::ReadLast(producer) => {
                let last = next.broker.entries.last().map_or(0, |entry| entry.job);
                next.producers[producer] = Producer::SawLast(last);
            }
            Step::AddNext(producer) => {
                let Producer::SawLast(last) = state.producers[producer] else {
                    return None;
                };
                let job = last + 1;
                // Redis refuses an entry id at or below the stream's last; the first version
                // took the refusal for success.
                let last_now = next.broker.entries.last().map_or(0, |entry| entry.job);
                if job > last_now {
                    next.broker.entries.push(new_entry(job));
                }
                next.producers[producer] = Producer::Told(job);
            }
            Step::Read(worker) => {
                let entry = next
                    .broker
                    .entries
                    .iter_mut()
                    .find(|entry| entry.delivery == Delivery::Unread)?;
                entry.deliveries = 1;
                entry.delivery = Delivery::Pending {
                    holder: worker,
                    count: 1,
                };
                next.workers[worker] = Worker::Running {
                    job: entry.job,
                    count: 1,
                };
            }
            Step::TakeOver(worker, job) => {
                let entry = next
                    .broker
                    .entries
                    .iter_mut()
                    .find(|entry| entry.job == job)?;
                if self.design.record_checks_first && entry.ended() {
                    // take_over.lua acknowledges a job that ended while its holder was away.
                    entry.delivery = Delivery::Acknowledged;
                } else {
                    entry.deliveries += 1;
                    let count = entry.deliveries;
                    entry.delivery = Delivery::Pending {
                        holder: worker,
                        count,
                    };
                    // A delivery past the last allowed is not run: it goes to the dead letters.
                    next.workers[worker] = if count > MAX_DELIVERIES {
                        Worker::Finished {
                            job,
                            count,
                            succeeded: false,
                        }
                    } else {
                        Worker::Running { job, count }
                    };
                }
            }
            Step::Run(worker, succeeded) => {
                let Worker::Running { job, count } = state.workers[worker] else {
                    return None;
                };
                next.workers[worker] = Worker::Finished {
                    job,
                    count,
                    succeeded,
                };
            }
            Step::Extend(worker) => {
                let Worker::Running { job, count } = state.workers[worker] else {
                    return None;
                };
                let still_held = state.broker.entries.iter().any(|entry| {
                    entry.job == job
                        && entry.delivery
                            == Delivery::Pending {
                                holder: worker,
                                count,
                            }
                });
                if still_held {
                    // The lease is extended: nothing the model keeps changes.
                    return None;
                }
                // Taken over: the worker stops the job and records nothing.
                next.workers[worker] = Worker::Idle;
            }
            Step::Settle(worker)
            | Step::SettleWithTheWriteFailing(worker)
            | Step::SettleAnswerLost(worker) => {
                let Worker::Finished {
                    job,
                    count,
                    succeeded,
                } = state.workers[worker]
                else {
                    return None;
                };
                let outcome = if succeeded {
                    Run::Succeeded {
                        write_fails: step == Step::SettleWithTheWriteFailing(worker),
                    }
                } else {
                    Run::Failed
                };
                settle(self.design, &mut next.broker, worker, job, count, outcome);
                if step != Step::SettleAnswerLost(worker) {
                    next.workers[worker] = Worker::Idle;
                }
            }
            Step::Kill(worker) => next.workers[worker] = Worker::Dead,
        }
        (next != *state).then_some(next)
    }

    /// Take-overs could go on for ever (a worker that stalls each time looks dead each time):
    /// the checker stops following an order once a job has had two deliveries more than
    /// allowed, far enough for every check above to have happened.
    fn within_boundary(&self, state: &State) -> bool {
        state
            .broker
            .entries
            .iter()
            .all(|entry| entry.deliveries <= MAX_DELIVERIES + 2)
    }

    // ANCHOR: properties
    fn properties(&self) -> Vec<Property<Self>> {
        vec![
            Property::always(
                "a job ends one way, never two",
                |_: &Protocol, state: &State| {
                    state
                        .broker
                        .entries
                        .iter()
                        .all(|entry| !(entry.completed && entry.dead_lettered))
                },
            ),
            Property::always("a result is written once", |_: &Protocol, state: &State| {
                state
                    .broker
                    .entries
                    .iter()
                    .all(|entry| entry.results_written <= 1)
            }),
            Property::always(
                "an acknowledged job has ended",
                |_: &Protocol, state: &State| {
                    state
                        .broker
                        .entries
                        .iter()
                        .all(|entry| entry.delivery != Delivery::Acknowledged || entry.ended())
                },
            ),
            Property::always(
                "a job is run at most K times",
                |_: &Protocol, state: &State| {
                    state.workers.iter().all(|worker| match worker {
                        Worker::Running { count, .. } => *count <= MAX_DELIVERIES,
                        _ => true,
                    })
                },
            ),
            Property::always(
                "every job a producer was told of is in the stream, once",
                |_: &Protocol, state: &State| {
                    let told: Vec<u8> = state
                        .producers
                        .iter()
                        .filter_map(|producer| match producer {
                            Producer::Told(job) => Some(*job),
                            _ => None,
                        })
                        .collect();
                    told.iter().enumerate().all(|(i, job)| {
                        !told[..i].contains(job)
                            && state.broker.entries.iter().any(|entry| entry.job == *job)
                    })
                },
            ),
            // Liveness written as a check of the states where nothing can happen any more (a
            // model checker's "eventually" can miss a violation in a model whose paths merge).
            Property::always(
                "no job is left unfinished",
                |model: &Protocol, state: &State| {
                    !model.is_finished(state) || state.broker.entries.iter().all(Entry::ended)
                },
            ),
            Property::sometimes(
                "a job can be run twice and still end once",
                |_: &Protocol, state: &State| {
                    state
                        .broker
                        .entries
                        .iter()
                        .any(|entry| entry.completed && entry.deliveries == 2)
                },
            ),
        ]
    }
    // ANCHOR_END: properties
}
