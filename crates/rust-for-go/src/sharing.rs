//! Two ways to share data with threads: borrow it inside a `thread::scope`, or give each thread
//! an `Arc` of it and let `thread::spawn` take it.
//!
//! `thread::spawn` may return before its thread ends, so the thread could outlive any local
//! variable of its caller. It therefore asks for a closure that is `'static`: one that holds no
//! borrow of anything that can go away. A scope ends only after its threads do, so its threads
//! may borrow whatever outlives the scope.

use std::sync::Arc;
use std::thread;

// ANCHOR: scoped
/// Adds up `numbers` on two threads, each of which borrows one half of the slice.
pub fn sum_scoped(numbers: &[u64]) -> u64 {
    let (left, right) = numbers.split_at(numbers.len() / 2);
    // The scope returns only after both threads have finished, so they may borrow `numbers`:
    // no copy, no reference counting, no `'static`.
    thread::scope(|scope| {
        let left_sum = scope.spawn(|| left.iter().sum::<u64>());
        let right_sum = scope.spawn(|| right.iter().sum::<u64>());
        left_sum.join().expect("summing does not panic")
            + right_sum.join().expect("summing does not panic")
    })
}
// ANCHOR_END: scoped

// ANCHOR: spawned
/// Adds up `numbers` on two threads started with `thread::spawn`, each holding its own `Arc`.
pub fn sum_spawned(numbers: &Arc<Vec<u64>>) -> u64 {
    let middle = numbers.len() / 2;
    let left_half = Arc::clone(numbers); // a second owner of the same Vec, not a copy of it
    let left_sum = thread::spawn(move || left_half[..middle].iter().sum::<u64>());
    let right_half = Arc::clone(numbers);
    let right_sum = thread::spawn(move || right_half[middle..].iter().sum::<u64>());
    // Each thread owns its `Arc` and drops it when it ends; the Vec is freed with the last one.
    left_sum.join().expect("summing does not panic")
        + right_sum.join().expect("summing does not panic")
}
// ANCHOR_END: spawned

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_ways_add_up_to_the_plain_sum() {
        let numbers: Vec<u64> = (1..=1_000).collect();
        assert_eq!(sum_scoped(&numbers), 500_500);
        let shared = Arc::new(numbers);
        assert_eq!(sum_spawned(&shared), 500_500);
        // Both threads have ended and dropped their clones: ours is the only owner left.
        assert_eq!(Arc::strong_count(&shared), 1);
    }

    #[test]
    fn short_inputs_split_too() {
        assert_eq!(sum_scoped(&[]), 0);
        assert_eq!(sum_scoped(&[5]), 5);
        assert_eq!(sum_spawned(&Arc::new(vec![5])), 5);
    }
}
