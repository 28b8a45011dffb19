//! The locks and the once-cell `context.rs` uses: std's, or, when its model-checking tests run
//! (`RUSTFLAGS="--cfg loom"`, see `context/loom_tests.rs`), ones that loom sees. loom tries every
//! order of the operations it sees, and only those: each lock taken and each read or write of the
//! reason is a point where it may switch threads.
//!
//! `Arc` and `Weak` stay std's in both builds (loom has no `Weak`). They never block, so under
//! loom each of their calls is one step that loom runs whole.

// ANCHOR: facade
#[cfg(all(test, loom))]
pub(crate) use loom::sync::{Mutex, MutexGuard};
#[cfg(all(test, loom))]
pub(crate) use seen_by_loom::OnceLock;
#[cfg(not(all(test, loom)))]
pub(crate) use std::sync::{Mutex, MutexGuard, OnceLock};
// ANCHOR_END: facade

/// Locks `mutex`, and takes its guard even if the lock is poisoned (as `pool_core::lock` does
/// for std's mutex alone).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(all(test, loom))]
mod seen_by_loom {
    use std::fmt;

    use super::{Mutex, lock};

    /// The part of std's `OnceLock` that the context uses, kept behind a loom mutex so that loom
    /// sees every `get` and `set`. loom has no `OnceLock`. The value is leaked, so that `get` can
    /// lend it without a guard: a few bytes per test, and only under loom.
    pub(crate) struct OnceLock<T: 'static> {
        value: Mutex<Option<&'static T>>,
    }

    impl<T> OnceLock<T> {
        pub(crate) fn new() -> Self {
            Self {
                value: Mutex::new(None),
            }
        }

        pub(crate) fn get(&self) -> Option<&T> {
            *lock(&self.value)
        }

        pub(crate) fn set(&self, value: T) -> Result<(), T> {
            let mut slot = lock(&self.value);
            if slot.is_some() {
                return Err(value);
            }
            *slot = Some(Box::leak(Box::new(value)));
            Ok(())
        }
    }

    impl<T: fmt::Debug> fmt::Debug for OnceLock<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_tuple("OnceLock").field(&self.get()).finish()
        }
    }
}
