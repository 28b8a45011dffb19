package main

import (
	"bytes"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// lockedBuffer collects what the workers write from several goroutines at once; a bare
// bytes.Buffer would be a data race.
type lockedBuffer struct {
	mu   sync.Mutex
	text bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.text.Write(p)
}

func (b *lockedBuffer) lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Split(strings.TrimSpace(b.text.String()), "\n")
}

var stage1PickUp = regexp.MustCompile(`^worker (\d+) picked up job (\d+) \(number (\d+)\)$`)

func TestStage1RunsEveryJobExactlyOnce(t *testing.T) {
	shapes := []struct{ workers, queue, jobs int }{
		{stage1Workers, stage1Queue, stage1Jobs}, // the article's program
		{3, 0, 50},                               // a rendezvous queue
		{1, 1, 20},
		{8, 2, 100},
	}
	for _, shape := range shapes {
		var out lockedBuffer
		outputs := stage1RunPool(shape.workers, shape.queue, shape.jobs, &out)

		want := make([]int, shape.jobs)
		for i := range want {
			want[i] = (2 * (i + 1)) * (2 * (i + 1))
		}
		sort.Ints(outputs)
		if fmt.Sprint(outputs) != fmt.Sprint(want) {
			t.Errorf("%+v: outputs %v, want %v", shape, outputs, want)
		}

		pickedUp := make(map[int]int)
		results := 0
		lines := out.lines()
		for _, line := range lines {
			if match := stage1PickUp.FindStringSubmatch(line); match != nil {
				worker, _ := strconv.Atoi(match[1])
				job, _ := strconv.Atoi(match[2])
				if worker < 1 || worker > shape.workers {
					t.Errorf("%+v: worker %d is out of range: %q", shape, worker, line)
				}
				pickedUp[job]++
			} else if strings.HasPrefix(line, "result: ") {
				results++
			}
		}
		for job := 1; job <= shape.jobs; job++ {
			if pickedUp[job] != 1 {
				t.Errorf("%+v: job %d was picked up %d times", shape, job, pickedUp[job])
			}
		}
		if results != shape.jobs {
			t.Errorf("%+v: %d result lines for %d jobs", shape, results, shape.jobs)
		}
		summary := fmt.Sprintf("done: %d results from %d jobs on %d workers", shape.jobs,
			shape.jobs, shape.workers)
		if last := lines[len(lines)-1]; last != summary {
			t.Errorf("%+v: last line %q, want %q", shape, last, summary)
		}
	}
}
