//! The fetcher: it reads from the broker as many jobs as there are free workers and puts them on
//! the workers' queue; once a heartbeat it takes over jobs whose lease ran out, reads the
//! account and trims the stream.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::broker::{Broker, BrokerError, Delivery};
use crate::metrics::WorkMetrics;
use crate::worker::WorkSettings;

// ANCHOR: fetch_for_free_workers
/// Reads jobs for the free workers and puts them on their queue, until `stop` is cancelled or,
/// with `exit_when_idle`, the queue has been drained long enough. Once a heartbeat it looks for
/// jobs whose lease ran out, reads the queue's account, and trims the stream.
pub(crate) async fn fetch_for_free_workers<B: Broker>(
    broker: &B,
    consumer: &str,
    settings: &WorkSettings,
    places: &Arc<Semaphore>,
    queue: &mpsc::UnboundedSender<(Delivery, OwnedSemaphorePermit)>,
    metrics: &WorkMetrics,
    stop: &CancellationToken,
) -> Result<(), BrokerError> {
    let mut next_look = Instant::now();
    let mut idle_since: Option<Instant> = None;
    loop {
        // Waiting for a free worker is waiting for a place: blocking, not polling.
        let first = tokio::select! {
            biased;
            () = stop.cancelled() => return Ok(()),
            place = Arc::clone(places).acquire_owned() => {
                place.expect("the run keeps its semaphore open")
            }
        };
        let mut free = vec![first];
        while let Ok(place) = Arc::clone(places).try_acquire_owned() {
            free.push(place);
        }

        let now = Instant::now();
        let look_for_expired = now >= next_look;
        if look_for_expired {
            next_look = now + settings.heartbeat();
            keep_house(broker, settings, metrics).await?;
        }
        let fetched = fetch(broker, consumer, settings, free.len(), look_for_expired).await?;
        if fetched.is_empty() && free.len() == settings.workers {
            let since = *idle_since.get_or_insert(now);
            if settings
                .exit_when_idle
                .is_some_and(|idle| now.duration_since(since) >= idle)
                && drained(broker).await
            {
                return Ok(());
            }
        } else {
            idle_since = None;
        }
        // A place for each job fetched; the rest are given back as `free` is dropped.
        for (delivery, place) in fetched.into_iter().zip(free) {
            metrics.started(delivery.count > 1);
            // The workers hold the receiver until the fetcher is done, so this cannot fail.
            let _ = queue.send((delivery, place));
        }
    }
}
// ANCHOR_END: fetch_for_free_workers

/// Once a heartbeat: reads the queue (for the lag metric, and to learn that the broker lost its
/// state even while there is nothing to do) and trims the stream.
async fn keep_house<B: Broker>(
    broker: &B,
    settings: &WorkSettings,
    metrics: &WorkMetrics,
) -> Result<(), BrokerError> {
    match broker.status().await {
        Ok(status) => metrics.set_lag(status.waiting()),
        Err(fatal) if fatal.is_fatal() => return Err(fatal),
        Err(_) => return Ok(()),
    }
    // A consumer that has not read for ten leases (and at least a minute) holds nothing and is
    // not coming back: a live worker reads every half second.
    let forget_idle = (settings.lease * 10).max(Duration::from_secs(60));
    if let Err(error) = broker.trim(forget_idle).await
        && !error.is_transient()
    {
        tracing::warn!("cannot trim the stream: {error}");
    }
    Ok(())
}

/// Whether nothing is left that any worker could do. A worker with nothing to do does not exit
/// while jobs are pending elsewhere: their worker may be dead, and they may be this worker's to
/// take over when their lease runs out.
async fn drained<B: Broker>(broker: &B) -> bool {
    broker.status().await.is_ok_and(|status| status.drained())
}

// ANCHOR: fetch
/// Up to `count` deliveries for the free workers: first jobs whose lease ran out (when it is
/// time to look), then new ones, waiting a little for the first if there are none. A broker that
/// is away gives nothing this time; the loop asks again. Only the loss of the queue's state is
/// an error.
async fn fetch<B: Broker>(
    broker: &B,
    consumer: &str,
    settings: &WorkSettings,
    count: usize,
    look_for_expired: bool,
) -> Result<Vec<Delivery>, BrokerError> {
    let mut fetched = Vec::with_capacity(count);
    if look_for_expired {
        match broker.take_over(consumer, settings.lease, count).await {
            Ok(taken) => fetched.extend(taken),
            Err(fatal) if fatal.is_fatal() => return Err(fatal),
            Err(error) => not_now("take over jobs", &error),
        }
    }
    let wanted = count - fetched.len();
    if wanted > 0 {
        // A blocking read, but a short one: the loop must come back to take over expired jobs,
        // to notice a stop, and to see that it has been idle long enough to exit. A read is
        // never cut off mid-way, so no job is delivered to a read that nobody is waiting for.
        // With jobs taken over in hand it does not wait at all: they have waited long enough.
        let block = if fetched.is_empty() {
            settings
                .heartbeat()
                .min(READ_BLOCK)
                .min(settings.exit_when_idle.unwrap_or(READ_BLOCK))
        } else {
            Duration::ZERO
        };
        match broker.read_new(consumer, wanted, block).await {
            Ok(new) => fetched.extend(new),
            Err(fatal) if fatal.is_fatal() => return Err(fatal),
            Err(error) => {
                not_now("read jobs", &error);
                // Do not spin on a broker that is away: wait before the loop asks again.
                tokio::time::sleep(block.max(READ_BLOCK / 5)).await;
            }
        }
    }
    Ok(fetched)
}
// ANCHOR_END: fetch

/// The longest a read waits for new jobs before the loop goes round again.
const READ_BLOCK: Duration = Duration::from_millis(500);

/// A broker error that the next round may not have. A lost connection or a refusal has been
/// said already, once, by the broker's handle; anything else is said here.
fn not_now(what: &str, error: &BrokerError) {
    if !error.is_transient() {
        tracing::warn!("cannot {what}: {error}");
    }
}
