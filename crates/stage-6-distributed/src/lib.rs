//! Stage 6: the pool beyond one process.
//!
//! The queue is a Redis stream; the workers are tasks in any number of worker processes, on any
//! number of machines, that read it through one consumer group. What a process did in memory in
//! stages 1–5 now has to survive the process: a job handed to a worker stays *pending* until the
//! worker settles it, and a worker that dies leaves it to be taken over when its lease runs out.
//! Delivery is at least once, so each step that ends a job is one atomic, conditional step on
//! the broker: a job ends completed or dead-lettered, once.
//!
//! - [`worker`]: a worker process, [`run_pool`], stage 5's pool fed by [`fetcher`] from the
//!   broker; [`delivery`]: one delivery, run under its lease and deadline and settled;
//!   [`tally`]: what a process did.
//! - [`broker`]: what a pool needs from a shared queue, on Redis ([`RedisBroker`]) and in memory
//!   ([`MemoryBroker`]); [`status`]: the queue's account as text and JSON.
//! - [`produce`]: the producer, with back-pressure; [`job`]: the demo's job.
//! - [`demo`], [`chaos`]: the default run, and the fault injector that checks the promises.
//! - [`server`]: a private `redis-server`; [`metrics`]: Prometheus metrics; [`cli`]: the flags.

pub mod broker;
pub mod chaos;
pub mod cli;
pub mod delivery;
pub mod demo;
pub mod fetcher;
pub mod job;
pub mod metrics;
pub mod produce;
pub mod server;
pub mod status;
pub mod tally;
pub mod worker;

pub use broker::{
    Added, Broker, BrokerError, DeadLetter, Delivery, Inspect, JobRecord, JobState, Lease,
    MemoryBroker, RedisBroker, Retention, Settlement, Status,
};
pub use delivery::Settled;
pub use job::{Demo, JobSpec, run_job};
pub use metrics::WorkMetrics;
pub use produce::{ProduceError, ProduceSettings, Produced, produce};
pub use server::PrivateRedis;
pub use tally::Tally;
pub use worker::{Handler, WorkSettings, run_pool};
