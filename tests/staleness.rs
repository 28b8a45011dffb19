//! The book's maps cannot go stale: the introduction's table and the README's map name every
//! stage, the glossary's entries point at chapters that use their terms, the terms stage 6 leans on
//! have entries, and each stage chapter's lesson stays short enough to read in one sitting.

use std::fs;
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

fn book(file: &str) -> String {
    read(&Path::new(ROOT).join("book/src").join(file))
}

/// The stage crates: `crates/stage-N-…` with a program of their own (`src/main.rs`), each the
/// subject of `book/src/stage-N.md`.
fn stage_crates() -> Vec<(String, PathBuf)> {
    let mut stages: Vec<(String, PathBuf)> = fs::read_dir(Path::new(ROOT).join("crates"))
        .expect("the crates folder")
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let name = path.file_name()?.to_str()?.to_owned();
            let number: u8 = name
                .strip_prefix("stage-")?
                .split('-')
                .next()?
                .parse()
                .ok()?;
            path.join("src/main.rs")
                .exists()
                .then(|| (name, PathBuf::from(format!("stage-{number}.md"))))
        })
        .collect();
    stages.sort();
    assert!(stages.len() >= 6, "found only {stages:?}");
    stages
}

/// Every stage crate has a row in the introduction's table that names it and links its chapter.
#[test]
fn the_introductions_table_has_a_row_per_stage() {
    let introduction = book("introduction.md");
    for (name, chapter) in stage_crates() {
        let row = introduction
            .lines()
            .find(|line| line.starts_with('|') && line.contains(&format!("`{name}`")));
        let row = row.unwrap_or_else(|| panic!("introduction.md has no row for `{name}`"));
        assert!(
            row.contains(&format!("({})", chapter.display())),
            "introduction.md's row for `{name}` does not link {}",
            chapter.display()
        );
    }
}

/// The README's map links every stage crate and every chapter of the book.
#[test]
fn the_readmes_map_names_every_stage_and_every_chapter() {
    let readme = read(&Path::new(ROOT).join("README.md"));
    for (name, _) in stage_crates() {
        assert!(
            readme.contains(&format!("(crates/{name}/src/lib.rs)")),
            "README.md's map does not link crates/{name}"
        );
    }
    for chapter in chapters_in_summary() {
        assert!(
            readme.contains(&format!("(book/src/{chapter})")),
            "README.md's map does not link the chapter {chapter}"
        );
    }
}

/// The chapters `SUMMARY.md` lists, as file names.
fn chapters_in_summary() -> Vec<String> {
    book("SUMMARY.md")
        .lines()
        .filter_map(|line| {
            let start = line.find("](")? + 2;
            let end = line[start..].find(')')? + start;
            Some(line[start..end].to_owned())
        })
        .collect()
}

/// One glossary entry: its term and the chapters it links.
struct Entry {
    term: String,
    links: Vec<String>,
}

fn glossary() -> Vec<Entry> {
    book("glossary.md")
        .split("\n\n")
        .filter_map(|paragraph| {
            let rest = paragraph.strip_prefix("**")?;
            let term = rest[..rest.find(".**")?].to_owned();
            let links = paragraph
                .match_indices("](")
                .filter_map(|(at, _)| {
                    let target = &paragraph[at + 2..];
                    let target = &target[..target.find(')')?];
                    let file = target.split('#').next()?;
                    (!file.is_empty()).then(|| file.to_owned())
                })
                .collect();
            Some(Entry { term, links })
        })
        .collect()
}

/// A term as prose writes it, lower case, without code marks, with hyphens as spaces.
fn plain(term: &str) -> String {
    term.replace('`', "")
        .replace('-', " ")
        .trim()
        .to_lowercase()
}

/// The names an entry goes by: "p50, p95 (quantiles)" by "p50", "p95" and "quantiles",
/// "`Mutex` (and poisoning)" by "mutex" and "poisoning".
fn names(term: &str) -> Vec<String> {
    term.split([',', '(', ')'])
        .map(|name| plain(name.trim_start_matches(" and ")))
        .map(|name| name.trim_start_matches("and ").to_owned())
        .filter(|name| !name.is_empty())
        .collect()
}

/// Each glossary entry sends the reader to at least one chapter, and every chapter it sends them
/// to uses the term.
#[test]
fn every_glossary_entry_links_chapters_that_use_its_term() {
    let entries = glossary();
    assert!(entries.len() > 30, "only {} entries found", entries.len());
    for entry in entries {
        assert!(!entry.links.is_empty(), "{}: links no chapter", entry.term);
        // Hyphens count as spaces: "dead-letter", "at least once".
        let names = names(&entry.term);
        for link in &entry.links {
            let text = plain(&book(link).replace('*', ""));
            assert!(
                names.iter().any(|name| text.contains(name)),
                "glossary: {:?} links {link}, which does not use the term",
                entry.term
            );
        }
    }
}

/// The terms the chapters define (in bold, where the idea does its work) have entries. The list
/// is the glossary's, so that an entry removed by mistake fails here; a new term gets an entry
/// and a line below.
#[test]
fn the_terms_of_the_trade_have_entries() {
    let terms: Vec<String> = glossary()
        .iter()
        .flat_map(|entry| names(&entry.term))
        .collect();
    for wanted in [
        "account",
        "arc",
        "at least once",
        "atomic",
        "back pressure",
        "bounded channel",
        "cancellation",
        "consumer group",
        "dead letter",
        "deadline",
        "drop",
        "duplicate run",
        "epoch",
        "fence",
        "hysteresis",
        "idempotent",
        "impl trait",
        "in flight",
        "job",
        "keep alive",
        "lease",
        "makespan",
        "model checking",
        "move closure",
        "mutex",
        "outcome",
        "p50",
        "poison job",
        "producer–consumer",
        "queue depth",
        "rate limit",
        "read count",
        "rendezvous channel",
        "rss",
        "scoped thread",
        "send",
        "'static",
        "unwinding",
        "visibility timeout",
        "worker",
    ] {
        assert!(
            terms.iter().any(|term| term == wanted),
            "the glossary has no entry for {wanted:?}"
        );
    }
}

/// The words of a chapter's lesson: everything before its takeaways, without code blocks and
/// includes. Exercises and machinery come after the takeaways and are not counted.
fn lesson_words(chapter: &str) -> usize {
    let text = book(chapter);
    let lesson = text
        .split("\n## What to take away")
        .next()
        .unwrap_or_default();
    let mut in_code = false;
    lesson
        .lines()
        .filter(|line| {
            if line.trim_start().starts_with("```") {
                in_code = !in_code;
                return false;
            }
            !in_code && !line.trim_start().starts_with("{{#include")
        })
        .map(|line| line.split_whitespace().count())
        .sum()
}

/// A stage's lesson is read in one sitting: at most 3 500 words before its takeaways, and 4 500
/// for stage 6, which has a protocol and its failures to teach.
#[test]
fn every_stage_chapters_lesson_fits_one_sitting() {
    for (_, chapter) in stage_crates() {
        let chapter = chapter.display().to_string();
        let limit = if chapter == "stage-6.md" {
            4_500
        } else {
            3_500
        };
        let words = lesson_words(&chapter);
        assert!(
            words <= limit,
            "{chapter}: {words} words before its takeaways, over {limit}"
        );
        assert!(
            book(&chapter).contains("\n## What to take away"),
            "{chapter} has no takeaways heading"
        );
    }
}
