//! A worker pool whose size changes while it runs.
//!
//! Stage 3's pool starts W workers in a scope and keeps them to the end. This one starts workers
//! and retires them one at a time while jobs flow, always keeping between `min` and `max`.
//! Retiring is a request, never an interruption: it is a message on the job queue, so the worker
//! that takes it has no job in its hands, and no job is lost or run twice.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender, TrySendError, bounded, unbounded};
use pool_core::{Job, lock};
use stage_3_cancel::{Account, Context, FromWorker, JobError, Outcome, catch_panic};

use crate::metrics::PoolMetrics;
use crate::worker_stats::StatsRecorder;

// ANCHOR: settings
/// The fewest and the most workers the pool may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// At least one, so that queued jobs always have someone to run them.
    pub min: usize,
    /// The pool never has more worker threads than this.
    pub max: usize,
}

impl Limits {
    /// `count`, moved into `min..=max`.
    pub fn clamp(&self, count: usize) -> usize {
        count.clamp(self.min, self.max)
    }
}

/// How a pool is built: its limits (it starts at `limits.min` workers) and its queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSettings {
    /// The fewest and most workers.
    pub limits: Limits,
    /// The job queue's capacity; 0 makes every hand-off a rendezvous.
    pub queue: usize,
}

/// The work a pool runs. Workers start and stop while the pool runs, each on a thread of its own
/// rather than in a scope, so the work is shared through an `Arc` and must be `'static`.
pub type WorkFn = dyn Fn(&Job, &Context) -> Result<u64, JobError> + Send + Sync;
// ANCHOR_END: settings

// ANCHOR: message
/// What the job queue carries.
enum Message {
    /// A job, stamped with when it was queued, so that its worker can tell how long it waited.
    Run { job: Job, queued_at: Instant },
    /// "Whoever takes this, leave." Put on the queue by [`WorkerPool::scale_down`].
    Retire,
}
// ANCHOR_END: message

// ANCHOR: worker_pool
/// A pool of worker threads that can grow and shrink while it runs.
pub struct WorkerPool {
    limits: Limits,
    /// The queue's sending end. Dropping it (in [`WorkerPool::finish`]) closes the queue.
    queue: Sender<Message>,
    /// A receiving end kept to give to each worker started later.
    messages: Receiver<Message>,
    /// Kept for the same reason; the last clone is dropped once every worker has been joined,
    /// which closes the outcomes channel.
    outcome_sender: Sender<FromWorker>,
    outcomes: Receiver<FromWorker>,
    context: Context,
    work: Arc<WorkFn>,
    metrics: Arc<PoolMetrics>,
    workers: Mutex<Workers>,
    /// Jobs submitted after the context was cancelled: never queued, so never started.
    never_queued: Mutex<Vec<(u64, Job)>>,
    /// Set by [`WorkerPool::close_intake`]: no job will be submitted after it.
    intake_closed: AtomicBool,
}

/// The worker threads, as the pool keeps track of them.
struct Workers {
    /// Workers not asked to retire: the pool's size.
    active: usize,
    /// Every thread not yet joined: the active workers, and retired ones that have not left yet.
    threads: Vec<JoinHandle<()>>,
    /// Ids count up from 1 and are never reused, so a retired worker's numbers never mix with a
    /// newer worker's.
    next_id: usize,
}
// ANCHOR_END: worker_pool

impl WorkerPool {
    /// Starts a pool with `settings.limits.min` workers.
    ///
    /// # Panics
    ///
    /// If `limits.min` is 0 or greater than `limits.max`.
    pub fn start(
        settings: &PoolSettings,
        work: Arc<WorkFn>,
        context: Context,
        metrics: Arc<PoolMetrics>,
    ) -> Self {
        let limits = settings.limits;
        assert!(
            limits.min >= 1 && limits.min <= limits.max,
            "a pool needs 1 ≤ min ≤ max, got {limits:?}"
        );
        let (queue, messages) = bounded::<Message>(settings.queue);
        // Unbounded, as in stage 3: nothing reads outcomes until the pool finishes.
        let (outcome_sender, outcomes) = unbounded();
        // The metrics read the queue's length through a receiver of their own. A receiver does
        // not keep the queue open (only senders do), so workers still see it close.
        let length_reader = messages.clone();
        metrics.watch_queue(move || length_reader.len());
        let pool = Self {
            limits,
            queue,
            messages,
            outcome_sender,
            outcomes,
            context,
            work,
            metrics,
            workers: Mutex::new(Workers {
                active: 0,
                threads: Vec::new(),
                next_id: 1,
            }),
            never_queued: Mutex::new(Vec::new()),
            intake_closed: AtomicBool::new(false),
        };
        pool.scale_up(limits.min);
        pool
    }

    /// How many workers are active (not counting retired ones still finishing).
    pub fn size(&self) -> usize {
        lock(&self.workers).active
    }

    /// The limits the size stays within.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The pool's metrics.
    pub fn metrics(&self) -> &PoolMetrics {
        &self.metrics
    }

    // ANCHOR: submit
    /// Queues a job, waiting while the queue is full. Once the context is cancelled, the job is
    /// kept aside as never started instead, as stage 3's `submit` does.
    pub fn submit(&self, job: Job) {
        if self.context.is_cancelled() {
            lock(&self.never_queued).push((job.id, job));
            return;
        }
        let queued_at = Instant::now();
        // Counted before it is sent, so that no reader sees more jobs ended than submitted.
        self.metrics.job_submitted();
        self.queue
            .send(Message::Run { job, queued_at })
            .expect("the pool holds a receiver of its queue until it finishes");
    }

    /// Says that no more jobs will come, so that [`WorkerPool::all_jobs_done`] can be true.
    pub fn close_intake(&self) {
        self.intake_closed.store(true, Ordering::SeqCst);
    }

    /// Whether intake is closed and every job submitted has ended: the pool's last job is done.
    pub fn all_jobs_done(&self) -> bool {
        self.intake_closed.load(Ordering::SeqCst) && self.metrics.unfinished_jobs() == 0
    }
    // ANCHOR_END: submit

    /// Starts up to `count` workers; returns how many it started. Retired workers that have not
    /// left yet count toward `max`, so the pool never runs more than `max` jobs at once.
    pub fn scale_up(&self, count: usize) -> usize {
        let mut workers = lock(&self.workers);
        workers.join_the_departed();
        let added = count.min(self.limits.max.saturating_sub(workers.threads.len()));
        for _ in 0..added {
            let id = workers.next_id;
            workers.next_id += 1;
            let thread = self.spawn_worker(id);
            workers.threads.push(thread);
        }
        workers.active += added;
        self.metrics.pool_resized(workers.active);
        added
    }

    // ANCHOR: scale_down
    /// Retires up to `count` workers, never going below `min`; returns how many it retired.
    ///
    /// Each retirement is a [`Message::Retire`] on the job queue. A worker takes it like a job, so
    /// only a worker with empty hands ever takes one, and an idle worker blocked on the queue is
    /// woken by it as by a job. It is sent with `try_send`: a queue with no room means the
    /// workers are behind, no time to shrink, and a blocking `send` could wait for ever on
    /// workers whose jobs wait on whoever called this. (The autoscaler retires only workers
    /// that have been idle, when the queue is empty; with `--queue 0`, `try_send` succeeds only
    /// if a worker is waiting for work, which is exactly when one is idle.)
    pub fn scale_down(&self, count: usize) -> usize {
        let mut workers = lock(&self.workers);
        let mut retired = 0;
        while retired < count.min(workers.active - self.limits.min) {
            match self.queue.try_send(Message::Retire) {
                Ok(()) => retired += 1,
                Err(TrySendError::Full(_)) => break,
                Err(TrySendError::Disconnected(_)) => {
                    unreachable!("the pool holds a receiver of its queue until it finishes")
                }
            }
        }
        workers.active -= retired;
        workers.join_the_departed();
        self.metrics.pool_resized(workers.active);
        retired
    }
    // ANCHOR_END: scale_down

    /// Starts or retires workers until there are `target` of them (moved into the limits);
    /// returns the new size.
    pub fn resize(&self, target: usize) -> usize {
        let target = self.limits.clamp(target);
        let size = self.size();
        if target > size {
            self.scale_up(target - size);
        } else {
            self.scale_down(size - target);
        }
        self.size()
    }

    fn spawn_worker(&self, id: usize) -> JoinHandle<()> {
        let stats = self.metrics.new_worker(id);
        let context = self.context.clone();
        let jobs = self.messages.clone();
        let outcomes = self.outcome_sender.clone();
        let work = Arc::clone(&self.work);
        thread::Builder::new()
            .name(format!("worker-{id}"))
            .spawn(move || worker(id, &context, jobs, outcomes, &*work, stats))
            .expect("the operating system starts a worker thread")
    }

    // ANCHOR: finish
    /// Closes the queue, lets the workers finish what is queued (or hand it back, once the
    /// context is cancelled), joins every worker, retired ones included, and accounts for every
    /// job submitted, with stage 3's [`Account::collect`].
    pub fn finish(self) -> Account {
        drop(self.queue); // Workers leave their loops once the queue is closed and empty.
        let workers = self
            .workers
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        for thread in workers.threads {
            // A worker catches its jobs' panics, so a panic here is a bug in the pool itself.
            thread.join().expect("a worker thread does not panic");
        }
        // Every worker has returned; with the pool's own sender gone, the channel closes.
        drop(self.outcome_sender);
        let never_queued = self
            .never_queued
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        Account::collect(self.outcomes, never_queued, |_| {})
    }
    // ANCHOR_END: finish
}

impl Workers {
    /// Joins the retired workers that have left, so their threads do not pile up.
    fn join_the_departed(&mut self) {
        let (departed, running) = std::mem::take(&mut self.threads)
            .into_iter()
            .partition(JoinHandle::is_finished);
        self.threads = running;
        for thread in departed {
            thread.join().expect("a worker thread does not panic");
        }
    }
}

// ANCHOR: worker
/// One worker: takes messages until the queue is closed and empty or it takes a `Retire`, runs each
/// job with panics caught, records its wait and run time, and sends back what became of it.
/// Once the context is cancelled, it hands back every job it takes instead of running it.
fn worker(
    id: usize,
    context: &Context,
    jobs: Receiver<Message>,
    outcomes: Sender<FromWorker>,
    work: &WorkFn,
    stats: StatsRecorder,
) {
    // Blocking on the queue is all an idle worker does: a job, a `Retire` and the queue's
    // closing (in `finish`, which a cancelled run reaches at once) each wake it.
    for message in jobs {
        let Message::Run { job, queued_at } = message else {
            break; // Retired.
        };
        // Cancelled while the job sat in the queue: it never started, so hand it back.
        if context.is_cancelled() {
            stats.job_handed_back();
            outcomes
                .send(FromWorker::NotStarted(job.id, job))
                .expect("the pool keeps the outcomes receiver until every worker has returned");
            continue;
        }
        // One clock reading when the job starts and one when it ends; each serves both the
        // metrics and the result's wall-clock stamps.
        let started = Instant::now();
        stats.job_started(queued_at, started);
        let ran = catch_panic(|| work(&job, context));
        let finished = Instant::now();
        let (started_at, finished_at) = (stats.wall_time(started), stats.wall_time(finished));
        let outcome = Outcome::from_run(job, id, ran, started_at, finished_at);
        stats.job_finished(started, finished, &outcome);
        outcomes
            .send(FromWorker::Ran(outcome))
            .expect("the pool keeps the outcomes receiver until every worker has returned");
    }
    stats.stopped();
}
// ANCHOR_END: worker
