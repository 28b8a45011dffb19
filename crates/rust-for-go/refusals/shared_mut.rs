// Refused: two threads that add to one plain counter.
use std::thread;

/// Counts to two, one on each thread.
pub fn count_on_two_threads() -> u64 {
    let mut count = 0;
    thread::scope(|scope| {
        scope.spawn(|| count += 1);
        scope.spawn(|| count += 1);
    });
    count
}
