//! The tables of the other measures: what a hand-off between threads costs (the probes), stage 5
//! against the network, stage 6 across processes and beside BullMQ, stage 3's cancellation, the
//! memory of idle workers, and any group no table knows yet.

use super::{as_code, column, route_row, workers_row};
use crate::tables::spec::{Column, Each, HandoffMeasure, Header, Rows, TableSpec, Value};

/// The hand-off probes' setups (scripts/compare-with-go.sh runs them): where the process ran and
/// with how many workers. Go alone has the `GOMAXPROCS=1` rows; stage 1 has no such knob.
const HANDOFF_ROWS: &[(&str, &str)] = &[
    ("all-cores/W1", "all cores, 1 worker"),
    ("all-cores/W2", "all cores, 2 workers"),
    ("all-cores/W4", "all cores, 4 workers"),
    (
        "gomaxprocs-1/W1",
        "all cores, Go at `GOMAXPROCS=1`, 1 worker",
    ),
    (
        "gomaxprocs-1/W2",
        "all cores, Go at `GOMAXPROCS=1`, 2 workers",
    ),
    (
        "gomaxprocs-1/W4",
        "all cores, Go at `GOMAXPROCS=1`, 4 workers",
    ),
    ("one-core/W1", "pinned to one core, 1 worker"),
    ("one-core/W2", "pinned to one core, 2 workers"),
    ("one-core/W4", "pinned to one core, 4 workers"),
];

/// The setups both stage 1 and Go ran: like is compared with like.
const BOTH_RAN: &[&str] = &["all-cores", "one-core"];

/// A hand-off column that only the setups both ran have.
const fn both_ran(header: &'static str, value: Value) -> Column {
    Column {
        header: Header::Fixed(header),
        only: Some(BOTH_RAN),
        value,
    }
}

pub(super) const HANDOFF: TableSpec = TableSpec {
    name: "handoff",
    title: "handoff: stage 1's pool and the article's design in Go, N = 1 000 000 trivial jobs, \
            Q = 100, a process per run; per job, the median of the runs of each setup",
    each: None,
    corner: "where, W",
    rows: Rows::Fixed(HANDOFF_ROWS),
    columns: &[
        both_ran(
            "stage 1, per job",
            Value::Handoff {
                setup: "handoff/stage-1-basic/{row}",
                measure: HandoffMeasure::PerJob,
            },
        ),
        column(
            "Go, per job",
            Value::Handoff {
                setup: "handoff/go-reference/{row}",
                measure: HandoffMeasure::PerJob,
            },
        ),
        both_ran(
            "stage 1 vs Go",
            Value::HandoffVersus {
                setup: "handoff/stage-1-basic/{row}",
                baseline: "handoff/go-reference/{row}",
            },
        ),
    ],
};

pub(super) const HANDOFF_SWITCHES: TableSpec = TableSpec {
    name: "handoff-switches",
    title: "handoff: the context switches of the process per 1 000 jobs, in the runs of the \
            handoff table (voluntary: a thread blocked; involuntary: the kernel took its core)",
    each: None,
    corner: "where, W",
    rows: Rows::Fixed(HANDOFF_ROWS),
    columns: &[
        both_ran(
            "stage 1, voluntary",
            Value::Handoff {
                setup: "handoff/stage-1-basic/{row}",
                measure: HandoffMeasure::VoluntarySwitches,
            },
        ),
        both_ran(
            "stage 1, involuntary",
            Value::Handoff {
                setup: "handoff/stage-1-basic/{row}",
                measure: HandoffMeasure::InvoluntarySwitches,
            },
        ),
        column(
            "Go, voluntary",
            Value::Handoff {
                setup: "handoff/go-reference/{row}",
                measure: HandoffMeasure::VoluntarySwitches,
            },
        ),
        column(
            "Go, involuntary",
            Value::Handoff {
                setup: "handoff/go-reference/{row}",
                measure: HandoffMeasure::InvoluntarySwitches,
            },
        ),
    ],
};

pub(super) const HANDOFF_REPEATED: TableSpec = TableSpec {
    name: "handoff-repeated",
    title: "handoff: stage 1 at W = 2, Q = 100 on every core, N = 1 000 000: the first run in a \
            process, the tenth, and the tenth with glibc's mmap threshold fixed",
    each: None,
    corner: "the timed run",
    rows: Rows::Fixed(&[
        ("all-cores/W2", "the first in its process"),
        ("all-cores/W2/after-9-runs", "the tenth in its process"),
        (
            "all-cores/W2/after-9-runs/mmap-threshold-131072",
            "the tenth, `MALLOC_MMAP_THRESHOLD_=131072`",
        ),
    ]),
    columns: &[
        column(
            "per job",
            Value::Handoff {
                setup: "handoff/stage-1-basic/{row}",
                measure: HandoffMeasure::PerJob,
            },
        ),
        column(
            "voluntary switches per 1 000 jobs",
            Value::Handoff {
                setup: "handoff/stage-1-basic/{row}",
                measure: HandoffMeasure::VoluntarySwitches,
            },
        ),
        column(
            "involuntary",
            Value::Handoff {
                setup: "handoff/stage-1-basic/{row}",
                measure: HandoffMeasure::InvoluntarySwitches,
            },
        ),
    ],
};

/// The routes of the `http` group that the Go client is measured on (benches/pools.rs): the
/// route that answers at once, from the bench's demo server and from a server apart.
const GO_CLIENT_ROUTE: &[&str] = &["no-latency", "no-latency-server-apart"];
/// The route that takes 20 ms, and the bench's 64 workers: the ideal is 2 000 × 20 ms / 64.
const SLOW_ROUTE: &[&str] = &["20ms-latency"];

pub(super) const HTTP: TableSpec = TableSpec {
    name: "http",
    title: "http: stage 5, 64 workers, demo server on loopback in the bench's process, or a Go \
            server in a process of its own; an iteration is 20 000 requests to a route that \
            answers at once, 2 000 to the one that takes 20 ms",
    each: None,
    corner: "route",
    rows: Rows::Found {
        template: "http/stage-5-http/{row}",
        label: route_row,
    },
    columns: &[
        column("per run", Value::PerIteration("http/stage-5-http/{row}")),
        column("per request", Value::PerJob("http/stage-5-http/{row}")),
        column(
            "requests a second",
            Value::PerSecond("http/stage-5-http/{row}"),
        ),
        Column {
            header: Header::Fixed("Go client, requests a second"),
            only: Some(GO_CLIENT_ROUTE),
            value: Value::PerSecond("http/go-http-client/{row}"),
        },
        Column {
            header: Header::Fixed("time vs Go client"),
            only: Some(GO_CLIENT_ROUTE),
            value: Value::Versus {
                point: "http/stage-5-http/{row}",
                baseline: "http/go-http-client/{row}",
            },
        },
        Column {
            header: Header::Fixed("ideal"),
            only: Some(SLOW_ROUTE),
            value: Value::Ideal {
                point: "http/stage-5-http/{row}",
                latency_ns: 20e6,
                workers: 64,
            },
        },
        Column {
            header: Header::Fixed("of the ideal"),
            only: Some(SLOW_ROUTE),
            value: Value::ShareOfIdeal {
                point: "http/stage-5-http/{row}",
                latency_ns: 20e6,
                workers: 64,
            },
        },
    ],
};

/// The stage-6 point set beside BullMQ: one process of 100 workers, as BullMQ's one worker of
/// concurrency 100.
const BESIDE_BULLMQ: &[&str] = &["1-processes/read-100"];
/// The points the bench counts the Redis commands of.
const COMMANDS_COUNTED: &[&str] = &["1-processes/read-100", "bullmq/"];

pub(super) const DISTRIBUTED: TableSpec = TableSpec {
    name: "distributed",
    title: "distributed: stage 6's worker processes draining 20 000 trivial jobs from a private \
            Redis on a unix socket, each process with as many workers as its read count; BullMQ \
            draining as many from the same server; and redis-benchmark's pipelined `XADD`s on \
            the same server",
    each: None,
    corner: "worker processes × read count",
    rows: Rows::Fixed(&[
        ("1-processes/read-1", "1 × 1"),
        ("1-processes/read-10", "1 × 10"),
        ("1-processes/read-100", "1 × 100"),
        ("2-processes/read-1", "2 × 1"),
        ("2-processes/read-10", "2 × 10"),
        ("2-processes/read-100", "2 × 100"),
        ("4-processes/read-1", "4 × 1"),
        ("4-processes/read-10", "4 × 10"),
        ("4-processes/read-100", "4 × 100"),
        (
            "bullmq/concurrency-100",
            "BullMQ 6, one worker of concurrency 100 (Node)",
        ),
        (
            "redis-benchmark/pipelined-xadd",
            "redis-benchmark, `XADD` 50 to a pipeline",
        ),
    ]),
    columns: &[
        column("per job", Value::PerJob("distributed/{row}")),
        column("jobs a second", Value::PerSecond("distributed/{row}")),
        column(
            "of the `XADD` ceiling",
            Value::ShareOf {
                point: "distributed/{row}",
                baseline: "distributed/redis-benchmark/pipelined-xadd",
            },
        ),
        Column {
            header: Header::Fixed("Redis commands a job"),
            only: Some(COMMANDS_COUNTED),
            value: Value::RedisCommands("distributed/{row}"),
        },
        Column {
            header: Header::Fixed("vs BullMQ"),
            only: Some(BESIDE_BULLMQ),
            value: Value::Versus {
                point: "distributed/{row}",
                baseline: "distributed/bullmq/concurrency-100",
            },
        },
    ],
};

pub(super) const CANCELLATION: TableSpec = TableSpec {
    name: "cancellation",
    title: "cancellation: from the deadline to every stage-3 worker joined, every worker mid-job",
    each: None,
    corner: "workers",
    rows: Rows::Found {
        template: "cancellation/stage-3-cancel/{row}",
        label: workers_row,
    },
    columns: &[
        column(
            "median",
            Value::PerIteration("cancellation/stage-3-cancel/{row}"),
        ),
        column(
            "fastest sample",
            Value::Fastest("cancellation/stage-3-cancel/{row}"),
        ),
        column(
            "slowest sample",
            Value::Slowest("cancellation/stage-3-cancel/{row}"),
        ),
    ],
};

pub(super) const IDLE_MEMORY: TableSpec = TableSpec {
    name: "idle-memory",
    title: "the memory of {idle workers} idle workers",
    each: None,
    corner: "{idle workers} idle workers",
    rows: Rows::Fixed(&[
        ("threads", "threads (stages 1–4)"),
        ("goroutines", "goroutines (Go)"),
        ("tasks", "tokio tasks (stage 5)"),
    ]),
    columns: &[
        column("peak RSS", Value::PeakMemory),
        column("per worker", Value::MemoryPerWorker),
    ],
};

pub(super) const OTHER_GROUPS: TableSpec = TableSpec {
    name: "group-{each}",
    title: "{each}: per job",
    each: Some(Each::OtherGroup),
    corner: "",
    rows: Rows::ByTime {
        group: "{each}",
        label: as_code,
    },
    columns: &[column("per job", Value::PerJob("{each}/{row}"))],
};
