//! The prose check: what the chapters and the README may say about the record.
//!
//! **Figures.** A measured figure in prose (a number with a unit of time, rate or memory, `331
//! ns`, `1.83 µs`, `2 970 req/s`, `97.8 MiB`, or a ratio, `41×`) must be one that the record's
//! tables render: a table's figure (the median of the runs) or an end of a range that a table
//! shows. Code (fenced blocks and inline spans) and `{{#include}}` lines are not prose. A
//! parameter or a platform fact is allowed by its exact phrase in one file ([`ALLOWED`]).
//!
//! **Comparisons.** A sentence that says one contender is faster or slower than another (or
//! cheaper or dearer: a time per job), or quotes a ratio, makes a claim about every run of the
//! record. The check reads two kinds of claim, each one it can pin to the record:
//!
//! 1. *A quoted ratio with its direction*: `15× faster`, `(Go 1.7× slower)`, `1.2–1.4× slower`.
//!    A table must render a comparison with that figure and direction, as its median or as an
//!    end of its range, and that comparison must go the same way in every run. Where the
//!    sentence names both sides, `<A> is 15× faster than <B>` (as in rule 2), the comparison
//!    must be one of A's, and B's if the record renders the figure for B: "Go is 1.7× faster
//!    than stage 1" fails when the table says stage 1 is 1.7× faster than Go.
//! 2. *Two named contenders, without a ratio*: `<A> … faster than <B>`, with `than` within
//!    three words of the comparison, A the nearest name before it and B the first after `than`,
//!    both in the same clause (commas, semicolons, colons, brackets and dashes end a clause), by
//!    the names [`crate::labels::PROSE_NAMES`] knows. The record must measure A beside B (the
//!    same group and parameter, in one run), and at one such point at least A must be faster (or
//!    slower) than B in every run that measured both. A sentence that names benchmark groups in
//!    code (`` `side-by-side` ``) is held to those groups.
//!
//! A sentence ends at a `.`, `?` or `!` that a space follows, or with its paragraph, list item,
//! heading or table row.
//!
//! Where no point or comparison that fits holds in every run, the runs disagree, and the sentence
//! must say so: it must contain "vary", "varies", "varied" or "varying" (it may give the range).
//! Even then the claim must hold in one run at least.
//!
//! What the check does not read, and leaves to the reviewer: a comparison without `than` and
//! without a ratio ("Go is tens of times faster"), one whose side it has no name for ("than that
//! program", "the article's design", which is stage 1's and Go's), a negated one ("no faster
//! than"), and "ahead of" or "behind". A ratio that several comparisons render alike, with no
//! name to tell them apart, is held to the one that fits best.

mod allowed;
mod comparisons;
mod figures;
mod markdown;
mod names;
mod sources;

use std::fs;
use std::path::Path;

pub use allowed::{ALLOWED, Allowed};
pub use comparisons::RecordedComparison;

use crate::record::Record;
use crate::render::Rendered;
use crate::tables::{self, Quantity};

/// What the check found wrong with a sentence of the prose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The file, as given (`performance.md`, `README.md`).
    pub file: String,
    /// 1-based line number.
    pub line: usize,
    /// A figure, or a comparison.
    pub kind: Kind,
    /// What is wrong, in one line.
    pub message: String,
}

/// The two rules of the check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A figure the record does not render.
    Figure,
    /// A comparison that the record does not back, or that does not hold in every run.
    Comparison,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{}:{}: {}", self.file, self.line, self.message)
    }
}

/// What the record backs: the figures its tables render, the comparisons they make, and the
/// runs themselves (for comparisons of two named contenders).
pub struct Backing<'a> {
    /// Every figure of the rendered markdown.
    pub figures: std::collections::BTreeSet<String>,
    /// The same, table by table (`side-by-side.md`).
    pub figures_by_table: std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
    /// Every comparison a table renders (the `vs …` columns).
    pub comparisons: Vec<RecordedComparison>,
    /// The record.
    pub record: &'a Record,
}

impl<'a> Backing<'a> {
    /// What `record`, rendered as `rendered`, backs.
    pub fn of(record: &'a Record, rendered: &Rendered) -> Backing<'a> {
        let figures = figures::figures_of(
            rendered
                .iter()
                .filter(|(name, _)| name.ends_with(".md"))
                .map(|(_, text)| text.as_str()),
        );
        let figures_by_table = rendered
            .iter()
            .filter(|(name, _)| name.ends_with(".md"))
            .map(|(name, text)| (name.clone(), figures::figures_of([text.as_str()])))
            .collect();
        let comparisons = tables::tables(record)
            .iter()
            .flat_map(|table| table.figures())
            .filter(|figure| figure.quantity == Quantity::Versus)
            .map(RecordedComparison::of)
            .collect();
        Backing {
            figures,
            figures_by_table,
            comparisons,
            record,
        }
    }
}

/// Every finding in `text`, the contents of `file`.
pub fn check_text(
    file: &str,
    text: &str,
    backing: &Backing<'_>,
    allowed: &[Allowed],
) -> Vec<Finding> {
    let mut found = unbacked_figures(file, text, backing, allowed);
    for sentence in markdown::sentences(text) {
        found.extend(comparisons::check_sentence(
            file, text, &sentence, backing, allowed,
        ));
    }
    found.sort_by_key(|finding| finding.line);
    found
}

/// The figures of `text` that are neither backed nor allowed.
fn unbacked_figures(
    file: &str,
    text: &str,
    backing: &Backing<'_>,
    allowed: &[Allowed],
) -> Vec<Finding> {
    let mut found = Vec::new();
    for line in markdown::prose_lines(text) {
        for figure in figures::figures_in(&line.prose) {
            let fine = figure.readings().any(|(reading, span)| {
                backing.figures.contains(reading)
                    || allowed::allowed(
                        file,
                        text,
                        line.offset + span.start,
                        line.offset + span.end,
                        allowed,
                    )
            });
            if !fine {
                found.push(Finding {
                    file: file.to_owned(),
                    line: line.number,
                    kind: Kind::Figure,
                    message: format!("\"{}\" is not a figure of the record", figure.text),
                });
            }
        }
    }
    found
}

/// The chapters and the README, read for the check: (name, contents), the name as the allowed
/// list keys it (`stage-2.md`, `README.md`).
pub fn prose_files(root: &Path) -> Result<Vec<(String, String)>, String> {
    let source = root.join("book/src");
    let entries = fs::read_dir(&source)
        .map_err(|error| format!("cannot read {}: {error}", source.display()))?;
    let mut paths: Vec<_> = entries
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "md"))
        .collect();
    paths.push(root.join("README.md"));
    paths.sort();
    let mut files = Vec::new();
    for path in paths {
        let text = fs::read_to_string(&path)
            .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
        let name = path
            .file_name()
            .map_or_else(String::new, |name| name.to_string_lossy().into_owned());
        files.push((name, text));
    }
    Ok(files)
}

/// Every finding in the chapters and the README of the workspace at `root`.
pub fn check_book(
    root: &Path,
    record: &Record,
    rendered: &Rendered,
) -> Result<Vec<Finding>, String> {
    let backing = Backing::of(record, rendered);
    let files = prose_files(root)?;
    let included = sources::tables_included(&files);
    Ok(files
        .iter()
        .flat_map(|(name, text)| {
            let mut found = check_text(name, text, &backing, ALLOWED);
            found.extend(sources::figures_from_elsewhere(
                name,
                text,
                &backing.figures_by_table,
                &included,
                ALLOWED,
            ));
            found.sort_by_key(|finding| finding.line);
            found
        })
        .collect())
}

#[cfg(test)]
mod tests;
