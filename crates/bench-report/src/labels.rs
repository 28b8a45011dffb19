//! What the book calls each contender: its label in a list, its short label in a grid and in
//! the chart, the family the chart colours it by, and the names the prose gives it (which the
//! comparison check reads). A contender the lists below do not know shows as its id in code.

use crate::format;
use crate::run::Point;

/// The kinds of contender the chart tells apart by colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Family {
    /// The stages of the book, each written for its lesson.
    RustStage,
    /// `fast-pool` and the steps that lead to it.
    TunedPool,
    /// What a reader might use instead of a pool: a loop, a thread per job, rayon, mpsc+Mutex.
    Peer,
    /// The Go programs the Rust pools are measured against.
    GoProgram,
}

impl Family {
    /// Every family, in the order of the chart's legend.
    pub const ALL: [Family; 4] = [
        Family::RustStage,
        Family::TunedPool,
        Family::Peer,
        Family::GoProgram,
    ];

    /// The family's name in the chart's legend.
    pub fn name(self) -> &'static str {
        match self {
            Family::RustStage => "the stages",
            Family::TunedPool => "the tuned pool and its steps",
            Family::Peer => "the peers",
            Family::GoProgram => "the Go programs",
        }
    }
}

/// A contender the book knows.
struct Contender {
    /// Its id in the benches (criterion's function id, or the parameter it is named by).
    id: &'static str,
    /// Its label in a list.
    long: &'static str,
    /// Its label in a grid's header and in the chart.
    short: &'static str,
    family: Family,
}

const fn contender(
    id: &'static str,
    long: &'static str,
    short: &'static str,
    family: Family,
) -> Contender {
    Contender {
        id,
        long,
        short,
        family,
    }
}

/// Every contender the book knows, in the order the book introduces them.
const CONTENDERS: &[Contender] = &[
    contender("stage-1-basic", "stage 1", "stage 1", Family::RustStage),
    contender("stage-2-metadata", "stage 2", "stage 2", Family::RustStage),
    contender("stage-3-cancel", "stage 3", "stage 3", Family::RustStage),
    contender(
        "stage-4-fixed",
        "stage 4, fixed size",
        "stage 4, fixed",
        Family::RustStage,
    ),
    contender(
        "stage-4-autoscaled",
        "stage 4, autoscaled",
        "stage 4, autoscaled",
        Family::RustStage,
    ),
    contender(
        "stage-5-http",
        "stage 5 (tokio tasks)",
        "stage 5",
        Family::RustStage,
    ),
    contender(
        "fast-pool",
        "the tuned pool (`fast-pool`)",
        "tuned pool",
        Family::TunedPool,
    ),
    contender(
        "fast-pool-step-1-batched-jobs",
        "tuned pool, step 1: batches of jobs",
        "tuned pool, step 1",
        Family::TunedPool,
    ),
    contender(
        "fast-pool-step-2-local-results",
        "tuned pool, step 2: outputs kept per worker",
        "tuned pool, step 2",
        Family::TunedPool,
    ),
    contender(
        "peer-sequential",
        "a plain loop, no threads (`peers::sequential`)",
        "plain loop",
        Family::Peer,
    ),
    contender(
        "peer-rayon-par-iter",
        "rayon, `par_iter` (`peers::rayon_par_iter`)",
        "rayon `par_iter`",
        Family::Peer,
    ),
    contender(
        "peer-rayon-spawn",
        "rayon, a `spawn` per job (`peers::rayon_spawn_per_job`)",
        "rayon `spawn`",
        Family::Peer,
    ),
    contender(
        "peer-thread-per-job",
        "a thread per job (`peers::thread_per_job`)",
        "thread per job",
        Family::Peer,
    ),
    contender(
        "peer-mpsc-mutex",
        "`std::sync::mpsc` + `Arc<Mutex<Receiver>>` (`peers::mpsc_mutex_pool`)",
        "`mpsc` + `Mutex`",
        Family::Peer,
    ),
    contender(
        "1-processes",
        "stage 6, one worker process",
        "stage 6, 1 process",
        Family::RustStage,
    ),
    contender(
        "bullmq",
        "BullMQ 6, the Node job queue",
        "BullMQ",
        Family::Peer,
    ),
    contender(
        "go-reference",
        "the Go program (`go-reference`)",
        "Go",
        Family::GoProgram,
    ),
    contender(
        "go-http-client",
        "the Go HTTP client (`go-reference -http-client`)",
        "Go client",
        Family::GoProgram,
    ),
    contender(
        "go-tuned",
        "the Go program, tuned (`go-tuned`)",
        "Go, tuned",
        Family::GoProgram,
    ),
];

fn known(id: &str) -> Option<&'static Contender> {
    CONTENDERS.iter().find(|contender| contender.id == id)
}

/// A contender's label in a list.
pub fn long_label(id: &str) -> String {
    known(id).map_or_else(|| format!("`{id}`"), |contender| contender.long.to_owned())
}

/// A contender's short label, for grids and the chart.
pub fn short_label(id: &str) -> String {
    known(id).map_or_else(|| format!("`{id}`"), |contender| contender.short.to_owned())
}

/// A contender's family; a contender the book does not know yet is taken for a peer.
pub fn family(id: &str) -> Family {
    known(id).map_or(Family::Peer, |contender| contender.family)
}

/// Where the book introduces a contender, for ordering: unknown ones come last.
pub fn book_order(id: &str) -> usize {
    CONTENDERS
        .iter()
        .position(|contender| contender.id == id)
        .unwrap_or(CONTENDERS.len())
}

/// The number of jobs per iteration most of these points ran.
pub fn most_common_job_count<'a>(points: impl IntoIterator<Item = &'a Point>) -> Option<u64> {
    let mut counts: Vec<(u64, usize)> = Vec::new();
    for point in points {
        match counts
            .iter_mut()
            .find(|(jobs, _)| *jobs == point.jobs_per_iteration)
        {
            Some((_, count)) => *count += 1,
            None => counts.push((point.jobs_per_iteration, 1)),
        }
    }
    counts
        .into_iter()
        .max_by_key(|(jobs, count)| (*count, *jobs))
        .map(|(jobs, _)| jobs)
}

/// "N = 10 000" for a point that ran another number of jobs than most of its group: its time per
/// job is comparable, but the reader should know.
pub fn unusual_job_count(point: &Point, most_common: Option<u64>) -> Option<String> {
    (Some(point.jobs_per_iteration) != most_common).then(|| {
        format!(
            "N = {}",
            format::group_thousands(&point.jobs_per_iteration.to_string())
        )
    })
}

/// The names the chapters give the contenders, for the comparison check: a phrase and the
/// contenders it names. The check takes the longest phrase that fits at each place, so
/// "Go's tuned program" is not read as "Go"; a phrase also matches with its first letter in
/// capitals, at the start of a sentence. A phrase that could mean two things ("the article's
/// design" is stage 1's and Go's) is left out: the check holds only what it can name.
pub const PROSE_NAMES: &[(&str, &[&str])] = &[
    ("stage 1", &["stage-1-basic"]),
    ("stage 2", &["stage-2-metadata"]),
    ("stage 3", &["stage-3-cancel"]),
    ("stage 4", &["stage-4-fixed"]),
    ("stage 4, fixed size", &["stage-4-fixed"]),
    ("stage 4, autoscaled", &["stage-4-autoscaled"]),
    ("the autoscaled pool", &["stage-4-autoscaled"]),
    ("stage 5", &["stage-5-http"]),
    ("the tuned pool", &["fast-pool"]),
    ("the tuned Rust pool", &["fast-pool"]),
    ("fast-pool", &["fast-pool"]),
    ("step 3", &["fast-pool"]),
    ("step 1", &["fast-pool-step-1-batched-jobs"]),
    ("step 2", &["fast-pool-step-2-local-results"]),
    (
        "steps 1 and 2",
        &[
            "fast-pool-step-1-batched-jobs",
            "fast-pool-step-2-local-results",
        ],
    ),
    ("the plain loop", &["peer-sequential"]),
    ("a plain loop", &["peer-sequential"]),
    ("rayon", &["peer-rayon-par-iter"]),
    ("rayon's par_iter", &["peer-rayon-par-iter"]),
    ("par_iter", &["peer-rayon-par-iter"]),
    ("rayon's spawn per job", &["peer-rayon-spawn"]),
    ("a thread per job", &["peer-thread-per-job"]),
    ("the mpsc pool", &["peer-mpsc-mutex"]),
    ("the classic mpsc pool", &["peer-mpsc-mutex"]),
    ("Go", &["go-reference"]),
    ("go-reference", &["go-reference"]),
    ("the Go program", &["go-reference"]),
    ("the article's design in Go", &["go-reference"]),
    ("Go's tuned program", &["go-tuned"]),
    ("go-tuned", &["go-tuned"]),
    ("the same design in Go", &["go-tuned"]),
    ("Go client", &["go-http-client"]),
    ("the Go client", &["go-http-client"]),
    // Stage 6 as the distributed table sets it beside BullMQ: one process of 100 workers.
    ("stage 6", &["1-processes"]),
    ("BullMQ", &["bullmq"]),
];
