//! The pool's vocabulary, defined here once for this stage and every one after it: what became
//! of a job ([`Outcome`]), why its work gave up ([`JobError`], [`Failure`]), what a worker sends
//! back ([`FromWorker`]), and the account of a run ([`Account`]).
//!
//! Each is generic over the job (`T`), what its work returns (`O`) and how it fails (`E`), so that
//! stage 4's threads and stage 5's tasks say the same things about their jobs as this stage does.
//! For this stage's own jobs the defaults apply: a plain `Outcome` is the outcome of a numbered
//! [`Job`] whose work produced a [`JobResult`], or failed with a message.

use std::time::SystemTime;

use pool_core::{Job, JobResult};

use crate::context::{Context, Reason};

// ANCHOR: outcome
/// Why a job's work did not produce an output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobError<E = String> {
    /// The work gave up because its run was cancelled.
    Cancelled,
    /// The work failed; `E` says how.
    Failed(E),
}

/// How a job's work failed: it returned an error, or it panicked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure<E = String> {
    /// The work returned this error.
    Error(E),
    /// The work panicked, with this message.
    Panicked(String),
}

/// What became of one job that a worker took from the queue. Each way carries the job back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<T = Job, O = JobResult, E = String> {
    /// The work finished in time and produced `output`.
    Completed {
        /// Numbered from 1 in the order the jobs were submitted.
        job_id: u64,
        /// The worker that ran it, from 1.
        worker_id: usize,
        /// The job.
        input: T,
        /// What the work returned.
        output: O,
    },
    /// The work returned an error or panicked.
    Failed {
        /// The job's number.
        job_id: u64,
        /// The worker that ran it.
        worker_id: usize,
        /// The job.
        input: T,
        /// The error, or the panic's message.
        failure: Failure<E>,
    },
    /// The run was cancelled while the job was running, and the job stopped.
    Cancelled {
        /// The job's number.
        job_id: u64,
        /// The worker that was running it.
        worker_id: usize,
        /// The job.
        input: T,
    },
}
// ANCHOR_END: outcome

impl<T, O, E> Outcome<T, O, E> {
    /// The job's number, whatever became of it.
    pub fn job_id(&self) -> u64 {
        match self {
            Self::Completed { job_id, .. }
            | Self::Failed { job_id, .. }
            | Self::Cancelled { job_id, .. } => *job_id,
        }
    }

    /// The worker that ran the job.
    pub fn worker_id(&self) -> usize {
        match self {
            Self::Completed { worker_id, .. }
            | Self::Failed { worker_id, .. }
            | Self::Cancelled { worker_id, .. } => *worker_id,
        }
    }
}

impl Outcome {
    /// Sorts what came back from a job's work into the three outcomes. `ran` is what
    /// [`crate::catch_panic`] returned: the work's own `Result`, or a panic's message.
    pub fn from_run(
        job: Job,
        worker_id: usize,
        ran: Result<Result<u64, JobError>, String>,
        started_at: SystemTime,
        finished_at: SystemTime,
    ) -> Self {
        let job_id = job.id;
        let failure = match ran {
            Ok(Ok(output)) => {
                let output = JobResult {
                    job_id,
                    output,
                    worker_id,
                    started_at,
                    finished_at,
                };
                return Self::Completed {
                    job_id,
                    worker_id,
                    input: job,
                    output,
                };
            }
            Ok(Err(JobError::Cancelled)) => {
                return Self::Cancelled {
                    job_id,
                    worker_id,
                    input: job,
                };
            }
            Ok(Err(JobError::Failed(message))) => Failure::Error(message),
            Err(panic) => Failure::Panicked(panic),
        };
        Self::Failed {
            job_id,
            worker_id,
            input: job,
            failure,
        }
    }
}

impl<E: std::fmt::Display> std::fmt::Display for Failure<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Error(error) => write!(f, "{error}"),
            Self::Panicked(message) => write!(f, "panicked: {message}"),
        }
    }
}

// ANCHOR: from_worker
/// What a worker sends back for each job it takes out of the queue.
#[derive(Debug)]
pub enum FromWorker<T = Job, O = JobResult, E = String> {
    /// The job ran; this is how it ended.
    Ran(Outcome<T, O, E>),
    /// The run was cancelled while the job waited in the queue: it is handed back unstarted,
    /// with its number.
    NotStarted(u64, T),
}
// ANCHOR_END: from_worker

// ANCHOR: account
/// The end of a run: every submitted job is in exactly one of `outcomes` or `never_started`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account<T = Job, O = JobResult, E = String> {
    /// One per job a worker took, in the order they arrived.
    pub outcomes: Vec<Outcome<T, O, E>>,
    /// Jobs no worker took before the run stopped, with their numbers, handed back so a caller
    /// can retry them.
    pub never_started: Vec<(u64, T)>,
}

impl<T, O, E> Account<T, O, E> {
    /// Reads the workers' messages until the last worker has dropped its sender, passing each
    /// outcome to `on_outcome` as it arrives, and settles the account: every job that ran, and
    /// `never_started` (the jobs never queued) with the jobs the workers handed back.
    pub fn collect(
        messages: impl IntoIterator<Item = FromWorker<T, O, E>>,
        mut never_started: Vec<(u64, T)>,
        mut on_outcome: impl FnMut(&Outcome<T, O, E>),
    ) -> Self {
        let mut outcomes = Vec::new();
        for message in messages {
            match message {
                FromWorker::Ran(outcome) => {
                    on_outcome(&outcome);
                    outcomes.push(outcome);
                }
                FromWorker::NotStarted(job_id, job) => never_started.push((job_id, job)),
            }
        }
        never_started.sort_by_key(|(job_id, _)| *job_id);
        Self {
            outcomes,
            never_started,
        }
    }
}
// ANCHOR_END: account

impl<T, O, E> Account<T, O, E> {
    /// Jobs that produced a result.
    pub fn completed(&self) -> usize {
        self.count(|outcome| matches!(outcome, Outcome::Completed { .. }))
    }

    /// Jobs whose work returned an error or panicked.
    pub fn failed(&self) -> usize {
        self.count(|outcome| matches!(outcome, Outcome::Failed { .. }))
    }

    /// Jobs stopped in the middle by the cancellation.
    pub fn cancelled(&self) -> usize {
        self.count(|outcome| matches!(outcome, Outcome::Cancelled { .. }))
    }

    /// Every job the account covers; equal to the jobs submitted.
    pub fn total(&self) -> usize {
        self.outcomes.len() + self.never_started.len()
    }

    /// Why the run stopped early, or `None` if it ran every job: a run that finished every job
    /// was not stopped, even if a deadline or a signal came just after the last one.
    pub fn stopped_by(&self, context: &Context) -> Option<Reason> {
        let cut_short = !self.never_started.is_empty() || self.cancelled() > 0;
        if cut_short { context.reason() } else { None }
    }

    fn count(&self, kind: impl Fn(&Outcome<T, O, E>) -> bool) -> usize {
        self.outcomes.iter().filter(|outcome| kind(outcome)).count()
    }
}
