//! One HTTP request, done carefully: a timeout, a cap on the body, a shared rate limit, and
//! retries with backoff for the failures that a retry can cure.

use std::fmt;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use backon::{ExponentialBuilder, Retryable};
use reqwest::{Client, StatusCode, Url};
use tokio::sync::Mutex;
use tokio::time::{Interval, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

/// How the client behaves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FetchSettings {
    /// The longest one attempt may take, from connecting to the last byte of the body.
    pub timeout: Duration,
    /// Bytes of body read at most; the rest is not downloaded.
    pub max_body: u64,
    /// Attempts after the first, for failures worth retrying.
    pub retries: u32,
    /// The wait before the first retry; each later one waits twice as long.
    pub backoff: Duration,
    /// Requests per second across all workers, or `None` for no limit.
    pub rate: Option<u32>,
}

// ANCHOR: answer
/// How a request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The server answered (after retries, with its last answer).
    Status {
        /// The HTTP status.
        code: StatusCode,
        /// Body bytes read.
        bytes: u64,
        /// Whether the body was longer than the cap and cut there.
        truncated: bool,
    },
    /// No answer within the timeout.
    Timeout,
    /// No connection: refused, unreachable, or a name that does not resolve.
    Connect(String),
    /// The connection broke or the answer was not valid HTTP.
    Broken(String),
    /// The run was cancelled first.
    Cancelled,
}
// ANCHOR_END: answer

/// One URL's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetch {
    /// How it ended.
    pub answer: Answer,
    /// From the first attempt to the end, retries and their waits included.
    pub latency: Duration,
    /// Attempts made.
    pub attempts: u32,
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Status {
                code,
                bytes,
                truncated,
            } => {
                write!(f, "{code}, {bytes} bytes")?;
                if *truncated {
                    f.write_str(" (cut at the cap)")?;
                }
                Ok(())
            }
            Self::Timeout => f.write_str("timed out"),
            Self::Connect(reason) => write!(f, "cannot connect: {reason}"),
            Self::Broken(reason) => write!(f, "broken answer: {reason}"),
            Self::Cancelled => f.write_str("cancelled"),
        }
    }
}

/// Why one attempt failed, and whether another attempt might do better.
#[derive(Debug)]
enum Failure {
    /// 429 or 5xx: the server may answer differently in a moment. Kept as the answer it is, in
    /// case no later attempt does better.
    Status(Answer),
    Timeout,
    Connect(String),
    Broken(String),
}

impl Failure {
    /// Connection errors, 429 and 5xx are worth another try; a timeout is not (it would only
    /// double the wait), and neither is any other 4xx (the request itself is wrong).
    fn is_retryable(&self) -> bool {
        matches!(self, Self::Status(_) | Self::Connect(_))
    }

    fn from_reqwest(error: &reqwest::Error) -> Self {
        if error.is_timeout() {
            Self::Timeout
        } else if error.is_connect() {
            Self::Connect(innermost(error))
        } else {
            Self::Broken(innermost(error))
        }
    }
}

/// The deepest cause of an error, which is where the useful words are ("Connection refused"
/// rather than "error sending request").
fn innermost(error: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

/// Spaces requests out to at most N a second, across every worker that shares it.
#[derive(Debug)]
struct RateLimit {
    ticks: Mutex<Interval>,
}

impl RateLimit {
    fn per_second(rate: u32) -> Self {
        let mut ticks = tokio::time::interval(Duration::from_secs(1) / rate.max(1));
        // After a late tick the next one is a whole period later: never two requests closer
        // together than the rate allows, even after a pause.
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Self {
            ticks: Mutex::new(ticks),
        }
    }

    async fn wait_turn(&self) {
        self.ticks.lock().await.tick().await;
    }
}

/// Counts a request as on the wire for as long as it lives, however its future ends: finished,
/// failed, or dropped by a cancellation.
struct OnTheWire<'a>(&'a Fetcher);

impl<'a> OnTheWire<'a> {
    fn new(fetcher: &'a Fetcher) -> Self {
        let now = fetcher.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        fetcher.peak_in_flight.fetch_max(now, Ordering::SeqCst);
        Self(fetcher)
    }
}

impl Drop for OnTheWire<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The HTTP client every worker shares.
#[derive(Debug)]
pub struct Fetcher {
    client: Client,
    settings: FetchSettings,
    rate: Option<RateLimit>,
    in_flight: AtomicUsize,
    peak_in_flight: AtomicUsize,
}

impl Fetcher {
    /// A client with `settings`. Call it inside a tokio runtime (the rate limit's clock needs
    /// one); fails only if the TLS backend cannot be set up.
    pub fn new(settings: FetchSettings) -> Result<Self, reqwest::Error> {
        let client = Client::builder().timeout(settings.timeout).build()?;
        Ok(Self {
            client,
            settings,
            rate: settings.rate.map(RateLimit::per_second),
            in_flight: AtomicUsize::new(0),
            peak_in_flight: AtomicUsize::new(0),
        })
    }

    /// The most requests that were on the wire at once.
    pub fn peak_in_flight(&self) -> usize {
        self.peak_in_flight.load(Ordering::SeqCst)
    }

    // ANCHOR: fetch
    /// Fetches `url`: waits its turn under the rate limit, tries, and retries what is worth
    /// retrying with exponential backoff, until it has an answer, runs out of retries, or the
    /// run is cancelled.
    pub async fn fetch(&self, url: Url, token: &CancellationToken) -> Fetch {
        let attempts = AtomicU32::new(0);
        let first_attempt = OnceLock::new();
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.settings.backoff)
            .with_max_times(self.settings.retries as usize);
        let attempt = || async {
            if let Some(rate) = &self.rate {
                rate.wait_turn().await;
            }
            // Latency counts from the first request on the wire, not from the wait for a turn.
            first_attempt.get_or_init(Instant::now);
            attempts.fetch_add(1, Ordering::SeqCst);
            self.attempt(url.clone()).await
        };
        let retried = attempt.retry(backoff).when(Failure::is_retryable);
        let answer = tokio::select! {
            biased;
            () = token.cancelled() => Answer::Cancelled,
            result = retried => match result {
                Ok(answer) => answer,
                Err(Failure::Status(answer)) => answer,
                Err(Failure::Timeout) => Answer::Timeout,
                Err(Failure::Connect(reason)) => Answer::Connect(reason),
                Err(Failure::Broken(reason)) => Answer::Broken(reason),
            },
        };
        Fetch {
            answer,
            latency: first_attempt
                .get()
                .map(|start: &Instant| start.elapsed())
                .unwrap_or_default(),
            attempts: attempts.load(Ordering::SeqCst),
        }
    }
    // ANCHOR_END: fetch

    // ANCHOR: attempt
    /// One request. A 429 or 5xx is returned as a failure so that it can be retried; the body is
    /// read chunk by chunk and no further than the cap.
    async fn attempt(&self, url: Url) -> Result<Answer, Failure> {
        let _on_the_wire = OnTheWire::new(self);
        self.request(url).await
    }

    async fn request(&self, url: Url) -> Result<Answer, Failure> {
        let mut response = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|error| Failure::from_reqwest(&error))?;
        let code = response.status();
        let mut bytes = 0;
        let mut truncated = false;
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|error| Failure::from_reqwest(&error))?
        {
            bytes += chunk.len() as u64;
            if bytes > self.settings.max_body {
                // Dropping the response closes the connection; the rest is not downloaded.
                bytes = self.settings.max_body;
                truncated = true;
                break;
            }
        }
        let answer = Answer::Status {
            code,
            bytes,
            truncated,
        };
        if code == StatusCode::TOO_MANY_REQUESTS || code.is_server_error() {
            return Err(Failure::Status(answer));
        }
        Ok(answer)
    }
    // ANCHOR_END: attempt
}
