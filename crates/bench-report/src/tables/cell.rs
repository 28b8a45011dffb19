//! A table's cell: a label, a dash, or a figure read in each run, written as the median across
//! the runs with the range beside it where the runs disagree (see [`crate::across_runs`]).

use crate::across_runs::{AcrossRuns, Reading};
use crate::format;

/// What a table's figures show beside the median.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spread {
    /// The lowest and highest run, where the runs disagree beyond their noise: the book's
    /// record.
    AcrossRuns,
    /// The fastest and slowest sample of the one run: a reader's own `target/criterion`.
    Samples,
}

/// What kind of figure a cell holds, which says how it is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantity {
    /// Nanoseconds.
    Duration,
    /// A time over a baseline's: "15× faster".
    Versus,
    /// A difference of times, ns: "+19.8 ns".
    Difference,
    /// Jobs a second.
    Count,
    /// A share: "93%".
    Percent,
    /// A plain ratio: "1.63".
    Ratio,
    /// Mebibytes.
    Mebibytes,
    /// Bytes, written as kibibytes.
    Kibibytes,
}

impl Quantity {
    fn write(self, value: f64) -> String {
        match self {
            Quantity::Duration => format::duration(value),
            Quantity::Versus => format::versus(value),
            Quantity::Difference => format::difference(value),
            Quantity::Count => format::count(value),
            Quantity::Percent => format::percent(value),
            Quantity::Ratio => format::ratio(value),
            Quantity::Mebibytes => format::mebibytes(value),
            Quantity::Kibibytes => format::kibibytes(value),
        }
    }

    fn write_range(self, low: f64, high: f64) -> String {
        match self {
            Quantity::Duration => format::duration_range(low, high),
            Quantity::Versus => format::versus_range(low, high),
            Quantity::Difference => format::difference_range(low, high),
            _ => format::plain_range(&self.write(low), &self.write(high)),
        }
    }

    /// The value at which a comparison changes direction, for the quantities that have one.
    fn pivot(self) -> Option<f64> {
        match self {
            Quantity::Versus => Some(1.0),
            Quantity::Difference => Some(0.0),
            _ => None,
        }
    }
}

/// How a figure's runs make the one value the cell shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregate {
    /// The median of the runs.
    Median,
    /// The lowest run: the fastest sample of all.
    Lowest,
    /// The highest run: the slowest sample of all.
    Highest,
}

/// A figure as each run that measured it reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// How it is written.
    pub quantity: Quantity,
    /// How the runs make one value.
    pub aggregate: Aggregate,
    /// One reading per run that measured it, oldest run first.
    pub readings: Vec<Reading>,
    /// For a comparison, the contender and its baseline, which the prose check pins a quoted
    /// ratio to.
    pub compared: Option<(String, String)>,
}

impl Figure {
    /// The figure across its runs.
    pub fn across_runs(&self) -> Option<AcrossRuns> {
        AcrossRuns::of(&self.readings)
    }

    /// The one value the cell shows.
    pub fn value(&self) -> f64 {
        self.across_runs()
            .map_or(f64::NAN, |runs| match self.aggregate {
                Aggregate::Median => runs.median,
                Aggregate::Lowest => runs.lowest,
                Aggregate::Highest => runs.highest,
            })
    }

    /// The value as the book writes it.
    pub fn text(&self) -> String {
        self.quantity.write(self.value())
    }

    /// The range beside the value, if the cell shows one: across the runs where they disagree
    /// beyond their noise, or where a comparison changes direction between them; or the one
    /// run's samples, for a time.
    pub fn range_text(&self, spread: Spread) -> Option<String> {
        if self.aggregate != Aggregate::Median {
            return None;
        }
        let (low, high) = match spread {
            Spread::AcrossRuns => {
                let runs = self.across_runs()?;
                let flips = self
                    .quantity
                    .pivot()
                    .is_some_and(|pivot| runs.crosses(pivot));
                if !runs.disagree && !flips {
                    return None;
                }
                (runs.lowest, runs.highest)
            }
            Spread::Samples => match self.readings.as_slice() {
                [one] if self.quantity == Quantity::Duration => one.samples?,
                _ => return None,
            },
        };
        let ends_differ = self.quantity.write(low) != self.quantity.write(high);
        ends_differ.then(|| self.quantity.write_range(low, high))
    }

    /// The comparisons a reader may quote from this figure, as the book writes them ("15×
    /// faster"): the median and, where the cell shows its range across runs, the range's ends.
    pub fn quotable(&self) -> Vec<String> {
        let mut quotes = vec![self.text()];
        if self.range_text(Spread::AcrossRuns).is_some()
            && let Some(runs) = self.across_runs()
        {
            quotes.push(self.quantity.write(runs.lowest));
            quotes.push(self.quantity.write(runs.highest));
        }
        quotes
    }
}

/// One cell of a table.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Text: a row's label or note.
    Text(String),
    /// Nothing to say (the first row has no row above it).
    Blank,
    /// A dash: the column does not apply to the row, or the record lacks the figure (then the
    /// table names what is missing).
    Dash,
    /// A measured figure.
    Figure(Figure),
}

impl Cell {
    /// The cell in a markdown table: a range goes under the figure, in small type, so that a
    /// grid of figures stays narrow enough to read at the book's width.
    pub fn to_markdown(&self, spread: Spread) -> String {
        match self {
            Cell::Figure(figure) => match figure.range_text(spread) {
                Some(range) => format!("{}<br><small>{range}</small>", figure.text()),
                None => figure.text(),
            },
            other => other.to_text(spread),
        }
    }

    /// The cell in a terminal: a range goes in brackets after the figure.
    pub fn to_text(&self, spread: Spread) -> String {
        match self {
            Cell::Text(text) => text.clone(),
            Cell::Blank => String::new(),
            Cell::Dash => "—".to_owned(),
            Cell::Figure(figure) => match figure.range_text(spread) {
                Some(range) => format!("{} ({range})", figure.text()),
                None => figure.text(),
            },
        }
    }
}
