//! A cancellation context for threads, after Go's `context.Context`.
//!
//! A [`Context`] is a cheap, cloneable handle that every part of a run shares. It can be
//! cancelled by hand ([`Context::cancel`]), by a deadline ([`Context::with_deadline`]) or by a
//! signal handler (`main.rs` calls [`Context::cancel_because`] with [`Reason::Interrupted`]).
//! Whatever waits can also wait for cancellation: [`Context::done`] is a channel that never
//! carries a message and is *closed* on cancellation, so a `select!` on it (the cancellable sleep
//! in `pool_core::work`, the deadline's timer thread) wakes the moment the run is cancelled. The
//! stage's workers do not wait on it: they check the context between jobs, and the closed queue
//! wakes the idle ones.

use std::io;
use std::sync::{Arc, Weak};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, at, bounded, select};

use crate::sync::{Mutex, OnceLock, lock};

#[cfg(all(test, loom))]
mod loom_tests;

/// Why a context was cancelled; Go's `ctx.Err()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Someone called [`Context::cancel`].
    Cancelled,
    /// The context's deadline passed.
    DeadlineExceeded,
    /// The process was asked to stop (Ctrl-C or SIGTERM).
    Interrupted,
}

/// The message type of the done channel: it has no values, so nothing can ever be sent on the
/// channel, and the only thing that can happen to it is that it closes.
#[derive(Debug)]
pub enum Never {}

// ANCHOR: context
/// A shared cancellation signal. Cloning gives another handle to the same signal.
#[derive(Debug, Clone)]
pub struct Context {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Closed, for every clone at once, when the last sender is dropped. The only sender lives
    /// in `close_done`, so cancelling is taking it out and dropping it.
    done: Receiver<Never>,
    close_done: Mutex<Option<Sender<Never>>>,
    /// Set once, by the first cancellation; later ones change nothing.
    reason: OnceLock<Reason>,
    deadline: Option<Instant>,
    /// Contexts derived from this one, cancelled with it. Weak, so that a child that is dropped
    /// is not kept alive by its parent.
    children: Mutex<Vec<Weak<Inner>>>,
}
// ANCHOR_END: context

impl Default for Context {
    fn default() -> Self {
        Self::new()
    }
}

impl Context {
    /// A context that is cancelled only when someone cancels it.
    pub fn new() -> Self {
        Self::with_optional_deadline(None)
    }

    fn with_optional_deadline(deadline: Option<Instant>) -> Self {
        let (close_done, done) = bounded(0);
        Self {
            inner: Arc::new(Inner {
                done,
                close_done: Mutex::new(Some(close_done)),
                reason: OnceLock::new(),
                deadline,
                children: Mutex::new(Vec::new()),
            }),
        }
    }

    // ANCHOR: child
    /// A context cancelled when this one is (with the same reason), or on its own. The parent
    /// holds it weakly: dropping every handle to the child frees it.
    pub fn child(&self) -> Self {
        self.child_with_deadline(self.inner.deadline)
    }

    fn child_with_deadline(&self, deadline: Option<Instant>) -> Self {
        let child = Self::with_optional_deadline(deadline);
        let mut children = lock(&self.inner.children);
        // Forget children that are gone, so a long-lived parent's list does not only grow.
        children.retain(|child| child.strong_count() > 0);
        children.push(Arc::downgrade(&child.inner));
        drop(children);
        // A parent cancelled before the push above did not see this child: catch up.
        if let Some(&reason) = self.inner.reason.get() {
            child.cancel_because(reason);
        }
        child
    }
    // ANCHOR_END: child

    // ANCHOR: with_deadline
    /// A child context that also cancels itself at `deadline`, with
    /// [`Reason::DeadlineExceeded`]. A timer thread waits for the deadline; the returned
    /// [`DeadlineTimer`] stops and joins it when dropped, and cancels the context as it does,
    /// as Go's `defer cancel()` does. Fails only if the timer thread cannot be started.
    pub fn with_deadline(&self, deadline: Instant) -> io::Result<(Self, DeadlineTimer)> {
        let deadline = self
            .inner
            .deadline
            .map_or(deadline, |own| own.min(deadline));
        let context = self.child_with_deadline(Some(deadline));
        let watched = context.clone();
        let timer = thread::Builder::new()
            .name("deadline".to_owned())
            .spawn(move || {
                select! {
                    recv(watched.done()) -> _ => {}
                    recv(at(deadline)) -> _ => watched.cancel_because(Reason::DeadlineExceeded),
                }
            })?;
        let timer = DeadlineTimer {
            context: context.clone(),
            thread: Some(timer),
        };
        Ok((context, timer))
    }

    /// [`Context::with_deadline`] at `timeout` from now.
    pub fn with_timeout(&self, timeout: Duration) -> io::Result<(Self, DeadlineTimer)> {
        let deadline = Instant::now()
            .checked_add(timeout)
            .unwrap_or_else(far_future);
        self.with_deadline(deadline)
    }
    // ANCHOR_END: with_deadline

    // ANCHOR: cancel
    /// Cancels this context and every context derived from it.
    pub fn cancel(&self) {
        self.cancel_because(Reason::Cancelled);
    }

    /// Cancels with a given reason. Only the first cancellation counts; a later one changes
    /// nothing, and returns once the first has finished: when `cancel` returns, `done` is closed
    /// and the children are cancelled, whichever call won.
    pub fn cancel_because(&self, reason: Reason) {
        // Held until this cancellation has finished, so that one that lost the race waits here.
        let mut close_done = lock(&self.inner.close_done);
        if self.inner.reason.set(reason).is_err() {
            return;
        }
        // Dropping the only sender closes `done`: every `select!` waiting on it wakes up. Only
        // the first cancellation gets here, so the sender is always still there.
        let sender = close_done.take();
        debug_assert!(sender.is_some(), "a context's done closed twice");
        drop(sender);
        let children = std::mem::take(&mut *lock(&self.inner.children));
        // A child's lock is taken while the parent's is held, never the other way round, so
        // two cancellations cannot wait for each other.
        for child in children.iter().filter_map(Weak::upgrade) {
            Self { inner: child }.cancel_because(reason);
        }
    }
    // ANCHOR_END: cancel

    // ANCHOR: observe
    /// The channel to wait on in a `select!`: it becomes ready (disconnected) on cancellation.
    pub fn done(&self) -> &Receiver<Never> {
        &self.inner.done
    }

    /// Why this context was cancelled, or `None` while it is live; Go's `ctx.Err()`. A deadline
    /// that has passed counts even if the timer thread has not woken up yet: the clock, not the
    /// scheduler, decides whether work finished in time.
    pub fn reason(&self) -> Option<Reason> {
        if self.inner.reason.get().is_none()
            && self
                .inner
                .deadline
                .is_some_and(|deadline| Instant::now() >= deadline)
        {
            self.cancel_because(Reason::DeadlineExceeded);
        }
        self.inner.reason.get().copied()
    }

    /// Whether this context has been cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.reason().is_some()
    }
    // ANCHOR_END: observe

    /// When this context cancels itself, if it has a deadline.
    pub fn deadline(&self) -> Option<Instant> {
        self.inner.deadline
    }
}

/// Owns a deadline context's timer thread. Dropping it cancels the context (if the deadline has
/// not already) and joins the thread, so no timer outlives the run it was set for.
#[derive(Debug)]
pub struct DeadlineTimer {
    context: Context,
    thread: Option<JoinHandle<()>>,
}

impl Drop for DeadlineTimer {
    fn drop(&mut self) {
        self.context.cancel();
        if let Some(thread) = self.thread.take() {
            // The timer thread only waits and cancels; it has nothing to panic over.
            let _ = thread.join();
        }
    }
}

/// About thirty years from now: a deadline no run will reach.
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(30 * 365 * 24 * 3600)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wakes_within(context: &Context, limit: Duration) -> bool {
        select! {
            recv(context.done()) -> _ => true,
            recv(crossbeam_channel::after(limit)) -> _ => false,
        }
    }

    #[test]
    fn cancel_wakes_every_clone_and_keeps_the_first_reason() {
        let context = Context::new();
        let clone = context.clone();
        assert_eq!(context.reason(), None);
        clone.cancel_because(Reason::Interrupted);
        context.cancel();
        assert!(wakes_within(&context, Duration::from_secs(10)));
        assert_eq!(context.reason(), Some(Reason::Interrupted));
    }

    #[test]
    fn a_child_is_cancelled_with_its_parent_but_not_the_other_way() {
        let parent = Context::new();
        let child = parent.child();
        let grandchild = child.child();
        grandchild.cancel();
        assert!(!parent.is_cancelled() && !child.is_cancelled());
        parent.cancel();
        assert_eq!(child.reason(), Some(Reason::Cancelled));
        let late_child = parent.child();
        assert_eq!(late_child.reason(), Some(Reason::Cancelled));
    }

    #[test]
    fn a_deadline_cancels_on_its_own() {
        let (context, _timer) = Context::new()
            .with_timeout(Duration::from_millis(20))
            .expect("a timer starts");
        assert!(wakes_within(&context, Duration::from_secs(10)));
        assert_eq!(context.reason(), Some(Reason::DeadlineExceeded));
    }

    #[test]
    fn a_passed_deadline_counts_before_the_timer_wakes() {
        let (context, _timer) = Context::new()
            .with_deadline(Instant::now())
            .expect("a timer starts");
        assert_eq!(context.reason(), Some(Reason::DeadlineExceeded));
    }

    #[test]
    fn dropping_the_timer_cancels_and_joins() {
        let (context, timer) = Context::new()
            .with_timeout(Duration::from_secs(3600))
            .expect("a timer starts");
        drop(timer);
        assert_eq!(context.reason(), Some(Reason::Cancelled));
        assert!(wakes_within(&context, Duration::from_secs(10)));
    }

    #[test]
    fn a_parent_forgets_children_that_are_gone() {
        let parent = Context::new();
        for _ in 0..100 {
            drop(parent.child());
        }
        let _kept = parent.child();
        assert_eq!(lock(&parent.inner.children).len(), 1);
    }

    #[test]
    fn a_child_keeps_the_earlier_of_two_deadlines() {
        let soon = Instant::now() + Duration::from_secs(60);
        let (parent, _parent_timer) = Context::new().with_deadline(soon).expect("a timer starts");
        let (child, _child_timer) = parent
            .with_timeout(Duration::from_secs(3600))
            .expect("a timer starts");
        assert_eq!(child.deadline(), Some(soon));
    }
}
