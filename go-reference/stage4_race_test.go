package main

import (
	"os"
	"sync"
	"testing"
)

// The article scales its pool up by adding to a plain int field while goroutines run, with no
// lock. These few lines keep only that: the race detector must catch it. The test runs only when
// GO_REFERENCE_RACY is set, because under -race it fails, which is the point: .ci/run runs it
// with -race and checks that it fails with a DATA RACE report.

// ANCHOR: stage4_racy
// stage4RacyPool counts its workers in a plain int, as the article's pool does.
type stage4RacyPool struct {
	workers int
}

// scaleUp adds workers with nothing guarding the count.
func (p *stage4RacyPool) scaleUp(n int) {
	for i := 0; i < n; i++ {
		p.workers++ // written on the goroutine that scales...
	}
}

func TestStage4RacyScaleUp(t *testing.T) {
	if os.Getenv("GO_REFERENCE_RACY") == "" {
		t.Skip("set GO_REFERENCE_RACY=1 and run with -race to see the detector catch it")
	}
	pool := &stage4RacyPool{workers: 1}
	var scaling sync.WaitGroup
	scaling.Add(1)
	go func() {
		defer scaling.Done()
		pool.scaleUp(3)
	}()
	seen := pool.workers // ...and read by a monitor, with nothing ordering the two
	scaling.Wait()
	t.Logf("the monitor saw %d workers", seen)
}

// ANCHOR_END: stage4_racy
