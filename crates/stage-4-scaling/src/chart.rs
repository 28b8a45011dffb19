//! `--chart FILE.svg`: the pool's size and queue depth over the run, drawn with plotters.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::autoscaler::Sample;

/// Draws the samples as two panels, queue depth above and workers below, into an SVG file.
pub fn draw(samples: &[Sample], max_workers: usize, path: &Path) -> Result<(), String> {
    let root = SVGBackend::new(path, (800, 480)).into_drawing_area();
    let drawn = root
        .fill(&WHITE)
        .map_err(|error| error.to_string())
        .and_then(|()| {
            let (top, bottom) = root.split_vertically(240);
            let deepest = samples
                .iter()
                .map(|sample| sample.queue_depth)
                .max()
                .unwrap_or(0);
            panel(
                &top,
                "queue depth",
                samples,
                deepest.max(1),
                &BLUE,
                |sample| sample.queue_depth,
            )?;
            panel(
                &bottom,
                "workers",
                samples,
                max_workers + 1,
                &RED,
                |sample| sample.workers,
            )?;
            root.present().map_err(|error| error.to_string())
        });
    drawn.map_err(|error| format!("cannot draw {}: {error}", path.display()))
}

/// One panel: `value` of each sample over time, on a scale from 0 to `top`.
fn panel(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    caption: &str,
    samples: &[Sample],
    top: usize,
    color: &RGBColor,
    value: impl Fn(&Sample) -> usize,
) -> Result<(), String> {
    let end = samples
        .last()
        .map_or(1.0, |sample| sample.at.as_secs_f64())
        .max(0.1);
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(50)
        .build_cartesian_2d(0.0..end, 0..top)
        .map_err(|error| error.to_string())?;
    chart
        .configure_mesh()
        .x_desc("seconds")
        .draw()
        .map_err(|error| error.to_string())?;
    let points = samples
        .iter()
        .map(|sample| (sample.at.as_secs_f64(), value(sample)));
    chart
        .draw_series(LineSeries::new(points, color))
        .map_err(|error| error.to_string())?;
    Ok(())
}
