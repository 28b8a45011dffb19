// Refused: work that counts its calls in a `Cell`, shared by every worker.
use std::cell::Cell;
use std::thread;

/// Runs `work` on two scoped threads, the way the stages share their work.
pub fn on_two_threads(work: impl Fn(u64) -> u64 + Sync) -> u64 {
    thread::scope(|scope| {
        let first = scope.spawn(|| work(1));
        let second = scope.spawn(|| work(2));
        first.join().expect("no panic") + second.join().expect("no panic")
    })
}

/// Squares on two threads and counts the calls.
pub fn square_and_count() -> u64 {
    let calls = Cell::new(0);
    let total = on_two_threads(|n| {
        calls.set(calls.get() + 1);
        n * n
    });
    total + calls.get()
}
