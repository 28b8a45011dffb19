//! The contenders a sentence names, and the words and clauses around them: what the comparison
//! check needs to tell which two things a sentence compares.

use std::ops::Range;

use crate::labels::PROSE_NAMES;

/// A contender's name found in a text.
#[derive(Debug, Clone, PartialEq)]
pub struct Name {
    /// Where the name starts.
    pub start: usize,
    /// Where it ends.
    pub end: usize,
    /// The contenders it names ("steps 1 and 2" names two).
    pub contenders: Vec<&'static str>,
}

impl Name {
    /// The contenders as the tables label them: "tuned pool, step 1 and tuned pool, step 2".
    pub fn labels(&self) -> String {
        self.contenders
            .iter()
            .map(|id| crate::labels::short_label(id).replace('`', ""))
            .collect::<Vec<_>>()
            .join(" and ")
    }
}

/// The two sides of a comparison word: the nearest name before it and the first name after a
/// `than` that follows it within three words, both in its clause.
pub struct Sides<'a> {
    /// What is compared.
    pub subject: Option<&'a Name>,
    /// What it is compared with.
    pub object: Option<&'a Name>,
}

/// The sides of the comparison word at `word` in `text`, among `names` (those of `text`).
pub fn sides<'a>(text: &str, names: &'a [Name], word: Range<usize>) -> Sides<'a> {
    let clause = clause_around(text, word.start);
    let subject = names
        .iter()
        .rev()
        .find(|name| name.start >= clause.start && name.end <= word.start);
    let than = words(&text[word.end..])
        .into_iter()
        .take(3)
        .find(|(_, candidate)| *candidate == "than")
        .map(|(at, _)| word.end + at + "than".len());
    let object = than.and_then(|than| {
        names
            .iter()
            .find(|name| name.start >= than && name.end <= clause.end)
    });
    Sides { subject, object }
}

/// Where a clause ends: the check looks for the two sides of a comparison inside one.
fn ends_clause(c: char) -> bool {
    matches!(c, ',' | ';' | ':' | '(' | ')' | '—')
}

/// The clause of `text` that holds `at`.
fn clause_around(text: &str, at: usize) -> Range<usize> {
    let start = text[..at].rfind(ends_clause).map_or(0, |index| index + 1);
    let end = text[at..]
        .find(ends_clause)
        .map_or(text.len(), |index| at + index);
    start..end
}

/// The words of a text (letters, digits and apostrophes), with where each starts.
pub fn words(text: &str) -> Vec<(usize, &str)> {
    let mut found = Vec::new();
    let mut start = None;
    for (at, c) in text.char_indices() {
        let inside = c.is_alphanumeric() || c == '\'';
        match (inside, start) {
            (true, None) => start = Some(at),
            (false, Some(begun)) => {
                found.push((begun, &text[begun..at]));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(begun) = start {
        found.push((begun, &text[begun..]));
    }
    found
}

/// Every contender named in `text`, left to right, the longest name at each place.
pub fn names_in(text: &str) -> Vec<Name> {
    let joins = |c: char| c.is_alphanumeric() || c == '_' || c == '-';
    let mut found = Vec::new();
    let mut at = 0;
    while at < text.len() {
        let starts_word = !text[..at].chars().next_back().is_some_and(joins);
        let longest = PROSE_NAMES
            .iter()
            .filter(|_| starts_word)
            .filter_map(|(name, contenders)| Some((name_at(text, at, name)?, *contenders)))
            .filter(|(end, _)| !text[*end..].chars().next().is_some_and(joins))
            .max_by_key(|(end, _)| *end);
        match longest {
            Some((end, contenders)) => {
                found.push(Name {
                    start: at,
                    end,
                    contenders: contenders.to_vec(),
                });
                at = end;
            }
            None => at += text[at..].chars().next().map_or(1, char::len_utf8),
        }
    }
    found
}

/// Where `name` ends if it is written at `at`: its words apart by any run of spaces (the
/// backticks of inline code leave two), its first letter in either case.
fn name_at(text: &str, at: usize, name: &str) -> Option<usize> {
    let mut end = at;
    for (index, word) in name.split(' ').enumerate() {
        if index > 0 {
            let rest = &text[end..];
            let gap = rest.len() - rest.trim_start().len();
            if gap == 0 {
                return None;
            }
            end += gap;
        }
        let rest = &text[end..];
        let capitalised = || {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_uppercase().chain(chars).collect::<String>())
        };
        let fits = rest.starts_with(word)
            || (index == 0 && capitalised().is_some_and(|word| rest.starts_with(&word)));
        if !fits {
            return None;
        }
        end += word.len();
    }
    Some(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(text: &str) -> Vec<(&str, Vec<&'static str>)> {
        names_in(text)
            .into_iter()
            .map(|name| (&text[name.start..name.end], name.contenders))
            .collect()
    }

    #[test]
    fn the_longest_name_wins_and_a_name_is_a_whole_word() {
        assert_eq!(
            named("Go's tuned program beat Go, and stage 10 is not stage 1."),
            [
                ("Go's tuned program", vec!["go-tuned"]),
                ("Go", vec!["go-reference"]),
                ("stage 1", vec!["stage-1-basic"]),
            ]
        );
        assert_eq!(
            named("Steps 1 and 2 beat the  mpsc  pool; they go to sleep."),
            [
                (
                    "Steps 1 and 2",
                    vec![
                        "fast-pool-step-1-batched-jobs",
                        "fast-pool-step-2-local-results"
                    ]
                ),
                ("the  mpsc  pool", vec!["peer-mpsc-mutex"]),
            ]
        );
    }

    #[test]
    fn the_sides_of_a_comparison_are_in_its_clause() {
        let text = "Here, stage 3 came out cheaper than stage 2 in both, though Go did not.";
        let names = names_in(text);
        let at = text.find("cheaper").expect("the word");
        let found = sides(text, &names, at..at + "cheaper".len());
        assert_eq!(found.subject.map(Name::labels).as_deref(), Some("stage 3"));
        assert_eq!(found.object.map(Name::labels).as_deref(), Some("stage 2"));
        let text = "Stage 1 came out ahead (Go 1.7× slower), here.";
        let names = names_in(text);
        let at = text.find("slower").expect("the word");
        let found = sides(text, &names, at..at + "slower".len());
        assert_eq!(found.subject.map(Name::labels).as_deref(), Some("Go"));
        assert!(found.object.is_none(), "no `than`");
    }
}
