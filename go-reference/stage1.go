// Stage 1 in Go: the design of crates/stage-1-basic as a Go programmer would write it, for the
// book to show beside the Rust. The tests in stage1_test.go run it.

package main

import (
	"fmt"
	"io"
	"sync"
)

// ANCHOR: stage1
// Job is one unit of work, shared by the stages as pool-core's Job is: an id to tell jobs apart
// and the number to work on.
type Job struct {
	ID     int
	Number int
}

// The article's program: 5 jobs (job id carries the number 2·id) on 3 workers, with room in
// the queue for every job, so that submitting never waits.
const (
	stage1Jobs    = 5
	stage1Workers = 3
	stage1Queue   = stage1Jobs
)

// stage1Worker squares every job it takes until the job channel is closed and drained.
func stage1Worker(id int, jobs <-chan Job, results chan<- int, out io.Writer) {
	for job := range jobs {
		fmt.Fprintf(out, "worker %d picked up job %d (number %d)\n", id, job.ID, job.Number)
		results <- job.Number * job.Number
	}
}

// stage1RunPool runs jobs 1 to n on a pool and returns the outputs in the order they came. Every
// worker writes to out, so out must take writes from many goroutines at once (os.Stdout does).
func stage1RunPool(workers, queue, n int, out io.Writer) []int {
	jobs := make(chan Job, queue)
	// Room for every result: this goroutine submits all the jobs before it reads a result, and
	// a full results channel would leave it and the workers waiting on each other.
	results := make(chan int, n)
	var running sync.WaitGroup
	for id := 1; id <= workers; id++ {
		running.Add(1)
		go func(id int) {
			defer running.Done()
			stage1Worker(id, jobs, results, out)
		}(id)
	}
	for id := 1; id <= n; id++ {
		jobs <- Job{ID: id, Number: 2 * id}
	}
	close(jobs) // Only the sender closes: the workers finish what is queued, then return.

	// The workers are the only senders of results, so it may be closed once they have all
	// returned; that ends the loop below without counting results.
	go func() {
		running.Wait()
		close(results)
	}()
	var outputs []int
	for output := range results {
		fmt.Fprintf(out, "result: %d\n", output)
		outputs = append(outputs, output)
	}
	fmt.Fprintf(out, "done: %d results from %d jobs on %d workers\n", len(outputs), n, workers)
	return outputs
}

// ANCHOR_END: stage1
