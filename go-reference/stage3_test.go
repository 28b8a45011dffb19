package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// checkEveryJobOnce fails the test unless account holds exactly one outcome for each of jobs 1
// to n, and returns the outcomes by job id.
func checkEveryJobOnce(t *testing.T, account Account, n int) map[int]Outcome {
	t.Helper()
	byJob := make(map[int]Outcome)
	for _, outcome := range account {
		if _, seen := byJob[outcome.Job.ID]; seen {
			t.Errorf("job %d is in the account twice", outcome.Job.ID)
		}
		byJob[outcome.Job.ID] = outcome
	}
	for id := 1; id <= n; id++ {
		if _, seen := byJob[id]; !seen {
			t.Errorf("job %d is missing from the account", id)
		}
	}
	if len(account) != n {
		t.Errorf("the account has %d outcomes for %d jobs", len(account), n)
	}
	total := 0
	for _, ending := range []Ending{Completed, Failed, Cancelled, NeverStarted} {
		total += account.Count(ending)
	}
	if total != n {
		t.Errorf("the counts add up to %d, not %d", total, n)
	}
	return byJob
}

func stage3Jobs(n int) []Job {
	jobs := make([]Job, n)
	for i := range jobs {
		jobs[i] = Job{ID: i + 1, Number: i + 1}
	}
	return jobs
}

func TestStage3FailuresAndPanicsAreOutcomes(t *testing.T) {
	work := func(ctx context.Context, job Job) (int, error) {
		switch {
		case job.ID%5 == 0:
			panic(fmt.Sprintf("job %d was told to panic", job.ID))
		case job.ID%4 == 0:
			return 0, fmt.Errorf("job %d was told to fail", job.ID)
		}
		return job.Number * job.Number, nil
	}
	account := stage3RunPool(context.Background(), 3, 2, stage3Jobs(12), work, func(Outcome) {})
	byJob := checkEveryJobOnce(t, account, 12)
	for id, outcome := range byJob {
		switch {
		case id%5 == 0:
			if outcome.Ending != Failed || !strings.Contains(fmt.Sprint(outcome.Err), "panicked") {
				t.Errorf("job %d: %+v, want a failure from its panic", id, outcome)
			}
		case id%4 == 0:
			if outcome.Ending != Failed || outcome.Err == nil {
				t.Errorf("job %d: %+v, want a failure with its error", id, outcome)
			}
		case outcome.Ending != Completed || outcome.Result.Output != id*id:
			t.Errorf("job %d: %+v, want it completed", id, outcome)
		}
	}
}

// Two workers, both inside jobs that end only on cancellation: exactly those two jobs are
// cancelled while running, and every other job, queued or not yet submitted, never starts.
func TestStage3CancellingHandsBackEveryJobNotStarted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	running := make(chan int, 10)
	work := func(ctx context.Context, job Job) (int, error) {
		running <- job.ID
		<-ctx.Done()
		return 0, ctx.Err()
	}
	go func() {
		<-running
		<-running
		cancel()
	}()
	account := stage3RunPool(ctx, 2, 1, stage3Jobs(10), work, func(Outcome) {})
	checkEveryJobOnce(t, account, 10)
	if account.Count(Cancelled) != 2 || account.Count(NeverStarted) != 8 {
		t.Errorf("%d cancelled and %d never started, want 2 and 8",
			account.Count(Cancelled), account.Count(NeverStarted))
	}
}

// The article's program scaled down: 10 jobs of 50 ms on 3 workers under a deadline of four
// rounds. The fourth round (job 10) cannot end before the deadline, so it never completes.
func TestStage3TheDeadlineCutsTheLastRound(t *testing.T) {
	const delay = 50 * time.Millisecond
	var out lockedBuffer
	account := stage3Program(context.Background(), stage2Workers, stage2Jobs, delay, 4*delay,
		&out)
	byJob := checkEveryJobOnce(t, account, stage2Jobs)
	// The first round ends three delays before the deadline: margin enough for a busy machine.
	for id := 1; id <= stage2Workers; id++ {
		if byJob[id].Ending != Completed {
			t.Errorf("job %d of the first round: %+v", id, byJob[id])
		}
	}
	if byJob[10].Ending == Completed {
		t.Errorf("job 10 completed, though it cannot end before the deadline")
	}
	if text := strings.Join(out.lines(), "\n"); !strings.Contains(text, "deadline of 200ms reached") {
		t.Errorf("no word of the deadline in:\n%s", text)
	}
}

// Work that ends just as the deadline passes races the deadline's timer. Whichever wins, a job
// counted as completed finished before the deadline, by the clock.
func TestStage3WorkThatEndsLateIsNeverCompleted(t *testing.T) {
	work := stage3SlowSquare(time.Millisecond)
	for i := 0; i < 100; i++ {
		deadline := time.Now().Add(time.Millisecond)
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		outcome := stage3Run(ctx, 1, Job{ID: 1, Number: 3}, work)
		cancel()
		if outcome.Ending == Completed && !outcome.Result.FinishedAt.Before(deadline) {
			t.Fatalf("completed at %v, after the deadline %v", outcome.Result.FinishedAt,
				deadline)
		}
		if outcome.Ending == Failed {
			t.Fatalf("failed: %v", outcome.Err)
		}
	}
}

// Ctrl-C is tested on a child process, as a user would press it: this test binary runs itself
// with stage3CtrlCChild set, waits for the program's first line (printed once its handler is
// installed), then sends SIGINT.
const stage3CtrlCChild = "GO_REFERENCE_STAGE3_CTRL_C_CHILD"

func TestStage3CtrlCStopsTheRunAndAccountsForEveryJob(t *testing.T) {
	if os.Getenv(stage3CtrlCChild) != "" {
		// Jobs far longer than any test: only the signal can end this run in time.
		stage3Program(context.Background(), 3, 10, time.Hour, time.Hour, os.Stdout)
		os.Exit(0)
	}
	child := exec.Command(os.Args[0], "-test.run=^TestStage3CtrlCStopsTheRunAndAccountsForEveryJob$",
		"-test.count=1")
	child.Env = append(os.Environ(), stage3CtrlCChild+"=1")
	child.Stderr = os.Stderr
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() || !strings.HasPrefix(lines.Text(), "started:") {
		child.Process.Kill()
		t.Fatalf("the child's first line is %q, want the started line", lines.Text())
	}
	if err := child.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(stdout)
	if err := child.Wait(); err != nil {
		t.Fatalf("the child ended with %v; it printed:\n%s", err, rest)
	}
	text := string(rest)
	if !strings.Contains(text, "interrupted: stopped taking jobs") {
		t.Errorf("no word of the interruption in:\n%s", text)
	}
	var completed, failed, cancelled, neverStarted, total int
	last := text[strings.LastIndex(strings.TrimSpace(text), "\n")+1:]
	_, err = fmt.Sscanf(last, "account: %d completed, %d failed, %d cancelled while running, "+
		"%d never started = %d jobs", &completed, &failed, &cancelled, &neverStarted, &total)
	if err != nil {
		t.Fatalf("the last line %q is not an account: %v", last, err)
	}
	if completed != 0 || failed != 0 || cancelled+neverStarted != 10 || total != 10 {
		t.Errorf("the account does not add up to 10 stopped jobs: %q", last)
	}
}

// stalledDeadline is a context as it looks just after its deadline, before the runtime has run
// the timer that cancels it: the deadline has passed, and Err is still nil.
type stalledDeadline struct {
	context.Context
	at time.Time
}

func (c stalledDeadline) Deadline() (time.Time, bool) { return c.at, true }

func TestStage3LateCountsAPassedDeadlineBeforeItsTimerRuns(t *testing.T) {
	stalled := stalledDeadline{context.Background(), time.Now().Add(-time.Millisecond)}
	if err := stage3Late(stalled); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a passed deadline: %v, want context.DeadlineExceeded", err)
	}
	ahead := stalledDeadline{context.Background(), time.Now().Add(time.Hour)}
	if err := stage3Late(ahead); err != nil {
		t.Errorf("an hour before the deadline: %v", err)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if err := stage3Late(cancelled); !errors.Is(err, context.Canceled) {
		t.Errorf("after cancel: %v, want context.Canceled", err)
	}
}
