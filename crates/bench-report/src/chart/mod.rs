//! The side-by-side chart: every contender's time per job as a horizontal bar, fastest at the
//! top, on a logarithmic axis, coloured by family, with the range across the runs as a whisker.
//! Criterion's own chart of the group plots time per iteration, which makes a contender that ran
//! fewer jobs (a thread per job) look cheap, and squeezes the sub-nanosecond peers to nothing next
//! to the microsecond ones; per job on a log scale, every contender can be read, whatever N it ran.
//!
//! Every text is placed from an estimate of its width that errs wide (see [`text_width`]), so
//! that no label runs off the picture; a test reads the SVG back and holds it to that.

use std::collections::BTreeSet;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::across_runs::{AcrossRuns, Reading};
use crate::format;
use crate::labels::{self, Family};
use crate::record::Record;
use crate::render::RENDERED_SVG_NOTICE;
use crate::run::Point;

/// The picture's width; the book scales it to its column.
const WIDTH: u32 = 960;
/// Height of one bar's row.
const ROW: u32 = 34;
/// Room around the picture's edges and between its parts.
const PAD: u32 = 12;
/// Type sizes, as given to plotters (which writes them 1.24 times smaller into the SVG).
const TITLE_FONT: f64 = 27.0;
const TEXT_FONT: f64 = 21.0;
/// Height of one line of the title or the legend.
const LINE: u32 = 32;
/// Room under the plot for the axis's labels and its description.
const AXIS: u32 = 64;
/// Where a bar's figure starts, as a factor of the bar's (or its whisker's) end.
const FIGURE_GAP: f64 = 1.15;

/// The colour of each family: Okabe and Ito's palette, which reads for colour-blind eyes too.
fn colour(family: Family) -> RGBColor {
    match family {
        Family::RustStage => RGBColor(0xD5, 0x5E, 0x00),
        Family::TunedPool => RGBColor(0x00, 0x9E, 0x73),
        Family::Peer => RGBColor(0xCC, 0x79, 0xA7),
        Family::GoProgram => RGBColor(0x00, 0x72, 0xB2),
    }
}

/// A width for `text` at `font_px` that is at least what a browser's sans-serif takes: per
/// character, the widths of DejaVu Sans (the widest common sans-serif) rounded up.
pub fn text_width(text: &str, font_px: f64) -> f64 {
    let em: f64 = text
        .chars()
        .map(|c| match c {
            ' ' | 'i' | 'j' | 'l' | 'I' | '.' | ',' | ':' | ';' | '\'' | '|' | '!' => 0.34,
            'f' | 'r' | 't' | '(' | ')' | '[' | ']' | '`' | '-' => 0.46,
            'm' | 'w' | 'M' | 'W' | '—' => 1.0,
            '=' | '+' | '×' | '<' | '>' => 0.84,
            c if c.is_ascii_uppercase() => 0.8,
            _ => 0.65,
        })
        .sum();
    em * font_px
}

/// One contender's bar.
struct Bar {
    label: String,
    family: Family,
    runs: AcrossRuns,
}

/// The chart as an SVG document, or `None` if the record has no point in the group.
pub fn side_by_side(record: &Record) -> Result<Option<String>, String> {
    let group: Vec<&Point> = record
        .every_point()
        .filter(|point| point.group == "side-by-side" && point.median_ns > 0.0)
        .collect();
    let most_common = labels::most_common_job_count(group.iter().copied());
    let ids: BTreeSet<&str> = group.iter().map(|point| point.id.as_str()).collect();
    let mut bars: Vec<Bar> = Vec::new();
    for id in ids {
        let points: Vec<&Point> = record.point_in_each_run(id).flatten().collect();
        let readings: Vec<Reading> = points
            .iter()
            .map(|point| Reading::exact(point.per_job()))
            .collect();
        let (Some(point), Some(runs)) = (points.first(), AcrossRuns::of(&readings)) else {
            continue;
        };
        let mut label = labels::short_label(&point.contender).replace('`', "");
        if let Some(note) = labels::unusual_job_count(point, most_common) {
            label.push_str(&format!(" ({note})"));
        }
        bars.push(Bar {
            label,
            family: labels::family(&point.contender),
            runs,
        });
    }
    if bars.is_empty() {
        return Ok(None);
    }
    bars.sort_by(|a, b| a.runs.median.total_cmp(&b.runs.median));
    let layout = Layout::new(&bars, record.runs.len());
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, layout.height)).into_drawing_area();
        draw(&root, &bars, &layout)
            .map_err(|error| format!("cannot draw the side-by-side chart: {error}"))?;
    }
    Ok(Some(format!("{RENDERED_SVG_NOTICE}\n{svg}")))
}

/// An entry of the legend: a family's colour and name, or a line on how to read the bars.
struct LegendEntry {
    x: u32,
    y: u32,
    family: Option<Family>,
    text: String,
}

/// Where everything goes, worked out before anything is drawn.
struct Layout {
    height: u32,
    legend: Vec<LegendEntry>,
    plot_left: u32,
    plot_right: u32,
    plot_top: u32,
    /// The axis's range, whole decades.
    low: f64,
    high: f64,
    /// Whether the bars have whiskers: the record holds several runs.
    whiskers: bool,
}

/// The swatch before a family's name in the legend, and the room after it.
const SWATCH: u32 = 16;

impl Layout {
    fn new(bars: &[Bar], runs: usize) -> Layout {
        let whiskers = runs > 1;
        let legend = legend(bars, runs);
        let legend_bottom = legend.iter().map(|entry| entry.y).max().unwrap_or(PAD) + LINE;
        let plot_top = legend_bottom + PAD;
        let names = bars
            .iter()
            .map(|bar| text_width(&bar.label, TEXT_FONT))
            .fold(0.0, f64::max);
        let plot_left = names.ceil() as u32 + 2 * PAD;
        // A tick label is centred on its tick: the last one needs half its width to the right.
        let plot_right = WIDTH - (text_width("100 µs", TEXT_FONT) / 2.0).ceil() as u32 - PAD;
        let fastest = bars
            .iter()
            .map(|bar| bar.runs.lowest)
            .fold(f64::INFINITY, f64::min);
        let low = 10f64.powf(fastest.log10().floor());
        let mut layout = Layout {
            height: plot_top + ROW * bars.len() as u32 + AXIS + PAD,
            legend,
            plot_left,
            plot_right,
            plot_top,
            low,
            high: low * 10.0,
            whiskers,
        };
        // The smallest whole decade on the right that leaves room for every bar's figure.
        while layout.high < 1e12 && !bars.iter().all(|bar| layout.figure_fits(bar)) {
            layout.high *= 10.0;
        }
        layout
    }

    /// The pixel column of a time on the axis.
    fn x(&self, nanos: f64) -> f64 {
        let share = (nanos.log10() - self.low.log10()) / (self.high.log10() - self.low.log10());
        f64::from(self.plot_left) + share * f64::from(self.plot_right - self.plot_left)
    }

    /// Where a bar's figure starts: past the bar and its whisker.
    fn figure_at(&self, bar: &Bar) -> f64 {
        let end = if self.whiskers {
            bar.runs.highest
        } else {
            bar.runs.median
        };
        end.max(bar.runs.median) * FIGURE_GAP
    }

    fn figure_fits(&self, bar: &Bar) -> bool {
        let text = format::duration(bar.runs.median);
        self.x(self.figure_at(bar)) + text_width(&text, TEXT_FONT) <= f64::from(self.plot_right)
    }
}

/// The legend's entries, wrapped to the picture's width: each family that has a bar, then how
/// to read a bar.
fn legend(bars: &[Bar], runs: usize) -> Vec<LegendEntry> {
    let how_to_read = if runs > 1 {
        format!("bar: median of {runs} runs; whisker: lowest to highest run")
    } else {
        "bar: the median of one run".to_owned()
    };
    let mut entries: Vec<(Option<Family>, String)> = Family::ALL
        .into_iter()
        .filter(|family| bars.iter().any(|bar| bar.family == *family))
        .map(|family| (Some(family), family.name().to_owned()))
        .collect();
    entries.push((None, how_to_read));
    let mut placed = Vec::new();
    let (mut x, mut y) = (PAD, PAD + LINE);
    for (family, text) in entries {
        let swatch = if family.is_some() {
            SWATCH + PAD / 2
        } else {
            0
        };
        let width = swatch + text_width(&text, TEXT_FONT).ceil() as u32;
        if x > PAD && x + width > WIDTH - PAD {
            (x, y) = (PAD, y + LINE);
        }
        placed.push(LegendEntry { x, y, family, text });
        x += width + 2 * PAD;
    }
    placed
}

fn draw(
    root: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    bars: &[Bar],
    layout: &Layout,
) -> Result<(), String> {
    let error = |error: DrawingAreaErrorKind<_>| error.to_string();
    let text =
        |size: f64, h: HPos, v: VPos| TextStyle::from(("sans-serif", size)).pos(Pos::new(h, v));
    root.fill(&WHITE).map_err(error)?;
    root.draw(&Text::new(
        "side-by-side: time per job at W = 2, Q = 100, fastest first",
        (PAD as i32, PAD as i32),
        text(TITLE_FONT, HPos::Left, VPos::Top),
    ))
    .map_err(error)?;
    for entry in &layout.legend {
        let (x, y) = (entry.x as i32, entry.y as i32);
        let mut text_x = x;
        if let Some(family) = entry.family {
            let half = SWATCH as i32 / 2;
            root.draw(&Rectangle::new(
                [(x, y - half), (x + SWATCH as i32, y + half)],
                colour(family).filled(),
            ))
            .map_err(error)?;
            text_x += (SWATCH + PAD / 2) as i32;
        }
        root.draw(&Text::new(
            entry.text.clone(),
            (text_x, y),
            text(TEXT_FONT, HPos::Left, VPos::Center),
        ))
        .map_err(error)?;
    }
    let rows = bars.len() as f64;
    let mut chart = ChartBuilder::on(root)
        .margin_top(layout.plot_top)
        .margin_bottom(PAD)
        .margin_left(layout.plot_left)
        .margin_right(WIDTH - layout.plot_right)
        .x_label_area_size(AXIS)
        .build_cartesian_2d((layout.low..layout.high).log_scale(), rows..0.0)
        .map_err(error)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .bold_line_style(RGBColor(0xDD, 0xDD, 0xDD))
        .light_line_style(WHITE)
        .x_label_style(("sans-serif", TEXT_FONT))
        .axis_desc_style(("sans-serif", TEXT_FONT))
        .x_desc("time per job (log scale)")
        .x_label_formatter(&|nanos| format::duration(*nanos))
        .draw()
        .map_err(error)?;
    for (index, bar) in bars.iter().enumerate() {
        let middle = index as f64 + 0.5;
        chart
            .draw_series([Rectangle::new(
                [
                    (layout.low, middle - 0.32),
                    (bar.runs.median, middle + 0.32),
                ],
                colour(bar.family).filled(),
            )])
            .map_err(error)?;
        if layout.whiskers && bar.runs.highest > bar.runs.lowest {
            let whisker = ShapeStyle::from(&BLACK).stroke_width(2);
            let (low, high) = (bar.runs.lowest, bar.runs.highest);
            chart
                .draw_series([
                    PathElement::new(vec![(low, middle), (high, middle)], whisker),
                    PathElement::new(vec![(low, middle - 0.2), (low, middle + 0.2)], whisker),
                    PathElement::new(vec![(high, middle - 0.2), (high, middle + 0.2)], whisker),
                ])
                .map_err(error)?;
        }
        chart
            .draw_series([Text::new(
                format::duration(bar.runs.median),
                (layout.figure_at(bar), middle),
                text(TEXT_FONT, HPos::Left, VPos::Center),
            )])
            .map_err(error)?;
        // The names go left of the plotting area, where the mesh would put y labels.
        let (x, y) = chart.backend_coord(&(layout.low, middle));
        root.draw(&Text::new(
            bar.label.clone(),
            (x - PAD as i32, y),
            text(TEXT_FONT, HPos::Right, VPos::Center),
        ))
        .map_err(error)?;
    }
    root.present().map_err(error)?;
    Ok(())
}

#[cfg(test)]
mod tests;
