#!/usr/bin/env bash
# Runs the criterion benchmarks with the Go reference program beside the Rust pools, so that
# every Rust/Go ratio comes from one run on one machine, then prints the side-by-side table
# (W = 2, Q = 100, N = 1 000 000) with the machine it ran on.
#
#   scripts/compare-with-go.sh                 # every group, as `cargo bench` runs them
#   scripts/compare-with-go.sh side-by-side    # a criterion filter: just the one chart
#
# Without `go` on PATH it says that it skipped the Go side, and runs the Rust side alone.
set -euo pipefail
cd "$(dirname "$0")/.."

filter="${1:-}"
criterion=target/criterion/side-by-side
# Only what this run measured goes into the table, not what an earlier run left behind.
started=$(mktemp)
trap 'rm -f "$started"' EXIT

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

cargo bench --bench pools -- ${filter:+"$filter"}

# Criterion's median for one benchmark of the side-by-side group, in nanoseconds per run; fails
# if this run did not measure it.
median() {
    local estimates="$criterion/$1/new/estimates.json" value
    [ "$estimates" -nt "$started" ] || return 1
    value=$(sed -nE \
        's/.*"median":\{"confidence_interval":\{[^}]*\},"point_estimate":([0-9.eE+-]+).*/\1/p' \
        "$estimates")
    [ -n "$value" ] || return 1
    echo "$value"
}

echo
echo "Machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)," \
    "$(uname -sr); $(rustc --version)${GO_REFERENCE:+; $(go version)}"
if ! stage_1=$(median stage-1-basic); then
    echo "compare-with-go: this run did not measure side-by-side/stage-1-basic, so there is no table"
    exit 0
fi
go_run=$(median go-reference) || go_run=""
echo "side-by-side, W = 2, Q = 100, N = 1 000 000 (thread per job: N = 10 000), criterion's median:"
echo "(the last two columns: how many times faster than stage 1, and than Go; below 1 is slower)"
printf '%-34s %12s %14s %10s\n' contender "ns per job" "vs stage 1" "vs Go"
for dir in "$criterion"/*/new; do
    name=$(basename "$(dirname "$dir")")
    run=$(median "$name") || continue
    jobs=1000000
    [ "$name" = peer-thread-per-job ] && jobs=10000
    awk -v name="$name" -v run="$run" -v jobs="$jobs" \
        -v stage1="$stage_1" -v go="$go_run" 'BEGIN {
            per_job = run / jobs
            go_ratio = go == "" ? "-" : sprintf("%.2f", (go / 1000000) / per_job)
            printf "%-34s %12.1f %14.2f %10s\n", name, per_job, (stage1 / 1000000) / per_job, go_ratio
        }'
done | sort -k2 -n
