package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// stage5Server is a demo server on 127.0.0.1 with a route for each way a server can answer, like
// stage 5's own, and counters that let a test check the client from the other end of the wire.
type stage5Server struct {
	*httptest.Server
	arrived  chan string   // every request's path, as it arrives
	stopping chan struct{} // closed before the server closes, to end /hang
	mu       sync.Mutex
	hits     map[string]int
	inFlight int
	peak     int
}

func startStage5Server(t *testing.T) *stage5Server {
	s := &stage5Server{arrived: make(chan string, 1000), stopping: make(chan struct{}),
		hits: make(map[string]int)}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve)) // listens on 127.0.0.1:0
	t.Cleanup(func() {
		close(s.stopping)
		s.Close()
	})
	return s
}

func (s *stage5Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.hits[r.URL.Path]++
	hits := s.hits[r.URL.Path]
	s.inFlight++
	if s.inFlight > s.peak {
		s.peak = s.inFlight
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inFlight--
		s.mu.Unlock()
	}()
	s.arrived <- r.URL.Path
	wait := func(pause <-chan time.Time) {
		select {
		case <-pause:
		case <-r.Context().Done(): // the client gave up: its connection is closed
		case <-s.stopping:
		}
	}
	switch path := r.URL.Path; {
	case path == "/fast":
	case path == "/slow":
		wait(time.After(50 * time.Millisecond))
	case strings.HasPrefix(path, "/flaky/") && hits <= 2:
		w.WriteHeader(http.StatusServiceUnavailable)
	case strings.HasPrefix(path, "/throttled/") && hits == 1:
		w.WriteHeader(http.StatusTooManyRequests)
	case path == "/missing":
		w.WriteHeader(http.StatusNotFound)
	case path == "/broken":
		w.WriteHeader(http.StatusInternalServerError)
	case path == "/large":
		w.Write([]byte(strings.Repeat("x", 64*1024)))
		return
	case path == "/hang":
		wait(nil)
		return
	}
	fmt.Fprintln(w, "answered")
}

func (s *stage5Server) peakInFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak
}

// refusedURL is a URL on 127.0.0.1 where connecting is refused: its port is bound, so that
// nobody else can take it while the test runs, but nothing listens on it.
func refusedURL(t *testing.T) string {
	socket, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(socket) })
	if err := syscall.Bind(socket, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	address, err := syscall.Getsockname(socket)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("http://127.0.0.1:%d/", address.(*syscall.SockaddrInet4).Port)
}

var stage5TestSettings = stage5Settings{Workers: 4, Retries: 2, Timeout: 300 * time.Millisecond,
	Backoff: 5 * time.Millisecond, Rate: 500, MaxBody: 1024}

func TestStage5EveryURLEndsOnceEachKindItsOwnWay(t *testing.T) {
	server := startStage5Server(t)
	refused := refusedURL(t)
	paths := []string{"/fast", "/fast", "/fast", "/slow", "/slow", "/flaky/a", "/flaky/b",
		"/throttled/a", "/missing", "/broken", "/large", "/hang"}
	var urls []string
	for _, path := range paths {
		urls = append(urls, server.URL+path)
	}
	urls = append(urls, refused)

	type want struct {
		ending           Ending
		status, attempts int
	}
	wants := map[string]want{
		"/fast": {Completed, 200, 1}, "/slow": {Completed, 200, 1},
		"/flaky/a": {Completed, 200, 3}, "/flaky/b": {Completed, 200, 3},
		"/throttled/a": {Completed, 200, 2}, "/missing": {Completed, 404, 1},
		"/broken": {Completed, 500, 3}, "/large": {Completed, 200, 1},
		"/hang": {Failed, 0, 1}, refused: {Failed, 0, 3},
	}
	fetches := stage5FetchAll(context.Background(), stage5TestSettings, urls, func(stage5Fetch) {})

	if len(fetches) != len(urls) {
		t.Errorf("%d results for %d URLs", len(fetches), len(urls))
	}
	seen := make(map[string]int)
	for _, fetch := range fetches {
		key := strings.TrimPrefix(fetch.URL, server.URL)
		seen[fetch.URL]++
		got := want{fetch.Ending, fetch.Status, fetch.Attempts}
		if got != wants[key] {
			t.Errorf("%s: %+v (error %v), want %+v", key, got, fetch.Err, wants[key])
		}
		if fetch.WorkerID < 1 || fetch.WorkerID > stage5TestSettings.Workers {
			t.Errorf("%s: worker %d is out of range", key, fetch.WorkerID)
		}
	}
	submitted := make(map[string]int)
	for _, url := range urls {
		submitted[url]++
	}
	for url, times := range submitted {
		if seen[url] != times {
			t.Errorf("%s ended %d times, want %d", url, seen[url], times)
		}
	}
	for _, fetch := range fetches {
		switch strings.TrimPrefix(fetch.URL, server.URL) {
		case "/large":
			if !fetch.Truncated || fetch.Bytes != stage5TestSettings.MaxBody {
				t.Errorf("/large: %d bytes, truncated %v; want cut at the cap", fetch.Bytes,
					fetch.Truncated)
			}
		case "/hang":
			var timeout net.Error
			if !errors.As(fetch.Err, &timeout) || !timeout.Timeout() {
				t.Errorf("/hang ended with %v, want a timeout", fetch.Err)
			}
		}
	}
	if peak := server.peakInFlight(); peak > stage5TestSettings.Workers {
		t.Errorf("%d requests in flight at once, more than %d workers", peak,
			stage5TestSettings.Workers)
	}
}

// A ticker never ticks early, so the k-th turn comes at least k periods after the fetcher is
// made, however late the machine runs the workers: a lower bound that holds on a busy machine.
func TestStage5TheRateLimitSpacesRequestsAcrossWorkers(t *testing.T) {
	server := startStage5Server(t)
	const requests, rate = 20, 200
	urls := make([]string, requests)
	for i := range urls {
		urls[i] = server.URL + "/fast"
	}
	s := stage5TestSettings
	s.Rate = rate
	started := time.Now()
	fetches := stage5FetchAll(context.Background(), s, urls, func(stage5Fetch) {})
	elapsed := time.Since(started)
	for _, fetch := range fetches {
		if fetch.Ending != Completed || fetch.Status != 200 {
			t.Errorf("%+v", fetch)
		}
	}
	if least := requests * time.Second / rate; elapsed < least {
		t.Errorf("%d requests at %d a second took %v, less than %v", requests, rate, elapsed,
			least)
	}
}

// Two workers wait on a server that never answers; cancelling the run ends both requests at
// once and hands back every URL not started.
func TestStage5CancellingEndsRequestsInFlight(t *testing.T) {
	server := startStage5Server(t)
	urls := make([]string, 8)
	for i := range urls {
		urls[i] = server.URL + "/hang"
	}
	s := stage5TestSettings
	s.Workers, s.Timeout, s.Rate = 2, time.Hour, 0
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-server.arrived
		<-server.arrived
		cancel()
	}()
	fetches := stage5FetchAll(ctx, s, urls, func(stage5Fetch) {})
	ended := make(map[Ending]int)
	for _, fetch := range fetches {
		ended[fetch.Ending]++
	}
	if len(fetches) != 8 || ended[Cancelled] != 2 || ended[NeverStarted] != 6 {
		t.Errorf("%d results: %d cancelled, %d never started; want 8: 2 and 6", len(fetches),
			ended[Cancelled], ended[NeverStarted])
	}
}
