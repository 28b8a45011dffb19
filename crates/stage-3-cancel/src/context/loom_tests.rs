//! The context under loom: each test is run once for every order in which its threads can take
//! the context's locks (see `crate::sync`), and an assertion that fails in any one order fails the
//! test, with that order. Run them with
//!
//! ```text
//! RUSTFLAGS="--cfg loom" cargo test -p stage-3-cancel --lib --release loom
//! ```
//!
//! loom cannot run a thread that blocks outside it (a crossbeam `select!`), nor real time, so the
//! tests never wait on `done()`: they check that it has closed, which is what wakes every waiter,
//! and a deadline that fires is a thread that cancels with [`Reason::DeadlineExceeded`] at a
//! moment loom chooses.
//!
//! The last two tests keep broken variants of two steps, and check that loom finds the order in
//! which each breaks its promise: they show what the tests above would catch.

use std::panic::{AssertUnwindSafe, catch_unwind};

use crossbeam_channel::TryRecvError;
use loom::thread;

use super::*;

/// Whether `context`'s done channel has closed: what wakes every `select!` waiting on it. loom
/// does not see the channel, only the lock around its one sender, so this asks the lock; a taken
/// sender must have closed the channel.
fn closed(context: &Context) -> bool {
    let sender_taken = lock(&context.inner.close_done).is_none();
    if sender_taken {
        assert!(matches!(
            context.done().try_recv(),
            Err(TryRecvError::Disconnected)
        ));
    }
    sender_taken
}

/// Asserts that `context` is cancelled for `reason`, and its done channel closed.
#[track_caller]
fn assert_cancelled(context: &Context, reason: Reason) {
    assert_eq!(context.reason(), Some(reason));
    assert!(closed(context), "cancelled, and done still open");
}

/// Runs `on_the_side` on a loom thread of its own while `here` runs on this one.
fn at_once(on_the_side: impl FnOnce() + Send + 'static, here: impl FnOnce()) {
    let side = thread::spawn(on_the_side);
    here();
    side.join().expect("the other thread does not panic");
}

// ANCHOR: cancel_race
#[test]
fn loom_a_cancel_that_returns_has_closed_done_and_cancelled_the_children() {
    loom::model(|| {
        let context = Context::new();
        let child = context.child();
        let (other, others_child) = (context.clone(), child.clone());
        // Two cancellations with different reasons; whichever returns first, the context it
        // cancelled is closed and its child cancelled by then, with the reason that won.
        at_once(
            move || {
                other.cancel_because(Reason::Interrupted);
                let reason = other.reason().expect("cancelled");
                assert_cancelled(&other, reason);
                assert_cancelled(&others_child, reason);
            },
            || {
                context.cancel();
                let reason = context.reason().expect("cancelled");
                assert_cancelled(&context, reason);
                assert_cancelled(&child, reason);
            },
        );
    });
}
// ANCHOR_END: cancel_race

#[test]
fn loom_a_child_made_during_a_cancel_is_cancelled() {
    loom::model(|| {
        let parent = Context::new();
        let canceller = parent.clone();
        let mut child = None;
        at_once(move || canceller.cancel(), || child = Some(parent.child()));
        assert_cancelled(&child.expect("made"), Reason::Cancelled);
    });
}

#[test]
fn loom_a_grandchild_made_during_a_cancel_is_cancelled() {
    loom::model(|| {
        let parent = Context::new();
        let child = parent.child();
        let canceller = parent.clone();
        let mut grandchild = None;
        at_once(
            move || canceller.cancel(),
            || grandchild = Some(child.child()),
        );
        assert_cancelled(&parent, Reason::Cancelled);
        assert_cancelled(&child, Reason::Cancelled);
        assert_cancelled(&grandchild.expect("made"), Reason::Cancelled);
    });
}

#[test]
fn loom_a_child_dropped_during_a_cancel_is_let_go() {
    loom::model(|| {
        let parent = Context::new();
        let child = parent.child();
        let canceller = parent.clone();
        at_once(move || canceller.cancel(), || drop(child));
        assert_cancelled(&parent, Reason::Cancelled);
        // The list forgets the child that went (if the cancel did not take it first).
        let _kept = parent.child();
        assert_eq!(lock(&parent.inner.children).len(), 1);
    });
}

#[test]
fn loom_a_deadline_racing_a_cancel_leaves_one_reason_everywhere() {
    loom::model(|| {
        let context = Context::new().child_with_deadline(Some(far_future()));
        let timer = context.clone();
        let other = context.clone();
        let mut child = None;
        let canceller = thread::spawn(move || other.cancel());
        at_once(
            move || timer.cancel_because(Reason::DeadlineExceeded),
            || child = Some(context.child()),
        );
        canceller.join().expect("the canceller does not panic");
        let reason = context.reason().expect("cancelled");
        assert!(matches!(
            reason,
            Reason::Cancelled | Reason::DeadlineExceeded
        ));
        assert_cancelled(&context, reason);
        assert_cancelled(&child.expect("made"), reason);
    });
}

/// Whether loom finds an order of `scenario`'s threads in which it panics.
fn loom_finds_a_failure(scenario: impl Fn() + Sync + Send + 'static) -> bool {
    catch_unwind(AssertUnwindSafe(|| loom::model(scenario))).is_err()
}

#[test]
fn loom_finds_the_child_that_a_cancel_without_catching_up_misses() {
    /// [`Context::child`] without its last step: a parent cancelled before the child was on its
    /// list never cancels it.
    fn child_without_catching_up(parent: &Context) -> Context {
        let child = Context::with_optional_deadline(parent.inner.deadline);
        lock(&parent.inner.children).push(Arc::downgrade(&child.inner));
        child
    }
    assert!(loom_finds_a_failure(|| {
        let parent = Context::new();
        let canceller = parent.clone();
        let mut child = None;
        at_once(
            move || canceller.cancel(),
            || child = Some(child_without_catching_up(&parent)),
        );
        assert_cancelled(&child.expect("made"), Reason::Cancelled);
    }));
}

#[test]
fn loom_finds_the_cancel_that_returns_before_the_one_that_won_has_finished() {
    /// [`Context::cancel_because`] without holding `close_done` while it works: a cancel that
    /// loses the race returns at once, while the winner may not yet have closed done.
    fn cancel_without_waiting(context: &Context, reason: Reason) {
        if context.inner.reason.set(reason).is_err() {
            return;
        }
        drop(lock(&context.inner.close_done).take());
    }
    assert!(loom_finds_a_failure(|| {
        let context = Context::new();
        let other = context.clone();
        at_once(
            move || cancel_without_waiting(&other, Reason::Interrupted),
            || {
                cancel_without_waiting(&context, Reason::Cancelled);
                assert!(closed(&context), "returned, and done still open");
            },
        );
    }));
}
