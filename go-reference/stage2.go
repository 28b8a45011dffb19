// Stage 2 in Go: the design of crates/stage-2-metadata, for the book to show beside the Rust.
// The tests in stage2_test.go run it.

package main

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// ANCHOR: stage2_worker
// JobResult is what a worker sends back for one job: the output, and which worker made it and
// when, so that results arriving in any order can still be matched to their jobs.
type JobResult struct {
	JobID      int
	Output     int
	WorkerID   int
	StartedAt  time.Time
	FinishedAt time.Time
}

// The article's program: 10 jobs (job id carries the number id) on 3 workers, 500 ms each.
const (
	stage2Jobs    = 10
	stage2Workers = 3
	stage2Delay   = 500 * time.Millisecond
)

// stage2Worker is stage 1's worker with a pause before each output, standing in for real work,
// and a result that says who did the job and when.
func stage2Worker(id int, jobs <-chan Job, results chan<- JobResult, delay time.Duration) {
	for job := range jobs {
		started := time.Now()
		time.Sleep(delay) // Nothing can cut this pause short; stage 3's can be cancelled.
		results <- JobResult{
			JobID:      job.ID,
			Output:     job.Number * job.Number,
			WorkerID:   id,
			StartedAt:  started,
			FinishedAt: time.Now(),
		}
	}
}

// stage2Rounds is how many rounds n jobs take on workers that each run one job at a time: the
// ceiling of n/workers, the last round possibly part-full. No run is shorter than that many
// delays.
func stage2Rounds(n, workers int) int {
	return (n + workers - 1) / workers
}

// ANCHOR_END: stage2_worker

// ANCHOR: stage2_pool
// stage2RunPool is stage 1's pool carrying JobResults; the collector prints each as it comes,
// with the time since the start, which is where the rounds show.
func stage2RunPool(workers, queue, n int, delay time.Duration, out io.Writer) []JobResult {
	jobs := make(chan Job, queue)
	results := make(chan JobResult, n) // room for every result, as in stage 1
	start := time.Now()
	var running sync.WaitGroup
	for id := 1; id <= workers; id++ {
		running.Add(1)
		go func(id int) {
			defer running.Done()
			stage2Worker(id, jobs, results, delay)
		}(id)
	}
	for id := 1; id <= n; id++ {
		jobs <- Job{ID: id, Number: id}
	}
	close(jobs)
	go func() {
		running.Wait()
		close(results)
	}()
	var collected []JobResult
	for r := range results {
		fmt.Fprintf(out, "job %2d done by worker %d: %3d (at %s UTC, +%.2fs)\n", r.JobID,
			r.WorkerID, r.Output, r.FinishedAt.UTC().Format("15:04:05"),
			r.FinishedAt.Sub(start).Seconds())
		collected = append(collected, r)
	}
	rounds := stage2Rounds(n, workers)
	fmt.Fprintf(out, "done: %d results in %.2fs; ideal %d rounds of %v = %v\n", len(collected),
		time.Since(start).Seconds(), rounds, delay, time.Duration(rounds)*delay)
	return collected
}

// ANCHOR_END: stage2_pool
