//! The demo's job: what the producer writes into each entry's payload, and the work a worker
//! does for it.

use std::time::Duration;

use pool_core::work;
use serde::{Deserialize, Serialize};
use stage_3_cancel::JobError;

use crate::worker::Handler;

// ANCHOR: job_spec
/// A job as the producer writes it: a number to square (stage 1's job), how long the work takes,
/// and whether it is a poison job that fails on every delivery. It travels as JSON in the
/// entry's payload, `{"number":4,"work_ms":500,"poison":false}`, so that any program can read
/// and write it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "Payload", into = "Payload")]
pub struct JobSpec {
    /// The number to square. At most `u32::MAX`, so that its square fits in a `u64`.
    pub number: u32,
    /// The simulated work: a sleep this long.
    pub duration: Duration,
    /// Made to fail, every time, so that it ends in the dead-letter stream.
    pub poison: bool,
}
// ANCHOR_END: job_spec

/// The payload's JSON, field for field.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Payload {
    number: u32,
    work_ms: u64,
    poison: bool,
}

impl From<Payload> for JobSpec {
    fn from(payload: Payload) -> Self {
        Self {
            number: payload.number,
            duration: Duration::from_millis(payload.work_ms),
            poison: payload.poison,
        }
    }
}

impl From<JobSpec> for Payload {
    fn from(spec: JobSpec) -> Self {
        Self {
            number: spec.number,
            work_ms: u64::try_from(spec.duration.as_millis()).unwrap_or(u64::MAX),
            poison: spec.poison,
        }
    }
}

impl JobSpec {
    /// The payload a producer writes.
    pub fn encode(&self) -> String {
        // A struct of plain numbers always serializes.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The job in a payload, or why the payload is not one: a missing field, a number out of
    /// range, text that is not JSON.
    pub fn decode(payload: &str) -> Result<Self, String> {
        serde_json::from_str(payload).map_err(|error| error.to_string())
    }
}

// ANCHOR: run_job
/// The work itself: sleep for the job's work time, then square its number — or, for a poison
/// job, fail, every time.
pub async fn run_job(job_id: u64, spec: JobSpec) -> Result<u64, JobError> {
    // Not even a zero-length sleep for a job without work: tokio's timer fires on a millisecond
    // tick, so `sleep(0)` can take a millisecond.
    if !spec.duration.is_zero() {
        tokio::time::sleep(spec.duration).await;
    }
    if spec.poison {
        return Err(JobError::Failed(format!(
            "job {job_id} is poison: it fails on every delivery"
        )));
    }
    Ok(work::square(u64::from(spec.number)))
}
// ANCHOR_END: run_job

/// The demo's [`Handler`]: each job is a [`JobSpec`], run by [`run_job`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Demo;

impl Handler for Demo {
    type Job = JobSpec;
    type Output = u64;

    fn handle(
        &self,
        job_id: u64,
        job: JobSpec,
    ) -> impl Future<Output = Result<u64, JobError>> + Send + 'static {
        run_job(job_id, job)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_round_trips_through_its_payload() {
        let spec = JobSpec {
            number: u32::MAX,
            duration: Duration::from_millis(250),
            poison: true,
        };
        assert_eq!(
            spec.encode(),
            r#"{"number":4294967295,"work_ms":250,"poison":true}"#
        );
        assert_eq!(JobSpec::decode(&spec.encode()), Ok(spec));
    }

    #[test]
    fn a_payload_that_is_not_a_job_says_why() {
        for (payload, says) in [
            (r#"{"work_ms":1,"poison":false}"#, "missing field `number`"),
            (
                r#"{"number":4294967296,"work_ms":1,"poison":false}"#,
                "invalid value",
            ),
            (
                r#"{"number":-1,"work_ms":1,"poison":false}"#,
                "invalid value",
            ),
            ("hello", "expected value"),
            (
                r#"{"number":1,"work_ms":1,"poison":false,"x":1}"#,
                "unknown field",
            ),
        ] {
            let error = JobSpec::decode(payload).expect_err(payload);
            assert!(error.contains(says), "{payload}: {error}");
        }
    }
}
