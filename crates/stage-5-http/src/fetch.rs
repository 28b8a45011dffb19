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

use crate::pool::JobError;

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
}
// ANCHOR_END: answer

/// One URL's result: the answer if the server gave one (the pool's `Completed`), or why there is
/// none (its `Failed`).
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
    /// run is cancelled. An answer, whatever its status, is `Ok`; no answer is a failure.
    pub async fn fetch(
        &self,
        url: Url,
        token: &CancellationToken,
    ) -> Result<Fetch, JobError<Fetch>> {
        let attempts = &AtomicU32::new(0);
        let first_attempt = &OnceLock::new();
        let attempt = |url: Url| async move {
            if let Some(rate) = &self.rate {
                rate.wait_turn().await;
            }
            // Latency counts from the first request on the wire, not from the wait for a turn.
            first_attempt.get_or_init(Instant::now);
            attempts.fetch_add(1, Ordering::Relaxed);
            self.attempt(url).await
        };
        let tried = async {
            if self.settings.retries == 0 {
                // Nothing to retry: no backoff policy to build, and no copy of the URL to keep.
                return attempt(url).await;
            }
            let backoff = ExponentialBuilder::default()
                .with_min_delay(self.settings.backoff)
                .with_max_times(self.settings.retries as usize);
            (|| attempt(url.clone()))
                .retry(backoff)
                .when(Failure::is_retryable)
                .await
        };
        let result = tokio::select! {
            biased;
            () = token.cancelled() => return Err(JobError::Cancelled),
            result = tried => result,
        };
        let fetch = |answer| Fetch {
            answer,
            latency: first_attempt
                .get()
                .map(|start: &Instant| start.elapsed())
                .unwrap_or_default(),
            attempts: attempts.load(Ordering::Relaxed),
        };
        match result {
            Ok(answer) | Err(Failure::Status(answer)) => Ok(fetch(answer)),
            Err(Failure::Timeout) => Err(JobError::Failed(fetch(Answer::Timeout))),
            Err(Failure::Connect(reason)) => Err(JobError::Failed(fetch(Answer::Connect(reason)))),
            Err(Failure::Broken(reason)) => Err(JobError::Failed(fetch(Answer::Broken(reason)))),
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tokio::time::Instant;

    use super::*;

    /// tokio's paused clock: the limiter's ticks take no real time, and time moves only when
    /// every task is waiting, so the turns come exactly on its schedule however busy the machine
    /// is. Eight workers share a limit of 20 a second and each takes turns as fast as it can.
    #[tokio::test(start_paused = true)]
    async fn the_rate_limit_hands_out_turns_exactly_a_period_apart() {
        let rate = Arc::new(RateLimit::per_second(20));
        let start = Instant::now();
        let turns = Arc::new(std::sync::Mutex::new(Vec::new()));
        let workers: Vec<_> = (0..8)
            .map(|_| {
                let (rate, turns) = (Arc::clone(&rate), Arc::clone(&turns));
                tokio::spawn(async move {
                    for _ in 0..5 {
                        rate.wait_turn().await;
                        turns.lock().expect("no panic").push(start.elapsed());
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.await.expect("no panic");
        }
        let mut turns = turns.lock().expect("no panic").clone();
        turns.sort_unstable();
        let expected: Vec<Duration> = (0..40).map(|k| Duration::from_millis(50) * k).collect();
        assert_eq!(turns, expected);
    }

    /// After a pause, the next turn comes at once and the one after a whole period later: no
    /// burst makes up for the turns nobody took.
    #[tokio::test(start_paused = true)]
    async fn no_burst_after_a_pause() {
        let rate = RateLimit::per_second(10);
        let start = Instant::now();
        rate.wait_turn().await;
        tokio::time::sleep(Duration::from_millis(1_000)).await;
        rate.wait_turn().await;
        let after_pause = start.elapsed();
        rate.wait_turn().await;
        assert_eq!(after_pause, Duration::from_millis(1_000));
        assert_eq!(start.elapsed(), Duration::from_millis(1_100));
    }
}
