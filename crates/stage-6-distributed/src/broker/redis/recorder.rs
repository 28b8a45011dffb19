//! Group commit: the runs that finish while one `record` script is on the wire go together in the
//! next one. Under load many runs share a round trip; a run that finishes alone waits for nobody.

use tokio::sync::{mpsc, oneshot};

use super::errors::{broker_error, settlement};
use super::queue::Queue;
use super::scripts;
use crate::broker::{BrokerError, Delivery, Settlement};

/// The most runs one script records: a bound on one call's size.
const MOST_AT_ONCE: usize = 1_000;

/// A finished run waiting to be recorded, and where to say what recording made of it.
#[derive(Debug)]
pub(super) struct ToRecord {
    pub(super) delivery: Delivery,
    pub(super) output: String,
    pub(super) answer: oneshot::Sender<Result<Option<Settlement>, BrokerError>>,
}

// ANCHOR: record_in_batches
/// Records runs in batches until the broker's last handle is dropped and the queue closes.
pub(super) async fn record_in_batches(
    queue: Queue,
    mut waiting: mpsc::UnboundedReceiver<ToRecord>,
) {
    let mut batch = Vec::new();
    while waiting.recv_many(&mut batch, MOST_AT_ONCE).await > 0 {
        let recorded = record(&queue, &batch).await;
        queue.health.note(&recorded, true);
        match recorded {
            Ok(settlements) => {
                for (run, settlement) in batch.drain(..).zip(settlements) {
                    // A caller that gave up waiting has nothing to be told.
                    let _ = run.answer.send(Ok(settlement));
                }
            }
            Err(error) => {
                for run in batch.drain(..) {
                    let _ = run.answer.send(Err(error.clone()));
                }
            }
        }
    }
}
// ANCHOR_END: record_in_batches

/// One `record` script for `batch`, and what it made of each run.
async fn record(queue: &Queue, batch: &[ToRecord]) -> Result<Vec<Option<Settlement>>, BrokerError> {
    let mut call = scripts::RECORD.prepare_invoke();
    queue.queue_arguments(&mut call).arg(queue.keep_seconds());
    for run in batch {
        let delivery = &run.delivery;
        call.arg(&delivery.entry)
            .arg(delivery.job_id)
            .arg(&delivery.consumer)
            .arg(delivery.count)
            .arg(&run.output);
    }
    let answers: Vec<String> = call
        .invoke_async(&mut queue.connection())
        .await
        .map_err(broker_error)?;
    if answers.len() != batch.len() {
        return Err(BrokerError::Protocol(format!(
            "{} answers for {} runs recorded",
            answers.len(),
            batch.len()
        )));
    }
    answers.iter().map(|answer| settlement(answer)).collect()
}
