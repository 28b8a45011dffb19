//! Finding measured figures in a text: a number followed by a unit of time, of rate or of memory
//! (`331 ns`, `1.83 µs`, `673 ms`, `297 s`, `2 970 req/s`, `97.8 MiB`, `9.7 KiB`) or a ratio
//! (`41×`).

use std::collections::BTreeSet;
use std::ops::Range;

/// Units that make a number a measured figure, longest first so that `ms` is not read as `m`.
const UNITS: [&str; 9] = ["req/s", "MiB", "KiB", "ns", "µs", "μs", "us", "ms", "s"];

/// A figure found in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Figure {
    /// The figure as the check compares it: `331 ns`, `1.83 µs`, `41×` (spaces and the micro
    /// sign normalised).
    pub text: String,
    /// Byte range of the figure in its text.
    pub span: Range<usize>,
    /// Where the unit that closes the figure's range ends: in "1.2–1.4× slower", both figures'
    /// unit ends before " slower".
    pub unit_end: usize,
    /// Other readings of the same words: "stage 1 270 ns" reads as "1 270 ns" first, and as
    /// "270 ns" too. The figure is backed if any reading is.
    pub shorter: Vec<(String, Range<usize>)>,
}

impl Figure {
    fn new(number: &str, unit: &str, span: Range<usize>, unit_end: usize) -> Figure {
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
            unit_end,
            shorter,
        }
    }

    /// The figure's readings, the whole first.
    pub fn readings(&self) -> impl Iterator<Item = (&str, &Range<usize>)> {
        std::iter::once((self.text.as_str(), &self.span)).chain(
            self.shorter
                .iter()
                .map(|(text, span)| (text.as_str(), span)),
        )
    }

    /// Whether the figure is a ratio (`41×`).
    pub fn is_ratio(&self) -> bool {
        self.text.ends_with('×')
    }
}

/// True for a character that may not stand right before a figure's number: a letter or digit
/// (`W2`, `Q100`, `go1.19`), a point, or a hyphen that joins words (`stage-1`).
fn joins_before(c: char) -> bool {
    c.is_alphanumeric() || c == '.' || c == '_' || c == '-' || c == '/'
}

/// The number that starts at `start` (digits, thousands grouped by single spaces, a decimal
/// part), as its end and its text.
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

/// The figures in a text. A range shares its unit: "540–670 ns" and "264 to 481 ns" are two
/// figures each.
pub fn figures_in(text: &str) -> Vec<Figure> {
    let mut figures = Vec::new();
    let mut pending: Vec<(Range<usize>, String)> = Vec::new();
    let mut index = 0;
    while index < text.len() {
        let Some(c) = text[index..].chars().next() else {
            break;
        };
        let starts_number =
            c.is_ascii_digit() && !text[..index].chars().next_back().is_some_and(joins_before);
        if !starts_number {
            index += c.len_utf8();
            continue;
        }
        let Some((end, number)) = number_at(text, index) else {
            index += 1;
            continue;
        };
        match unit_at(text, end) {
            Some((unit_end, unit)) => {
                for (span, number) in pending.drain(..) {
                    figures.push(Figure::new(&number, unit, span, unit_end));
                }
                figures.push(Figure::new(&number, unit, index..unit_end, unit_end));
                index = unit_end;
            }
            None => {
                let rest = &text[end..];
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

/// Every figure in some rendered markdown: what the record backs.
pub fn figures_of<'a>(rendered: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    rendered
        .into_iter()
        .flat_map(str::lines)
        .flat_map(figures_in)
        .map(|figure| figure.text)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(line: &str) -> Vec<String> {
        figures_in(line)
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
    fn a_range_of_ratios_shares_its_unit_and_its_direction() {
        let line = "1.2–1.4× slower";
        let found = figures_in(line);
        assert_eq!(found.len(), 2);
        assert!(
            found
                .iter()
                .all(|figure| &line[figure.unit_end..] == " slower")
        );
    }

    #[test]
    fn ignores_numbers_that_are_not_figures() {
        assert!(texts("10 samples, W2/Q100, stage-1 with 2 workers, N = 1 000 000").is_empty());
        assert!(texts("go1.19 and 3 seconds, 2 000 × 20, two 503s, 500ms").is_empty());
    }

    #[test]
    fn rendered_tables_back_their_figures() {
        let table =
            "| stage 1 | 331 ns<br><small>300–340 ns</small> | 41× faster |\n|---|---|---|\n";
        let backed = figures_of([table]);
        for figure in ["331 ns", "300 ns", "340 ns", "41×"] {
            assert!(backed.contains(figure), "{figure} in {backed:?}");
        }
    }
}
