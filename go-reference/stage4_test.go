package main

import (
	"context"
	"io"
	"sync"
	"testing"
	"time"
)

// The program's shape, scaled down: a burst of 100 jobs of 4 ms is 400 ms of work for the one
// starting worker, so the first tick after it (5 ms on) sees a deep queue, however late the
// scheduler runs it.
var stage4TestSettings = stage4Settings{
	Min: 1, Max: 4, Queue: 100, Jobs: 100,
	Delay: 4 * time.Millisecond, Quiet: 10 * time.Millisecond,
	Policy: stage4Policy{Tick: 5 * time.Millisecond, BacklogPerWorker: 4,
		KeepAlive: 30 * time.Millisecond},
}

func TestStage4ScalesUpForABurstThenBackDown(t *testing.T) {
	s := stage4TestSettings
	account, events := stage4Program(context.Background(), s, io.Discard)
	checkEveryJobOnce(t, account, s.Jobs)
	if account.Count(Completed) != s.Jobs {
		t.Errorf("%d of %d jobs completed", account.Count(Completed), s.Jobs)
	}
	if len(events) < 2 {
		t.Fatalf("resizes %+v, want at least one up and one down", events)
	}
	// A tick can fall while the burst is still being submitted, so the way up may take more
	// than one step; it must reach the maximum, and the way down must end at the minimum.
	first, last := events[0], events[len(events)-1]
	if first.To <= first.From {
		t.Errorf("the first resize is %+v, want one up", first)
	}
	if last.To >= last.From || last.To != s.Min {
		t.Errorf("the last resize is %+v, want down to %d", last, s.Min)
	}
	largest := 0
	for _, event := range events {
		if event.To < s.Min || event.To > s.Max {
			t.Errorf("%+v leaves the limits %d..%d", event, s.Min, s.Max)
		}
		if event.To > largest {
			largest = event.To
		}
	}
	if largest != s.Max {
		t.Errorf("the pool grew to %d at most, not to its maximum %d: %+v", largest, s.Max,
			events)
	}
}

func TestStage4ResizesStayWithinTheLimits(t *testing.T) {
	pool := stage4Start(context.Background(), 2, 5, 8, stage3SlowSquare(0))
	if added := pool.ScaleUp(10); added != 3 || pool.Size() != 5 {
		t.Errorf("ScaleUp(10) from 2 of at most 5 added %d, size %d", added, pool.Size())
	}
	if retired := pool.ScaleDown(10); retired != 3 || pool.Size() != 2 {
		t.Errorf("ScaleDown(10) from 5 of at least 2 retired %d, size %d", retired, pool.Size())
	}
	// The retired workers may not have left yet; they still count toward max.
	if added := pool.ScaleUp(10); added > 3 || pool.Size() > 5 {
		t.Errorf("ScaleUp(10) after retiring added %d, size %d", added, pool.Size())
	}
	for id := 1; id <= 20; id++ {
		pool.Submit(Job{ID: id, Number: id})
	}
	checkEveryJobOnce(t, pool.Finish(), 20)
}

// Resizing and reading the size from several goroutines at once. Under `go test -race` this is
// the test that shows the mutex doing its job: compare stage4_race_test.go.
func TestStage4SizeIsSafeToReadWhileThePoolResizes(t *testing.T) {
	pool := stage4Start(context.Background(), 1, 6, 16, stage3SlowSquare(0))
	var resizing sync.WaitGroup
	for r := 0; r < 3; r++ {
		resizing.Add(1)
		go func() {
			defer resizing.Done()
			for i := 0; i < 50; i++ {
				pool.ScaleUp(2)
				pool.ScaleDown(1)
			}
		}()
	}
	for i := 0; i < 200; i++ {
		if size := pool.Size(); size < 1 || size > 6 {
			t.Errorf("size %d is outside 1..6", size)
		}
	}
	resizing.Wait()
	for id := 1; id <= 10; id++ {
		pool.Submit(Job{ID: id, Number: id})
	}
	checkEveryJobOnce(t, pool.Finish(), 10)
}

// A deadline in the middle of the burst: the autoscaler stops, the running jobs are cancelled,
// the rest are handed back, and every job is in the account once.
func TestStage4ADeadlineMidBurstLosesNoJob(t *testing.T) {
	s := stage4TestSettings
	ctx, cancel := context.WithTimeout(context.Background(), s.Quiet+20*time.Millisecond)
	defer cancel()
	account, _ := stage4Program(ctx, s, io.Discard)
	checkEveryJobOnce(t, account, s.Jobs)
	if account.Count(Cancelled)+account.Count(NeverStarted) == 0 {
		t.Errorf("nothing was cut short by a deadline 20 ms into 100 ms of work or more")
	}
}
