//! The metrics endpoint: `GET /metrics` answers with the pool's metrics in the text format,
//! encoded by prometheus-client.
//!
//! A scrape is rare (every few seconds) and small, so a plain blocking server on one thread is
//! enough: it accepts a connection, answers it, closes it, and waits for the next. No async
//! runtime, which the book only brings in at stage 5, where the work itself is I/O.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::registry::Registry;

use crate::exporter;
use crate::metrics::PoolMetrics;

/// The content type of the OpenMetrics text format, which prometheus-client writes.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// How long a client may take to send its request before the server gives up on it, so that a
/// client that connects and says nothing cannot hold the one server thread for ever.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(2);

// ANCHOR: server
/// A running metrics endpoint. Dropping it stops the server and joins its thread.
#[derive(Debug)]
pub struct MetricsServer {
    address: SocketAddr,
    stopping: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl MetricsServer {
    /// Listens on `address` (port 0 picks a free port) and serves `metrics` until dropped.
    /// Fails if the address cannot be bound or the server thread cannot start.
    pub fn start(address: SocketAddr, metrics: Arc<PoolMetrics>) -> io::Result<Self> {
        Self::serve(address, exporter::registry(metrics))
    }

    /// Serves whatever `registry` holds: how stage 6 exposes its own metrics on this endpoint.
    pub fn serve(address: SocketAddr, registry: Registry) -> io::Result<Self> {
        // Bound here, on the caller's thread, so that a bad address is an error the caller sees.
        let listener = TcpListener::bind(address)?;
        let address = listener.local_addr()?;
        let stopping = Arc::new(AtomicBool::new(false));
        let stop = Arc::clone(&stopping);
        let thread = thread::Builder::new()
            .name("metrics".to_owned())
            .spawn(move || serve(&listener, &registry, &stop))?;
        Ok(Self {
            address,
            stopping,
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
        // The server thread is blocked in `accept`: raise the flag, then wake it with a
        // connection of our own, after which it sees the flag and returns.
        self.stopping.store(true, Ordering::SeqCst);
        let mut wake = self.address;
        if wake.ip().is_unspecified() {
            wake.set_ip(Ipv4Addr::LOCALHOST.into());
        }
        let _ = TcpStream::connect_timeout(&wake, CLIENT_TIMEOUT);
        if let Some(thread) = self.thread.take() {
            // The thread only answers requests; a failed answer is dropped where it happens.
            let _ = thread.join();
        }
    }
}

/// Answers one connection at a time until `stopping` is raised.
fn serve(listener: &TcpListener, registry: &Registry, stopping: &AtomicBool) {
    for connection in listener.incoming() {
        if stopping.load(Ordering::SeqCst) {
            return;
        }
        // A client that hangs up or misbehaves loses its answer; the server carries on.
        if let Ok(stream) = connection {
            let _ = answer(stream, registry);
        }
    }
}
// ANCHOR_END: server

// ANCHOR: answer
/// Reads one request's head and answers it: the metrics for `GET /metrics`, 404 for any other
/// path, 405 for any other method. Every answer closes the connection.
fn answer(stream: TcpStream, registry: &Registry) -> io::Result<()> {
    stream.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    let mut reader = BufReader::new(&stream);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    // The headers say nothing this server needs; read up to the blank line that ends them.
    let mut header = String::new();
    while reader.read_line(&mut header)? > 2 {
        header.clear();
    }
    let mut words = request_line.split_whitespace();
    let (status, content_type, body) = match (words.next(), words.next()) {
        (Some("GET"), Some("/metrics")) => {
            let mut body = String::new();
            match encode(&mut body, registry) {
                Ok(()) => ("200 OK", OPENMETRICS, body),
                Err(_) => (
                    "500 Internal Server Error",
                    "text/plain",
                    "cannot encode\n".into(),
                ),
            }
        }
        (Some("GET"), _) => ("404 Not Found", "text/plain", "try /metrics\n".to_owned()),
        _ => (
            "405 Method Not Allowed",
            "text/plain",
            "GET only\n".to_owned(),
        ),
    };
    let mut stream = &stream;
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}
// ANCHOR_END: answer
