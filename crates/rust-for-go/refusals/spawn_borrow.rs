// Refused: `thread::spawn` with a borrowed local, which `thread::scope` accepts.
use std::thread;

/// Counts the jobs on a second thread that only borrows them.
pub fn count_elsewhere() -> usize {
    let jobs = vec![2, 4, 6];
    let jobs_ref = &jobs;
    let handle = thread::spawn(move || jobs_ref.len());
    handle.join().expect("counting does not panic")
}
