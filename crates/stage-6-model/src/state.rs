//! What the model's state is made of: the broker's entries, the producers and the worker
//! processes, and the steps that change them, each printable as the book prints a trace.

use std::fmt;

use crate::{PRODUCERS, WORKERS};

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
    pub(crate) fn ended(&self) -> bool {
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

/// A job just added: unread, never delivered, with no end.
pub(crate) fn new_entry(job: u8) -> Entry {
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
