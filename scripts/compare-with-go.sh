#!/usr/bin/env bash
# Runs the criterion benchmarks with the Go reference program beside the Rust pools, so that
# every Rust/Go ratio comes from one run on one machine, measures the memory of 10 000 idle
# workers (threads, tokio tasks, goroutines) into target/bench-extra/, then prints the book's
# tables from this run with `cargo run -p bench-report`. Adding the run to the book's record is a
# separate, deliberate step: `cargo run -p bench-report -- record` (the book wants three runs,
# separated in time; `record --new-set` starts a new set).
#
#   scripts/compare-with-go.sh                 # every group, as `cargo bench` runs them
#   scripts/compare-with-go.sh side-by-side    # a criterion filter: just the one chart
#
# Without `go` on PATH it says that it skipped the Go side, and runs the Rust side alone.
set -euo pipefail
cd "$(dirname "$0")/.."

filter="${1:-}"
extra=target/bench-extra
# bench-report leaves out the points older than this file: only what this run measured goes
# into the tables, not what an earlier run left behind.
mkdir -p "$extra"
rm -f "$extra"/idle-workers-*.txt "$extra"/measuring-seconds.txt "$extra"/handoff.txt \
    "$extra"/redis-commands-per-job.txt
touch "$extra/started"

if command -v go > /dev/null 2>&1; then
    echo "compare-with-go: building the Go reference with $(go version)"
    mkdir -p target/go-reference
    (cd go-reference && go build -o ../target/go-reference/go-reference .)
    export GO_REFERENCE="$PWD/target/go-reference/go-reference"
else
    echo "compare-with-go: SKIPPED the Go reference: 'go' is not on PATH." >&2
    echo "compare-with-go: install Go 1.19 or later to compare; running the Rust side alone." >&2
    unset GO_REFERENCE
fi

# Built first, so that the time measured below is the measuring alone.
cargo bench --bench pools --no-run
cargo bench -p stage-6-distributed --bench distributed --no-run
cargo build --release -q -p handoff
measuring_started=$(date +%s)
cargo bench --bench pools -- ${filter:+"$filter"}
# Stage 6's bench lives in its crate, beside the worker program it starts; without redis-server
# it says so and measures nothing.
BENCH_PROBES="$PWD/$extra" cargo bench -p stage-6-distributed --bench distributed -- ${filter:+"$filter"}
echo $(( $(date +%s) - measuring_started )) > "$extra/measuring-seconds.txt"

# The memory of idle workers: not a criterion benchmark, one run of each probe.
for shape in threads tasks; do
    cargo run --release -q -p idle-workers -- "$shape" > "$extra/idle-workers-$shape.txt"
done
if [ -n "${GO_REFERENCE:-}" ]; then
    "$GO_REFERENCE" -idle 10000 > "$extra/idle-workers-goroutines.txt"
fi

# The hand-off probes: stage 1 and the article's design in Go, one process a run, on every core
# and pinned to one (Go also at GOMAXPROCS=1), W = 1, 2 and 4, and stage 1's tenth run in a
# process; three rounds, the setups interleaved within each, so that a slow minute of the machine
# does not land on one setup.
first_cpu=$(taskset -pc $$ | sed 's/.*: *//; s/[-,].*//')
handoff() { "$@" >> "$extra/handoff.txt" && echo >> "$extra/handoff.txt"; }
for round in 1 2 3; do
    for workers in 1 2 4; do
        handoff target/release/handoff --workers "$workers" --cores all
        handoff target/release/handoff --workers "$workers" --cores one
        if [ -n "${GO_REFERENCE:-}" ]; then
            handoff "$GO_REFERENCE" -handoff -workers "$workers"
            handoff env GOMAXPROCS=1 "$GO_REFERENCE" -handoff -workers "$workers"
            handoff taskset -c "$first_cpu" "$GO_REFERENCE" -handoff -workers "$workers"
        fi
    done
    # Stage 1's tenth run in one process, as criterion times it, with glibc's allocator left to
    # adapt and with its mmap threshold fixed.
    handoff env -u MALLOC_MMAP_THRESHOLD_ target/release/handoff --workers 2 --runs-before 9
    handoff env MALLOC_MMAP_THRESHOLD_=131072 target/release/handoff --workers 2 --runs-before 9
done

echo
cargo run -q -p bench-report
echo
echo "to add this run to the book's record: cargo run -p bench-report -- record"
echo "(or, to start a new set of runs: cargo run -p bench-report -- record --new-set)"
