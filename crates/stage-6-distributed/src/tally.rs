//! What one worker process did, in counts: its memory stays the same however long it runs.

use pool_core::counted;

use crate::delivery::Settled;

// ANCHOR: tally
/// A worker process's deliveries, counted by how each ended. (The queue's own account, of jobs
/// rather than deliveries, is [`crate::Status`].)
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Deliveries this process ran or settled.
    pub deliveries: u64,
    /// Its runs whose result became the job's.
    pub recorded: u64,
    /// Its runs of jobs that had already ended.
    pub duplicates: u64,
    /// Failed deliveries left pending for another try.
    pub left_for_retry: u64,
    /// Jobs it moved to the dead-letter stream.
    pub dead_lettered: u64,
    /// Deliveries another worker took over while this one ran them.
    pub lease_lost: u64,
    /// Entries it found were not jobs, dead-lettered as such.
    pub not_jobs: u64,
    /// Deliveries the broker could not be told about before the process stopped.
    pub unsettled: u64,
    /// Deliveries it took over from a worker whose lease ran out.
    pub taken_over: u64,
}
// ANCHOR_END: tally

impl Tally {
    /// Counts one delivery.
    pub fn add(&mut self, settled: &Settled, taken_over: bool) {
        self.deliveries += 1;
        self.taken_over += u64::from(taken_over);
        let count = match settled {
            Settled::Recorded => &mut self.recorded,
            Settled::Duplicate => &mut self.duplicates,
            Settled::LeftForRetry => &mut self.left_for_retry,
            Settled::DeadLettered => &mut self.dead_lettered,
            Settled::LeaseLost => &mut self.lease_lost,
            Settled::NotAJob => &mut self.not_jobs,
            Settled::LeftPending(_) => &mut self.unsettled,
        };
        *count += 1;
    }

    /// One line: what this process's deliveries came to.
    pub fn summary(&self) -> String {
        let mut line = format!(
            "{}: {} recorded, {} {}, {} failed and left for retry, {} dead-lettered, {} lost to \
             another worker, {} left pending; {} taken over after a lease ran out",
            counted(self.deliveries, "delivery", "deliveries"),
            self.recorded,
            self.duplicates,
            if self.duplicates == 1 {
                "duplicate"
            } else {
                "duplicates"
            },
            self.left_for_retry,
            self.dead_lettered,
            self.lease_lost,
            self.unsettled,
            self.taken_over,
        );
        if self.not_jobs > 0 {
            line.push_str(&format!(
                "; {} that {}",
                counted(self.not_jobs, "entry", "entries"),
                if self.not_jobs == 1 {
                    "was not a job"
                } else {
                    "were not jobs"
                }
            ));
        }
        line
    }
}
