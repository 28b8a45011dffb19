//! Measuring how many jobs run at once.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts the jobs running right now and remembers the most there ever were at once.
///
/// Wrap a job's work in [`InFlight::enter`]; afterwards [`InFlight::peak`] is the measured
/// concurrency, which a pool of W workers must keep at or below W.
#[derive(Debug, Default)]
pub struct InFlight {
    now: AtomicUsize,
    peak: AtomicUsize,
}

/// Marks one job as running until it is dropped.
#[derive(Debug)]
pub struct Running<'a>(&'a InFlight);

impl InFlight {
    /// Marks a job as started; the job counts as running until the guard is dropped.
    pub fn enter(&self) -> Running<'_> {
        let running = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(running, Ordering::SeqCst);
        Running(self)
    }

    /// The most jobs that were ever running at once.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }

    /// Jobs running right now.
    pub fn now(&self) -> usize {
        self.now.load(Ordering::SeqCst)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_flight_keeps_the_peak_after_jobs_end() {
        let gauge = InFlight::default();
        {
            let _first = gauge.enter();
            let _second = gauge.enter();
            assert_eq!(gauge.now(), 2);
        }
        let _third = gauge.enter();
        assert_eq!((gauge.now(), gauge.peak()), (1, 2));
    }
}
