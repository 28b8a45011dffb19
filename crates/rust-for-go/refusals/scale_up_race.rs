// Refused: the article's `ScaleUp`, a worker count changed by one thread while another reads it.
use std::sync::Arc;
use std::thread;

/// A pool that counts its workers in a plain field, as the article's does.
pub struct Pool {
    workers: usize,
}

impl Pool {
    /// Adds `n` to the count (starting the workers themselves is left out).
    pub fn scale_up(&mut self, n: usize) {
        self.workers += n;
    }
}

/// Scales the pool on one thread while a monitor reads its count on another.
pub fn scale_while_monitored() -> usize {
    let pool = Arc::new(Pool { workers: 1 });
    let for_the_scaler = Arc::clone(&pool);
    let scaler = thread::spawn(move || for_the_scaler.scale_up(3));
    let for_the_monitor = Arc::clone(&pool);
    let monitor = thread::spawn(move || for_the_monitor.workers);
    scaler.join().expect("scaling does not panic");
    monitor.join().expect("reading does not panic")
}
