//! The tables of the article's workload (N trivial jobs that square a number): every contender
//! side by side, the tuned pool's steps, the queue and worker grids, the job-cost sweep, what
//! each stage's features cost.

use super::{as_is, column, per_job_by, queue_column, size_row, work_per_job, workers_column};
use crate::labels::long_label;
use crate::tables::spec::{Column, Each, Header, Rows, TableSpec, Value};

/// The contenders whose Go counterpart is the tuned Go program: like is compared with like.
const TUNED: &[&str] = &["fast-pool", "go-tuned"];

/// The ratios a side-by-side row is read by: against stage 1, against the article's design in
/// Go, and, for the tuned pool and its steps only, against the same design in Go.
const SIDE_BY_SIDE_RATIOS: [Column; 3] = [
    column(
        "vs stage 1",
        Value::Versus {
            point: "side-by-side/{row}",
            baseline: "side-by-side/stage-1-basic",
        },
    ),
    column(
        "vs Go",
        Value::Versus {
            point: "side-by-side/{row}",
            baseline: "side-by-side/go-reference",
        },
    ),
    Column {
        header: Header::Fixed("vs Go, tuned"),
        only: Some(TUNED),
        value: Value::Versus {
            point: "side-by-side/{row}",
            baseline: "side-by-side/go-tuned",
        },
    },
];

pub(super) const SIDE_BY_SIDE: TableSpec = TableSpec {
    name: "side-by-side",
    title: "side-by-side: W = 2, Q = 100, N = 1 000 000 (a thread per job: N = 10 000), per job",
    each: None,
    corner: "what",
    rows: Rows::ByTime {
        group: "side-by-side",
        label: long_label,
    },
    columns: &[
        column("per job", Value::PerJob("side-by-side/{row}")),
        SIDE_BY_SIDE_RATIOS[0],
        SIDE_BY_SIDE_RATIOS[1],
        SIDE_BY_SIDE_RATIOS[2],
    ],
};

pub(super) const FAST_POOL_STEPS: TableSpec = TableSpec {
    name: "fast-pool-steps",
    title: "the tuned pool step by step (side-by-side group), per job",
    each: None,
    corner: "",
    rows: Rows::Fixed(&[
        ("stage-1-basic", "stage 1"),
        ("fast-pool-step-1-batched-jobs", "step 1: batches of jobs"),
        (
            "fast-pool-step-2-local-results",
            "step 2: outputs kept per worker",
        ),
        (
            "fast-pool",
            "step 3: workers serve themselves (`fast_pool::run_pool`)",
        ),
        ("go-reference", "Go"),
        ("go-tuned", "Go, tuned"),
    ]),
    columns: &[
        column("per job (median)", Value::PerJob("side-by-side/{row}")),
        column("fastest sample", Value::Fastest("side-by-side/{row}")),
        column("slowest sample", Value::Slowest("side-by-side/{row}")),
        SIDE_BY_SIDE_RATIOS[0],
        SIDE_BY_SIDE_RATIOS[1],
        SIDE_BY_SIDE_RATIOS[2],
    ],
};

pub(super) const REFERENCE_QUEUE: TableSpec = TableSpec {
    name: "reference-queue",
    title: "reference: W = 2, per job, by queue capacity",
    each: None,
    corner: "",
    rows: Rows::Fixed(&[
        ("stage-1-basic", "stage 1"),
        ("peer-mpsc-mutex", "`mpsc` + `Mutex`"),
        ("fast-pool", "tuned pool"),
        ("go-reference", "Go"),
        ("go-tuned", "Go, tuned"),
    ]),
    columns: &[per_job_by(queue_column, "reference/{row}/W2/Q{col}")],
};

pub(super) const REFERENCE_QUEUE_W4: TableSpec = TableSpec {
    name: "reference-queue-w4",
    title: "reference: W = 4, per job, by queue capacity",
    each: None,
    corner: "",
    rows: Rows::Fixed(&[
        ("stage-1-basic", "stage 1"),
        ("fast-pool", "tuned pool"),
        ("go-reference", "Go"),
        ("go-tuned", "Go, tuned"),
    ]),
    columns: &[per_job_by(queue_column, "reference/{row}/W4/Q{col}")],
};

pub(super) const REFERENCE_WORKERS: TableSpec = TableSpec {
    name: "reference-workers",
    title: "reference: per job, by number of workers",
    each: None,
    corner: "",
    rows: Rows::Fixed(&[
        ("stage-1-basic/W{col}/Q100", "stage 1, Q = 100"),
        ("stage-3-cancel/W{col}/Q100", "stage 3, Q = 100"),
        ("go-reference/W{col}/Q100", "Go, Q = 100"),
        ("go-tuned/W{col}/Q100", "Go, tuned, Q = 100"),
        ("fast-pool/W{col}/Q100", "tuned pool, Q = 100"),
        ("fast-pool/W{col}/Q1024", "tuned pool, Q = 1024"),
    ]),
    columns: &[per_job_by(workers_column, "reference/{row}")],
};

pub(super) const JOB_COST: TableSpec = TableSpec {
    name: "job-cost",
    title: "job-cost: W = 2, Q = 100, per job, by CPU work per job",
    each: None,
    corner: "work per job",
    rows: Rows::Found {
        template: "job-cost/*/{row}",
        label: work_per_job,
    },
    columns: &[
        column(
            "plain loop",
            Value::PerJob("job-cost/peer-sequential/{row}"),
        ),
        column(
            "rayon `par_iter`",
            Value::PerJob("job-cost/peer-rayon-par-iter/{row}"),
        ),
        column("stage 1", Value::PerJob("job-cost/stage-1-basic/{row}")),
        column("tuned pool", Value::PerJob("job-cost/fast-pool/{row}")),
        column(
            "`mpsc` + `Mutex`",
            Value::PerJob("job-cost/peer-mpsc-mutex/{row}"),
        ),
    ],
};

pub(super) const STAGE_COSTS: TableSpec = TableSpec {
    name: "stage-costs",
    title: "what each stage's features cost (reference group, W = 2, Q = 100), per job",
    each: None,
    corner: "stage",
    rows: Rows::Fixed(&[
        ("stage-1-basic", "1"),
        ("stage-2-metadata", "2"),
        ("stage-3-cancel", "3"),
        ("stage-4-fixed", "4, fixed size"),
        ("stage-4-autoscaled", "4, autoscaled"),
        ("stage-5-http", "5"),
    ]),
    columns: &[
        column("per job", Value::PerJob("reference/{row}/W2/Q100")),
        column(
            "vs the row above",
            Value::ChangeFromAbove("reference/{row}/W2/Q100"),
        ),
        column(
            "what it adds per job",
            Value::Note(&[
                (
                    "stage-2-metadata",
                    "a clock read and a `JobResult` with the worker's id instead of a bare number",
                ),
                (
                    "stage-3-cancel",
                    "a cancellation check, `catch_unwind` around the work, an `Outcome` per job",
                ),
                (
                    "stage-4-fixed",
                    "a queued-at stamp, a second clock read, two durations recorded per worker",
                ),
                (
                    "stage-4-autoscaled",
                    "an autoscaler thread looking at the pool every millisecond",
                ),
                (
                    "stage-5-http",
                    "an async mutex, a task per job (to catch panics), tokio's scheduler",
                ),
            ]),
        ),
    ],
};

pub(super) const STAGE_4_MONITORING: TableSpec = TableSpec {
    name: "stage-4-monitoring",
    title: "reference: stage 3 and stage 4 at a fixed size, per job, and their ratio",
    each: None,
    corner: "W, Q",
    rows: Rows::Found {
        template: "reference/stage-4-fixed/{row}",
        label: size_row,
    },
    columns: &[
        column("stage 3", Value::PerJob("reference/stage-3-cancel/{row}")),
        column(
            "stage 4, fixed size",
            Value::PerJob("reference/stage-4-fixed/{row}"),
        ),
        column(
            "ratio",
            Value::Ratio {
                point: "reference/stage-4-fixed/{row}",
                baseline: "reference/stage-3-cancel/{row}",
            },
        ),
    ],
};

pub(super) const REFERENCE_PER_CONTENDER: TableSpec = TableSpec {
    name: "reference-{each}",
    title: "reference: {each label}, per job, W by Q",
    each: Some(Each::Found("reference/{each}/*/*")),
    corner: "W",
    rows: Rows::Found {
        template: "reference/{each}/W{row}/*",
        label: as_is,
    },
    columns: &[per_job_by(queue_column, "reference/{each}/W{row}/Q{col}")],
};
