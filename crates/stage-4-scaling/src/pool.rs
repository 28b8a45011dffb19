//! A worker pool whose size changes while it runs.
//!
//! Stage 3's pool starts W workers in a scope and keeps them to the end. This one starts and
//! retires workers one at a time while jobs flow, always keeping between `min` and `max` of
//! them. Retiring is a request, never an interruption: a worker told to retire finishes the job
//! in its hands first, so no job is lost and none runs twice.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError, bounded, unbounded};
use pool_core::{Clock, Job, JobResult};
use stage_3_cancel::{Account, Context, JobError, Outcome, catch_panic};

use crate::metrics::{PoolMetrics, WorkerStats};

/// The fewest and the most workers the pool may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// At least one, so that queued jobs always have someone to run them.
    pub min: usize,
    /// The pool never has more workers than this.
    pub max: usize,
}

impl Limits {
    /// `count`, moved into `min..=max`.
    pub fn clamp(&self, count: usize) -> usize {
        count.clamp(self.min, self.max)
    }
}

/// The work a pool runs: shared by every worker thread, so it must be `Send + Sync + 'static`.
pub type Work = dyn Fn(&Job, &Context) -> Result<u64, JobError> + Send + Sync;

/// A job in the queue, stamped with the moment it was queued so that the worker who takes it can
/// tell how long it waited.
struct Queued {
    job: Job,
    queued_at: Instant,
}

/// What a worker sends back for each job it takes, as in stage 3.
enum FromWorker {
    Ran(Outcome),
    NotStarted(Job),
}

/// What every worker shares: the queue's receiving end, the outcomes' sending end, the context,
/// the work, the clock and the metrics. Each worker holds an `Arc` of it; the pool holds one more
/// to hand to workers it starts later.
struct Shared {
    queue: Receiver<Queued>,
    outcomes: Sender<FromWorker>,
    context: Context,
    work: Arc<Work>,
    clock: Clock,
    metrics: Arc<PoolMetrics>,
}

// ANCHOR: member
/// A running worker, as the pool sees it.
struct Member {
    stats: Arc<WorkerStats>,
    /// Asks the worker to leave: it looks after each job, and every [`IDLE_CHECK`] while it
    /// waits for one.
    retiring: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

/// How often a waiting worker looks up from the queue to see whether it has been retired.
const IDLE_CHECK: Duration = Duration::from_millis(10);
// ANCHOR_END: member

/// The workers: the ones running and the ones retired, which are joined at the end.
struct Crew {
    active: Vec<Member>,
    retired: Vec<JoinHandle<()>>,
    /// Worker ids count up from 1 and are never reused, so a retired worker's numbers never mix
    /// with a newer worker's.
    next_id: usize,
}

impl Crew {
    /// Joins the retired workers that have left, so their threads do not pile up over a long run.
    fn join_finished_retirees(&mut self) {
        let (finished, running): (Vec<_>, Vec<_>) = std::mem::take(&mut self.retired)
            .into_iter()
            .partition(JoinHandle::is_finished);
        self.retired = running;
        for thread in finished {
            thread.join().expect("a worker thread does not panic");
        }
    }
}

/// A pool of worker threads that can grow and shrink while it runs.
pub struct WorkerPool {
    limits: Limits,
    queue: Sender<Queued>,
    shared: Arc<Shared>,
    crew: Mutex<Crew>,
    outcomes: Receiver<FromWorker>,
    never_submitted: Mutex<Vec<Job>>,
}

impl WorkerPool {
    /// Starts a pool with `initial` workers (moved into `limits`) and a queue of `queue_capacity`.
    ///
    /// # Panics
    ///
    /// If `limits.min` is 0 or greater than `limits.max`.
    pub fn start(
        limits: Limits,
        initial: usize,
        queue_capacity: usize,
        work: Arc<Work>,
        context: Context,
        clock: Clock,
        metrics: Arc<PoolMetrics>,
    ) -> Self {
        assert!(
            limits.min >= 1 && limits.min <= limits.max,
            "a pool needs 1 ≤ min ≤ max, got {limits:?}"
        );
        let (queue, queued) = bounded::<Queued>(queue_capacity);
        let (outcome_sender, outcomes) = unbounded();
        // The metrics read the queue's length through a receiver of their own. A receiver does
        // not keep the queue open (only senders do), so workers still see it close.
        let length_reader = queued.clone();
        metrics.watch_queue(move || length_reader.len());
        let pool = Self {
            limits,
            queue,
            shared: Arc::new(Shared {
                queue: queued,
                outcomes: outcome_sender,
                context,
                work,
                clock,
                metrics,
            }),
            crew: Mutex::new(Crew {
                active: Vec::new(),
                retired: Vec::new(),
                next_id: 1,
            }),
            outcomes,
            never_submitted: Mutex::new(Vec::new()),
        };
        pool.resize(initial);
        pool
    }

    /// How many workers are running (not counting retired ones finishing a last job).
    pub fn size(&self) -> usize {
        lock(&self.crew).active.len()
    }

    /// Jobs waiting in the queue right now.
    pub fn queue_depth(&self) -> usize {
        self.queue.len()
    }

    /// The limits the size stays within.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The stats of every running worker, for the autoscaler to judge who is idle.
    pub fn active_workers(&self) -> Vec<Arc<WorkerStats>> {
        lock(&self.crew)
            .active
            .iter()
            .map(|member| Arc::clone(&member.stats))
            .collect()
    }

    // ANCHOR: submit
    /// Queues a job, waiting while the queue is full. Once the context is cancelled, the job is
    /// kept aside as never started instead (as stage 3's `submit` does).
    pub fn submit(&self, job: Job) {
        let queued = Queued {
            job,
            queued_at: Instant::now(),
        };
        if self.shared.context.is_cancelled() {
            lock(&self.never_submitted).push(job);
            return;
        }
        // Counted before it is sent, so that no reader ever sees more jobs ended than submitted.
        self.shared.metrics.job_submitted();
        self.queue
            .send(queued)
            .expect("the pool holds a receiver of its queue until it finishes");
    }
    // ANCHOR_END: submit

    /// Starts up to `count` workers, never going above `max`; returns how many it started.
    /// Retired workers still finishing a job count toward `max`, so that the pool never runs more
    /// than `max` jobs at once.
    pub fn scale_up(&self, count: usize) -> usize {
        let mut crew = lock(&self.crew);
        crew.join_finished_retirees();
        let room = self
            .limits
            .max
            .saturating_sub(crew.active.len() + crew.retired.len());
        let added = count.min(room);
        for _ in 0..added {
            let id = crew.next_id;
            crew.next_id += 1;
            let member = self.spawn(id);
            crew.active.push(member);
        }
        self.shared.metrics.pool_resized(crew.active.len());
        added
    }

    // ANCHOR: scale_down
    /// Retires up to `count` workers, never going below `min`; returns how many it retired.
    /// Idle workers go first, the longest idle first; a busy worker asked to retire finishes its
    /// job, then leaves.
    pub fn scale_down(&self, count: usize) -> usize {
        let mut crew = lock(&self.crew);
        let spare = crew.active.len().saturating_sub(self.limits.min);
        let retiring = count.min(spare);
        let now = self.shared.metrics.now();
        // Busy workers sort after idle ones; among idle ones, the longest idle comes first. The
        // keys are read once each: workers change them as they run, and a sort needs keys that
        // hold still.
        crew.active.sort_by_cached_key(|member| {
            (
                member.stats.is_busy(),
                std::cmp::Reverse(member.stats.idle_for(now)),
            )
        });
        let leaving: Vec<Member> = crew.active.drain(..retiring).collect();
        for member in leaving {
            member.retiring.store(true, Ordering::Relaxed);
            crew.retired.push(member.thread);
        }
        crew.join_finished_retirees();
        self.shared.metrics.pool_resized(crew.active.len());
        retiring
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

    fn spawn(&self, id: usize) -> Member {
        let stats = self.shared.metrics.new_worker(id);
        let retiring = Arc::new(AtomicBool::new(false));
        let shared = Arc::clone(&self.shared);
        let worker_stats = Arc::clone(&stats);
        let worker_retiring = Arc::clone(&retiring);
        let thread = thread::Builder::new()
            .name(format!("worker-{id}"))
            .spawn(move || worker(&shared, &worker_stats, &worker_retiring))
            .expect("the operating system starts a worker thread");
        Member {
            stats,
            retiring,
            thread,
        }
    }

    // ANCHOR: finish
    /// Closes the queue, lets the workers finish what is queued (or hand it back, once the
    /// context is cancelled), joins every worker, retired ones included, and accounts for every
    /// job submitted.
    pub fn finish(self) -> Account {
        let Self {
            queue,
            shared,
            crew,
            outcomes,
            never_submitted,
            ..
        } = self;
        drop(queue); // Workers leave their loops once the queue is closed and empty.
        let crew = crew.into_inner().unwrap_or_else(PoisonError::into_inner);
        let threads = crew
            .active
            .into_iter()
            .map(|member| member.thread)
            .chain(crew.retired);
        for thread in threads {
            // A worker catches its jobs' panics, so a panic here is a bug in the pool itself.
            thread.join().expect("a worker thread does not panic");
        }
        let context = shared.context.clone();
        // Every worker has returned; dropping the last `Shared` drops the last outcome sender.
        drop(shared);

        let mut account_outcomes = Vec::new();
        let mut never_started = never_submitted
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        for message in outcomes {
            match message {
                FromWorker::Ran(outcome) => account_outcomes.push(outcome),
                FromWorker::NotStarted(job) => never_started.push(job),
            }
        }
        never_started.sort_by_key(|job| job.id);
        let cut_short = !never_started.is_empty()
            || account_outcomes
                .iter()
                .any(|outcome| matches!(outcome, Outcome::Cancelled { .. }));
        Account {
            outcomes: account_outcomes,
            never_started,
            stopped_by: if cut_short { context.reason() } else { None },
        }
    }
    // ANCHOR_END: finish
}

// ANCHOR: worker
/// One worker: like stage 3's, with two additions. It records how long each job waited and ran,
/// and it leaves when retired: after its job if it is busy, within [`IDLE_CHECK`] if it is
/// waiting for one.
fn worker(shared: &Shared, stats: &WorkerStats, retiring: &AtomicBool) {
    // When the last job ended. A job taken straight after it, without waiting, starts then: one
    // clock reading serves as the end of one job and the start of the next.
    let mut last_end: Option<Instant> = None;
    while !retiring.load(Ordering::Relaxed) {
        let (queued, started) = match shared.queue.try_recv() {
            Ok(queued) => {
                let started = last_end.map_or_else(Instant::now, |end| end.max(queued.queued_at));
                (queued, started)
            }
            Err(TryRecvError::Disconnected) => break,
            Err(TryRecvError::Empty) => match shared.queue.recv_timeout(IDLE_CHECK) {
                Ok(queued) => (queued, Instant::now()),
                Err(RecvTimeoutError::Timeout) => {
                    last_end = None; // After a wait, the next job gets a reading of its own.
                    continue; // And look at `retiring` again.
                }
                Err(RecvTimeoutError::Disconnected) => break,
            },
        };
        if shared.context.is_cancelled() {
            send(shared, FromWorker::NotStarted(queued.job));
            continue;
        }
        stats.job_started(queued.queued_at, started);
        let started_at = shared.clock.now();
        let result = catch_panic(|| (shared.work)(&queued.job, &shared.context));
        let outcome = match result {
            Ok(Ok(output)) => Outcome::Completed(JobResult {
                job_id: queued.job.id,
                output,
                worker_id: stats.id,
                started_at,
                finished_at: shared.clock.now(),
            }),
            Ok(Err(JobError::Cancelled)) => Outcome::Cancelled {
                job_id: queued.job.id,
                worker_id: stats.id,
            },
            Ok(Err(JobError::Failed(message))) | Err(message) => Outcome::Failed {
                job_id: queued.job.id,
                worker_id: stats.id,
                message,
            },
        };
        let finished = Instant::now();
        stats.job_finished(started, finished, &outcome);
        last_end = Some(finished);
        send(shared, FromWorker::Ran(outcome));
    }
    stats.stopped();
}
// ANCHOR_END: worker

fn send(shared: &Shared, message: FromWorker) {
    shared
        .outcomes
        .send(message)
        .expect("the pool keeps the outcomes receiver until every worker has been joined");
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The pool's locks guard bookkeeping that no code path leaves half-done on a panic.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
