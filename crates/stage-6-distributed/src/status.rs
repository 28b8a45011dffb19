//! The queue's account, as `status` and the demo print it: every job submitted is completed,
//! dead-lettered, pending or waiting.

use std::fmt;

use crate::broker::Status;
use pool_core::counted;

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let by_consumer: Vec<String> = self
            .pending
            .iter()
            .map(|(consumer, entries)| format!("{consumer}: {entries}"))
            .collect();
        let by_consumer = if by_consumer.is_empty() {
            String::new()
        } else {
            format!(" ({})", by_consumer.join(", "))
        };
        write!(
            f,
            "account: {} completed, {} dead-lettered, {} pending{by_consumer}, {} waiting = {} \
             submitted; {}",
            self.completed,
            self.dead_lettered,
            self.in_flight(),
            self.waiting(),
            counted(self.submitted, "job", "jobs"),
            counted(self.duplicates, "duplicate run", "duplicate runs"),
        )?;
        if self.not_jobs > 0 {
            write!(
                f,
                "; {} that {}, dead-lettered",
                counted(self.not_jobs, "entry", "entries"),
                if self.not_jobs == 1 {
                    "was not a job"
                } else {
                    "were not jobs"
                }
            )?;
        }
        Ok(())
    }
}

impl Status {
    /// The queue as one JSON object, as `status --json` prints it.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "submitted": self.submitted,
            "completed": self.completed,
            "dead_lettered": self.dead_lettered,
            "pending": self.in_flight(),
            "pending_by_worker": self.pending,
            "waiting": self.waiting(),
            "duplicates": self.duplicates,
            "not_jobs": self.not_jobs,
        })
    }
}
