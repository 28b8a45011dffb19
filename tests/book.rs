//! The book's `{{#include}}` and `{{#rustdoc_include}}` links point at real code.
//!
//! mdbook only logs a missing file or anchor and still builds, leaving a hole where the code
//! should be. This test turns each such hole into a failure: every include must name a file that
//! exists and, where it names an anchor, an anchor that is opened, closed, and not empty.

use std::fs;
use std::path::{Path, PathBuf};

use test_support::{BuiltBook, files_under};

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

/// One change the book shows as a diff: a piece of the previous stage's code (a file, or an
/// anchor in it) against the same piece of the next stage's, written to a file in
/// `book/src/diff/` that a chapter includes in a ```` ```diff ```` block.
struct StageDiff {
    /// `path` or `path:anchor`, relative to the workspace root.
    before: &'static str,
    /// The same, for the later stage.
    after: &'static str,
    /// The file in `book/src/diff/` that holds the diff the chapter shows.
    shown_in: &'static str,
}

/// Every diff the book shows. A chapter includes `diff/<shown_in>`; this list says what it is a
/// diff of, so that the file is regenerated from the crates and never edited by hand.
const STAGE_DIFFS: &[StageDiff] = &[
    StageDiff {
        before: "crates/stage-1-basic/src/lib.rs:worker",
        after: "crates/stage-2-metadata/src/lib.rs:worker",
        shown_in: "stage-2-worker.diff",
    },
    StageDiff {
        before: "crates/stage-1-basic/src/lib.rs:run_pool",
        after: "crates/stage-2-metadata/src/lib.rs:run_pool",
        shown_in: "stage-2-run_pool.diff",
    },
    StageDiff {
        before: "crates/stage-2-metadata/src/lib.rs:worker",
        after: "crates/stage-3-cancel/src/pool.rs:worker",
        shown_in: "stage-3-worker.diff",
    },
    StageDiff {
        before: "crates/stage-2-metadata/src/lib.rs:run_pool",
        after: "crates/stage-3-cancel/src/pool.rs:run_pool",
        shown_in: "stage-3-run_pool.diff",
    },
    // Stage 4 restates stage 3's worker over a queue of tasks (a job or a `Retire`) and with its
    // measurements; stage 5 restates stage 3's pool (not stage 4's) as tokio tasks.
    StageDiff {
        before: "crates/stage-3-cancel/src/pool.rs:worker",
        after: "crates/stage-4-scaling/src/pool.rs:worker",
        shown_in: "stage-4-worker.diff",
    },
    StageDiff {
        before: "crates/stage-3-cancel/src/pool.rs:worker",
        after: "crates/stage-5-http/src/pool.rs:worker",
        shown_in: "stage-5-worker.diff",
    },
    StageDiff {
        before: "crates/stage-3-cancel/src/pool.rs:run_pool",
        after: "crates/stage-5-http/src/pool.rs:run_pool",
        shown_in: "stage-5-run_pool.diff",
    },
    // Stage 6 is stage 5's pool with a broker for a queue.
    StageDiff {
        before: "crates/stage-5-http/src/pool.rs:worker",
        after: "crates/stage-6-distributed/src/worker.rs:worker",
        shown_in: "stage-6-worker.diff",
    },
];

/// The text that `location` (`path` or `path:anchor`) names, as the book would include it.
fn text_at(location: &str) -> Result<String, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (path, anchor) = match location.split_once(':') {
        Some((path, anchor)) => (path, Some(anchor)),
        None => (location, None),
    };
    let source =
        fs::read_to_string(root.join(path)).map_err(|error| format!("{location}: {error}"))?;
    match anchor {
        Some(anchor) => anchored_text(&source, anchor).map_err(|error| format!("{path}: {error}")),
        None => Ok(source),
    }
}

/// A unified diff of `before` against `after`, with the stages' paths in its header and three
/// lines of context around each change, as `diff -u` would print it.
fn unified_diff(before: &StageDiff) -> Result<String, String> {
    let old = text_at(before.before)?;
    let new = text_at(before.after)?;
    Ok(similar::TextDiff::from_lines(&old, &new)
        .unified_diff()
        .context_radius(3)
        .header(before.before, before.after)
        .to_string())
}

/// The book's diffs are the crates' diffs. With `UPDATE_BOOK_OUTPUT=1` the test writes them
/// instead; review the result like any other change of the book.
#[test]
fn every_diff_in_the_book_is_generated_from_the_crates() {
    let folder = Path::new(BOOK_SOURCE).join("diff");
    let update = std::env::var_os("UPDATE_BOOK_OUTPUT").is_some();
    let mut problems = Vec::new();
    for diff in STAGE_DIFFS {
        let expected = match unified_diff(diff) {
            Ok(expected) => expected,
            Err(problem) => {
                problems.push(problem);
                continue;
            }
        };
        let file = folder.join(diff.shown_in);
        if update {
            fs::create_dir_all(&folder).expect("book/src/diff can be created");
            fs::write(&file, &expected).expect("a diff file can be written");
            continue;
        }
        match fs::read_to_string(&file) {
            Ok(shown) if shown == expected => {}
            Ok(_) => problems.push(format!(
                "{} is not the diff of {} against {}; rerun with UPDATE_BOOK_OUTPUT=1",
                file.display(),
                diff.before,
                diff.after
            )),
            Err(error) => problems.push(format!("{}: {error}", file.display())),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    let listed: Vec<&str> = STAGE_DIFFS.iter().map(|diff| diff.shown_in).collect();
    let unlisted: Vec<String> = fs::read_dir(&folder)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .filter(|name| !listed.contains(&name.as_str()))
                .collect()
        })
        .unwrap_or_default();
    assert!(
        unlisted.is_empty(),
        "book/src/diff holds files that no entry of STAGE_DIFFS generates: {unlisted:?}"
    );
}

/// An anchor that no chapter includes is a listing the book lost track of: either the chapter
/// that showed it moved on (drop the markers) or it should be shown (include it).
#[test]
fn every_anchor_in_the_code_is_included_by_some_chapter() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut included = Vec::new();
    for chapter in chapters(Path::new(BOOK_SOURCE)) {
        let text = fs::read_to_string(&chapter).expect("a chapter is readable");
        for include in includes_in(&chapter, &text) {
            let folder = include.chapter.parent().unwrap_or(Path::new("."));
            let Ok(file) = folder.join(&include.target).canonicalize() else {
                continue;
            };
            if let Some(name) = include.selector.as_deref().and_then(anchor_name) {
                included.push((file, name.to_owned()));
            }
        }
    }
    // The diffs the book shows include their anchors too, through STAGE_DIFFS.
    for diff in STAGE_DIFFS {
        for location in [diff.before, diff.after] {
            if let Some((path, name)) = location.split_once(':')
                && let Ok(file) = root.join(path).canonicalize()
            {
                included.push((file, name.to_owned()));
            }
        }
    }

    let mut unused = Vec::new();
    let sources = ["crates", "benches", "src", "go-reference"]
        .iter()
        .flat_map(|folder| files_under(&root.join(folder), &["rs", "go", "lua"]));
    for source in sources {
        let text = fs::read_to_string(&source).expect("a source file is readable");
        let file = source
            .canonicalize()
            .expect("a listed file has a canonical path");
        for line in text.lines() {
            if let Some(name) = marker_name(line, "ANCHOR:")
                && !line.contains("ANCHOR_END:")
                && !included
                    .iter()
                    .any(|(path, anchor)| *path == file && anchor == name)
            {
                unused.push(format!("{}: ANCHOR: {name}", source.display()));
            }
        }
    }
    assert!(
        unused.is_empty(),
        "anchors that no chapter includes:\n{}",
        unused.join("\n")
    );
}

/// The widest line a listing may have. The book's theme (`book/theme/listings.css`) widens the
/// content column so that a code block holds this many characters without scrolling sideways;
/// a diff line is one character wider than the code it shows (its `+`, `-` or space).
const LISTING_WIDTH: usize = 101;

/// The text a fenced block of a chapter shows: its own lines, with each include replaced by the
/// text it includes.
fn shown_lines(chapter: &Path, block: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for line in block.lines() {
        let found = includes_in(chapter, line);
        let Some(include) = found.first() else {
            lines.push(line.to_owned());
            continue;
        };
        let folder = chapter.parent().unwrap_or(Path::new("."));
        let Ok(source) = fs::read_to_string(folder.join(&include.target)) else {
            continue;
        };
        let text = match include.selector.as_deref().and_then(anchor_name) {
            Some(name) => anchored_text(&source, name).unwrap_or_default(),
            None => source,
        };
        lines.extend(text.lines().map(str::to_owned));
    }
    lines
}

/// The languages of blocks that wrap long lines instead of scrolling (`book/theme/listings.css`):
/// program output and the commands that make it.
const WRAPPING_BLOCKS: [&str; 1] = ["text"];

/// Commands and their output are shown as ```` ```text ````: highlight.js colours a
/// ```` ```console ```` block as shell code, flags as keywords, which a reader reads as meaning.
#[test]
fn no_chapter_colours_a_command_as_code() {
    let coloured: Vec<String> = chapters(Path::new(BOOK_SOURCE))
        .iter()
        .filter(|chapter| {
            fs::read_to_string(chapter)
                .is_ok_and(|text| text.lines().any(|line| line.trim() == "```console"))
        })
        .map(|chapter| chapter.display().to_string())
        .collect();
    assert!(
        coloured.is_empty(),
        "use ```text for commands: {coloured:?}"
    );
}

/// Every code block the built book shows fits its column: no reader scrolls sideways to read the
/// comment that explains a line. Output and console blocks wrap, so only code is held to the width.
#[test]
fn every_listing_in_the_book_fits_the_page() {
    let mut too_wide = Vec::new();
    for chapter in chapters(Path::new(BOOK_SOURCE)) {
        let text = fs::read_to_string(&chapter).expect("a chapter is readable");
        let mut block: Option<String> = None;
        let mut wraps = false;
        for line in text.lines() {
            let fence = line.trim_start().strip_prefix("```");
            match (&mut block, fence) {
                (None, Some(info)) => {
                    let language = info.split(',').next().unwrap_or("").trim();
                    wraps = WRAPPING_BLOCKS.contains(&language);
                    block = Some(String::new());
                }
                (Some(_), Some(_)) if wraps => block = None,
                (Some(body), Some(_)) => {
                    for shown in shown_lines(&chapter, body) {
                        let width = shown.chars().count();
                        if width > LISTING_WIDTH {
                            too_wide.push(format!(
                                "{}: {width} characters: {shown}",
                                chapter.display()
                            ));
                        }
                    }
                    block = None;
                }
                (Some(body), None) => {
                    body.push_str(line);
                    body.push('\n');
                }
                (None, None) => {}
            }
        }
    }
    assert!(
        too_wide.is_empty(),
        "lines wider than the book's code column ({LISTING_WIDTH} characters):\n{}",
        too_wide.join("\n")
    );
}

/// The `href` and `src` values in one page of the built book.
fn links_in(html: &str) -> Vec<String> {
    let mut links = Vec::new();
    for attribute in ["href=\"", "src=\""] {
        for (start, _) in html.match_indices(attribute) {
            let rest = &html[start + attribute.len()..];
            if let Some(end) = rest.find('"') {
                links.push(rest[..end].to_owned());
            }
        }
    }
    links
}

/// What is wrong with one link of a built page, if anything: a file that does not exist, or a
/// `#fragment` that names no element of its page.
fn broken_link(page: &Path, link: &str) -> Option<String> {
    let external = ["http://", "https://", "mailto:", "javascript:", "data:"];
    if link.is_empty() || external.iter().any(|scheme| link.starts_with(scheme)) {
        return None;
    }
    let (path, fragment) = match link.split_once('#') {
        Some((path, fragment)) => (path, Some(fragment)),
        None => (link, None),
    };
    let path = path.split('?').next().unwrap_or(path);
    let target = if path.is_empty() {
        page.to_owned()
    } else {
        page.parent().unwrap_or(Path::new(".")).join(path)
    };
    let target = if target.is_dir() {
        target.join("index.html")
    } else {
        target
    };
    if !target.is_file() {
        return Some(format!("{link}: no file {}", target.display()));
    }
    let fragment = fragment.filter(|fragment| !fragment.is_empty())?;
    if target
        .extension()
        .is_none_or(|extension| extension != "html")
    {
        return None;
    }
    let html = fs::read_to_string(&target).unwrap_or_default();
    let found = html.contains(&format!("id=\"{fragment}\""));
    (!found).then(|| format!("{link}: no element with id {fragment}"))
}

/// Builds the book with mdbook and checks every link and image of every page.
#[test]
fn every_link_and_image_in_the_built_book_resolves() {
    let Some(book) = BuiltBook::build("links") else {
        return;
    };
    let mut broken = Vec::new();
    for page in book.pages() {
        let html = fs::read_to_string(&page).expect("a built page is readable");
        for link in links_in(&html) {
            if let Some(problem) = broken_link(&page, &link) {
                let shown = page.strip_prefix(&book.dir).unwrap_or(&page);
                broken.push(format!("{}: {problem}", shown.display()));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "broken links or images in the built book:\n{}",
        broken.join("\n")
    );
}

#[test]
fn the_link_checker_catches_missing_files_and_fragments() {
    let folder = std::env::temp_dir().join(format!("worker-pools-links-{}", std::process::id()));
    fs::create_dir_all(&folder).expect("a temporary folder can be made");
    let page = folder.join("page.html");
    fs::write(&page, "<h2 id=\"here\">x</h2>").expect("a page can be written");
    fs::write(folder.join("picture.svg"), "<svg/>").expect("an image can be written");
    let verdicts: Vec<bool> = [
        "page.html#here",
        "#here",
        "picture.svg",
        "https://example.org/x",
        "page.html#nowhere",
        "missing.html",
        "missing.svg",
    ]
    .iter()
    .map(|link| broken_link(&page, link).is_some())
    .collect();
    let _ = fs::remove_dir_all(&folder);
    assert_eq!(verdicts, [false, false, false, false, true, true, true]);
}
