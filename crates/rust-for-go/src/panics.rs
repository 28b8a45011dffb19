//! Panics and unwinding, next to Go's `panic` and `recover`.
//!
//! A panic unwinds the thread it happens on: it leaves function after function, dropping every
//! value they own, until something catches it or the thread ends. It never crosses to another
//! thread by itself; it reaches the thread that joins the one that panicked, as an `Err` from
//! `join`, or as a new panic at the end of a scope.

use std::panic::{self, AssertUnwindSafe};
use std::thread;

use crossbeam_channel::unbounded;

// ANCHOR: catch
/// Divides 100 by `divisor`, turning the panic that a divisor of 0 causes into an `Err` with
/// the panic's message.
pub fn hundred_divided_by(divisor: u64) -> Result<u64, String> {
    panic::catch_unwind(|| 100 / divisor).map_err(|payload| {
        // A panic carries a value of any type; `panic!` with a message makes it a string.
        payload
            .downcast_ref::<&str>()
            .map(|message| (*message).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_owned())
    })
}
// ANCHOR_END: catch

// ANCHOR: scope_reraises
/// The job each worker runs: job 2 panics.
fn job(number: u64) -> u64 {
    assert!(number != 2, "job 2 failed");
    number * 10
}

/// Runs jobs 1 and 2 on two scoped workers that send their outputs back; returns what the
/// collector received, and the message of the panic that the scope raised at its end.
pub fn scope_with_a_failing_worker() -> (Vec<u64>, Option<String>) {
    let (sender, receiver) = unbounded::<u64>();
    let mut received = Vec::new();
    // `AssertUnwindSafe`: after a panic we only read `received`, which holds whole values.
    let caught = panic::catch_unwind(AssertUnwindSafe(|| {
        thread::scope(|scope| {
            for number in [1, 2] {
                let results = sender.clone();
                // Worker 2 panics before it sends. Unwinding drops `results` all the same, so
                // the channel still closes and the loop below still ends.
                scope.spawn(move || results.send(job(number)).expect("the collector listens"));
            }
            drop(sender);
            received.extend(receiver.iter());
        });
        // Not reached: the scope saw worker 2 panic, so it panics once every thread is joined.
    }));
    let message = caught.err().and_then(|payload| {
        payload
            .downcast_ref::<&str>()
            .map(|text| (*text).to_owned())
    });
    (received, message)
}
// ANCHOR_END: scope_reraises

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caught_panic_becomes_an_error_value() {
        assert_eq!(hundred_divided_by(4), Ok(25));
        assert_eq!(
            hundred_divided_by(0),
            Err("attempt to divide by zero".to_owned())
        );
    }

    #[test]
    fn the_scope_passes_a_workers_panic_on_after_joining_every_worker() {
        let (received, message) = scope_with_a_failing_worker();
        assert_eq!(received, [10]);
        assert_eq!(message.as_deref(), Some("a scoped thread panicked"));
    }
}
