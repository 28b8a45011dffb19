//! Ctrl-C and SIGTERM with tokio's own signal handling: this program runs tokio already, so it
//! needs no `ctrlc` handler as the thread stages do.

pub use pool_core::cli::INTERRUPTED;
use tokio_util::sync::CancellationToken;

// ANCHOR: signals
/// Cancels `token` on the first Ctrl-C (or, on Unix, SIGTERM) and exits the process on the
/// second, using tokio's own signal handling. Call it once, from `main`, inside the runtime.
pub fn cancel_on_signals(token: CancellationToken) -> std::io::Result<()> {
    let mut stop_signals = StopSignals::listen()?;
    tokio::spawn(async move {
        stop_signals.next().await;
        token.cancel();
        stop_signals.next().await;
        std::process::exit(INTERRUPTED.into());
    });
    Ok(())
}

/// Ctrl-C and SIGTERM, the two ways a Unix user or service manager asks a program to stop. Both
/// handlers are installed when this is made, not when it is first awaited, so a signal that
/// comes the moment the program starts is caught too.
#[cfg(unix)]
struct StopSignals {
    interrupts: tokio::signal::unix::Signal,
    terminations: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl StopSignals {
    fn listen() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            interrupts: signal(SignalKind::interrupt())?,
            terminations: signal(SignalKind::terminate())?,
        })
    }

    async fn next(&mut self) {
        tokio::select! {
            _ = self.interrupts.recv() => {}
            _ = self.terminations.recv() => {}
        }
    }
}

/// Elsewhere (Windows) there is no SIGTERM: Ctrl-C alone, through tokio's portable `ctrl_c`.
#[cfg(not(unix))]
struct StopSignals;

#[cfg(not(unix))]
impl StopSignals {
    fn listen() -> std::io::Result<Self> {
        Ok(Self)
    }

    async fn next(&mut self) {
        if tokio::signal::ctrl_c().await.is_err() {
            // No handler could be installed, so no Ctrl-C will ever be seen: wait for ever.
            std::future::pending::<()>().await;
        }
    }
}
// ANCHOR_END: signals
