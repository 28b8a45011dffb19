//! Several recorded runs behind every measured figure of the book.
//!
//! `cargo bench` leaves criterion's results in `target/criterion/`, and
//! `scripts/compare-with-go.sh` adds what criterion does not measure in its probes folder,
//! `target/bench-extra/`. This crate reads both ([`criterion`], [`probes`]) into a [`Run`] and
//! prints the reader's own tables from it. `record` adds the run to the book's [`Record`], a file
//! per run in `book/src/record/runs/`, and the book's tables and chart are rendered from every
//! run of the record ([`render()`]): each figure the median of the runs, with their range where
//! they disagree ([`across_runs`]), each ratio computed within a run before it is summarised. The
//! tests hold the book to the record: the rendered files must be what the record renders, and a
//! figure or a comparison in the prose must be one the record backs in every run ([`check`]).

pub mod across_runs;
pub mod chart;
pub mod check;
pub mod criterion;
pub mod format;
pub mod labels;
pub mod machine;
pub mod probes;
pub mod record;
pub mod render;
pub mod run;
pub mod tables;

#[cfg(test)]
mod test_runs;

pub use record::Record;
pub use render::{Rendered, render};
pub use run::Run;

/// The record directory, relative to the workspace root.
pub const RECORD_DIR: &str = "book/src/record";
