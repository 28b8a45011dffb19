//! What `status`, the demo and the tests read from the in-process broker.

use tokio::time::Instant;

use crate::broker::{BrokerError, DeadLetter, Inspect, JobRecord, JobState};

use super::MemoryBroker;
use super::state::Ended;

impl Inspect for MemoryBroker {
    async fn pending_of(&self, consumer: &str) -> Result<Vec<u64>, BrokerError> {
        let state = self.state()?;
        let job_of = |id: &u64| {
            let fields = state.entries.get(id)?;
            let (_, number) = fields.iter().find(|(name, _)| name == "job")?;
            number.parse().ok()
        };
        Ok(state
            .pending
            .iter()
            .filter(|(_, held)| held.consumer == consumer)
            .filter_map(|(id, _)| job_of(id))
            .collect())
    }

    async fn job(&self, job_id: u64) -> Result<Option<JobRecord>, BrokerError> {
        let state = self.state()?;
        let now = Instant::now();
        let Some(record) = state
            .jobs
            .get(&job_id)
            .filter(|record| record.forget_at.is_none_or(|at| at > now))
        else {
            return Ok(None);
        };
        let state_now = match &record.ended {
            Some(Ended::Completed { output, by }) => JobState::Completed {
                output: output.clone(),
                delivery: *by,
            },
            Some(Ended::DeadLettered { by, error }) => JobState::DeadLettered {
                deliveries: *by,
                error: error.clone(),
            },
            None => match state.pending.get(&record.entry) {
                Some(held) => JobState::Pending {
                    consumer: held.consumer.clone(),
                    count: held.count,
                },
                None => JobState::Waiting,
            },
        };
        Ok(Some(JobRecord {
            state: state_now,
            runs: record.runs.iter().copied().collect(),
        }))
    }

    async fn dead_letters(&self) -> Result<Vec<DeadLetter>, BrokerError> {
        Ok(self.state()?.dead_letters.iter().cloned().collect())
    }

    async fn full(&self) -> Result<Option<String>, BrokerError> {
        Ok(None)
    }
}
