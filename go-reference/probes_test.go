package main

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestHandoffReportsTheRunInTheProbesFormat(t *testing.T) {
	report, err := handoff(2, 100, 5000)
	if err != nil {
		t.Fatal(err)
	}
	if report.jobs != 5000 || report.workers != 2 || report.queue != 100 {
		t.Fatalf("the report is of another run: %+v", report)
	}
	if report.elapsed <= 0 || report.switched.voluntary < 0 || report.switched.involuntary < 0 {
		t.Fatalf("a run takes time and switches no fewer than zero times: %+v", report)
	}
	if report.cpus != runtime.NumCPU() || report.gomaxprocs != runtime.GOMAXPROCS(0) {
		t.Fatalf("cpus and gomaxprocs are the runtime's: %+v", report)
	}
	var out bytes.Buffer
	report.write(&out)
	keys := []string{}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		key, _, found := strings.Cut(line, ": ")
		if !found {
			t.Fatalf("not a `key: value` line: %q", line)
		}
		keys = append(keys, key)
	}
	want := "design workers queue jobs cpus gomaxprocs ns per job voluntary switches involuntary switches"
	if got := strings.Join(keys, " "); got != want {
		t.Fatalf("the lines are %q, want %q", got, want)
	}
	if !strings.HasPrefix(out.String(), "design: go-reference\n") {
		t.Fatalf("the design comes first: %q", out.String())
	}
}

func TestTheHTTPServerAnswersLikeTheDemoServerUntilItsInputCloses(t *testing.T) {
	stdin, closeStdin := io.Pipe()
	stdout, printed := io.Pipe()
	stopped := make(chan error, 1)
	go func() { stopped <- serveHTTP("127.0.0.1:0", stdin, printed) }()
	base, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	base = strings.TrimSpace(base)
	if !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("the first line is the base URL: %q", base)
	}
	response, err := http.Get(base + "/fast")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(response.Body)
	response.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if response.StatusCode != http.StatusOK || string(body) != "fast\n" ||
		response.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("/fast answered %d %q (%s)", response.StatusCode, body, response.Header.Get("Content-Type"))
	}
	closeStdin.Close()
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatalf("the server stopped with %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the server went on serving after its input closed")
	}
}
