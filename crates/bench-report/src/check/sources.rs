//! Where a sentence may take a figure from. A figure that some table of the record renders is not
//! yet a figure of what the sentence talks about: stage 6's chapter once gave BullMQ a ratio that
//! was, in the record, a step of the tuned pool against stage 1. So a figure must also be in a
//! table that the chapter includes, that a chapter the sentence links to includes, or that
//! belongs to a benchmark group the sentence names (`side-by-side`, `reference`, …).

use std::collections::{BTreeMap, BTreeSet};

use super::allowed::{Allowed, allowed};
use super::figures::figures_in;
use super::markdown::sentences;
use super::{Finding, Kind};

/// Each benchmark group's name as prose writes it, and the rendered tables that hold its points
/// (by the start of their file names).
const GROUP_TABLES: &[(&str, &[&str])] = &[
    ("side-by-side", &["side-by-side", "fast-pool-steps"]),
    (
        "reference",
        &["reference-", "stage-costs", "stage-4-monitoring"],
    ),
    ("job-cost", &["job-cost"]),
    ("cancellation", &["cancellation"]),
    ("http", &["http"]),
    ("distributed", &["distributed"]),
    ("handoff", &["handoff"]),
    ("hand-off", &["handoff"]),
];

/// The record's tables (file names, `side-by-side.md`) that each prose file includes.
pub fn tables_included(files: &[(String, String)]) -> BTreeMap<String, BTreeSet<String>> {
    files
        .iter()
        .map(|(name, text)| {
            let tables = text
                .lines()
                .filter(|line| line.trim_start().starts_with("{{#include"))
                .filter_map(|line| line.split("record/").nth(1))
                .filter_map(|rest| rest.split(['}', ':']).next())
                .filter(|table| table.ends_with(".md"))
                .map(str::to_owned)
                .collect();
            (name.clone(), tables)
        })
        .collect()
}

/// The chapters a sentence links to, by file name (`performance.md`).
fn linked_chapters(raw: &str) -> Vec<&str> {
    raw.match_indices("](")
        .filter_map(|(at, _)| {
            let target = &raw[at + 2..];
            let path = &target[..target.find([')', '#'])?];
            path.ends_with(".md")
                .then(|| path.rsplit('/').next().unwrap_or(path))
        })
        .collect()
}

/// The tables a sentence of `file` may quote: the file's own, those of the chapters it links to,
/// and those of the groups it names.
fn sources<'a>(
    file: &str,
    sentence: &str,
    raw: &str,
    included: &'a BTreeMap<String, BTreeSet<String>>,
    tables: impl Iterator<Item = &'a String>,
) -> BTreeSet<&'a str> {
    let mut sources: BTreeSet<&str> = BTreeSet::new();
    let linked = linked_chapters(raw);
    for chapter in std::iter::once(file).chain(linked) {
        if let Some(own) = included.get(chapter) {
            sources.extend(own.iter().map(String::as_str));
        }
    }
    let named: Vec<&[&str]> = GROUP_TABLES
        .iter()
        .filter(|(group, _)| sentence.contains(group))
        .map(|(_, prefixes)| *prefixes)
        .collect();
    sources.extend(
        tables
            .filter(|table| {
                named
                    .iter()
                    .any(|prefixes| prefixes.iter().any(|prefix| table.starts_with(prefix)))
            })
            .map(String::as_str),
    );
    sources
}

/// The figures of `text` (the contents of `file`) that the record renders, but only in tables
/// the sentence has no claim to. Figures the record does not render at all, and allowed ones,
/// are left to the figure check.
pub fn figures_from_elsewhere(
    file: &str,
    text: &str,
    figures_by_table: &BTreeMap<String, BTreeSet<String>>,
    included: &BTreeMap<String, BTreeSet<String>>,
    allowed_phrases: &[Allowed],
) -> Vec<Finding> {
    let mut found = Vec::new();
    for sentence in sentences(text) {
        let sources = sources(
            file,
            &sentence.plain,
            &sentence.raw,
            included,
            figures_by_table.keys(),
        );
        for figure in figures_in(&sentence.prose) {
            let readings: Vec<(&str, std::ops::Range<usize>)> = figure
                .readings()
                .map(|(reading, span)| (reading, span.clone()))
                .collect();
            let is_allowed = readings.iter().any(|(_, span)| {
                let (_, start) = sentence.locate(span.start);
                let (_, end) = sentence.locate(span.end);
                allowed(file, text, start, end, allowed_phrases)
            });
            let holders: BTreeSet<&str> = figures_by_table
                .iter()
                .filter(|(_, figures)| {
                    readings
                        .iter()
                        .any(|(reading, _)| figures.contains(*reading))
                })
                .map(|(table, _)| table.as_str())
                .collect();
            if is_allowed || holders.is_empty() || !holders.is_disjoint(&sources) {
                continue;
            }
            let (line, _) = sentence.locate(figure.span.start);
            found.push(Finding {
                file: file.to_owned(),
                line,
                kind: Kind::Figure,
                message: format!(
                    "\"{}\" is a figure of {}, which this chapter does not include and this \
                     sentence neither links to nor names the group of",
                    figure.text,
                    holders.into_iter().collect::<Vec<_>>().join(", ")
                ),
            });
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tables() -> BTreeMap<String, BTreeSet<String>> {
        BTreeMap::from([
            (
                "side-by-side.md".to_owned(),
                BTreeSet::from(["4.1×".to_owned(), "107 ns".to_owned()]),
            ),
            (
                "distributed.md".to_owned(),
                BTreeSet::from(["3.6×".to_owned()]),
            ),
        ])
    }

    fn included() -> BTreeMap<String, BTreeSet<String>> {
        tables_included(&[
            (
                "stage-6.md".to_owned(),
                "intro\n\n{{#include record/distributed.md}}\n".to_owned(),
            ),
            (
                "performance.md".to_owned(),
                "{{#include record/side-by-side.md}}\n".to_owned(),
            ),
        ])
    }

    fn findings(text: &str) -> Vec<String> {
        figures_from_elsewhere("stage-6.md", text, &tables(), &included(), &[])
            .into_iter()
            .map(|finding| finding.message)
            .collect()
    }

    #[test]
    fn a_figure_of_a_table_the_chapter_includes_is_its_own() {
        assert!(findings("Against BullMQ, 3.6× the jobs a second.\n").is_empty());
    }

    #[test]
    fn a_figure_of_another_table_needs_a_link_or_the_groups_name() {
        let found = findings("Against BullMQ, 4.1× the jobs a second.\n");
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with("\"4.1×\" is a figure of side-by-side.md"),
            "{found:?}"
        );
        assert!(findings("In the `side-by-side` group stage 1 took 107 ns.\n").is_empty());
        assert!(findings("Stage 1 took 107 ns ([Performance](performance.md#side)).\n").is_empty());
    }

    #[test]
    fn figures_the_record_does_not_have_are_left_to_the_figure_check() {
        assert!(findings("It took 999 ns.\n").is_empty());
    }
}
