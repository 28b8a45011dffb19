//! Ctrl-C and SIGTERM for a program of threads: the first signal cancels the run, a second one
//! exits at once, and the exit code says whether the user asked to stop.

use std::sync::atomic::{AtomicUsize, Ordering};

use pool_core::Console;

use crate::context::{Context, Reason};
/// The exit code of a run that a signal stopped, shared by every stage with a Ctrl-C handler.
pub use pool_core::cli::INTERRUPTED;

// ANCHOR: ctrl_c
/// Makes Ctrl-C (and SIGTERM and SIGHUP) cancel `run` with [`Reason::Interrupted`]; a second
/// signal exits the process at once with [`INTERRUPTED`]. `ctrlc` takes one handler per process,
/// so only a program's `main` calls this, once.
pub fn cancel_on_signals(run: &Context) -> Result<(), ctrlc::Error> {
    let on_signal = run.clone();
    let signals_seen = AtomicUsize::new(0);
    // ctrlc calls this on a thread of its own, for SIGINT and (with its `termination` feature)
    // SIGTERM and SIGHUP too; it does not say which arrived, so every one exits with 130. The
    // first signal asks the run to stop; a second means "stop now, whatever it is doing", and
    // the process exits without waiting.
    ctrlc::set_handler(move || {
        if signals_seen.fetch_add(1, Ordering::SeqCst) == 0 {
            on_signal.cancel_because(Reason::Interrupted);
        } else {
            std::process::exit(INTERRUPTED.into());
        }
    })
}
// ANCHOR_END: ctrl_c

/// The program's exit code, settled once the account (and any timeline) is written:
/// [`INTERRUPTED`] if the signal handler cancelled `run` at any moment before this call, else 0.
///
/// A signal that arrives after the last job, or while the account is printing, still counts:
/// the user asked to stop, and scripts read that from the code. There is nothing left to cancel,
/// so the account already printed stands (it is complete), and a line says why the code is 130.
/// Only the handler cancels `run`, so its reason is the signal's.
pub fn exit_code(run: &Context, stopped_by: Option<Reason>, console: &Console) -> u8 {
    if run.reason() != Some(Reason::Interrupted) {
        return 0;
    }
    if stopped_by != Some(Reason::Interrupted) {
        console.line(format_args!(
            "interrupted after the run had ended: the account above is complete"
        ));
    }
    INTERRUPTED
}
