package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"syscall"
	"time"
)

// switches is what getrusage counts for the whole process (every thread, the runtime's own
// included): the times a thread gave up its core because it had to wait (voluntary) and the times
// the kernel took the core from it (involuntary).
type switches struct {
	voluntary, involuntary int64
}

func processSwitches() (switches, error) {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		return switches{}, err
	}
	return switches{voluntary: usage.Nvcsw, involuntary: usage.Nivcsw}, nil
}

// handoffReport is one run of the article's pool as `-handoff` prints it: the same lines, in the
// same order, as the Rust probe (crates/handoff) prints for stage 1, so that one parser reads both.
type handoffReport struct {
	workers, queue, jobs int
	cpus, gomaxprocs     int
	elapsed              time.Duration
	switched             switches
}

func (r handoffReport) write(out io.Writer) {
	perThousand := func(count int64) float64 { return 1000 * float64(count) / float64(r.jobs) }
	fmt.Fprintf(out, "design: go-reference\n")
	fmt.Fprintf(out, "workers: %d\nqueue: %d\njobs: %d\n", r.workers, r.queue, r.jobs)
	fmt.Fprintf(out, "cpus: %d\ngomaxprocs: %d\n", r.cpus, r.gomaxprocs)
	fmt.Fprintf(out, "ns per job: %.2f\n", float64(r.elapsed.Nanoseconds())/float64(r.jobs))
	fmt.Fprintf(out, "voluntary switches: %d (%.3f per 1000 jobs)\n",
		r.switched.voluntary, perThousand(r.switched.voluntary))
	fmt.Fprintf(out, "involuntary switches: %d (%.3f per 1000 jobs)\n",
		r.switched.involuntary, perThousand(r.switched.involuntary))
}

// handoff runs the article's pool once on a tenth of the jobs (untimed, so that the first
// allocations and the threads the runtime starts are not counted), then once on all of them,
// timed and with the context switches the process made meanwhile. runtime.NumCPU is the number
// of CPUs the process may run on (taskset narrows it) and GOMAXPROCS how many threads run
// goroutines at once (its default is NumCPU).
func handoff(workers, queue, jobs int) (handoffReport, error) {
	warmUp := jobs / 10
	if warmUp < 1 {
		warmUp = 1
	}
	runPool(workers, queue, warmUp)
	before, err := processSwitches()
	if err != nil {
		return handoffReport{}, err
	}
	start := time.Now()
	outputs := runPool(workers, queue, jobs)
	elapsed := time.Since(start)
	after, err := processSwitches()
	if err != nil {
		return handoffReport{}, err
	}
	if len(outputs) != jobs {
		return handoffReport{}, fmt.Errorf("%d results from %d jobs", len(outputs), jobs)
	}
	return handoffReport{
		workers: workers, queue: queue, jobs: jobs,
		cpus: runtime.NumCPU(), gomaxprocs: runtime.GOMAXPROCS(0),
		elapsed: elapsed,
		switched: switches{
			voluntary:   after.voluntary - before.voluntary,
			involuntary: after.involuntary - before.involuntary,
		},
	}, nil
}

// fastHandler answers like the /fast route of stage 5's demo server: 200 and "fast\n", as
// text/plain.
func fastHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/fast", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "fast\n")
	})
	return mux
}

// serveHTTP listens on address (port 0 for any free port), prints the server's base URL on one
// line, and serves /fast until its standard input reaches its end: the benchmark that starts it
// closes it, and a server whose benchmark died goes with it.
func serveHTTP(address string, stdin io.Reader, out io.Writer) error {
	listener, err := net.Listen("tcp", address)
	if err != nil {
		return err
	}
	defer listener.Close()
	served := make(chan error, 1)
	go func() { served <- http.Serve(listener, fastHandler()) }()
	printed := bufio.NewWriter(out)
	fmt.Fprintf(printed, "http://%s\n", listener.Addr())
	if err := printed.Flush(); err != nil {
		return err
	}
	ended := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, stdin)
		ended <- err
	}()
	select {
	case err := <-served:
		return err
	case err := <-ended:
		return err
	}
}

// runHandoff and runHTTPServer are main's two probes, with their errors on one line.
func runHandoff(workers, queue, jobs int) {
	report, err := handoff(workers, queue, jobs)
	if err != nil {
		fmt.Fprintf(os.Stderr, "error: -handoff: %v\n", err)
		os.Exit(1)
	}
	report.write(os.Stdout)
}

func runHTTPServer(address string) {
	if err := serveHTTP(address, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "error: -http-server: %v\n", err)
		os.Exit(1)
	}
}
