// Command go-reference is the Go side of the benchmarks, on the same reference workload as the
// Rust pools (N jobs that square a number, W workers, room for Q jobs, every result collected), in
// two designs:
//
//   - article: the worker pool the Rust stages are ported from, a job channel with room for Q and
//     a results channel;
//   - tuned: the design of the Rust tuned pool (crates/fast-pool/src/self_serve.rs), where the
//     workers take batches of jobs from a shared source behind a mutex and keep their outputs in
//     a buffer of their own until they return.
//
// It times its own runs, so that the Rust benchmark can call it and count only the pool, not the
// process starting.
//
// It is also a plain HTTP client on a worker pool, the Go side of the `http` benchmark: W
// goroutines take URLs from a job channel and fetch them through one shared http.Client, reading
// and discarding each body and counting the statuses. The benchmark points it at stage 5's demo
// server, the same server stage 5 fetches from; `-http-client self` starts a server of its own on
// 127.0.0.1 instead, for a check that needs no other program. `-http-server` is that server on its
// own, in a process of its own: the benchmark starts it to measure both clients with the server
// apart from either of them.
//
// Two probes explain the numbers (probes.go): `-idle` measures the memory of idle goroutines, and
// `-handoff` runs the article's pool once and counts the process's context switches per job, the
// Go side of crates/handoff.
//
//	go-reference -workers 2 -queue 100 -jobs 1000000 -runs 10
//	go-reference -design tuned -workers 2 -queue 100 -jobs 1000000 -runs 10
//	go-reference -http-client http://127.0.0.1:4000/fast -requests 20000 -workers 64 -runs 3
//	go-reference -http-server 127.0.0.1:0
//	go-reference -handoff -workers 2 -queue 100 -jobs 1000000
//	go-reference -idle 10000
//
// The first three print the total time of the runs; the fourth, its URL, serving /fast until its
// standard input closes; the fifth, the time and the context switches per job of one run; the
// last, the memory that idle goroutines hold.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// worker squares every job it takes until the job channel is closed and empty.
func worker(jobs <-chan int, results chan<- int, done *sync.WaitGroup) {
	defer done.Done()
	for number := range jobs {
		results <- number * number
	}
}

// runPool is stage 1 in Go: the results channel has room for every result, so the workers never
// wait for the collector, and the collector knows it is done after exactly `jobs` results. It
// also waits for the workers to return, as every Rust pool joins its threads.
func runPool(workers, queue, jobs int) []int {
	jobQueue := make(chan int, queue)
	results := make(chan int, jobs)
	var running sync.WaitGroup
	running.Add(workers)
	for w := 0; w < workers; w++ {
		go worker(jobQueue, results, &running)
	}
	for id := 1; id <= jobs; id++ {
		jobQueue <- 2 * id
	}
	close(jobQueue)
	outputs := make([]int, 0, jobs)
	for len(outputs) < jobs {
		outputs = append(outputs, <-results)
	}
	running.Wait()
	return outputs
}

// maxBatch is the most jobs a worker of the tuned design takes at a time, the Rust tuned pool's
// MAX_BATCH.
const maxBatch = 256

// tunedBatchLen is the Rust tuned pool's batch_len: the room for Q jobs shared between the
// workers, so that at most Q jobs (or one per worker, if that is more) are out of the source and
// not yet done; at least 1 and at most maxBatch.
func tunedBatchLen(workers, queue int) int {
	batchLen := queue / workers
	if batchLen < 1 {
		return 1
	}
	if batchLen > maxBatch {
		return maxBatch
	}
	return batchLen
}

// jobSource hands out the numbers of jobs 1 to last (job id carries 2·id) in batches, to whichever
// worker asks first. It is the only state the tuned design's workers share.
type jobSource struct {
	mu   sync.Mutex
	next int // the id of the next job to hand out
	last int
}

// take fills batch (emptied first, up to its capacity) with the next jobs' numbers and returns
// it; an empty batch means the source is exhausted. The mutex is held only while the batch is
// taken, not while it is worked on.
func (source *jobSource) take(batch []int) []int {
	source.mu.Lock()
	defer source.mu.Unlock()
	batch = batch[:0]
	for len(batch) < cap(batch) && source.next <= source.last {
		batch = append(batch, 2*source.next)
		source.next++
	}
	return batch
}

// selfServeWorker takes batches from the source until it is exhausted and returns the squares of
// its jobs: nobody hands it work, and nobody receives its outputs until it is done.
func selfServeWorker(source *jobSource, batchLen int) []int {
	var outputs []int
	batch := make([]int, 0, batchLen)
	for {
		batch = source.take(batch)
		if len(batch) == 0 {
			return outputs
		}
		for _, number := range batch {
			outputs = append(outputs, number*number)
		}
	}
}

// runTunedPool is the Rust tuned pool in Go: no submitter and no channels. Each worker writes only
// its own slot of buffers; the WaitGroup's Wait is what makes every slot safe to read afterwards,
// as joining a thread is in Rust.
func runTunedPool(workers, queue, jobs int) []int {
	source := &jobSource{next: 1, last: jobs}
	batchLen := tunedBatchLen(workers, queue)
	buffers := make([][]int, workers)
	var running sync.WaitGroup
	running.Add(workers)
	for w := range buffers {
		go func(w int) {
			defer running.Done()
			buffers[w] = selfServeWorker(source, batchLen)
		}(w)
	}
	running.Wait()
	// The first buffer is taken as it is; only the others are copied.
	outputs := buffers[0]
	for _, buffer := range buffers[1:] {
		outputs = append(outputs, buffer...)
	}
	return outputs
}

// newHTTPClient is one client for every worker, with room in its pool for an idle connection per
// worker: Go's default keeps only two per host, and a pool of W workers would then open and close
// connections all run long instead of reusing them.
func newHTTPClient(workers int) *http.Client {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConns = workers
	transport.MaxIdleConnsPerHost = workers
	return &http.Client{Transport: transport, Timeout: 10 * time.Second}
}

// fetchWorker fetches every URL it takes until the job channel is closed and empty, and counts
// the answers by status; a request that fails counts under status 0. The body is read to its end
// and thrown away, so that the connection can go back to the pool.
func fetchWorker(client *http.Client, urls <-chan string, statuses map[int]int, done *sync.WaitGroup) {
	defer done.Done()
	for url := range urls {
		response, err := client.Get(url)
		if err != nil {
			statuses[0]++
			continue
		}
		_, err = io.Copy(io.Discard, response.Body)
		response.Body.Close()
		if err != nil {
			statuses[0]++
			continue
		}
		statuses[response.StatusCode]++
	}
}

// fetchAll fetches url `requests` times on `workers` goroutines and returns how many answers of
// each status came back. Each worker counts in a map of its own, merged once every worker has
// returned, so the workers share nothing but the client and the job channel.
func fetchAll(client *http.Client, url string, workers, requests int) map[int]int {
	urls := make(chan string, workers)
	counts := make([]map[int]int, workers)
	var running sync.WaitGroup
	running.Add(workers)
	for w := range counts {
		counts[w] = make(map[int]int)
		go fetchWorker(client, urls, counts[w], &running)
	}
	for r := 0; r < requests; r++ {
		urls <- url
	}
	close(urls)
	running.Wait()
	statuses := make(map[int]int)
	for _, count := range counts {
		for status, n := range count {
			statuses[status] += n
		}
	}
	return statuses
}

// serveSelf starts a server on 127.0.0.1 that answers /fast at once with a short body, like the
// demo server's /fast, and returns the route's URL.
func serveSelf() (string, error) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	go http.Serve(listener, fastHandler())
	return "http://" + listener.Addr().String() + "/fast", nil
}

// timeHTTPClient fetches url `requests` times on `workers` goroutines, `runs` times, with one
// client for all the runs (as a program keeps its client), and prints the time the runs took.
// Any answer but 200 fails the run: a benchmark of errors would measure the wrong thing.
func timeHTTPClient(url string, workers, requests, runs int) error {
	if url == "self" {
		served, err := serveSelf()
		if err != nil {
			return err
		}
		url = served
	}
	client := newHTTPClient(workers)
	var elapsed time.Duration
	for run := 0; run < runs; run++ {
		start := time.Now()
		statuses := fetchAll(client, url, workers, requests)
		elapsed += time.Since(start)
		if statuses[http.StatusOK] != requests {
			return fmt.Errorf("run %d: %d of %d requests answered 200 (by status, 0 for no answer: %v)",
				run+1, statuses[http.StatusOK], requests, statuses)
		}
	}
	fmt.Printf("elapsed_ns=%d runs=%d requests=%d workers=%d\n", elapsed.Nanoseconds(), runs, requests, workers)
	return nil
}

// The limits on the flags: maxJobs keeps sumOfSquares within 64 bits; the others are the Rust
// programs' limits on a queue and on idle workers.
const (
	maxJobs  = 1_000_000
	maxQueue = 1_000_000
	maxIdle  = 20_000
)

// sumOfSquares is what the outputs of one run must add up to: the sum of (2·id)² for id in 1..=n.
func sumOfSquares(n int) int {
	return 4 * n * (n + 1) * (2*n + 1) / 6
}

// residentBytes reads one kB field of /proc/self/status (Linux only).
func residentBytes(field string) (int, error) {
	file, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer file.Close()
	lines := bufio.NewScanner(file)
	for lines.Scan() {
		line := lines.Text()
		if !strings.HasPrefix(line, field+":") {
			continue
		}
		value := strings.TrimPrefix(line, field+":")
		kilobytes, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(value), "kB")))
		return kilobytes * 1024, err
	}
	return 0, fmt.Errorf("/proc/self/status has no %s field", field)
}

// idle starts `workers` goroutines that each wait on one job channel, the way the pool's workers
// wait, and reports the peak resident memory once all of them are waiting.
func idle(workers int) error {
	before, err := residentBytes("VmRSS")
	if err != nil {
		return err
	}
	jobs := make(chan int)
	var started, finished sync.WaitGroup
	started.Add(workers)
	finished.Add(workers)
	for w := 0; w < workers; w++ {
		go func() {
			defer finished.Done()
			started.Done()
			for range jobs {
			}
		}()
	}
	started.Wait()
	peak, err := residentBytes("VmHWM")
	close(jobs)
	finished.Wait()
	if err != nil {
		return err
	}
	perWorker := (peak - before) / workers
	fmt.Printf("shape: goroutines\nworkers: %d\n", workers)
	fmt.Printf("rss before: %.1f MiB\npeak rss: %.1f MiB\n", mebibytes(before), mebibytes(peak))
	fmt.Printf("per worker: %d bytes (%.1f KiB)\n", perWorker, float64(perWorker)/1024)
	return nil
}

func mebibytes(bytes int) float64 { return float64(bytes) / (1024 * 1024) }

// usageError reports a bad flag on one line and exits 2, as the Rust programs do.
func usageError(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "error: "+format+"\n", args...)
	os.Exit(2)
}

func main() {
	flags := flag.NewFlagSet("go-reference", flag.ContinueOnError)
	workers := flags.Int("workers", 2, "worker goroutines")
	queue := flags.Int("queue", 100, "room for jobs: the job channel's (article), or shared out as batches of queue/workers (tuned)")
	jobs := flags.Int("jobs", 1_000_000, "jobs per run")
	runs := flags.Int("runs", 1, "runs to time, back to back")
	design := flags.String("design", "article", "the pool to time: article (job and results channels) or tuned (workers take batches themselves)")
	idleWorkers := flags.Int("idle", 0, "instead of timing runs, measure this many idle goroutines")
	httpClient := flags.String("http-client", "", "instead of timing the pool, fetch this URL -requests times on -workers goroutines per run (self: from a server of its own)")
	requests := flags.Int("requests", 20_000, "requests per run, with -http-client")
	httpServer := flags.String("http-server", "", "instead of timing the pool, serve /fast on this address (port 0: any free port), print its URL, and stop when stdin closes")
	handoffProbe := flags.Bool("handoff", false, "instead of timing runs, run the article's pool once on -jobs jobs and print the time and the context switches per job")
	// A bad flag gets one line on stderr (the flag package's own), -help the list of flags.
	flags.Usage = func() {}
	if err := flags.Parse(os.Args[1:]); err != nil {
		if err == flag.ErrHelp {
			flags.SetOutput(os.Stdout)
			flags.PrintDefaults()
			os.Exit(0)
		}
		os.Exit(2)
	}
	switch {
	case *workers < 1:
		usageError("invalid value '%d' for '-workers': must be at least 1", *workers)
	case *queue < 0 || *queue > maxQueue:
		usageError("invalid value '%d' for '-queue': must be from 0 to %d", *queue, maxQueue)
	case *jobs < 1 || *jobs > maxJobs:
		usageError("invalid value '%d' for '-jobs': must be from 1 to %d", *jobs, maxJobs)
	case *runs < 1:
		usageError("invalid value '%d' for '-runs': must be at least 1", *runs)
	case *idleWorkers < 0 || *idleWorkers > maxIdle:
		usageError("invalid value '%d' for '-idle': must be from 0 to %d", *idleWorkers, maxIdle)
	case *requests < 1 || *requests > maxJobs:
		usageError("invalid value '%d' for '-requests': must be from 1 to %d", *requests, maxJobs)
	}
	pools := map[string]func(workers, queue, jobs int) []int{
		"article": runPool,
		"tuned":   runTunedPool,
	}
	pool, known := pools[*design]
	if !known {
		usageError("invalid value '%s' for '-design': must be article or tuned", *design)
	}

	if *httpServer != "" {
		runHTTPServer(*httpServer)
		return
	}

	if *handoffProbe {
		runHandoff(*workers, *queue, *jobs)
		return
	}

	if *httpClient != "" {
		if err := timeHTTPClient(*httpClient, *workers, *requests, *runs); err != nil {
			fmt.Fprintf(os.Stderr, "error: -http-client: %v\n", err)
			os.Exit(1)
		}
		return
	}

	if *idleWorkers > 0 {
		if err := idle(*idleWorkers); err != nil {
			fmt.Fprintf(os.Stderr, "error: could not measure idle goroutines: %v\n", err)
			os.Exit(1)
		}
		return
	}

	var elapsed time.Duration
	for run := 0; run < *runs; run++ {
		start := time.Now()
		outputs := pool(*workers, *queue, *jobs)
		elapsed += time.Since(start)
		sum := 0
		for _, output := range outputs {
			sum += output
		}
		if len(outputs) != *jobs || sum != sumOfSquares(*jobs) {
			fmt.Fprintf(os.Stderr, "error: run %d lost or changed results\n", run+1)
			os.Exit(1)
		}
	}
	fmt.Printf("elapsed_ns=%d runs=%d jobs=%d design=%s\n", elapsed.Nanoseconds(), *runs, *jobs, *design)
}
