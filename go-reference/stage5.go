// Stage 5 in Go: the design of crates/stage-5-http, for the book to show beside the Rust: the
// pool applied to HTTP requests, with a timeout, retries with backoff and a shared rate limit.
// The tests in stage5_test.go run it against servers they start on 127.0.0.1.

package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// ANCHOR: stage5_client
// stage5Settings is how the pool and its client behave. The Rust program's defaults: 4 workers,
// a 1 s timeout, 2 retries after 50 ms then 100 ms, 20 requests a second, bodies cut at 1 MiB.
type stage5Settings struct {
	Workers, Retries int
	Timeout, Backoff time.Duration
	Rate             int // requests a second across every worker; 0 for no limit
	MaxBody          int64
}

// stage5Fetcher is what every worker shares: one client, and one source of turns to send.
type stage5Fetcher struct {
	client   *http.Client
	settings stage5Settings
	turns    <-chan time.Time // one value per request the rate limit allows
	stop     func()           // frees the ticker and the idle connections, once the run ends
}

// newStage5Fetcher makes the client and the rate limit that one run's workers share.
func newStage5Fetcher(s stage5Settings) *stage5Fetcher {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = s.Workers // Go's default of 2 would redial for the rest
	// Timeout bounds each attempt, from dialling to the last byte of the body. The article's
	// workers call http.Get, whose default client has no timeout at all: a server that never
	// answers would hold a worker for as long as the program runs.
	client := &http.Client{Transport: transport, Timeout: s.Timeout}
	fetcher := &stage5Fetcher{client: client, settings: s, stop: client.CloseIdleConnections}
	if s.Rate == 0 {
		always := make(chan time.Time)
		close(always) // A closed channel is always ready: every request may go at once.
		fetcher.turns = always
		return fetcher
	}
	// A ticker shared by every worker: each attempt, retries too, waits for a tick. It holds at
	// most one tick nobody took, so a quiet spell is followed by one early turn, not a burst.
	ticker := time.NewTicker(time.Second / time.Duration(s.Rate))
	fetcher.turns = ticker.C
	fetcher.stop = func() {
		ticker.Stop()
		client.CloseIdleConnections()
	}
	return fetcher
}

// ANCHOR_END: stage5_client

// ANCHOR: stage5_fetch
// stage5Fetch is what became of one URL. A URL the server answered, whatever the status, is
// Completed; one with no answer (a timeout, a refused connection) is Failed.
type stage5Fetch struct {
	URL              string
	WorkerID, Status int // Status is 0 if no answer came
	Attempts         int
	Bytes            int64
	Truncated        bool
	Ending           Ending
	Err              error // why no answer came
}

// fetch gets url: before every attempt it waits for a turn, and it retries with a backoff that
// doubles while a retry could help. Cancelling ctx ends it at once, request in flight included.
func (f *stage5Fetcher) fetch(ctx context.Context, url string) stage5Fetch {
	fetch := stage5Fetch{URL: url, Ending: Cancelled}
	backoff := f.settings.Backoff
	for {
		if !stage5Wait(ctx, f.turns) {
			return fetch
		}
		fetch.Attempts++
		fetch.Status, fetch.Bytes, fetch.Err = f.attempt(ctx, url)
		if ctx.Err() != nil {
			return fetch
		}
		if fetch.Attempts > f.settings.Retries || !fetch.worthRetrying() {
			break
		}
		timer := time.NewTimer(backoff)
		waited := stage5Wait(ctx, timer.C)
		timer.Stop()
		if !waited {
			return fetch
		}
		backoff *= 2
	}
	fetch.Ending = Failed
	if fetch.Err == nil {
		fetch.Ending = Completed
		fetch.Truncated = fetch.Bytes > f.settings.MaxBody
		if fetch.Truncated {
			fetch.Bytes = f.settings.MaxBody
		}
	}
	return fetch
}

// ANCHOR_END: stage5_fetch

// ANCHOR: stage5_attempt
// attempt makes one request and reads at most one byte more of the body than the cap, which
// is how a body cut at the cap is told from one that fits. Closing the body then drops the
// connection, and the rest is never downloaded.
func (f *stage5Fetcher) attempt(ctx context.Context, url string) (int, int64, error) {
	request, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, 0, err
	}
	response, err := f.client.Do(request)
	if err != nil {
		return 0, 0, err
	}
	defer response.Body.Close()
	read, err := io.Copy(io.Discard, io.LimitReader(response.Body, f.settings.MaxBody+1))
	if err != nil {
		return 0, read, err
	}
	return response.StatusCode, read, nil
}

// worthRetrying says whether another attempt could do better: after a refused connection, a
// 429 or a 5xx. Not after a timeout, which would only double the wait, nor after any other
// 4xx, which says that the request itself is wrong.
func (fetch *stage5Fetch) worthRetrying() bool {
	var dial *net.OpError
	if fetch.Err != nil {
		return errors.As(fetch.Err, &dial) && dial.Op == "dial" && !dial.Timeout()
	}
	return fetch.Status == http.StatusTooManyRequests || fetch.Status >= 500
}

// stage5Wait waits for a value on ready, or for ctx to be cancelled; it says which came first.
func stage5Wait(ctx context.Context, ready <-chan time.Time) bool {
	select {
	case <-ctx.Done():
		return false
	case <-ready:
		return true
	}
}

// ANCHOR_END: stage5_attempt

// ANCHOR: stage5_pool
// stage5FetchAll fetches every URL on s.Workers goroutines, so that no more than that many
// requests are ever in flight, passing each result to report as it comes. It returns once every
// worker has returned, with one result per URL, in the order they ended.
func stage5FetchAll(ctx context.Context, s stage5Settings, urls []string,
	report func(stage5Fetch)) []stage5Fetch {
	fetcher := newStage5Fetcher(s)
	defer fetcher.stop()
	queue := make(chan string, len(urls)) // room for every URL, as in the earlier stages
	results := make(chan stage5Fetch, len(urls))
	var running sync.WaitGroup
	for id := 1; id <= s.Workers; id++ {
		running.Add(1)
		go func(id int) {
			defer running.Done()
			// No select on ctx.Done(): the queue has room for every URL, so nobody
			// waits on it, and once the run is cancelled the workers hand back what
			// is queued.
			for url := range queue {
				fetch := stage5Fetch{URL: url, WorkerID: id, Ending: NeverStarted}
				if ctx.Err() == nil {
					fetch = fetcher.fetch(ctx, url)
					fetch.WorkerID = id
				}
				results <- fetch
			}
		}(id)
	}
	for _, url := range urls {
		queue <- url // never waits: there is room for every URL
	}
	close(queue)
	go func() {
		running.Wait()
		close(results)
	}()
	var fetches []stage5Fetch
	for fetch := range results {
		report(fetch)
		fetches = append(fetches, fetch)
	}
	return fetches
}

// ANCHOR_END: stage5_pool
