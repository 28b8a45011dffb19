//! Stage 3: a pool that can be stopped.
//!
//! Stage 2's pool runs until every job is done. This one also stops when its [`Context`] is
//! cancelled: by a deadline, by Ctrl-C or SIGTERM, or by hand. Stopping is done carefully:
//! intake stops, jobs in flight are told to cancel and end within milliseconds, every worker is
//! joined, and the run ends with an [`Account`] in which every submitted job appears exactly
//! once: completed, failed (an error or a panic, with its message), cancelled while running, or
//! never started (handed back to the caller as a value).
//!
//! ```
//! use pool_core::{Clock, Console, Job, PoolSize};
//! use stage_3_cancel::{Context, JobError, run_pool};
//!
//! let jobs = (1..=6).map(|id| Job { id, number: id });
//! let work = |job: &Job, _: &Context| match job.id {
//!     3 => Err(JobError::Failed("three is out".to_owned())),
//!     _ => Ok(job.number * job.number),
//! };
//! let size = PoolSize { workers: 2, queue: 2 };
//! let account = run_pool(size, jobs, work, &Context::new(), &Clock::System, &Console::silent());
//! assert_eq!((account.completed(), account.failed(), account.total()), (5, 1, 6));
//! ```
//!
//! - [`outcome`]: the pool's vocabulary, which every later stage uses too.
//! - [`context`]: Go's `context` for threads: cancel, deadline, children.
//! - [`pool`]: the workers, the queue, and [`run_pool`]; [`program`]: the stage's program;
//!   [`signals`]: Ctrl-C and SIGTERM.

pub mod context;
mod go_port;
pub mod outcome;
pub mod pool;
pub mod program;
pub mod signals;
mod sync;

pub use context::{Context, DeadlineTimer, Reason};
pub use outcome::{Account, Failure, FromWorker, JobError, Outcome};
pub use pool::{catch_panic, run_pool};
pub use program::{Report, Settings, print_account, run, simulated_work};
pub use signals::{INTERRUPTED, cancel_on_signals, exit_code};
