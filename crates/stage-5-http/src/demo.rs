//! The demo server: a small HTTP server on 127.0.0.1 with one route for each kind of outcome, so
//! that the program works offline and the tests need nothing from outside.
//!
//! It counts what it serves (hits per path, requests in flight and the most there were at once,
//! arrival times), which is how the tests check the client from the other side of the wire.

use std::collections::BTreeMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::routing::get;
use pool_core::lock;
use reqwest::Url;
use tokio::net::{TcpListener, TcpSocket};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How long `/slow` takes to answer.
pub const SLOW: Duration = Duration::from_millis(300);
/// How many times `/flaky/{key}` fails (503) before it succeeds, per key.
pub const FLAKY_FAILURES: u32 = 2;
/// The size of `/large`'s body.
pub const LARGE_BODY: usize = 10 * 1024 * 1024;

/// What the server has seen.
#[derive(Debug, Default)]
pub struct ServerStats {
    in_flight: AtomicUsize,
    peak_in_flight: AtomicUsize,
    hits: Mutex<BTreeMap<String, u32>>,
    arrivals: Mutex<Vec<Instant>>,
}

impl ServerStats {
    /// The most requests that were being served at once.
    pub fn peak_in_flight(&self) -> usize {
        self.peak_in_flight.load(Ordering::SeqCst)
    }

    /// How many requests arrived for `path`.
    pub fn hits(&self, path: &str) -> u32 {
        lock(&self.hits).get(path).copied().unwrap_or(0)
    }

    /// When every request arrived, in order.
    pub fn arrivals(&self) -> Vec<Instant> {
        lock(&self.arrivals).clone()
    }

    /// Records a request's arrival; the returned guard marks it finished when dropped.
    fn visit(&self, path: &str) -> (Visit<'_>, u32) {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak_in_flight.fetch_max(now, Ordering::SeqCst);
        lock(&self.arrivals).push(Instant::now());
        let mut hits = lock(&self.hits);
        let count = hits.entry(path.to_owned()).or_insert(0);
        *count += 1;
        (Visit(self), *count)
    }
}

struct Visit<'a>(&'a ServerStats);

impl Drop for Visit<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

#[derive(Clone)]
struct Shared {
    stats: Arc<ServerStats>,
    /// Cancelled when the server stops, which is the only thing that ends `/hang`.
    stopping: CancellationToken,
}

/// A running demo server.
#[derive(Debug)]
pub struct DemoServer {
    address: SocketAddr,
    stats: Arc<ServerStats>,
    stopping: CancellationToken,
    task: JoinHandle<io::Result<()>>,
}

// ANCHOR: routes
fn routes(shared: Shared) -> Router {
    Router::new()
        .route("/fast", get(fast))
        .route("/slow", get(slow))
        .route("/flaky/{key}", get(flaky))
        .route("/throttled/{key}", get(throttled))
        .route("/missing", get(missing))
        .route("/broken", get(broken))
        .route("/large", get(large))
        .route("/hang", get(hang))
        .route("/delay/{millis}", get(delay))
        .with_state(shared)
}
// ANCHOR_END: routes

async fn fast(State(shared): State<Shared>, uri: Uri) -> &'static str {
    let _visit = shared.stats.visit(uri.path());
    "fast\n"
}

async fn slow(State(shared): State<Shared>, uri: Uri) -> (StatusCode, &'static str) {
    let _visit = shared.stats.visit(uri.path());
    wait(&shared, SLOW, (StatusCode::OK, "slow\n")).await
}

async fn flaky(State(shared): State<Shared>, uri: Uri) -> (StatusCode, &'static str) {
    let (_visit, hits) = shared.stats.visit(uri.path());
    if hits <= FLAKY_FAILURES {
        (StatusCode::SERVICE_UNAVAILABLE, "not yet\n")
    } else {
        (StatusCode::OK, "flaky, but fine now\n")
    }
}

async fn throttled(State(shared): State<Shared>, uri: Uri) -> (StatusCode, &'static str) {
    let (_visit, hits) = shared.stats.visit(uri.path());
    if hits == 1 {
        (StatusCode::TOO_MANY_REQUESTS, "slow down\n")
    } else {
        (StatusCode::OK, "thanks for waiting\n")
    }
}

async fn missing(State(shared): State<Shared>, uri: Uri) -> StatusCode {
    let _visit = shared.stats.visit(uri.path());
    StatusCode::NOT_FOUND
}

async fn broken(State(shared): State<Shared>, uri: Uri) -> StatusCode {
    let _visit = shared.stats.visit(uri.path());
    StatusCode::INTERNAL_SERVER_ERROR
}

async fn large(State(shared): State<Shared>, uri: Uri) -> Vec<u8> {
    let _visit = shared.stats.visit(uri.path());
    vec![b'x'; LARGE_BODY]
}

async fn hang(State(shared): State<Shared>, uri: Uri) -> StatusCode {
    let _visit = shared.stats.visit(uri.path());
    shared.stopping.cancelled().await;
    StatusCode::SERVICE_UNAVAILABLE
}

/// Answers after exactly `millis` milliseconds. tokio's timers count in whole milliseconds and
/// round up, which would make a 20 ms route take about 21 ms; a blocking thread's sleep is
/// precise, so this route's latency is the number in its path. (The benchmark depends on it.)
async fn delay(
    State(shared): State<Shared>,
    uri: Uri,
    Path(millis): Path<u64>,
) -> (StatusCode, &'static str) {
    let _visit = shared.stats.visit(uri.path());
    let pause = Duration::from_millis(millis.min(10_000));
    let sleeper = tokio::task::spawn_blocking(move || std::thread::sleep(pause));
    tokio::select! {
        () = shared.stopping.cancelled() => (StatusCode::SERVICE_UNAVAILABLE, "stopping\n"),
        _ = sleeper => (StatusCode::OK, "done\n"),
    }
}

/// Sleeps for `pause`, or answers 503 at once if the server is stopping.
async fn wait(
    shared: &Shared,
    pause: Duration,
    answer: (StatusCode, &'static str),
) -> (StatusCode, &'static str) {
    tokio::select! {
        () = shared.stopping.cancelled() => (StatusCode::SERVICE_UNAVAILABLE, "stopping\n"),
        () = tokio::time::sleep(pause) => answer,
    }
}

impl DemoServer {
    /// Starts the server on 127.0.0.1 and a port the system picks.
    pub async fn start() -> io::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let address = listener.local_addr()?;
        let stats = Arc::new(ServerStats::default());
        let stopping = CancellationToken::new();
        let shared = Shared {
            stats: Arc::clone(&stats),
            stopping: stopping.clone(),
        };
        let graceful = stopping.clone();
        let task = tokio::spawn(async move {
            axum::serve(listener, routes(shared))
                .with_graceful_shutdown(async move { graceful.cancelled().await })
                .await
        });
        Ok(Self {
            address,
            stats,
            stopping,
            task,
        })
    }

    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> Url {
        let text = format!("http://{}{path}", self.address);
        Url::parse(&text).expect("an address and a path make a valid URL")
    }

    /// What the server has seen so far.
    pub fn stats(&self) -> &Arc<ServerStats> {
        &self.stats
    }

    /// The URLs of the default run: every kind of outcome once or more.
    pub fn demo_urls(&self) -> Vec<Url> {
        [
            "/fast",
            "/fast",
            "/fast",
            "/slow",
            "/slow",
            "/flaky/a",
            "/flaky/b",
            "/throttled/a",
            "/missing",
            "/broken",
            "/large",
            "/hang",
        ]
        .iter()
        .map(|path| self.url(path))
        .collect()
    }

    /// Stops the server: requests still open (`/hang`) are answered at once, then the server
    /// task is awaited.
    pub async fn stop(self) {
        self.stopping.cancel();
        // The task only ends with an error if accepting connections failed, and at shutdown
        // there is nothing left to do about it.
        let _ = self.task.await;
    }
}

/// The default run's URLs and the demo server that answers them: `count` URLs, the demo's list
/// cycled, plus in that list one URL where nothing listens.
#[derive(Debug)]
pub struct DemoRun {
    server: DemoServer,
    /// Kept bound until the run is over, so that its URL stays refused.
    _refused: RefusedPort,
    urls: Vec<Url>,
}

impl DemoRun {
    /// Starts the demo server and picks the run's URLs.
    pub async fn start(count: usize) -> io::Result<Self> {
        let server = DemoServer::start().await?;
        let refused = RefusedPort::bind()?;
        let mut list = server.demo_urls();
        list.push(refused.url().clone());
        let urls = list.iter().cycle().take(count).cloned().collect();
        Ok(Self {
            server,
            _refused: refused,
            urls,
        })
    }

    /// `http://127.0.0.1:<port>`, where the server listens.
    pub fn origin(&self) -> String {
        format!("http://{}", self.server.address)
    }

    /// The URLs to fetch, handed over (a second call gets none).
    pub fn take_urls(&mut self) -> Vec<Url> {
        std::mem::take(&mut self.urls)
    }

    /// Stops the server, then frees the refused port.
    pub async fn stop(self) {
        self.server.stop().await;
    }
}

/// A URL on 127.0.0.1 where connecting is refused: its port is bound but not listening, and
/// stays so (and out of anyone else's hands) for as long as this value lives.
#[derive(Debug)]
pub struct RefusedPort {
    _bound: TcpSocket,
    url: Url,
}

impl RefusedPort {
    /// Binds a port the system picks, without listening on it.
    pub fn bind() -> io::Result<Self> {
        let socket = TcpSocket::new_v4()?;
        socket.bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
        let address = socket.local_addr()?;
        let url = Url::parse(&format!("http://{address}/")).expect("an address makes a valid URL");
        Ok(Self {
            _bound: socket,
            url,
        })
    }

    /// The refused URL.
    pub fn url(&self) -> &Url {
        &self.url
    }
}
