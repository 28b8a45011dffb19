//! The chapter's examples that are best told as tests: each states what the text claims and
//! checks it.

use std::cell::Cell;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use crossbeam_channel::{Receiver, SendError, Sender, TryRecvError, unbounded};

// ANCHOR: last_sender
#[test]
fn the_channel_closes_when_the_last_sender_is_dropped() {
    let (sender, receiver) = unbounded::<u64>();
    let second_sender = sender.clone();
    sender.send(1).expect("the receiver is alive");
    drop(sender);
    // One sender is left: the queued value still arrives, and then the channel is only empty.
    assert_eq!(receiver.try_recv(), Ok(1));
    assert_eq!(receiver.try_recv(), Err(TryRecvError::Empty));
    drop(second_sender);
    // No sender is left: the channel is closed, and a receiver learns it without waiting.
    assert_eq!(receiver.try_recv(), Err(TryRecvError::Disconnected));
    assert_eq!(receiver.iter().count(), 0);
}

#[test]
fn a_send_fails_when_no_receiver_is_left() {
    let (sender, receiver) = unbounded::<u64>();
    drop(receiver);
    // Nobody can ever take the value, so `send` hands it back instead of keeping it.
    assert_eq!(sender.send(7), Err(SendError(7)));
}
// ANCHOR_END: last_sender

// ANCHOR: capture
#[test]
fn a_move_closure_owns_what_it_uses() {
    let label = String::from("worker");
    // Without `move`, a closure borrows what it uses: `label` is still ours afterwards.
    let borrowing = || label.len();
    assert_eq!(borrowing(), 6);
    assert_eq!(label, "worker");
    // With `move`, `label` goes into the closure and lives as long as the closure does.
    let owning = move || label.len();
    assert_eq!(owning(), 6);
    // Using `label` here would not compile: its value has moved (see `moved_receiver.rs`).
    // A `Copy` value such as a number is copied instead, so both sides keep one.
    let id = 3_u64;
    let times_two = move || id * 2;
    assert_eq!((times_two(), id), (6, 3));
}
// ANCHOR_END: capture

// ANCHOR: assert_traits
/// Compiles only if `T` may move to another thread.
fn is_send<T: Send>() {}
/// Compiles only if `&T` may be used by several threads at once.
fn is_sync<T: Sync>() {}

#[test]
fn what_may_cross_threads() {
    is_send::<Sender<u64>>();
    is_sync::<Receiver<u64>>(); // many workers may share one receiver
    is_send::<Arc<Mutex<Vec<u64>>>>();
    is_sync::<AtomicU64>();
    // A `Cell` may move to another thread, as long as only one thread uses it at a time.
    is_send::<Cell<u64>>();
    // `is_send::<Rc<u64>>()` and `is_sync::<Cell<u64>>()` do not compile: `Rc` counts its
    // owners without atomics, and `Cell` changes its value behind a shared reference.
}
// ANCHOR_END: assert_traits
