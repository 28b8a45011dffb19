package main

import (
	"io"
	"sort"
	"testing"
	"time"
)

func TestStage2RoundsAreTheCeilingOfJobsOverWorkers(t *testing.T) {
	cases := []struct{ jobs, workers, rounds int }{
		{10, 3, 4}, // the article's program
		{10, 5, 2},
		{10, 10, 1},
		{10, 4, 3},
		{10, 20, 1},
		{0, 3, 0},
	}
	for _, c := range cases {
		if got := stage2Rounds(c.jobs, c.workers); got != c.rounds {
			t.Errorf("stage2Rounds(%d, %d) = %d, want %d", c.jobs, c.workers, got, c.rounds)
		}
	}
}

// The article's 10 jobs on 3 workers with the delay scaled down. Only lower bounds on time are
// checked: a sleep never ends early, however busy the machine, but it may end late.
func TestStage2ResultsSayWhoDidEachJobAndWhen(t *testing.T) {
	const delay = 20 * time.Millisecond
	started := time.Now()
	results := stage2RunPool(stage2Workers, stage2Jobs, stage2Jobs, delay, io.Discard)
	elapsed := time.Since(started)

	if len(results) != stage2Jobs {
		t.Fatalf("%d results for %d jobs", len(results), stage2Jobs)
	}
	sort.Slice(results, func(i, j int) bool { return results[i].JobID < results[j].JobID })
	byWorker := make(map[int][]JobResult)
	for i, result := range results {
		if result.JobID != i+1 || result.Output != result.JobID*result.JobID {
			t.Errorf("result %d is %+v", i, result)
		}
		if result.WorkerID < 1 || result.WorkerID > stage2Workers {
			t.Errorf("job %d: worker %d is out of range", result.JobID, result.WorkerID)
		}
		if took := result.FinishedAt.Sub(result.StartedAt); took < delay {
			t.Errorf("job %d took %v, less than its delay", result.JobID, took)
		}
		byWorker[result.WorkerID] = append(byWorker[result.WorkerID], result)
	}
	// A worker runs one job at a time, so no more than W jobs are ever in flight.
	for worker, jobs := range byWorker {
		sort.Slice(jobs, func(i, j int) bool { return jobs[i].StartedAt.Before(jobs[j].StartedAt) })
		for i := 1; i < len(jobs); i++ {
			if jobs[i].StartedAt.Before(jobs[i-1].FinishedAt) {
				t.Errorf("worker %d started job %d before job %d was done", worker,
					jobs[i].JobID, jobs[i-1].JobID)
			}
		}
	}
	if ideal := time.Duration(stage2Rounds(stage2Jobs, stage2Workers)) * delay; elapsed < ideal {
		t.Errorf("the run took %v, less than the ideal %v", elapsed, ideal)
	}
}
