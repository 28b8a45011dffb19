//! The prose check: every measured figure that a chapter or the README quotes must be one the
//! recorded run renders. A figure is a number followed by a unit of time, of rate or of memory
//! (`331 ns`, `1.83 µs`, `673 ms`, `297 s`, `2 970 req/s`, `97.8 MiB`, `9.7 KiB`) or a ratio
//! (`41×`). Code (fenced blocks and inline spans) and `{{#include}}` lines are not prose.
//! Numbers that are parameters of a program or a fact about a platform, not measurements, are
//! allowed by an explicit list, each entry a phrase of one chapter.

use std::collections::BTreeSet;

/// Units that make a number a measured figure, longest first so that `ms` is not read as `m`.
const UNITS: [&str; 10] = [
    "req/s", "MiB", "KiB", "ns", "µs", "μs", "us", "ms", "s", "×",
];

/// A figure found in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Figure {
    /// The figure as the check compares it: `331 ns`, `1.83 µs`, `41×` (spaces and the micro
    /// sign normalised).
    pub text: String,
    /// Byte range of the figure in its line.
    pub span: std::ops::Range<usize>,
    /// Other readings of the same words: "stage 1 270 ns" reads as "1 270 ns" first, and as
    /// "270 ns" too. The figure is backed if any reading is.
    pub shorter: Vec<(String, std::ops::Range<usize>)>,
}

impl Figure {
    fn new(number: &str, unit: &str, span: std::ops::Range<usize>) -> Figure {
        // Each space in the number may be a gap between words rather than a thousands separator.
        let shorter = number
            .match_indices(' ')
            .map(|(at, _)| {
                let rest = &number[at + 1..];
                (figure_text(rest, unit), span.start + at + 1..span.end)
            })
            .collect();
        Figure {
            text: figure_text(number, unit),
            span,
            shorter,
        }
    }

    /// The figure's readings, the whole first.
    fn readings(&self) -> impl Iterator<Item = (&str, &std::ops::Range<usize>)> {
        std::iter::once((self.text.as_str(), &self.span)).chain(
            self.shorter
                .iter()
                .map(|(text, span)| (text.as_str(), span)),
        )
    }
}

/// A figure in a chapter that the record does not back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unbacked {
    /// The file, as given to [`unbacked`].
    pub file: String,
    /// 1-based line number.
    pub line: usize,
    /// The figure.
    pub figure: String,
}

impl std::fmt::Display for Unbacked {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "{}:{}: \"{}\" is not a figure of the recorded run",
            self.file, self.line, self.figure
        )
    }
}

/// A phrase of one chapter whose figure is a parameter, not a measurement.
#[derive(Debug, Clone, Copy)]
pub struct Allowed {
    /// The file name (`stage-2.md`, `README.md`).
    pub file: &'static str,
    /// The exact words around the figure.
    pub phrase: &'static str,
}

/// Parameters and facts, not measurements: the figures that prose may quote without the record.
/// Each entry names its file and the words around the figure, so that the same number elsewhere
/// (a measured 20 ms, say) is still checked.
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
    Allowed { file: "stage-4.md", phrase: "⌈399/8⌉ × 20 ms ≈ 1 s" },
    Allowed { file: "stage-4.md", phrase: "next to a 20 ms job" },
    Allowed { file: "stage-4.md", phrase: "200 rounds of 20 ms, about 4 s" },
    Allowed { file: "stage-4.md", phrase: "13 rounds, about\n0.26 s" },
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
    Allowed { file: "performance.md", phrase: "jobs of about 100 µs, and at 1 µs" },
    Allowed { file: "performance.md", phrase: "never below 2 KiB" },
    Allowed { file: "performance.md", phrase: "of the 2 MiB of" },
    Allowed { file: "performance.md", phrase: "a kernel stack of 16 KiB" },
    Allowed { file: "performance.md", phrase: "Add 3 µs of work" },
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

/// True for a character that may not stand right before a figure's number: a letter or digit
/// (`W2`, `Q100`, `go1.19`), a point, or a hyphen that joins words (`stage-1`).
fn joins_before(c: char) -> bool {
    c.is_alphanumeric() || c == '.' || c == '_' || c == '-' || c == '/'
}

/// The number that starts at `start` (digits, thousands grouped by single spaces, a decimal
/// part), as its end and its text normalised to plain spaces.
fn number_at(line: &str, start: usize) -> Option<(usize, String)> {
    let bytes = line.as_bytes();
    let digits = |from: usize| {
        bytes[from..]
            .iter()
            .take_while(|byte| byte.is_ascii_digit())
            .count()
    };
    let mut end = start + digits(start);
    if end == start {
        return None;
    }
    // "1 000 000": a space and exactly three digits continue the number.
    while end + 4 <= bytes.len() && bytes[end] == b' ' && digits(end + 1) == 3 {
        end += 4;
    }
    if end + 1 < bytes.len() && bytes[end] == b'.' && bytes[end + 1].is_ascii_digit() {
        end += 1 + digits(end + 1);
    }
    Some((end, line[start..end].to_owned()))
}

/// The unit right after a number (after at most one space, none for `×`), as its end and its
/// normalised spelling.
fn unit_at(line: &str, end: usize) -> Option<(usize, &'static str)> {
    let rest = &line[end..];
    if rest.starts_with('×') {
        return Some((end + '×'.len_utf8(), "×"));
    }
    // The book puts a space between a number and its unit; "503s" (HTTP statuses) or "500ms"
    // (a flag's value) are not figures.
    let (gap, rest) = match rest.chars().next() {
        Some(space @ (' ' | '\u{a0}' | '\u{202f}')) => {
            (space.len_utf8(), &rest[space.len_utf8()..])
        }
        _ => return None,
    };
    for unit in UNITS {
        if unit == "×" {
            continue;
        }
        if let Some(after) = rest.strip_prefix(unit) {
            // A unit is a whole word: "2 s" is a figure, "2 samples" is not.
            if after.chars().next().is_some_and(char::is_alphanumeric) {
                continue;
            }
            let normal = match unit {
                "μs" | "us" => "µs",
                other => other,
            };
            return Some((end + gap + unit.len(), normal));
        }
    }
    None
}

/// The figures on one line of prose. A range shares its unit: "540–670 ns" and "264 to 481 ns"
/// are two figures each.
pub fn figures_in_line(line: &str) -> Vec<Figure> {
    let mut figures = Vec::new();
    let mut pending: Vec<(std::ops::Range<usize>, String)> = Vec::new();
    let mut index = 0;
    while index < line.len() {
        let Some(c) = line[index..].chars().next() else {
            break;
        };
        let starts_number =
            c.is_ascii_digit() && !line[..index].chars().next_back().is_some_and(joins_before);
        if !starts_number {
            index += c.len_utf8();
            continue;
        }
        let Some((end, number)) = number_at(line, index) else {
            index += 1;
            continue;
        };
        match unit_at(line, end) {
            Some((unit_end, unit)) => {
                for (span, number) in pending.drain(..) {
                    figures.push(Figure::new(&number, unit, span));
                }
                figures.push(Figure::new(&number, unit, index..unit_end));
                index = unit_end;
            }
            None => {
                let rest = &line[end..];
                let connector = ["–", " to "]
                    .iter()
                    .find(|connector| rest.starts_with(*connector));
                match connector {
                    Some(_) => pending.push((index..end, number)),
                    None => pending.clear(),
                }
                index = end + connector.map_or(0, |connector| connector.len());
            }
        }
    }
    figures
}

fn figure_text(number: &str, unit: &str) -> String {
    if unit == "×" {
        format!("{number}×")
    } else {
        format!("{number} {unit}")
    }
}

/// The lines of a markdown text that are prose, with their 1-based numbers: fenced code blocks
/// and `{{#include}}` lines left out, inline code blanked (its bytes become spaces, so the
/// positions of what remains do not move).
pub fn prose_lines(markdown: &str) -> Vec<(usize, String)> {
    let mut lines = Vec::new();
    let mut fence: Option<String> = None;
    for (number, line) in markdown.lines().enumerate() {
        let trimmed = line.trim_start();
        let marker: String = trimmed
            .chars()
            .take_while(|c| *c == '`' || *c == '~')
            .collect();
        if marker.len() >= 3
            && (marker.chars().all(|c| c == '`') || marker.chars().all(|c| c == '~'))
        {
            match &fence {
                Some(open) if marker.starts_with(open.as_str()) && trimmed.trim() == marker => {
                    fence = None;
                }
                Some(_) => {}
                None => fence = Some(marker),
            }
            continue;
        }
        if fence.is_some() || line.contains("{{#") {
            continue;
        }
        lines.push((number + 1, blank_inline_code(line)));
    }
    lines
}

fn blank_inline_code(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut in_code = false;
    for c in line.chars() {
        if c == '`' {
            in_code = !in_code;
            out.push(' ');
        } else if in_code {
            out.push_str(&" ".repeat(c.len_utf8()));
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether an allowed phrase of `file` covers the figure at `span` of `line`. A phrase may run
/// over a line break (written `\n`): it is matched against the line and its neighbours.
fn allowed(
    file: &str,
    text: &str,
    line_start: usize,
    span: &std::ops::Range<usize>,
    list: &[Allowed],
) -> bool {
    let (start, end) = (line_start + span.start, line_start + span.end);
    list.iter().filter(|entry| entry.file == file).any(|entry| {
        text.match_indices(entry.phrase)
            .any(|(at, phrase)| at <= start && end <= at + phrase.len())
    })
}

/// The figures of `text` (the contents of `file`) that are neither in `backed` nor allowed.
/// Pure: the caller reads the files and renders the record.
pub fn unbacked(
    file: &str,
    text: &str,
    backed: &BTreeSet<String>,
    list: &[Allowed],
) -> Vec<Unbacked> {
    // Byte offset of each line in `text`, so that a phrase can be matched across lines.
    let mut offsets = vec![0];
    offsets.extend(text.match_indices('\n').map(|(at, _)| at + 1));
    let mut found = Vec::new();
    for (number, line) in prose_lines(text) {
        let line_start = offsets.get(number - 1).copied().unwrap_or(0);
        for figure in figures_in_line(&line) {
            let fine = figure.readings().any(|(reading, span)| {
                backed.contains(reading) || allowed(file, text, line_start, span, list)
            });
            if fine {
                continue;
            }
            found.push(Unbacked {
                file: file.to_owned(),
                line: number,
                figure: figure.text,
            });
        }
    }
    found
}

/// Every figure in some rendered markdown: what the record backs.
pub fn figures_of<'a>(rendered: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    rendered
        .into_iter()
        .flat_map(str::lines)
        .flat_map(figures_in_line)
        .map(|figure| figure.text)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(line: &str) -> Vec<String> {
        figures_in_line(line)
            .into_iter()
            .map(|figure| figure.text)
            .collect()
    }

    #[test]
    fn finds_times_rates_memory_and_ratios() {
        assert_eq!(
            texts("stage 1 costs 331 ns, stage 5 1.83 µs, and 94 us; 673 ms in all, 297 s of it"),
            ["331 ns", "1.83 µs", "94 µs", "673 ms", "297 s"]
        );
        assert_eq!(texts("41× faster, 1 302× faster"), ["41×", "1 302×"]);
        assert_eq!(
            texts("2 970 req/s and 97.8 MiB, 9.7 KiB"),
            ["2 970 req/s", "97.8 MiB", "9.7 KiB"]
        );
        assert_eq!(
            texts("540–670 ns, and 264 to 481 ns"),
            ["540 ns", "670 ns", "264 ns", "481 ns"]
        );
    }

    #[test]
    fn a_number_after_a_number_may_be_a_figure_of_its_own() {
        let backed = BTreeSet::from(["270 ns".to_owned()]);
        let text = "In the same run, stage 1 270 ns.\n";
        assert!(unbacked("stage-3.md", text, &backed, &[]).is_empty());
        assert_eq!(
            unbacked("stage-3.md", text, &BTreeSet::new(), &[])[0].figure,
            "1 270 ns"
        );
    }

    #[test]
    fn ignores_numbers_that_are_not_figures() {
        assert!(texts("10 samples, W2/Q100, stage-1 with 2 workers, N = 1 000 000").is_empty());
        assert!(texts("go1.19 and 3 seconds, 2 000 × 20, two 503s, 500ms").is_empty());
    }

    #[test]
    fn catches_a_figure_the_record_does_not_have() {
        let backed = BTreeSet::from(["331 ns".to_owned(), "41×".to_owned()]);
        let text = "Stage 1 costs 331 ns a job, and the tuned pool is 41× faster.\n\
                    Go costs 113 ns.\n";
        let found = unbacked("performance.md", text, &backed, &[]);
        assert_eq!(
            found,
            [Unbacked {
                file: "performance.md".to_owned(),
                line: 2,
                figure: "113 ns".to_owned()
            }]
        );
    }

    #[test]
    fn ignores_code_blocks_inline_code_and_includes() {
        let text = "```console\n$ run --delay 500ms\ntook 812 ms\n```\n\
                    Run `--timeout 700ms` and see:\n\
                    {{#include record/side-by-side.md}} 12 ns\n";
        assert!(unbacked("stage-3.md", text, &BTreeSet::new(), &[]).is_empty());
    }

    #[test]
    fn allows_parameters_by_chapter_and_phrase() {
        let list = [Allowed {
            file: "stage-2.md",
            phrase: "(500 ms by default)",
        }];
        let text = "Each job takes a while (500 ms by default).\nOne run took 500 ms.\n";
        let found = unbacked("stage-2.md", text, &BTreeSet::new(), &list);
        assert_eq!(
            found.len(),
            1,
            "only the measured 500 ms is unbacked: {found:?}"
        );
        assert_eq!(found[0].line, 2);
        // The same phrase in another chapter is not allowed there.
        assert_eq!(
            unbacked("stage-3.md", text, &BTreeSet::new(), &list).len(),
            2
        );
    }

    #[test]
    fn a_phrase_may_span_a_line_break() {
        let list = [Allowed {
            file: "performance.md",
            phrase: "stays near\n   20 ms",
        }];
        let text = "so that a run stays near\n   20 ms), which is fine\n";
        assert!(unbacked("performance.md", text, &BTreeSet::new(), &list).is_empty());
    }

    #[test]
    fn rendered_tables_back_their_figures() {
        let table = "| stage 1 | 331 ns | 41× faster |\n|---|---|---|\n";
        let backed = figures_of([table]);
        assert!(backed.contains("331 ns") && backed.contains("41×"));
    }
}
