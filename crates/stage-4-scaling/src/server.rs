//! The metrics endpoint: `GET /metrics` answers with the pool's metrics in the Prometheus text
//! format, encoded by prometheus-client and served by axum.
//!
//! The pool runs on plain threads, and axum needs an async runtime, so the server gets a thread
//! of its own with a single-threaded tokio runtime in it. Dropping the [`MetricsServer`] shuts
//! the server down and joins that thread.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::encoding::text::encode;
use prometheus_client::registry::Registry;
use std::future::IntoFuture;
use std::time::Duration;

use tokio::sync::{oneshot, watch};

use crate::metrics::PoolMetrics;

/// The content type of the OpenMetrics text format, which prometheus-client writes.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// How long a shutdown waits for open connections before it closes them.
const GRACE: Duration = Duration::from_secs(1);

/// A running metrics endpoint.
#[derive(Debug)]
pub struct MetricsServer {
    address: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl MetricsServer {
    /// Listens on `address` (port 0 picks a free port) and serves `metrics` until dropped.
    /// Fails if the address cannot be bound or the server thread cannot start.
    pub fn start(address: SocketAddr, metrics: Arc<PoolMetrics>) -> io::Result<Self> {
        // Bound here, on the caller's thread, so that a bad address is an error the caller sees.
        let listener = TcpListener::bind(address)?;
        listener.set_nonblocking(true)?;
        let address = listener.local_addr()?;
        let (shutdown, shutdown_requested) = oneshot::channel::<()>();
        let registry = Arc::new(metrics.registry());
        let thread = thread::Builder::new()
            .name("metrics".to_owned())
            .spawn(move || serve(listener, registry, shutdown_requested))?;
        Ok(Self {
            address,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    /// Where the endpoint listens (with the real port if port 0 was asked for).
    pub fn address(&self) -> SocketAddr {
        self.address
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            // The server may have stopped already (its thread failed); then nobody listens.
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            // Errors after start-up (a failed accept) have nowhere useful to go at shutdown.
            let _ = thread.join();
        }
    }
}

// ANCHOR: serve
fn serve(
    listener: TcpListener,
    registry: Arc<Registry>,
    shutdown_requested: oneshot::Receiver<()>,
) -> io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let app = Router::new().route("/metrics", get(move || scrape(Arc::clone(&registry))));
        // A graceful shutdown waits for open connections to finish, and a client could keep one
        // open for ever; after `GRACE` the server stops regardless, so the program can exit.
        let (stopping, stopped) = watch::channel(false);
        tokio::spawn(async move {
            // Either a shutdown request or the sender being dropped starts the shutdown.
            let _ = shutdown_requested.await;
            let _ = stopping.send(true);
        });
        let mut graceful = stopped.clone();
        let server = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = graceful.changed().await;
        });
        let mut forced = stopped;
        tokio::select! {
            served = server.into_future() => served,
            () = async move {
                let _ = forced.changed().await;
                tokio::time::sleep(GRACE).await;
            } => Ok(()),
        }
    })
}

async fn scrape(registry: Arc<Registry>) -> impl IntoResponse {
    let mut body = String::new();
    match encode(&mut body, &registry) {
        Ok(()) => (StatusCode::OK, [(header::CONTENT_TYPE, OPENMETRICS)], body),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "text/plain")],
            "the metrics could not be encoded\n".to_owned(),
        ),
    }
}
// ANCHOR_END: serve
