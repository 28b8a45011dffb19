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

use std::fmt;

use stateright::{Model, Property};

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

/// Everything the model knows at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct State {
    /// The stream, the group's pending list, and the jobs' records.
    pub broker: Broker,
    /// Each producer's progress.
    pub producers: [Producer; PRODUCERS],
    /// Each worker process's progress.
    pub workers: [Worker; WORKERS],
}

/// What Redis holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Broker {
    /// Job numbers given out by the broker (the `next-job` counter).
    pub numbered: u8,
    /// The stream's entries, oldest first: one per job added.
    pub entries: Vec<Entry>,
}

/// One job's entry, with what the group and the job's record say about it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Entry {
    /// The job's number.
    pub job: u8,
    /// Where the entry stands in the consumer group.
    pub delivery: Delivery,
    /// Deliveries so far (the pending entry's count, kept after it is acknowledged).
    pub deliveries: u8,
    /// A result was recorded.
    pub completed: bool,
    /// The job was moved to the dead letters.
    pub dead_lettered: bool,
    /// How many times a result was written: more than once would be a result overwritten.
    pub results_written: u8,
}

impl Entry {
    fn ended(&self) -> bool {
        self.completed || self.dead_lettered
    }
}

/// An entry's place in the consumer group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Delivery {
    /// No consumer has read it.
    Unread,
    /// Delivered to worker `holder`, as delivery `count`, and not acknowledged.
    Pending {
        /// The worker that holds it.
        holder: usize,
        /// Which delivery this is.
        count: u8,
    },
    /// Acknowledged: out of the pending list for good.
    Acknowledged,
}

/// A producer adding its one job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Producer {
    /// Has not started.
    Starting,
    /// (First version only.) Read the stream's last job number, and will add the next one.
    SawLast(u8),
    /// Was told that its job was added as number `told`.
    Told(u8),
}

/// A worker process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Worker {
    /// Waiting for a job.
    Idle,
    /// Holds delivery `count` of `job` and runs it.
    Running {
        /// The job's number.
        job: u8,
        /// Which delivery it holds.
        count: u8,
    },
    /// Has run delivery `count` of `job` (or refused to run it, past its last allowed
    /// delivery), and is to tell the broker.
    Finished {
        /// The job's number.
        job: u8,
        /// Which delivery it held.
        count: u8,
        /// Whether the run succeeded.
        succeeded: bool,
    },
    /// Killed: whatever it held stays pending under its name.
    Dead,
}

/// One step of one participant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    /// A producer adds its job in one step (current design).
    Submit(usize),
    /// (First version.) A producer reads the stream's last job number.
    ReadLast(usize),
    /// (First version.) A producer adds its job under the number after the one it read.
    AddNext(usize),
    /// A worker reads the oldest unread entry.
    Read(usize),
    /// A worker takes over job `job`, pending under any worker, whose lease ran out as far as
    /// the broker can tell.
    TakeOver(usize, u8),
    /// A worker finishes running its job, successfully or not.
    Run(usize, bool),
    /// A worker extends its lease, and stops the job if the delivery is no longer its own.
    Extend(usize),
    /// A worker tells the broker how its run ended (records it, leaves it for another delivery,
    /// or dead-letters it), and goes back to waiting.
    Settle(usize),
    /// (First version.) As [`Step::Settle`] for a successful run, with the write of the result
    /// failing inside the `MULTI … EXEC`.
    SettleWithTheWriteFailing(usize),
    /// The broker runs the worker's settling step, but the answer is lost (the broker restarted
    /// with its data): the worker will send the same step again.
    SettleAnswerLost(usize),
    /// A worker process is killed.
    Kill(usize),
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

// ANCHOR: settle
/// The broker's side of a worker's settling step: what the scripts (or the first version's
/// commands) do to the entry of delivery `count` of `job`, sent by `worker`.
fn settle(design: Design, broker: &mut Broker, worker: usize, job: u8, count: u8, outcome: Run) {
    let Some(entry) = broker.entries.iter_mut().find(|entry| entry.job == job) else {
        return;
    };
    let held = entry.delivery
        == Delivery::Pending {
            holder: worker,
            count,
        };
    match outcome {
        Run::Succeeded { write_fails } if design.record_checks_first => {
            // record.lua: a result only if the job has no end; acknowledged only by its holder.
            let pending = matches!(entry.delivery, Delivery::Pending { .. });
            if !entry.ended() && pending {
                entry.completed = true;
                entry.results_written += 1;
            }
            if held && entry.ended() {
                entry.delivery = Delivery::Acknowledged;
            }
            debug_assert!(!write_fails, "the script has no half-way");
        }
        Run::Succeeded { write_fails } => {
            // MULTI; HSETNX result; XACK; EXEC: each command on its own.
            if !write_fails && !entry.completed {
                entry.completed = true;
                entry.results_written += 1;
            }
            if matches!(entry.delivery, Delivery::Pending { .. }) {
                entry.delivery = Delivery::Acknowledged;
            }
        }
        Run::Failed if count < MAX_DELIVERIES => {
            // Left pending, for a take-over once its lease has run out.
        }
        Run::Failed if design.dead_letter_checks_first => {
            // dead_letter.lua: an ended job is only acknowledged; otherwise only its holder may
            // move it.
            if held && !entry.ended() {
                entry.dead_lettered = true;
            }
            if held && entry.ended() {
                entry.delivery = Delivery::Acknowledged;
            }
        }
        Run::Failed => {
            // XADD to the dead letters; XACK.
            entry.dead_lettered = true;
            if matches!(entry.delivery, Delivery::Pending { .. }) {
                entry.delivery = Delivery::Acknowledged;
            }
        }
    }
}
// ANCHOR_END: settle

/// How a run ended, as its settling step tells the broker.
#[derive(Debug, Clone, Copy)]
enum Run {
    Succeeded { write_fails: bool },
    Failed,
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

fn new_entry(job: u8) -> Entry {
    Entry {
        job,
        delivery: Delivery::Unread,
        deliveries: 0,
        completed: false,
        dead_lettered: false,
        results_written: 0,
    }
}

impl fmt::Display for Step {
    /// The step as a sentence, numbering producers and workers from 1 as the book does.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Step::Submit(p) => write!(f, "producer {} adds its job", p + 1),
            Step::ReadLast(p) => write!(f, "producer {} reads the stream's last job number", p + 1),
            Step::AddNext(p) => write!(f, "producer {} adds its job as the next number", p + 1),
            Step::Read(w) => write!(f, "worker {} reads a job", w + 1),
            Step::TakeOver(w, job) => write!(f, "worker {} takes over job {job}", w + 1),
            Step::Run(w, true) => write!(f, "worker {} runs its job, which succeeds", w + 1),
            Step::Run(w, false) => write!(f, "worker {} runs its job, which fails", w + 1),
            Step::Extend(w) => write!(f, "worker {} extends its lease", w + 1),
            Step::Settle(w) => write!(f, "worker {} tells the broker", w + 1),
            Step::SettleWithTheWriteFailing(w) => write!(
                f,
                "worker {} tells the broker, and the write of the result fails",
                w + 1
            ),
            Step::SettleAnswerLost(w) => write!(
                f,
                "worker {} tells the broker, and the answer is lost",
                w + 1
            ),
            Step::Kill(w) => write!(f, "worker {} is killed", w + 1),
        }
    }
}

impl fmt::Display for Entry {
    /// The job as the broker has it: `job 1: pending at worker 2 (delivery 1), completed`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "job {}: ", self.job)?;
        match self.delivery {
            Delivery::Unread => write!(f, "unread")?,
            Delivery::Pending { holder, count } => {
                write!(f, "pending at worker {} (delivery {count})", holder + 1)?;
            }
            Delivery::Acknowledged => write!(f, "acknowledged")?,
        }
        match (self.completed, self.dead_lettered) {
            (true, true) => write!(f, ", completed and dead-lettered"),
            (true, false) => write!(f, ", completed"),
            (false, true) => write!(f, ", dead-lettered"),
            (false, false) => write!(f, ", no result"),
        }
    }
}

/// The shortest order of steps in which `protocol` breaks `property`, if any order does.
///
/// The checker keeps, for each property, the last breaking state it came to, which need not be
/// the nearest; so this asks it again with a bound on the number of steps, one step more each
/// time. The first bound under which it finds a break gives a shortest order, and, with one
/// thread, always the same one.
pub fn shortest_break(
    protocol: Protocol,
    property: &'static str,
) -> Option<stateright::Path<State, Step>> {
    use stateright::Checker;
    // The checker counts the initial state as depth 1 and does not look at a state at the
    // bound itself: a bound of `steps + 2` looks at every order of up to `steps` steps.
    let deepest = protocol.checker().spawn_bfs().join().max_depth();
    (2..=deepest + 2).find_map(|bound| {
        protocol
            .checker()
            .target_max_depth(bound)
            .spawn_bfs()
            .join()
            .discovery(property)
    })
}

/// An order of steps the checker found, as the book prints it: the steps, numbered, then the
/// jobs as the broker has them at the end, and what each producer was told.
pub fn describe(path: &stateright::Path<State, Step>) -> String {
    let steps = path.clone().into_vec();
    let mut text = String::new();
    for (number, step) in steps.iter().filter_map(|(_, step)| *step).enumerate() {
        text.push_str(&format!("{:>2}. {step}\n", number + 1));
    }
    let last = path.last_state();
    text.push_str("then:\n");
    for entry in &last.broker.entries {
        text.push_str(&format!("    {entry}\n"));
    }
    for (producer, progress) in last.producers.iter().enumerate() {
        if let Producer::Told(job) = progress {
            text.push_str(&format!(
                "    producer {} was told: job {job}\n",
                producer + 1
            ));
        }
    }
    text
}
