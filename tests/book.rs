//! The book's `{{#include}}` and `{{#rustdoc_include}}` links point at real code.
//!
//! mdbook only logs a missing file or anchor and still builds, leaving a hole where the code
//! should be. This test turns each such hole into a failure: every include must name a file that
//! exists and, where it names an anchor, an anchor that is opened, closed, and not empty.

use std::fs;
use std::path::{Path, PathBuf};

const BOOK_SOURCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/book/src");

/// One `{{#include …}}` or `{{#rustdoc_include …}}` found in a chapter.
#[derive(Debug)]
struct Include {
    chapter: PathBuf,
    target: String,
    /// The part after the first `:`: an anchor name, a line range, or nothing.
    selector: Option<String>,
}

fn includes_in(chapter: &Path, text: &str) -> Vec<Include> {
    let mut found = Vec::new();
    for (start, _) in text.match_indices("{{#") {
        let rest = &text[start..];
        let Some(argument) = ["{{#include ", "{{#rustdoc_include "]
            .iter()
            .find_map(|directive| rest.strip_prefix(directive))
            .and_then(|rest| rest.split_once("}}"))
            .map(|(argument, _)| argument.trim())
        else {
            continue;
        };
        let (target, selector) = match argument.split_once(':') {
            Some((target, selector)) => (target, Some(selector.to_owned())),
            None => (argument, None),
        };
        found.push(Include {
            chapter: chapter.to_owned(),
            target: target.to_owned(),
            selector,
        });
    }
    found
}

/// An anchor name, as opposed to a line range such as `10`, `10:20` or `:20`.
fn anchor_name(selector: &str) -> Option<&str> {
    let is_range = selector
        .split(':')
        .all(|part| part.chars().all(|c| c.is_ascii_digit()));
    (!is_range).then_some(selector)
}

/// The name that follows `marker` on `line` (`// ANCHOR: worker` gives `worker`).
fn marker_name<'a>(line: &'a str, marker: &str) -> Option<&'a str> {
    let (_, rest) = line.split_once(marker)?;
    let rest = rest.trim_start();
    let end = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
        .unwrap_or(rest.len());
    (end > 0).then(|| &rest[..end])
}

/// The text between `ANCHOR: name` and `ANCHOR_END: name`, without other anchors' marker lines;
/// an error if either marker is missing.
fn anchored_text(source: &str, name: &str) -> Result<String, String> {
    let mut inside = false;
    let mut body = String::new();
    for line in source.lines() {
        if marker_name(line, "ANCHOR:") == Some(name) {
            inside = true;
        } else if marker_name(line, "ANCHOR_END:") == Some(name) {
            return if inside {
                Ok(body)
            } else {
                Err(format!("ANCHOR_END: {name} comes before ANCHOR: {name}"))
            };
        } else if inside && !line.contains("ANCHOR:") && !line.contains("ANCHOR_END:") {
            body.push_str(line);
            body.push('\n');
        }
    }
    Err(if inside {
        format!("anchor {name} is never closed")
    } else {
        format!("no anchor {name}")
    })
}

/// What is wrong with one include, if anything.
fn problem_with(include: &Include) -> Option<String> {
    let folder = include.chapter.parent().unwrap_or(Path::new("."));
    let path = folder.join(&include.target);
    let source = match fs::read_to_string(&path) {
        Ok(source) => source,
        Err(error) => return Some(format!("{}: {error}", path.display())),
    };
    let name = include.selector.as_deref().and_then(anchor_name)?;
    match anchored_text(&source, name) {
        Ok(body) if body.trim().is_empty() => Some(format!("anchor {name} is empty")),
        Ok(_) => None,
        Err(problem) => Some(problem),
    }
}

fn chapters(folder: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in fs::read_dir(folder).expect("the book's source folder is readable") {
        let path = entry.expect("a readable folder entry").path();
        if path.is_dir() {
            found.extend(chapters(&path));
        } else if path.extension().is_some_and(|extension| extension == "md") {
            found.push(path);
        }
    }
    found
}

#[test]
fn every_include_in_the_book_resolves_to_real_text() {
    let mut includes = Vec::new();
    for chapter in chapters(Path::new(BOOK_SOURCE)) {
        let text = fs::read_to_string(&chapter).expect("a chapter is readable");
        includes.extend(includes_in(&chapter, &text));
    }
    assert!(
        includes.len() >= 10,
        "the book includes its code; found only {} includes",
        includes.len()
    );
    let problems: Vec<String> = includes
        .iter()
        .filter_map(|include| {
            problem_with(include).map(|problem| {
                format!(
                    "{} includes {}: {problem}",
                    include.chapter.display(),
                    include.target
                )
            })
        })
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_checker_catches_missing_files_anchors_and_empty_anchors() {
    let chapter = Path::new(BOOK_SOURCE).join("stage-1.md");
    let lib = "../../crates/stage-1-basic/src/lib.rs";
    let text = format!(
        "{{{{#include {lib}:worker}}}}\n{{{{#rustdoc_include {lib}:no_such_anchor}}}}\n\
         {{{{#include ../nowhere.rs}}}}\n{{{{#include {lib}:3:9}}}}\n"
    );
    let found = includes_in(&chapter, &text);
    let verdicts: Vec<bool> = found
        .iter()
        .map(|include| problem_with(include).is_some())
        .collect();
    assert_eq!(verdicts, [false, true, true, false], "{found:?}");

    let source = "// ANCHOR: empty\n\n// ANCHOR_END: empty\n// ANCHOR: open\nlet x = 1;\n";
    assert_eq!(anchored_text(source, "empty"), Ok("\n".to_owned()));
    assert!(anchored_text(source, "open").is_err());
    assert!(anchored_text(source, "absent").is_err());
}
