//! `move` closures: what a closure takes with it to another thread.

use std::thread;

// ANCHOR: run_each
/// Runs `work` once on each of `workers` scoped threads and returns each worker's id with its
/// output, in worker order.
///
/// # Panics
///
/// If `work` panics: joining that worker passes the panic on.
pub fn run_each(workers: usize, work: impl Fn(usize) -> u64 + Sync) -> Vec<(usize, u64)> {
    thread::scope(|scope| {
        // A reference is a value too. Moving it into each closure gives every thread a copy of
        // the reference, while `work` itself stays where it is, owned by this function.
        let work = &work;
        let handles: Vec<_> = (1..=workers)
            // Without `move`, the closure would borrow `id`, a variable that is gone at the end
            // of this iteration while the thread may still be running.
            .map(|id| scope.spawn(move || (id, work(id))))
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().expect("the work does not panic"))
            .collect()
    })
}
// ANCHOR_END: run_each

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_worker_runs_the_work_once_with_its_own_id() {
        let outputs = run_each(4, |id| 10 * id as u64);
        assert_eq!(outputs, [(1, 10), (2, 20), (3, 30), (4, 40)]);
    }
}
