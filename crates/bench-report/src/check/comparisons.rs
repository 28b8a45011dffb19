//! The comparisons of a sentence, held to every run of the record (the rule is in the module
//! above).

use std::collections::BTreeSet;

use super::allowed::{Allowed, allowed};
use super::figures::figures_in;
use super::markdown::Sentence;
use super::names::{Name, names_in, sides, words};
use super::{Backing, Finding, Kind};
use crate::tables::Figure;

/// Which way a comparison goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    /// Less time per job than the other.
    Faster,
    /// More time per job than the other.
    Slower,
}

impl Direction {
    /// The word the tables write it with.
    fn word(self) -> &'static str {
        match self {
            Direction::Faster => "faster",
            Direction::Slower => "slower",
        }
    }

    /// Whether a time over its baseline's goes this way (the tables call a tie faster).
    fn holds(self, time_ratio: f64) -> bool {
        match self {
            Direction::Faster => time_ratio <= 1.0,
            Direction::Slower => time_ratio > 1.0,
        }
    }
}

/// The words of a comparison, and the way each goes.
const COMPARING: [(&str, Direction); 4] = [
    ("faster", Direction::Faster),
    ("slower", Direction::Slower),
    ("cheaper", Direction::Faster),
    ("dearer", Direction::Slower),
];

/// The words by which a sentence says that the runs disagree.
const VARIES: [&str; 4] = ["vary", "varies", "varied", "varying"];

/// Words that, just before a comparison, deny it: "no faster than" is not a claim the check
/// can hold either way.
const DENIALS: [&str; 3] = ["no", "not", "never"];

/// A comparison a table renders: what may be quoted from it, and its ratio in each run.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedComparison {
    /// As the table writes it: "15× faster", and the ends of its range where it shows one.
    pub quotes: Vec<String>,
    /// The contender's time over the baseline's, in each run that measured both.
    pub time_ratios: Vec<f64>,
    /// The contender and the baseline.
    pub compared: Option<(String, String)>,
}

impl RecordedComparison {
    /// The comparison a `vs …` figure makes.
    pub fn of(figure: &Figure) -> RecordedComparison {
        RecordedComparison {
            quotes: figure.quotable(),
            time_ratios: figure
                .readings
                .iter()
                .map(|reading| reading.value)
                .collect(),
            compared: figure.compared.clone(),
        }
    }

    /// This comparison seen from `subject`, turned round if the table has `subject` as the
    /// baseline ("1.7× faster" of stage 1 against Go is "1.7× slower" of Go against stage 1),
    /// with the other side; `None` if `subject` is neither side.
    fn seen_from(&self, subject: &str) -> Option<(RecordedComparison, String)> {
        let (contender, baseline) = self.compared.as_ref()?;
        if contender == subject {
            return Some((self.clone(), baseline.clone()));
        }
        if baseline != subject {
            return None;
        }
        let turned = |quote: &String| match quote.split_once(' ') {
            Some((figure, "faster")) => format!("{figure} slower"),
            Some((figure, "slower")) => format!("{figure} faster"),
            _ => quote.clone(),
        };
        let seen = RecordedComparison {
            quotes: self.quotes.iter().map(turned).collect(),
            time_ratios: self.time_ratios.iter().map(|ratio| 1.0 / ratio).collect(),
            compared: Some((baseline.clone(), contender.clone())),
        };
        Some((seen, contender.clone()))
    }
}

/// How many of the runs that measured a comparison it holds in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tally {
    holding: usize,
    runs: usize,
}

impl Tally {
    fn of(direction: Direction, time_ratios: impl IntoIterator<Item = f64>) -> Tally {
        let (mut holding, mut runs) = (0, 0);
        for ratio in time_ratios {
            runs += 1;
            holding += usize::from(direction.holds(ratio));
        }
        Tally { holding, runs }
    }

    fn everywhere(self) -> bool {
        self.runs > 0 && self.holding == self.runs
    }

    /// The tally that backs a claim best: one that holds everywhere, or else in most runs.
    fn best(tallies: impl IntoIterator<Item = Tally>) -> Option<Tally> {
        tallies
            .into_iter()
            .max_by_key(|tally| (tally.everywhere(), tally.holding))
    }
}

/// What is wrong with a claim whose best backing is `best`, if anything.
fn judge(claim: &str, best: Tally, says_it_varies: bool) -> Option<String> {
    if best.everywhere() {
        None
    } else if best.holding == 0 {
        Some(format!("{claim} holds in no run of the record"))
    } else if says_it_varies {
        None
    } else {
        Some(format!(
            "{claim} holds in {} of {} runs: say that it varies",
            best.holding, best.runs
        ))
    }
}

/// Every comparison of `sentence` (of `file`, whose whole text is `text`) that the record does
/// not back, or that does not hold in every run and does not say so.
pub fn check_sentence(
    file: &str,
    text: &str,
    sentence: &Sentence,
    backing: &Backing<'_>,
    allowed_phrases: &[Allowed],
) -> Vec<Finding> {
    let says_it_varies = words(&sentence.plain)
        .into_iter()
        .any(|(_, word)| VARIES.contains(&word.to_lowercase().as_str()));
    let names = names_in(&sentence.plain);
    let mut found = Vec::new();
    for (at, word, direction) in comparison_words(&sentence.plain) {
        let sides = sides(&sentence.plain, &names, at..at + word.len());
        // A ratio right before the word ("15× faster"), or two ("1.2–1.4× slower").
        let ratios: Vec<_> = figures_in(&sentence.prose)
            .into_iter()
            .filter(|figure| figure.is_ratio() && figure.unit_end <= at)
            .filter(|figure| sentence.prose[figure.unit_end..at].trim().is_empty())
            .collect();
        let mut messages = Vec::new();
        for figure in &ratios {
            let (_, start) = sentence.locate(figure.span.start);
            let end = start + figure.span.len();
            // A figure the record does not render at all is the figure rule's to report.
            if allowed(file, text, start, end, allowed_phrases)
                || !backing.figures.contains(&figure.text)
            {
                continue;
            }
            let quote = format!("{} {}", figure.text, direction.word());
            messages.extend(quoted_ratio(
                backing,
                &quote,
                sides.subject,
                sides.object,
                says_it_varies,
            ));
        }
        if let (true, Some(subject), Some(object)) =
            (ratios.is_empty(), sides.subject, sides.object)
        {
            let groups: BTreeSet<&str> = sentence
                .code_spans()
                .into_iter()
                .filter(|span| backing.record.has_group(span))
                .collect();
            messages.extend(named_pair(
                backing,
                subject,
                object,
                direction,
                &groups,
                says_it_varies,
            ));
        }
        found.extend(messages.into_iter().map(|message| Finding {
            file: file.to_owned(),
            line: sentence.locate(at).0,
            kind: Kind::Comparison,
            message,
        }));
    }
    found
}

/// The comparison words of a text that are claims: where each is, the word, its direction.
fn comparison_words(text: &str) -> Vec<(usize, &str, Direction)> {
    let all = words(text);
    all.iter()
        .enumerate()
        .filter_map(|(index, (at, word))| {
            let (_, direction) = COMPARING
                .iter()
                .find(|(comparing, _)| word.eq_ignore_ascii_case(comparing))?;
            let denied = all[index.saturating_sub(2)..index]
                .iter()
                .any(|(_, before)| {
                    DENIALS.contains(&before.to_lowercase().as_str()) || before.ends_with("n't")
                });
            (!denied).then_some((*at, *word, *direction))
        })
        .collect()
}

/// A quoted ratio, `quote` ("15× faster"), against the comparisons the record renders. Where the
/// sentence names both sides ("A is 15× faster than B"), against A's: those with B if one of them
/// renders the quote, else the others (the prose may call a contender loosely, "Go" for the Go
/// client); where it does not, or the tables do not compare A, against any comparison.
fn quoted_ratio(
    backing: &Backing<'_>,
    quote: &str,
    subject: Option<&Name>,
    object: Option<&Name>,
    says_it_varies: bool,
) -> Option<String> {
    // Without a `than`, the nearest name before a ratio is often not what the ratio is of
    // ("takes stage 1 and makes it 15× faster").
    let subject = subject.filter(|_| object.is_some());
    let direction = if quote.ends_with("faster") {
        Direction::Faster
    } else {
        Direction::Slower
    };
    let quotes_it = |comparison: &RecordedComparison| comparison.quotes.iter().any(|q| q == quote);
    let of_subject: Vec<(RecordedComparison, String)> = subject
        .iter()
        .flat_map(|name| name.contenders.iter())
        .flat_map(|contender| {
            backing
                .comparisons
                .iter()
                .filter_map(move |comparison| comparison.seen_from(contender))
        })
        .collect();
    let with_object: Vec<&RecordedComparison> = of_subject
        .iter()
        .filter(|(comparison, other)| {
            quotes_it(comparison)
                && object.is_some_and(|object| object.contenders.contains(&other.as_str()))
        })
        .map(|(comparison, _)| comparison)
        .collect();
    let candidates: Vec<&RecordedComparison> = if !with_object.is_empty() {
        with_object
    } else if !of_subject.is_empty() {
        of_subject
            .iter()
            .map(|(comparison, _)| comparison)
            .collect()
    } else {
        backing.comparisons.iter().collect()
    };
    let tallies = candidates
        .into_iter()
        .filter(|comparison| quotes_it(comparison))
        .map(|comparison| Tally::of(direction, comparison.time_ratios.iter().copied()));
    match (Tally::best(tallies), subject) {
        (Some(best), _) => judge(&format!("\"{quote}\""), best, says_it_varies),
        (None, Some(subject)) if !of_subject.is_empty() => Some(format!(
            "\"{quote}\" is not how the record compares {}",
            subject.labels()
        )),
        (None, _) => Some(format!("\"{quote}\" is not a comparison of the record")),
    }
}

/// A comparison of two named contenders without a ratio, against every point where the record
/// measures them side by side (the same group and parameter), in `groups` if any are named.
fn named_pair(
    backing: &Backing<'_>,
    subject: &Name,
    object: &Name,
    direction: Direction,
    groups: &BTreeSet<&str>,
    says_it_varies: bool,
) -> Option<String> {
    let pairs = subject.contenders.iter().flat_map(|mine| {
        object
            .contenders
            .iter()
            .filter(move |theirs| theirs != &mine)
            .map(move |theirs| (*mine, *theirs))
    });
    let mut messages = Vec::new();
    for (mine, theirs) in pairs {
        let claim = format!(
            "\"{} {} than {}\"",
            crate::labels::short_label(mine).replace('`', ""),
            direction.word(),
            crate::labels::short_label(theirs).replace('`', "")
        );
        let tallies = side_by_side(backing, mine, theirs, groups, direction);
        match Tally::best(tallies) {
            Some(best) => messages.extend(judge(&claim, best, says_it_varies)),
            None => messages.push(format!(
                "{claim}: the record never measures the two side by side"
            )),
        }
    }
    (!messages.is_empty()).then(|| messages.join("; "))
}

/// For each point where the record measures `mine` beside `theirs`, in `groups` if any are
/// named: how many runs have the claim hold.
fn side_by_side(
    backing: &Backing<'_>,
    mine: &str,
    theirs: &str,
    groups: &BTreeSet<&str>,
    direction: Direction,
) -> Vec<Tally> {
    let record = backing.record;
    let pairs: BTreeSet<(&str, String)> = record
        .every_point()
        .filter(|point| point.contender == mine)
        .filter(|point| groups.is_empty() || groups.contains(point.group.as_str()))
        .map(|point| {
            let counterpart = match &point.parameter {
                Some(parameter) => format!("{}/{theirs}/{parameter}", point.group),
                None => format!("{}/{theirs}", point.group),
            };
            (point.id.as_str(), counterpart)
        })
        .collect();
    pairs
        .iter()
        .map(|(mine, theirs)| {
            let ratios = record
                .runs
                .iter()
                .filter_map(|run| Some(run.point(mine)?.per_job() / run.point(theirs)?.per_job()));
            Tally::of(direction, ratios)
        })
        .filter(|tally| tally.runs > 0)
        .collect()
}
