//! The side-by-side chart: every contender's time per job as a horizontal bar, fastest at the
//! top, on a logarithmic axis. Criterion's own chart of the group plots time per run, which
//! makes a contender that ran fewer jobs (a thread per job) look cheap, and squeezes the
//! sub-nanosecond peers to nothing next to the microsecond ones; per job on a log scale, every
//! contender can be read, whatever N it ran.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::format;
use crate::record::{Point, Record};
use crate::tables::{short_label, usual_elements};

/// Height of one bar's row, in pixels.
const ROW: u32 = 32;
/// Room on the left for the contenders' names.
const NAMES: u32 = 260;

/// The chart as an SVG document, or `None` if the record has no point in the group.
pub fn side_by_side(record: &Record) -> Result<Option<String>, String> {
    let mut points: Vec<&Point> = record
        .points
        .iter()
        .filter(|point| point.group == "side-by-side" && point.median_ns > 0.0)
        .collect();
    if points.is_empty() {
        return Ok(None);
    }
    points.sort_by(|a, b| a.per_job().total_cmp(&b.per_job()));
    let usual = usual_elements(&points);
    let labels: Vec<String> = points
        .iter()
        .map(|point| {
            let mut label = short_label(point.contender()).replace('`', "");
            if Some(point.elements) != usual {
                label.push_str(&format!(
                    " (N = {})",
                    format::group_thousands(&point.elements.to_string())
                ));
            }
            label
        })
        .collect();
    let fastest = points.first().map_or(1.0, |point| point.per_job());
    let slowest = points.last().map_or(1.0, |point| point.per_job());
    // Whole decades around the data, and one more on the right for the figures at the bars' ends.
    let low = 10f64.powf(fastest.log10().floor());
    let high = 10f64.powf(slowest.log10().ceil() + 1.0);

    let rows = points.len() as u32;
    let size = (960, 90 + ROW * rows + 60);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        let drawn = draw(&root, &points, &labels, low..high);
        drawn.map_err(|error| format!("cannot draw the side-by-side chart: {error}"))?;
    }
    Ok(Some(svg))
}

fn draw(
    root: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    points: &[&Point],
    labels: &[String],
    range: std::ops::Range<f64>,
) -> Result<(), String> {
    let error = |error: DrawingAreaErrorKind<_>| error.to_string();
    root.fill(&WHITE).map_err(error)?;
    let rows = points.len() as f64;
    let mut chart = ChartBuilder::on(root)
        .caption(
            "side-by-side: time per job (log scale), fastest first",
            ("sans-serif", 24),
        )
        .margin(10)
        .margin_left(NAMES)
        .x_label_area_size(50)
        .build_cartesian_2d(range.clone().log_scale(), rows..0.0)
        .map_err(error)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .light_line_style(WHITE)
        .x_label_style(("sans-serif", 18))
        .axis_desc_style(("sans-serif", 18))
        .x_desc("time per job")
        .x_label_formatter(&|nanos| format::duration(*nanos))
        .draw()
        .map_err(error)?;
    chart
        .draw_series(points.iter().enumerate().map(|(index, point)| {
            let top = index as f64 + 0.2;
            Rectangle::new(
                [(range.start, top), (point.per_job(), top + 0.6)],
                BLUE.mix(0.6).filled(),
            )
        }))
        .map_err(error)?;
    let figure = TextStyle::from(("sans-serif", 17)).pos(Pos::new(HPos::Left, VPos::Center));
    chart
        .draw_series(points.iter().enumerate().map(|(index, point)| {
            Text::new(
                format::duration(point.per_job()),
                (point.per_job() * 1.15, index as f64 + 0.5),
                figure.clone(),
            )
        }))
        .map_err(error)?;
    // The names go left of the plotting area, where the mesh would put y labels, each at its
    // bar's height.
    let name = TextStyle::from(("sans-serif", 18)).pos(Pos::new(HPos::Right, VPos::Center));
    for (index, label) in labels.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(range.start, index as f64 + 0.5));
        root.draw(&Text::new(label.clone(), (x - 8, y), name.clone()))
            .map_err(error)?;
    }
    root.present().map_err(error)?;
    Ok(())
}
