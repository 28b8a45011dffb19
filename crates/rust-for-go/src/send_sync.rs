//! `Send` and `Sync`: the compiler's proof that threads share nothing unsafely.
//!
//! `T: Send` means a value of `T` may move to another thread; `T: Sync` means a `&T` may be used
//! by several threads at once. The compiler works both out for every type from its parts, and
//! every API that crosses threads (`thread::spawn`, `Scope::spawn`, a channel's `send`) asks for
//! them. A type that shares state without synchronising it (`Rc`, `Cell`, `RefCell`) lacks
//! them, so a program that would race does not compile.

use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;

// ANCHOR: on_two_threads
/// Runs `work` on two scoped threads at once, as the stages share their work with every worker,
/// and adds up the two outputs.
///
/// `Sync` is what makes sharing `&work` between the threads allowed. A closure is `Sync` when
/// everything it captures is, so this bound rejects work that keeps unsynchronised state.
pub fn on_two_threads(work: impl Fn(u64) -> u64 + Sync) -> u64 {
    thread::scope(|scope| {
        let first = scope.spawn(|| work(1));
        let second = scope.spawn(|| work(2));
        first.join().expect("the work does not panic") + second.join().expect("nor here")
    })
}
// ANCHOR_END: on_two_threads

// ANCHOR: square_and_count
/// Squares 1 and 2 on two threads, counting the calls; returns the sum of the squares and the
/// number of calls.
///
/// The count is an `AtomicU64`, which is `Sync`: two threads may add to it at the same moment.
/// A `Cell<u64>` in its place is refused (see `cell_not_sync.rs`).
pub fn square_and_count() -> (u64, u64) {
    let calls = AtomicU64::new(0);
    let total = on_two_threads(|n| {
        calls.fetch_add(1, Ordering::Relaxed);
        n * n
    });
    (total, calls.into_inner())
}
// ANCHOR_END: square_and_count

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_atomic_counts_both_calls() {
        assert_eq!(square_and_count(), (1 + 4, 2));
    }
}
