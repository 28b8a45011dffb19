// Refused: an `Rc` sent to another thread.
use std::rc::Rc;
use std::thread;

/// Counts the jobs on a second thread, sharing the list through an `Rc`.
pub fn count_elsewhere(jobs: Vec<u64>) -> usize {
    let shared = Rc::new(jobs);
    let for_the_thread = Rc::clone(&shared);
    let handle = thread::spawn(move || for_the_thread.len());
    handle.join().expect("counting does not panic")
}
