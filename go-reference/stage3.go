// Stage 3 in Go: the design of crates/stage-3-cancel, for the book to show beside the Rust.
// The tests in stage3_test.go run it.

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// ANCHOR: stage3_outcome
// Ending is what became of a job: every job submitted ends as exactly one of these.
type Ending int

const (
	Completed    Ending = iota // the work returned an output in time
	Failed                     // the work returned an error, or panicked
	Cancelled                  // the run was cancelled while the job was running
	NeverStarted               // the run was cancelled before any worker started the job
)

// Outcome is how one job ended. It carries the job, so that a caller could retry it.
type Outcome struct {
	Job      Job
	WorkerID int // 0 if no worker started the job
	Ending   Ending
	Result   JobResult // if Completed
	Err      error     // if Failed: the error, or the panic as an error
}

// Account is the end of a run: one outcome for every job submitted.
type Account []Outcome

// Count is how many jobs ended as ending.
func (account Account) Count(ending Ending) int {
	count := 0
	for _, outcome := range account {
		if outcome.Ending == ending {
			count++
		}
	}
	return count
}

// ANCHOR_END: stage3_outcome

// ANCHOR: stage3_work
// stage3Work is what a job does. It gets the run's context, and is expected to give up with
// the context's error once the run is cancelled.
type stage3Work func(ctx context.Context, job Job) (int, error)

// stage3SlowSquare is stage 2's slow square, made to stop when the run is cancelled: a
// time.Sleep cannot be interrupted, a select on a timer and ctx.Done() can.
func stage3SlowSquare(delay time.Duration) stage3Work {
	return func(ctx context.Context, job Job) (int, error) {
		timer := time.NewTimer(delay)
		defer timer.Stop()
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-timer.C:
		}
		// The timer and the deadline can fire together. Asking the clock, not which of the
		// two goroutines ran first, makes work that ends at the deadline late every time.
		if err := stage3Late(ctx); err != nil {
			return 0, err
		}
		return job.Number * job.Number, nil
	}
}

// stage3Late is ctx.Err(), except that a deadline counts as soon as the clock passes it:
// ctx.Err() changes only once the runtime has run the deadline's timer.
func stage3Late(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if deadline, ok := ctx.Deadline(); ok && !time.Now().Before(deadline) {
		return context.DeadlineExceeded
	}
	return nil
}

// ANCHOR_END: stage3_work

// ANCHOR: stage3_worker
// stage3Worker runs jobs until the job channel is closed and drained or the run is cancelled,
// and sends exactly one outcome for every job it takes.
func stage3Worker(ctx context.Context, id int, jobs <-chan Job, outcomes chan<- Outcome,
	work stage3Work) {
	for {
		select {
		case <-ctx.Done():
			return // The pool counts the jobs left in the queue as never started.
		case job, ok := <-jobs:
			if !ok {
				return
			}
			// select picks at random when both cases are ready, so a job can be taken
			// after the cancellation: hand it back instead of starting it.
			if stage3Late(ctx) != nil {
				outcomes <- Outcome{Job: job, Ending: NeverStarted}
				return
			}
			outcomes <- stage3Run(ctx, id, job, work)
		}
	}
}

// stage3Run runs one job and sorts what came back into an outcome. recover works only on the
// goroutine that panicked, so it sits here, around the work, where it turns a panic into this
// job's failure instead of the end of the program.
func stage3Run(ctx context.Context, id int, job Job, work stage3Work) (outcome Outcome) {
	outcome = Outcome{Job: job, WorkerID: id, Ending: Failed}
	defer func() {
		if panicked := recover(); panicked != nil {
			outcome.Err = fmt.Errorf("panicked: %v", panicked)
		}
	}()
	started := time.Now()
	output, err := work(ctx, job)
	switch {
	case err == nil:
		outcome.Ending = Completed
		outcome.Result = JobResult{JobID: job.ID, Output: output, WorkerID: id,
			StartedAt: started, FinishedAt: time.Now()}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		outcome.Ending = Cancelled
	default:
		outcome.Err = err
	}
	return outcome
}

// ANCHOR_END: stage3_worker

// ANCHOR: stage3_pool
// stage3RunPool runs jobs until they are all done or ctx is cancelled, passing each outcome to
// report as it arrives. It returns once every worker has returned, with an account of every job.
func stage3RunPool(ctx context.Context, workers, queue int, jobs []Job, work stage3Work,
	report func(Outcome)) Account {
	jobQueue := make(chan Job, queue)
	outcomes := make(chan Outcome, len(jobs)) // at most one per job, so no send ever waits
	var running sync.WaitGroup
	for id := 1; id <= workers; id++ {
		running.Add(1)
		go func(id int) {
			defer running.Done()
			stage3Worker(ctx, id, jobQueue, outcomes, work)
		}(id)
	}
	account := stage3Submit(ctx, jobs, jobQueue)
	close(jobQueue) // All submitted, or cancelled: either way no job will follow.
	// Closing outcomes while a worker could still send would panic; the WaitGroup says when
	// the last one has returned.
	go func() {
		running.Wait()
		close(outcomes)
	}()
	for outcome := range outcomes {
		report(outcome)
		account = append(account, outcome)
	}
	// Workers that left on ctx.Done() can leave jobs in the queue: they never started either.
	for job := range jobQueue {
		account = append(account, Outcome{Job: job, Ending: NeverStarted})
	}
	return account
}

// stage3Submit queues jobs until there are none left or ctx is cancelled, even while it waits
// for room, and returns the jobs it did not queue, as never started.
func stage3Submit(ctx context.Context, jobs []Job, queue chan<- Job) Account {
	for i, job := range jobs {
		select {
		case queue <- job:
		case <-ctx.Done():
			unsent := make(Account, 0, len(jobs)-i)
			for _, job := range jobs[i:] {
				unsent = append(unsent, Outcome{Job: job, Ending: NeverStarted})
			}
			return unsent
		}
	}
	return nil
}

// ANCHOR_END: stage3_pool

// ANCHOR: stage3_program
// stage3Program is stage 2's program under a deadline (3 workers, 10 jobs of 500 ms, 2 s in
// the article), stopped early by Ctrl-C or SIGTERM too; it prints each outcome, then why the
// run stopped and the account.
func stage3Program(parent context.Context, workers, n int, delay, timeout time.Duration,
	out io.Writer) Account {
	// The first signal cancels the run. stop() then gives the signals back to Go's default,
	// so that a second Ctrl-C ends the process at once instead of going unheard.
	interrupted, stop := signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
	defer stop() // Also cancels interrupted, which ends the goroutine below.
	go func() {
		<-interrupted.Done()
		stop()
	}()
	ctx, cancel := context.WithTimeout(interrupted, timeout)
	defer cancel() // Frees the deadline's timer when the run ends before it.
	fmt.Fprintf(out, "started: %d jobs on %d workers, %v each, deadline in %v\n", n, workers,
		delay, timeout)

	jobs := make([]Job, n)
	for i := range jobs {
		jobs[i] = Job{ID: i + 1, Number: i + 1}
	}
	account := stage3RunPool(ctx, workers, n, jobs, stage3SlowSquare(delay), func(o Outcome) {
		switch o.Ending {
		case Completed:
			fmt.Fprintf(out, "job %2d done by worker %d: %3d\n", o.Job.ID, o.WorkerID,
				o.Result.Output)
		case Failed:
			fmt.Fprintf(out, "job %2d failed on worker %d: %v\n", o.Job.ID, o.WorkerID,
				o.Err)
		case Cancelled:
			fmt.Fprintf(out, "job %2d cancelled on worker %d while running\n", o.Job.ID,
				o.WorkerID)
		}
	})
	// A run that finished every job was not stopped, whatever happened after its last job.
	if account.Count(Cancelled)+account.Count(NeverStarted) > 0 {
		why := "interrupted"
		if errors.Is(stage3Late(ctx), context.DeadlineExceeded) {
			why = fmt.Sprintf("deadline of %v reached", timeout)
		}
		fmt.Fprintf(out, "%s: stopped taking jobs, cancelled the running ones, "+
			"waited for every worker\n", why)
	}
	fmt.Fprintf(out, "account: %d completed, %d failed, %d cancelled while running, "+
		"%d never started = %d jobs\n", account.Count(Completed), account.Count(Failed),
		account.Count(Cancelled), account.Count(NeverStarted), len(account))
	return account
}

// ANCHOR_END: stage3_program
