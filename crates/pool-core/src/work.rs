//! The work the stages' jobs do: squaring a number, quickly or slowly.
//!
//! The article's jobs square a number; from stage 2 on they also sleep, standing in for work that
//! takes time (a request, a file, a query). The sleeps here are the simulation, not the lesson.

use std::thread;
use std::time::Duration;

use crossbeam_channel::{Receiver, after, select};

// ANCHOR: square
/// The reference workload: as little work as a job can do, so that a benchmark of it measures
/// the pool's own cost per job.
pub fn square(number: u64) -> u64 {
    number * number
}
// ANCHOR_END: square

/// Squares `number` after `delay` of pretend work. The sleep cannot be cut short: a pool that
/// wants to stop a job in the middle needs [`sleep_unless_cancelled`].
pub fn square_slowly(number: u64, delay: Duration) -> u64 {
    thread::sleep(delay);
    square(number)
}

/// How a [`sleep_unless_cancelled`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slept {
    /// The whole delay went by.
    Full,
    /// The cancel signal arrived first.
    Cancelled,
}

/// Sleeps for `delay`, or until `cancelled` is ready, whichever comes first.
///
/// `cancelled` is ready once it holds a message or once every sender of it is dropped; the
/// second is how a canceller tells any number of sleepers at once, as Go closes `ctx.Done()`.
pub fn sleep_unless_cancelled<T>(delay: Duration, cancelled: &Receiver<T>) -> Slept {
    select! {
        recv(cancelled) -> _ => Slept::Cancelled,
        recv(after(delay)) -> _ => Slept::Full,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossbeam_channel::bounded;
    use std::time::Instant;

    #[test]
    fn square_squares() {
        assert_eq!(square(12), 144);
        assert_eq!(square_slowly(3, Duration::ZERO), 9);
    }

    #[test]
    fn a_sleep_nobody_cancels_runs_its_full_delay() {
        let (_keep_open, cancelled) = bounded::<()>(0);
        let started = Instant::now();
        assert_eq!(
            sleep_unless_cancelled(Duration::from_millis(20), &cancelled),
            Slept::Full
        );
        assert!(started.elapsed() >= Duration::from_millis(20));
    }

    #[test]
    fn dropping_the_sender_wakes_a_long_sleep_at_once() {
        let (cancel, cancelled) = bounded::<()>(0);
        let sleeper = thread::spawn(move || {
            let started = Instant::now();
            let slept = sleep_unless_cancelled(Duration::from_secs(60), &cancelled);
            (slept, started.elapsed())
        });
        drop(cancel);
        let (slept, took) = sleeper.join().expect("the sleeper does not panic");
        assert_eq!(slept, Slept::Cancelled);
        // A minute-long sleep that ends inside ten seconds was woken, however busy the machine.
        assert!(took < Duration::from_secs(10), "took {took:?}");
    }
}
