//! Helpers the workspace's tests share, kept out of every library a program links: each crate
//! lists `test-support` under `[dev-dependencies]` only.
//!
//! - [`InFlight`]: how many jobs ran at once, for the "no more than W" checks.
//! - [`number_after`], [`sort_lines_by_key`]: a run's lines in an order the scheduler did not pick.
//! - [`stdout_of`], [`Spawned`], [`send_signal`]: a stage's program as a user runs it, including
//!   real SIGINTs and SIGTERMs.
//! - [`read_book_output`], [`check_transcript`]: the runs the book shows, checked against the
//!   programs; [`BuiltBook`]: the book as mdbook builds it, for the checks of its pages.
//! - [`PrintedAccount`], [`assert_every_job_once`]: the "nothing is lost" contract, on printed
//!   output and on an in-process [`stage_3_cancel::Account`].
//! - [`TimelineShape`], [`run_with_timeline`], [`scratch_folder`],
//!   [`assert_unwritable_timeline_is_refused`]: the `--timeline` pictures.

mod account;
mod book;
mod built_book;
mod in_flight;
mod lines;
mod process;
mod timeline;

pub use account::{PrintedAccount, assert_every_job_once};
pub use book::{check_generated_output, check_transcript, check_transcript_with, read_book_output};
pub use built_book::{BuiltBook, files_under};
pub use in_flight::{InFlight, Running};
pub use lines::{number_after, sort_lines_by_key};
pub use nix::sys::signal::Signal;
pub use process::{Finished, Spawned, send_signal, stdout_of};
pub use timeline::{
    TimelineShape, assert_unwritable_timeline_is_refused, run_with_timeline, scratch_folder,
};
