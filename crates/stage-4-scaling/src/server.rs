//! The metrics endpoint: `GET /metrics` answers with the pool's metrics in the text format,
//! encoded by prometheus-client.
//!
//! A scrape is rare (every few seconds) and small, so plain blocking threads are enough: one
//! accepts connections, and each connection is answered on a thread of its own. No async
//! runtime, which the book only brings in at stage 5, where the work itself is I/O.
//!
//! A client gets a bounded request head ([`MAX_HEAD`]) and a deadline for the whole request
//! ([`REQUEST_DEADLINE`]), not for each read, so a client that sends a byte a second is cut off
//! like one that sends nothing; at most [`MAX_CONNECTIONS`] are held at once, and a new one
//! pushes out the oldest, so that clients that connect and say nothing cannot keep a scrape out;
//! and dropping the server closes every connection it holds, so no client can delay the
//! program's exit.
//! (`tiny_http`, the usual small blocking server, bounds neither the head nor the request's time.)

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use pool_core::lock;
use prometheus_client::encoding::text::encode;
use prometheus_client::registry::Registry;

use crate::exporter;
use crate::metrics::PoolMetrics;

/// The content type of the OpenMetrics text format, which prometheus-client writes.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The longest request head answered: a scrape's is a few hundred bytes.
pub const MAX_HEAD: usize = 8 * 1024;

/// How long a client has to send its whole request head and read the answer.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(2);

/// The most connections held at once. One more pushes out the one held longest: a scrape is
/// answered in a moment, so the oldest connection is the one least likely to be a scrape.
pub const MAX_CONNECTIONS: usize = 16;

// ANCHOR: server
/// A running metrics endpoint. Dropping it stops the server, closes its connections and joins
/// its threads.
#[derive(Debug)]
pub struct MetricsServer {
    address: SocketAddr,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// What the accepting thread shares with the server's owner.
#[derive(Debug, Default)]
struct Shared {
    stopping: AtomicBool,
    /// The connections being answered, by number, each with a handle to shut it down, and the
    /// threads answering them.
    open: Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    next: u64,
    streams: HashMap<u64, TcpStream>,
    threads: Vec<JoinHandle<()>>,
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
        let shared = Arc::new(Shared::default());
        let accepting = Arc::clone(&shared);
        let registry = Arc::new(registry);
        let thread = thread::Builder::new()
            .name("metrics".to_owned())
            .spawn(move || accept(&listener, &registry, &accepting))?;
        Ok(Self {
            address,
            shared,
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
        // The accepting thread is blocked in `accept`: raise the flag, then wake it with a
        // connection of our own, after which it sees the flag and returns.
        self.shared.stopping.store(true, Ordering::SeqCst);
        let mut wake = self.address;
        if wake.ip().is_unspecified() {
            wake.set_ip(Ipv4Addr::LOCALHOST.into());
        }
        let _ = TcpStream::connect_timeout(&wake, REQUEST_DEADLINE);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        // Whoever is still connected is cut off now, and every answering thread ends at once.
        let threads = {
            let mut open = lock(&self.shared.open);
            for stream in open.streams.values() {
                let _ = stream.shutdown(Shutdown::Both);
            }
            std::mem::take(&mut open.threads)
        };
        for thread in threads {
            // An answering thread only writes to its client; a failed answer is dropped there.
            let _ = thread.join();
        }
    }
}

/// Accepts connections until `stopping` is raised, answering each on a thread of its own.
fn accept(listener: &TcpListener, registry: &Arc<Registry>, shared: &Arc<Shared>) {
    for connection in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        // A client that hangs up before it is accepted has nothing to be told.
        let Ok(stream) = connection else { continue };
        let mut open = lock(&shared.open);
        open.threads.retain(|thread| !thread.is_finished());
        if open.streams.len() >= MAX_CONNECTIONS
            && let Some(oldest) = open.streams.keys().min().copied()
            && let Some(stream) = open.streams.remove(&oldest)
        {
            // Its thread's read fails at once, and the thread ends.
            let _ = stream.shutdown(Shutdown::Both);
        }
        let Ok(handle) = stream.try_clone() else {
            continue;
        };
        open.next += 1;
        let number = open.next;
        open.streams.insert(number, handle);
        let (registry, shared) = (Arc::clone(registry), Arc::clone(shared));
        let answering = thread::Builder::new()
            .name("metrics-client".to_owned())
            .spawn(move || {
                let _ = answer(&stream, &registry, Instant::now() + REQUEST_DEADLINE);
                lock(&shared.open).streams.remove(&number);
            });
        match answering {
            Ok(thread) => open.threads.push(thread),
            Err(_) => {
                open.streams.remove(&number);
            }
        }
    }
}
// ANCHOR_END: server

// ANCHOR: answer
/// Reads one request's head and answers it: the metrics for `GET /metrics`, 404 for any other
/// path, 405 for any other method, 431 for a head over [`MAX_HEAD`]. Every answer closes the
/// connection. A client that has not sent its head by `deadline` gets no answer.
fn answer(stream: &TcpStream, registry: &Registry, deadline: Instant) -> io::Result<()> {
    let (status, content_type, body) = match read_head(stream, deadline)? {
        None => (
            "431 Request Header Fields Too Large",
            "text/plain",
            "request head too long\n".to_owned(),
        ),
        Some(head) => {
            let mut words = head.split_whitespace();
            // A scrape may carry parameters (`/metrics?format=…`); the metrics are the same.
            let path = |target: &str| target.split('?').next().unwrap_or_default().to_owned();
            match (words.next(), words.next().map(path).as_deref()) {
                (Some("GET"), Some("/metrics")) => {
                    let mut body = String::new();
                    match encode(&mut body, registry) {
                        Ok(()) => ("200 OK", OPENMETRICS, body),
                        Err(_) => (
                            "500 Internal Server Error",
                            "text/plain",
                            "cannot encode\n".to_owned(),
                        ),
                    }
                }
                (Some("GET"), _) => ("404 Not Found", "text/plain", "try /metrics\n".to_owned()),
                _ => (
                    "405 Method Not Allowed",
                    "text/plain",
                    "GET only\n".to_owned(),
                ),
            }
        }
    };
    stream.set_write_timeout(Some(left_until(deadline)?))?;
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}

/// The request head, up to the blank line that ends it; `None` if it grows past [`MAX_HEAD`].
/// Each read may wait only for what is left until `deadline`.
fn read_head(mut stream: &TcpStream, deadline: Instant) -> io::Result<Option<String>> {
    let mut head = Vec::with_capacity(512);
    let mut chunk = [0; 1024];
    loop {
        stream.set_read_timeout(Some(left_until(deadline)?))?;
        let read = stream.read(&mut chunk)?;
        if read == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        head.extend_from_slice(&chunk[..read]);
        let end = |ending: &[u8]| head.windows(ending.len()).position(|w| w == ending);
        if let Some(at) = end(b"\r\n\r\n").or_else(|| end(b"\n\n")) {
            return Ok(Some(String::from_utf8_lossy(&head[..at]).into_owned()));
        }
        if head.len() > MAX_HEAD {
            return Ok(None);
        }
    }
}
// ANCHOR_END: answer

/// The time left until `deadline`, or a timeout error once it has passed (a zero timeout would
/// mean "wait for ever" to the socket).
fn left_until(deadline: Instant) -> io::Result<Duration> {
    match deadline.checked_duration_since(Instant::now()) {
        Some(left) if !left.is_zero() => Ok(left),
        _ => Err(io::ErrorKind::TimedOut.into()),
    }
}

/// A warning for an endpoint that listens beyond this machine, where anyone who can reach it can
/// read the metrics; `None` for a loopback address.
pub fn exposure_warning(address: SocketAddr) -> Option<String> {
    (!address.ip().is_loopback()).then(|| {
        format!(
            "the metrics endpoint listens on {address}, beyond this machine: anyone who can \
             reach it can read the metrics"
        )
    })
}
