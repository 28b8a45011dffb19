//! The prose of a markdown file, as the check reads it: its lines outside code blocks and
//! includes, and its sentences.
//!
//! Each line is kept in three forms of the same length, so that a position in one is a position
//! in the others and in the file: as written, with inline code blanked (where figures are read,
//! since a number in code is not a claim), and with only the backticks blanked (where names are
//! read, since the book writes `go-tuned` and `side-by-side` in code).

/// A line of prose.
#[derive(Debug, Clone, PartialEq)]
pub struct ProseLine {
    /// 1-based line number in the file.
    pub number: usize,
    /// Byte offset of the line in the file.
    pub offset: usize,
    /// The line as written.
    pub raw: String,
    /// Inline code blanked.
    pub prose: String,
    /// Backticks blanked, code kept.
    pub plain: String,
}

/// The lines of a markdown text that are prose: fenced code blocks and `{{#include}}` lines
/// left out.
pub fn prose_lines(markdown: &str) -> Vec<ProseLine> {
    let mut lines = Vec::new();
    let mut fence: Option<String> = None;
    let mut offset = 0;
    for (index, line) in markdown.split('\n').enumerate() {
        let line_offset = offset;
        offset += line.len() + 1;
        let line = line.strip_suffix('\r').unwrap_or(line);
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
        lines.push(ProseLine {
            number: index + 1,
            offset: line_offset,
            raw: line.to_owned(),
            prose: blank(line, true),
            plain: blank(line, false),
        });
    }
    lines
}

/// The line with its backticks blanked, and with the code between them too if `code`.
fn blank(line: &str, code: bool) -> String {
    let mut out = String::with_capacity(line.len());
    let mut in_code = false;
    for c in line.chars() {
        if c == '`' {
            in_code = !in_code;
            out.push(' ');
        } else if in_code && code {
            out.push_str(&" ".repeat(c.len_utf8()));
        } else {
            out.push(c);
        }
    }
    out
}

/// A sentence of prose, which may run over several lines.
#[derive(Debug, Clone, PartialEq)]
pub struct Sentence {
    /// As written (its lines joined by spaces).
    pub raw: String,
    /// Inline code blanked.
    pub prose: String,
    /// Backticks blanked, code kept.
    pub plain: String,
    /// Where each of its lines starts: (offset in the sentence, line number, offset in the file).
    starts: Vec<(usize, usize, usize)>,
}

impl Sentence {
    /// The line number and the file offset of a position in the sentence.
    pub fn locate(&self, at: usize) -> (usize, usize) {
        let (start, number, offset) = self
            .starts
            .iter()
            .rev()
            .find(|(start, _, _)| *start <= at)
            .copied()
            .unwrap_or((0, 0, 0));
        (number, offset + (at - start))
    }

    /// The texts of its inline code spans.
    pub fn code_spans(&self) -> Vec<&str> {
        self.raw.split('`').skip(1).step_by(2).collect()
    }
}

/// Whether a line starts a block of its own: a heading, a list item, a table row, a quote.
fn starts_block(line: &str) -> bool {
    let trimmed = line.trim_start();
    let numbered = trimmed.split_once(". ").is_some_and(|(number, _)| {
        !number.is_empty() && number.chars().all(|c| c.is_ascii_digit())
    });
    ["#", "- ", "* ", "|", ">"]
        .iter()
        .any(|marker| trimmed.starts_with(marker))
        || numbered
}

/// The sentences of a markdown text: its paragraphs (and list items, headings, table rows) cut
/// after each `.`, `?` or `!` that a space or the paragraph's end follows.
pub fn sentences(markdown: &str) -> Vec<Sentence> {
    let mut paragraphs: Vec<Vec<ProseLine>> = Vec::new();
    // The number of the last line that had text: a blank line, a code block or an include in
    // between ends the paragraph.
    let mut last_number = 0;
    for line in prose_lines(markdown) {
        if line.raw.trim().is_empty() {
            continue;
        }
        let continues = line.number == last_number + 1
            && !starts_block(&line.raw)
            && paragraphs.last().is_some_and(|paragraph| {
                paragraph
                    .last()
                    .is_some_and(|above| !above.raw.trim_start().starts_with(['#', '|']))
            });
        last_number = line.number;
        match paragraphs.last_mut() {
            Some(paragraph) if continues => paragraph.push(line),
            _ => paragraphs.push(vec![line]),
        }
    }
    paragraphs
        .iter()
        .flat_map(|lines| split_paragraph(lines))
        .collect()
}

fn split_paragraph(lines: &[ProseLine]) -> Vec<Sentence> {
    let mut whole = Sentence {
        raw: String::new(),
        prose: String::new(),
        plain: String::new(),
        starts: Vec::new(),
    };
    for line in lines {
        if !whole.raw.is_empty() {
            for text in [&mut whole.raw, &mut whole.prose, &mut whole.plain] {
                text.push(' ');
            }
        }
        whole
            .starts
            .push((whole.raw.len(), line.number, line.offset));
        whole.raw.push_str(&line.raw);
        whole.prose.push_str(&line.prose);
        whole.plain.push_str(&line.plain);
    }
    let bytes = whole.prose.as_bytes();
    let mut ends: Vec<usize> = (0..bytes.len())
        .filter(|at| matches!(bytes[*at], b'.' | b'?' | b'!'))
        .filter(|at| bytes.get(at + 1).is_none_or(|next| *next == b' '))
        .map(|at| at + 1)
        .collect();
    if ends.last() != Some(&bytes.len()) {
        ends.push(bytes.len());
    }
    let mut sentences = Vec::new();
    let mut start = 0;
    for end in ends {
        let piece = |text: &str| text[start..end].to_owned();
        // The line the sentence starts in, then each line that starts inside it.
        let mut starts: Vec<(usize, usize, usize)> = whole
            .starts
            .iter()
            .rev()
            .find(|(line_start, _, _)| *line_start <= start)
            .map(|(line_start, number, offset)| (0, *number, offset + (start - line_start)))
            .into_iter()
            .collect();
        starts.extend(
            whole
                .starts
                .iter()
                .filter(|(line_start, _, _)| (start + 1..end).contains(line_start))
                .map(|(line_start, number, offset)| (line_start - start, *number, *offset)),
        );
        sentences.push(Sentence {
            raw: piece(&whole.raw),
            prose: piece(&whole.prose),
            plain: piece(&whole.plain),
            starts,
        });
        start = end;
    }
    sentences
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_blocks_includes_and_inline_code_are_not_prose() {
        let text = "```console\n$ run --delay 500ms\n```\nRun `--timeout 700ms` now.\n\
                    {{#include record/side-by-side.md}}\n";
        let lines = prose_lines(text);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(lines[0].number, 4);
        assert!(!lines[0].prose.contains("700ms"));
        assert!(lines[0].plain.contains("--timeout 700ms"));
        assert_eq!(lines[0].prose.len(), lines[0].raw.len());
    }

    #[test]
    fn sentences_run_over_lines_and_end_at_a_full_stop() {
        let text = "Stage 1 costs 1.5 s. The tuned pool is\n15× faster than `stage-1`\n\nA new paragraph\n- A list item\n- another.\n";
        let found = sentences(text);
        let plain: Vec<&str> = found.iter().map(|sentence| sentence.plain.trim()).collect();
        assert_eq!(
            plain,
            [
                "Stage 1 costs 1.5 s.",
                "The tuned pool is 15× faster than  stage-1",
                "A new paragraph",
                "- A list item",
                "- another."
            ]
        );
        let second = &found[1];
        assert_eq!(second.code_spans(), ["stage-1"]);
        let at = second.raw.find("15×").expect("the figure");
        assert_eq!(
            second.locate(at),
            (2, text.find("15×").expect("in the file"))
        );
    }
}
