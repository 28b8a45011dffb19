//! A mutex's guard, whether or not a thread panicked while it held the lock.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `mutex`, and takes its guard even if the lock is poisoned.
///
/// A lock is poisoned when a thread panics while holding it, which says the data *may* be
/// half-updated. Every lock in this workspace guards data that one step changes whole (a counter,
/// a list pushed to, a map entry replaced), and the stages report panics as outcomes rather than
/// stopping, so the data is as the last step left it, and the run carries on.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
