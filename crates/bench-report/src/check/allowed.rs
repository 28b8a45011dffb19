//! Figures that prose may quote without the record: parameters of a program and facts about a
//! platform, not measurements. Each entry names its file and the exact words around the figure,
//! so that the same number elsewhere (a measured 20 ms, say) is still checked.

/// A phrase of one chapter whose figure is a parameter, not a measurement.
#[derive(Debug, Clone, Copy)]
pub struct Allowed {
    /// The file name (`stage-2.md`, `README.md`).
    pub file: &'static str,
    /// The exact words around the figure.
    pub phrase: &'static str,
}

/// Parameters and facts, not measurements: the figures that prose may quote without the record.
// One entry a line: the list reads as a table of chapter and phrase.
#[rustfmt::skip]
pub const ALLOWED: &[Allowed] = &[
    // Stage 2's simulated work, its rounds and the exercises' schedules: defaults and their sums,
    // and the schedules the tests in crates/solutions model (a model's output, not a measurement).
    Allowed { file: "stage-2.md", phrase: "(500 ms by default)" },
    Allowed { file: "stage-2.md", phrase: "about +0.50 s, three at +1.00 s" },
    Allowed { file: "stage-2.md", phrase: "+1.50 s, and the last alone at +2.00 s" },
    Allowed { file: "stage-2.md", phrase: "rounds of 500 ms are 2 seconds" },
    Allowed { file: "stage-2.md", phrase: "sleep for the same 500 ms" },
    Allowed { file: "stage-2.md", phrase: "takes 500 ms" },
    Allowed { file: "stage-2.md", phrase: "ten jobs in 1.5 s" },
    Allowed { file: "stage-2.md", phrase: "a whole 500 ms in which" },
    Allowed { file: "stage-2.md", phrase: "fit in 1.5 s if each takes\n375 ms" },
    Allowed { file: "stage-2.md", phrase: "1.5 s for nine jobs, 2 s for ten" },
    Allowed { file: "stage-2.md", phrase: "for ten jobs in\n1.5 s" },
    Allowed { file: "stage-2.md", phrase: "job 3 takes 1 s, so at 0.5 s" },
    Allowed { file: "stage-2.md", phrase: "At 1.0 s all three" },
    Allowed { file: "stage-2.md", phrase: "at 1.5 s two are free" },
    Allowed { file: "stage-2.md", phrase: "ends last, at 2.5 s" },
    Allowed { file: "stage-2.md", phrase: "its test gets 2.5 s" },
    Allowed { file: "stage-2.md", phrase: "one 2 s job decides" },
    Allowed { file: "stage-2.md", phrase: "better than 2.5 s: there are 6.5 s of work" },
    Allowed { file: "stage-2.md", phrase: "have only 6 s between them in 2 s" },
    // Stage 3's deadline and delays, and the schedule the deadline cuts.
    Allowed { file: "stage-3.md", phrase: "halfway through a 500 ms sleep" },
    Allowed { file: "stage-3.md", phrase: "would end at 2.0 s" },
    Allowed { file: "stage-3.md", phrase: "its full 500 ms" },
    Allowed { file: "stage-3.md", phrase: "the default 2 s deadline" },
    Allowed { file: "stage-3.md", phrase: "(10 s in)" },
    Allowed { file: "stage-3.md", phrase: "their full 10 s" },
    Allowed { file: "stage-3.md", phrase: "Job 10's 500 ms sleep" },
    Allowed { file: "stage-3.md", phrase: "the deadline line at 2 s" },
    Allowed { file: "stage-3.md", phrase: "the fourth round's only job at 2 s" },
    // Stage 4's settings, its demo load and the arithmetic of the exercises (the schedules the
    // tests in crates/solutions model), and the ceiling issue 11 sets: a target, not a result.
    Allowed { file: "stage-4.md", phrase: "400 jobs of 20 ms each" },
    Allowed { file: "stage-4.md", phrase: "per 20 ms: 400 jobs in about 1 s" },
    Allowed { file: "stage-4.md", phrase: "one round per 20 ms: after ⌊399/8⌋ = 49 rounds, 980 ms" },
    Allowed { file: "stage-4.md", phrase: "next to a 20 ms job" },
    Allowed { file: "stage-4.md", phrase: "199 rounds of 20 ms, 3.98 s" },
    Allowed { file: "stage-4.md", phrase: "⌊399/32⌋ = 12 rounds, 0.24 s" },
    Allowed { file: "stage-4.md", phrase: "40 jobs of 2 s" },
    Allowed { file: "stage-4.md", phrase: "8 workers at 0.5 s" },
    Allowed { file: "stage-4.md", phrase: "growing by one at\n0.9 s" },
    Allowed { file: "stage-4.md", phrase: "the burst ends at 1.5 s against 1.6 s" },
    Allowed { file: "stage-4.md", phrase: "Forty jobs of 200 ms are 8 s of work" },
    Allowed { file: "stage-4.md", phrase: "inside its 10 s deadline" },
    Allowed { file: "stage-4.md", phrase: "up to 1.25× stage 3's cost" },
    Allowed { file: "stage-4.md", phrase: "a request head is bounded (8 KiB)" },
    // Stage 5's limits, its demo routes, and the ideal the benchmark is held to.
    Allowed { file: "stage-5.md", phrase: "a 10 MiB answer costs about 1 MiB" },
    Allowed { file: "stage-5.md", phrase: "at the 1 MiB cap" },
    Allowed { file: "stage-5.md", phrase: "a timeout after 1 s" },
    Allowed { file: "stage-5.md", phrase: "the route that takes 20 ms" },
    Allowed { file: "stage-5.md", phrase: "2 000 × 20 ms / 64 = 625 ms" },
    Allowed { file: "stage-5.md", phrase: "32 × 20 ms is already 640 ms" },
    Allowed { file: "stage-5.md", phrase: "waits 20 ms for the network" },
    // Stage 6's floor for a lease.
    Allowed { file: "stage-6.md", phrase: "The lease has a floor of\n  100 ms here" },
    // The job-cost sweep's and the HTTP bench's parameters, and the platform's sizes.
    Allowed { file: "performance.md", phrase: "jobs of 10 µs, and at 1 µs" },
    Allowed { file: "performance.md", phrase: "never below 2 KiB" },
    Allowed { file: "performance.md", phrase: "of the 2 MiB of" },
    Allowed { file: "performance.md", phrase: "a kernel stack of 16 KiB" },
    Allowed { file: "performance.md", phrase: "Add 3 µs of work" },
    Allowed { file: "performance.md", phrase: "a run stays near\n   20 ms" },
    Allowed { file: "performance.md", phrase: "a sizeable part of 3 µs" },
    // Rust's default stack reserve for a spawned thread.
    Allowed { file: "refresher.md", phrase: "(2 MiB of address space" },
    // An exercise's slow job source.
    Allowed { file: "fast-pool.md", phrase: "sleeps 1 ms before each job" },
    // The benches' parameters and the tests' bounds.
    Allowed { file: "README.md", phrase: "one with 20 ms" },
    Allowed { file: "README.md", phrase: "0, 1, 10 and 100 µs of CPU work" },
    Allowed { file: "README.md", phrase: "a 10 MiB body" },
];

/// Whether an allowed phrase of `file` covers the bytes `start..end` of `text` (the whole
/// file). A phrase may run over a line break (written `\n`).
pub fn allowed(file: &str, text: &str, start: usize, end: usize, list: &[Allowed]) -> bool {
    list.iter().filter(|entry| entry.file == file).any(|entry| {
        text.match_indices(entry.phrase)
            .any(|(at, phrase)| at <= start && end <= at + phrase.len())
    })
}
