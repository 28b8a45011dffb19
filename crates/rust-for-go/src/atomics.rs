//! Atomics and `Ordering`, as far as stage 4's metrics need them.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;

use crossbeam_channel::bounded;

// ANCHOR: fetch_add
/// Counts to `threads × per_thread` with every thread adding one at a time to one counter.
pub fn count_with_fetch_add(threads: usize, per_thread: u64) -> u64 {
    let count = AtomicU64::new(0);
    thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                for _ in 0..per_thread {
                    // Read, add and write in one indivisible step. `Relaxed`: the count is the
                    // only thing shared, and nothing else is published through it.
                    count.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    // The scope joined every thread, and a join makes all of a thread's writes visible.
    count.into_inner()
}
// ANCHOR_END: fetch_add

// ANCHOR: lost_update
/// Two threads each add one to a counter with a load and then a store, in the one order that
/// loses an update; returns the counter's final value, 1 rather than 2.
///
/// The two rendezvous channels only force that order, which a busy machine would otherwise hit
/// now and then: both threads read 0, both write 1.
pub fn load_then_store_twice() -> u64 {
    let count = AtomicU64::new(0);
    let (first_has_read, second_may_read) = bounded::<()>(0);
    let (second_has_written, first_may_write) = bounded::<()>(0);
    thread::scope(|scope| {
        scope.spawn(|| {
            let seen = count.load(Ordering::Relaxed);
            first_has_read
                .send(())
                .expect("the second thread waits for this");
            first_may_write
                .recv()
                .expect("the second thread sends this");
            count.store(seen + 1, Ordering::Relaxed); // writes over the other thread's update
        });
        scope.spawn(|| {
            second_may_read.recv().expect("the first thread sends this");
            let seen = count.load(Ordering::Relaxed);
            count.store(seen + 1, Ordering::Relaxed);
            second_has_written
                .send(())
                .expect("the first thread waits for this");
        });
    });
    count.into_inner()
}
// ANCHOR_END: lost_update

// ANCHOR: release_acquire
/// Hands `value` from a writer thread to this one through an atomic, with a flag that says when
/// it is there; returns what this thread read.
pub fn hand_over(value: u64) -> u64 {
    let slot = AtomicU64::new(0);
    let ready = AtomicBool::new(false);
    thread::scope(|scope| {
        scope.spawn(|| {
            slot.store(value, Ordering::Relaxed);
            // `Release`: every write above is visible to a thread that sees this `true` ...
            ready.store(true, Ordering::Release);
        });
        // ... through an `Acquire` load. With `Relaxed` on both sides the flag could be seen
        // set while the slot still looks empty (on ARM, for instance; x86 happens not to do it).
        while !ready.load(Ordering::Acquire) {
            thread::yield_now();
        }
        slot.load(Ordering::Relaxed)
    })
}
// ANCHOR_END: release_acquire

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fetch_add_loses_no_update() {
        assert_eq!(count_with_fetch_add(4, 10_000), 40_000);
    }

    #[test]
    fn a_load_and_a_store_can_lose_an_update() {
        assert_eq!(load_then_store_twice(), 1);
    }

    #[test]
    fn the_value_arrives_with_its_flag() {
        for value in 1..=20 {
            assert_eq!(hand_over(value), value);
        }
    }
}
