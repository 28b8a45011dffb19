//! Stage 5's client and pool against the demo server, started by each test on 127.0.0.1:0: the
//! server counts what arrives, so each promise is checked from the other side of the wire.
//!
//! Timing margins are wide, for a busy machine: the rate limiter's exact schedule is tested on
//! tokio's paused clock (`crates/stage-5-http/src/fetch.rs`), so here the server only has to see
//! no more than half again the rate, and no less than a third of it; the timeout test allows
//! 2 s on top of a 300 ms timeout. Nothing here touches the internet.

use std::sync::Arc;
use std::time::Duration;

use stage_5_http::demo::{DemoServer, FLAKY_FAILURES, LARGE_BODY, RefusedPort};
use stage_5_http::{
    Answer, CancellationToken, Failure, Fetch, FetchSettings, Fetcher, Outcome, StatusCode, Url,
    run_pool,
};

const SETTINGS: FetchSettings = FetchSettings {
    timeout: Duration::from_secs(5),
    max_body: 1024 * 1024,
    retries: 2,
    backoff: Duration::from_millis(10),
    rate: None,
};

async fn fetch_all(settings: FetchSettings, workers: usize, urls: Vec<Url>) -> Vec<Fetch> {
    let fetcher = Arc::new(Fetcher::new(settings).expect("a client"));
    let account = run_pool(
        workers,
        workers,
        urls,
        move |_, url: &Url, token| {
            let (fetcher, url) = (Arc::clone(&fetcher), url.clone());
            async move { fetcher.fetch(url, &token).await }
        },
        &CancellationToken::new(),
        |_| {},
    )
    .await;
    assert!(account.never_started.is_empty());
    let mut outcomes = account.outcomes;
    outcomes.sort_by_key(Outcome::job_id);
    outcomes
        .into_iter()
        .map(|outcome| match outcome {
            Outcome::Completed { output, .. } => output,
            Outcome::Failed {
                failure: Failure::Error(fetch),
                ..
            } => fetch,
            other => panic!("neither panicked nor cancelled: {other:?}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_more_than_w_requests_in_flight() {
    let server = DemoServer::start().await.expect("the demo server starts");
    let urls = vec![server.url("/delay/30"); 40];
    let fetches = fetch_all(SETTINGS, 4, urls).await;
    assert!(fetches.iter().all(
        |fetch| matches!(fetch.answer, Answer::Status { code, .. } if code == StatusCode::OK)
    ));
    let peak = server.stats().peak_in_flight();
    assert!(peak <= 4, "the server saw {peak} requests at once");
    assert!(peak >= 2, "the workers did run concurrently: {peak}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_sees_the_rate_limit() {
    let server = DemoServer::start().await.expect("the demo server starts");
    let rate = 20;
    let settings = FetchSettings {
        rate: Some(rate),
        ..SETTINGS
    };
    let fetches = fetch_all(settings, 8, vec![server.url("/fast"); 21]).await;
    assert_eq!(fetches.len(), 21);
    let arrivals = server.stats().arrivals();
    assert_eq!(arrivals.len(), 21);
    // 21 requests at 20 a second are 20 gaps of 50 ms. The first gap also holds the first
    // connection's set-up, so it is left out: 19 gaps from the second request to the last.
    let span = arrivals[20] - arrivals[1];
    let observed = 19.0 / span.as_secs_f64();
    let allowed = f64::from(rate) / 3.0..=f64::from(rate) * 1.5;
    assert!(
        allowed.contains(&observed),
        "{observed:.1} requests/s over {span:?}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_are_counted_exactly_on_the_flaky_route() {
    let server = DemoServer::start().await.expect("the demo server starts");
    // Two retries outlast the flaky route's two failures: three attempts, the last one 200.
    let fetches = fetch_all(SETTINGS, 2, vec![server.url("/flaky/enough")]).await;
    assert_eq!(fetches[0].attempts, FLAKY_FAILURES + 1);
    assert!(matches!(fetches[0].answer, Answer::Status { code, .. } if code == StatusCode::OK));
    assert_eq!(server.stats().hits("/flaky/enough"), FLAKY_FAILURES + 1);

    // One retry does not: two attempts, both 503, and that is the answer.
    let one_retry = FetchSettings {
        retries: 1,
        ..SETTINGS
    };
    let fetches = fetch_all(one_retry, 2, vec![server.url("/flaky/short")]).await;
    assert_eq!(fetches[0].attempts, 2);
    assert!(matches!(
        fetches[0].answer,
        Answer::Status { code, .. } if code == StatusCode::SERVICE_UNAVAILABLE
    ));
    assert_eq!(server.stats().hits("/flaky/short"), 2);

    // A 429 asks for patience: one retry, then 200.
    let fetches = fetch_all(SETTINGS, 2, vec![server.url("/throttled/x")]).await;
    assert_eq!(fetches[0].attempts, 2);
    assert!(matches!(fetches[0].answer, Answer::Status { code, .. } if code == StatusCode::OK));
    assert_eq!(server.stats().hits("/throttled/x"), 2);

    // A 404 is the request's fault: no retry.
    let fetches = fetch_all(SETTINGS, 2, vec![server.url("/missing")]).await;
    assert_eq!(fetches[0].attempts, 1);
    assert_eq!(server.stats().hits("/missing"), 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hanging_route_ends_as_a_timeout() {
    let server = DemoServer::start().await.expect("the demo server starts");
    let timeout = Duration::from_millis(300);
    let settings = FetchSettings {
        timeout,
        ..SETTINGS
    };
    let fetches = fetch_all(settings, 2, vec![server.url("/hang")]).await;
    assert_eq!(fetches[0].answer, Answer::Timeout);
    assert_eq!(fetches[0].attempts, 1, "a timeout is not retried");
    assert!(fetches[0].latency >= timeout, "{:?}", fetches[0].latency);
    assert!(
        fetches[0].latency < timeout + Duration::from_secs(2),
        "{:?}",
        fetches[0].latency
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_body_is_cut_at_the_cap() {
    let server = DemoServer::start().await.expect("the demo server starts");
    let cap = 64 * 1024;
    let settings = FetchSettings {
        max_body: cap,
        ..SETTINGS
    };
    let fetches = fetch_all(settings, 1, vec![server.url("/large")]).await;
    assert_eq!(
        fetches[0].answer,
        Answer::Status {
            code: StatusCode::OK,
            bytes: cap,
            truncated: true
        }
    );
    assert!(LARGE_BODY as u64 > 100 * cap);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connection_is_reported_and_retried() {
    let refused = RefusedPort::bind().expect("a free port");
    let fetches = fetch_all(SETTINGS, 1, vec![refused.url().clone()]).await;
    assert!(
        matches!(fetches[0].answer, Answer::Connect(_)),
        "{:?}",
        fetches[0].answer
    );
    assert_eq!(fetches[0].attempts, SETTINGS.retries + 1);
}
