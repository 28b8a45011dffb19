//! Solutions to the exercises of the chapter stage 5.

use std::collections::HashMap;
use std::future::Future;
use std::panic;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use stage_5_http::{StatusCode, Url};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

// ANCHOR: join_set
/// Runs `work` on every input, at most `limit` at a time, and returns the outputs in the order
/// they finished. The permit is taken before the task is spawned, so at most `limit` tasks exist
/// at once, not only `limit` running: the inputs not yet started stay in the iterator.
///
/// # Panics
///
/// If `work` panics: the panic is passed on.
pub async fn bounded_join_set<T, O, F>(
    inputs: impl IntoIterator<Item = T>,
    limit: usize,
    work: impl Fn(T) -> F,
) -> Vec<O>
where
    F: Future<Output = O> + Send + 'static,
    O: Send + 'static,
{
    let permits = Arc::new(Semaphore::new(limit.max(1)));
    let mut tasks = JoinSet::new();
    let mut outputs = Vec::new();
    let mut collect = |finished: Result<O, tokio::task::JoinError>| match finished {
        Ok(output) => outputs.push(output),
        Err(error) => panic::resume_unwind(error.into_panic()),
    };
    for input in inputs {
        let permit = Arc::clone(&permits)
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let job = work(input);
        tasks.spawn(async move {
            let output = job.await;
            drop(permit); // The next input may start.
            output
        });
        // Take what has finished, so that outputs do not wait inside the set.
        while let Some(finished) = tasks.try_join_next() {
            collect(finished);
        }
    }
    while let Some(finished) = tasks.join_next().await {
        collect(finished);
    }
    outputs
}
// ANCHOR_END: join_set

// ANCHOR: per_host
/// Spaces requests out per host (scheme, host and port): at most `rate` a second to any one of
/// them, however many go to the others at the same time.
#[derive(Debug)]
pub struct PerHostRateLimit {
    period: Duration,
    /// For each host, the first moment its next request may go.
    next_turn: Mutex<HashMap<String, Instant>>,
}

impl PerHostRateLimit {
    /// At most `rate` requests a second to each host.
    pub fn per_second(rate: u32) -> Self {
        Self {
            period: Duration::from_secs(1) / rate.max(1),
            next_turn: Mutex::new(HashMap::new()),
        }
    }

    /// Books a turn for a request to `url`'s host asked for at `now`, and returns when it is.
    /// After a pause the turn is `now`: no burst makes up for the requests that were not sent.
    pub fn book_turn(&self, url: &Url, now: Instant) -> Instant {
        let host = url.origin().ascii_serialization();
        let mut next_turn = self
            .next_turn
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let turn = next_turn.get(&host).map_or(now, |&next| next.max(now));
        next_turn.insert(host, turn + self.period);
        turn
    }

    /// Waits for this request's turn; what a worker calls before each attempt.
    pub async fn wait_turn(&self, url: &Url) {
        let turn = self.book_turn(url, Instant::now());
        tokio::time::sleep_until(turn.into()).await;
    }
}
// ANCHOR_END: per_host

// ANCHOR: retry_after
/// How long to wait before retrying an answer with `status`: what the server's `Retry-After`
/// header asks for, in seconds and at most `longest`, on a 429 or a 503; otherwise, or if the
/// header is missing or is a date, the exponential `backoff`'s own choice.
pub fn retry_delay(
    status: StatusCode,
    retry_after: Option<&str>,
    backoff: Duration,
    longest: Duration,
) -> Duration {
    let asks_to_wait = matches!(
        status,
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
    );
    let asked = retry_after
        .filter(|_| asks_to_wait)
        .and_then(|value| value.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    asked.map_or(backoff, |asked| asked.min(longest))
}
// ANCHOR_END: retry_after

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// On tokio's default test runtime (one thread), tasks interleave only where they await, so
    /// the count of jobs in flight below does not depend on timing.
    #[tokio::test]
    async fn a_join_set_with_a_semaphore_runs_every_job_and_at_most_limit_at_once() {
        let in_flight = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let (counter, highest) = (Arc::clone(&in_flight), Arc::clone(&peak));
        let mut outputs = bounded_join_set(1..=20u64, 3, move |number| {
            let (in_flight, peak) = (Arc::clone(&counter), Arc::clone(&highest));
            async move {
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                for _ in 0..3 {
                    tokio::task::yield_now().await;
                }
                in_flight.fetch_sub(1, Ordering::SeqCst);
                number * number
            }
        })
        .await;
        assert_eq!(peak.load(Ordering::SeqCst), 3);
        outputs.sort_unstable();
        assert_eq!(outputs, (1..=20u64).map(|n| n * n).collect::<Vec<_>>());
    }

    fn url(text: &str) -> Url {
        Url::parse(text).expect("a valid URL")
    }

    #[test]
    fn each_host_has_turns_of_its_own() {
        let limit = PerHostRateLimit::per_second(10);
        let start = Instant::now();
        let period = Duration::from_millis(100);
        let turns: Vec<Duration> = [
            "http://a.example/1",
            "http://a.example/2",
            "http://b.example/1",
            "http://a.example/3",
            "http://a.example:8080/1",
        ]
        .iter()
        .map(|text| limit.book_turn(&url(text), start) - start)
        .collect();
        // a.example waits its turns; b.example, and another port of a.example, do not.
        assert_eq!(
            turns,
            [
                Duration::ZERO,
                period,
                Duration::ZERO,
                period * 2,
                Duration::ZERO
            ]
        );
        // After a pause, the next request goes at once, and the one after a period later.
        let later = start + period * 10;
        assert_eq!(limit.book_turn(&url("http://b.example/2"), later), later);
        assert_eq!(
            limit.book_turn(&url("http://b.example/3"), later),
            later + period
        );
    }

    #[test]
    fn retry_after_wins_over_the_backoff_on_429_and_503_only() {
        let backoff = Duration::from_millis(50);
        let longest = Duration::from_secs(30);
        let delay = |status, header| retry_delay(status, header, backoff, longest);
        assert_eq!(
            delay(StatusCode::TOO_MANY_REQUESTS, Some("2")),
            Duration::from_secs(2)
        );
        assert_eq!(
            delay(StatusCode::SERVICE_UNAVAILABLE, Some(" 3 ")),
            Duration::from_secs(3)
        );
        assert_eq!(delay(StatusCode::TOO_MANY_REQUESTS, Some("3600")), longest);
        assert_eq!(delay(StatusCode::TOO_MANY_REQUESTS, None), backoff);
        assert_eq!(
            delay(
                StatusCode::TOO_MANY_REQUESTS,
                Some("Wed, 21 Oct 2015 07:28:00 GMT")
            ),
            backoff
        );
        assert_eq!(delay(StatusCode::INTERNAL_SERVER_ERROR, Some("2")), backoff);
    }
}
