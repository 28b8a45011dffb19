// Stage 4 in Go: the design of crates/stage-4-scaling, for the book to show beside the Rust: a
// pool that grows and shrinks while it runs, and an autoscaler that decides when. The tests in
// stage4_test.go run it; stage4_race_test.go holds the article's unsynchronised count, which
// the race detector catches.

package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// ANCHOR: stage4_pool
// stage4Message is what the job queue carries: a job, or a request that whichever worker takes
// it leaves. A worker takes one only between jobs, so retiring never interrupts a job.
type stage4Message struct {
	job    Job
	retire bool
}

// stage4Pool is a pool whose workers come and go while it runs, between min and max of them.
type stage4Pool struct {
	ctx       context.Context
	queue     chan stage4Message
	outcomes  chan Outcome
	collected chan struct{} // closed once every outcome is in account
	account   Account
	work      stage3Work
	min, max  int
	running   sync.WaitGroup // every worker ever started, retired ones included

	// Jobs submitted and not yet ended: workers change it while the autoscaler reads it.
	unfinished atomic.Int64

	// mu guards the counts below. The autoscaler changes them, workers change them as they
	// leave, and anyone may ask for the size at any moment: unguarded, as the article's count
	// is, that is a data race (stage4_race_test.go).
	mu          sync.Mutex
	live        int // worker goroutines that have not returned
	retiring    int // retire messages sent and not yet taken
	nextID      int
	neverQueued Account // submitted after the cancellation
}

// stage4Start starts a pool of min workers, with room in its queue for queue messages.
func stage4Start(ctx context.Context, min, max, queue int, work stage3Work) *stage4Pool {
	pool := &stage4Pool{ctx: ctx, queue: make(chan stage4Message, queue),
		outcomes: make(chan Outcome), collected: make(chan struct{}),
		work: work, min: min, max: max, nextID: 1}
	go func() { // Reads outcomes as they come: the pool does not know how many jobs will.
		defer close(pool.collected)
		for outcome := range pool.outcomes {
			pool.account = append(pool.account, outcome)
		}
	}()
	pool.ScaleUp(min)
	return pool
}

// ANCHOR_END: stage4_pool

// ANCHOR: stage4_resize
// Size is how many workers the pool has, not counting those asked to leave.
func (p *stage4Pool) Size() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.live - p.retiring
}

// ScaleUp starts up to n workers. Workers on their way out still count toward max, so that
// no more than max jobs ever run at once.
func (p *stage4Pool) ScaleUp(n int) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n > p.max-p.live {
		n = p.max - p.live
	}
	for i := 0; i < n; i++ {
		p.live++
		p.running.Add(1)
		go p.worker(p.nextID)
		p.nextID++
	}
	return n
}

// ScaleDown asks up to n workers to leave, never going below min. It does not wait for room in
// the queue: a full queue means the workers are behind, which is no time to shrink.
func (p *stage4Pool) ScaleDown(n int) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	asked := 0
	for asked < n && p.live-p.retiring > p.min {
		select {
		case p.queue <- stage4Message{retire: true}:
			p.retiring++
			asked++
		default:
			return asked
		}
	}
	return asked
}

// ANCHOR_END: stage4_resize

// ANCHOR: stage4_worker
// worker is stage 3's worker, taking messages instead of jobs; a retire message ends it.
func (p *stage4Pool) worker(id int) {
	retired := false
	defer func() {
		p.mu.Lock()
		p.live--
		if retired {
			p.retiring--
		}
		p.mu.Unlock()
		p.running.Done()
	}()
	for {
		select {
		case <-p.ctx.Done():
			return // Finish counts what is left in the queue as never started.
		case message, ok := <-p.queue:
			if !ok {
				return
			}
			if message.retire {
				retired = true
				return
			}
			if stage3Late(p.ctx) != nil {
				p.outcomes <- Outcome{Job: message.job, Ending: NeverStarted}
			} else {
				p.outcomes <- stage3Run(p.ctx, id, message.job, p.work)
			}
			p.unfinished.Add(-1)
		}
	}
}

// Submit queues a job, waiting for room, unless the run is cancelled first: the job is then
// set aside as never started. Counted before it is sent, so no reader sees more jobs ended
// than submitted.
func (p *stage4Pool) Submit(job Job) {
	p.unfinished.Add(1)
	select {
	case p.queue <- stage4Message{job: job}:
	case <-p.ctx.Done():
		p.unfinished.Add(-1)
		p.mu.Lock()
		p.neverQueued = append(p.neverQueued, Outcome{Job: job, Ending: NeverStarted})
		p.mu.Unlock()
	}
}

// Finish closes the queue, waits for every worker and returns the account of every job. Call
// it after the last Submit and once the autoscaler has stopped: a send on a closed channel
// panics.
func (p *stage4Pool) Finish() Account {
	close(p.queue)
	p.running.Wait()
	close(p.outcomes) // No worker is left to send.
	<-p.collected
	account := append(p.account, p.neverQueued...)
	for message := range p.queue { // left by workers that stopped on ctx.Done()
		if !message.retire {
			account = append(account, Outcome{Job: message.job, Ending: NeverStarted})
		}
	}
	return account
}

// ANCHOR_END: stage4_worker

// ANCHOR: stage4_autoscale
// stage4Policy holds the autoscaler's knobs.
type stage4Policy struct {
	Tick             time.Duration // how often it looks at the pool
	BacklogPerWorker int           // grow when more jobs than this per worker are queued
	KeepAlive        time.Duration // shrink once workers have been idle this long
}

// stage4Event is one resize and why it was made.
type stage4Event struct {
	From, To int
	Why      string
}

// stage4Autoscale looks at the pool on every tick and resizes it, until done() is true after a
// tick or ctx is cancelled. Growing needs a backlog now; shrinking needs an empty queue and
// idle workers for a whole keep-alive. The gap between the two (hysteresis) keeps a load that
// hovers near one threshold from flipping the size back and forth.
func stage4Autoscale(ctx context.Context, pool *stage4Pool, policy stage4Policy,
	done func() bool, report func(stage4Event)) {
	ticker := time.NewTicker(policy.Tick)
	defer ticker.Stop()
	var quietSince time.Time // when the pool last became idle; zero while it is busy
	for {
		var now time.Time
		select {
		case <-ctx.Done():
			return
		case now = <-ticker.C:
		}
		size, queued := pool.Size(), len(pool.queue)
		threshold := policy.BacklogPerWorker * size
		// With nothing queued, each unfinished job is in a worker's hands; the rest idle.
		idle := size - int(pool.unfinished.Load())
		if queued > 0 || idle <= 0 {
			quietSince = time.Time{}
		} else if quietSince.IsZero() {
			quietSince = now
		}
		switch {
		case queued > threshold:
			// Enough workers for the backlog at once, and at least double: a burst
			// that is still arriving will be bigger on the next tick.
			wanted := (queued + policy.BacklogPerWorker - 1) / policy.BacklogPerWorker
			if wanted < 2*size {
				wanted = 2 * size
			}
			if added := pool.ScaleUp(wanted - size); added > 0 {
				why := fmt.Sprintf("queue depth %d > %d", queued, threshold)
				report(stage4Event{From: size, To: size + added, Why: why})
			}
		case !quietSince.IsZero() && now.Sub(quietSince) >= policy.KeepAlive:
			if retired := pool.ScaleDown(idle); retired > 0 {
				why := fmt.Sprintf("%d idle for ≥ %v", idle, policy.KeepAlive)
				report(stage4Event{From: size, To: size - retired, Why: why})
			}
		}
		if done() {
			return
		}
	}
}

// ANCHOR_END: stage4_autoscale

// ANCHOR: stage4_program
// stage4Settings is the program's shape. The Rust program's defaults: 1 to 8 workers, a queue
// with room for the whole burst of 400 jobs of 20 ms, after 300 ms of quiet; a tick of 100 ms,
// a backlog of 4 jobs per worker, a keep-alive of 500 ms.
type stage4Settings struct {
	Min, Max, Queue, Jobs int
	Delay, Quiet          time.Duration
	Policy                stage4Policy
}

// stage4Program plays a bursty load: a quiet spell, then every job at once, with the
// autoscaler resizing the pool until the last job is done and the pool is back at its minimum.
func stage4Program(ctx context.Context, s stage4Settings, out io.Writer) (Account, []stage4Event) {
	pool := stage4Start(ctx, s.Min, s.Max, s.Queue, stage3SlowSquare(s.Delay))
	var intakeClosed atomic.Bool
	// The autoscaler is done once every job has ended and the pool is back at its minimum.
	finished := func() bool {
		return intakeClosed.Load() && pool.unfinished.Load() == 0 && pool.Size() == s.Min
	}
	var events []stage4Event // written by the autoscaler, read once it has returned
	autoscaled := make(chan struct{})
	go func() {
		defer close(autoscaled)
		stage4Autoscale(ctx, pool, s.Policy, finished, func(event stage4Event) {
			fmt.Fprintf(out, "scale %d → %d: %s\n", event.From, event.To, event.Why)
			events = append(events, event)
		})
	}()
	select {
	case <-ctx.Done():
	case <-time.After(s.Quiet):
	}
	for id := 1; id <= s.Jobs; id++ {
		pool.Submit(Job{ID: id, Number: id})
	}
	intakeClosed.Store(true)
	<-autoscaled // The autoscaler resizes until here; Finish closes the queue after it.
	account := pool.Finish()
	fmt.Fprintf(out, "account: %d completed, %d failed, %d cancelled while running, "+
		"%d never started = %d jobs\n", account.Count(Completed), account.Count(Failed),
		account.Count(Cancelled), account.Count(NeverStarted), len(account))
	return account, events
}

// ANCHOR_END: stage4_program
