//! The broker's side of a worker's settling step, in the current design and in the first
//! version's.

use crate::state::{Broker, Delivery};
use crate::{Design, MAX_DELIVERIES};

// ANCHOR: settle
/// The broker's side of a worker's settling step: what the scripts (or the first version's
/// commands) do to the entry of delivery `count` of `job`, sent by `worker`.
pub(crate) fn settle(
    design: Design,
    broker: &mut Broker,
    worker: usize,
    job: u8,
    count: u8,
    outcome: Run,
) {
    let Some(entry) = broker.entries.iter_mut().find(|entry| entry.job == job) else {
        return;
    };
    let held = entry.delivery
        == Delivery::Pending {
            holder: worker,
            count,
        };
    match outcome {
        Run::Succeeded { write_fails } if design.record_checks_first => {
            // record.lua: a result only if the job has no end; acknowledged only by its holder.
            let pending = matches!(entry.delivery, Delivery::Pending { .. });
            if !entry.ended() && pending {
                entry.completed = true;
                entry.results_written += 1;
            }
            if held && entry.ended() {
                entry.delivery = Delivery::Acknowledged;
            }
            debug_assert!(!write_fails, "the script has no half-way");
        }
        Run::Succeeded { write_fails } => {
            // MULTI; HSETNX result; XACK; EXEC: each command on its own.
            if !write_fails && !entry.completed {
                entry.completed = true;
                entry.results_written += 1;
            }
            if matches!(entry.delivery, Delivery::Pending { .. }) {
                entry.delivery = Delivery::Acknowledged;
            }
        }
        Run::Failed if count < MAX_DELIVERIES => {
            // Left pending, for a take-over once its lease has run out.
        }
        Run::Failed if design.dead_letter_checks_first => {
            // dead_letter.lua: an ended job is only acknowledged; otherwise only its holder may
            // move it.
            if held && !entry.ended() {
                entry.dead_lettered = true;
            }
            if held && entry.ended() {
                entry.delivery = Delivery::Acknowledged;
            }
        }
        Run::Failed => {
            // XADD to the dead letters; XACK.
            entry.dead_lettered = true;
            if matches!(entry.delivery, Delivery::Pending { .. }) {
                entry.delivery = Delivery::Acknowledged;
            }
        }
    }
}
// ANCHOR_END: settle

/// How a run ended, as its settling step tells the broker.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Run {
    Succeeded { write_fails: bool },
    Failed,
}
