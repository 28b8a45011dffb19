//! `--chart FILE.svg`: the pool's size and queue depth over the run, drawn with plotters.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::autoscaler::Sample;
use crate::pool::Limits;

/// The chart's size in pixels. The book shows it at this size (its column is wider), so the type
/// sizes below are the sizes a reader sees.
const SIZE: (u32, u32) = (800, 520);

/// Type sizes as plotters takes them; its SVG backend writes each as 1/1.24 of that, so these
/// come out at about 19 and 16 pixels.
const CAPTION_SIZE: u32 = 24;
const LABEL_SIZE: u32 = 20;

/// Draws the samples as two panels, queue depth above and workers below, into an SVG file. Each
/// line holds what the autoscaler saw on a tick until its next tick, from the start of the run,
/// when the queue was empty and the pool had `limits.min` workers.
pub fn draw(samples: &[Sample], limits: Limits, path: &Path) -> Result<(), String> {
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    let drawn = root
        .fill(&WHITE)
        .map_err(|error| error.to_string())
        .and_then(|()| {
            let (top, bottom) = root.split_vertically(SIZE.1 / 2);
            let deepest = samples
                .iter()
                .map(|sample| sample.queue_depth)
                .max()
                .unwrap_or(0);
            let depths = samples
                .iter()
                .map(|sample| (sample.at.as_secs_f64(), sample.queue_depth));
            panel(
                &top,
                "queue depth",
                steps((0.0, 0), depths),
                deepest.max(1),
                &BLUE,
            )?;
            let sizes = samples
                .iter()
                .map(|sample| (sample.at.as_secs_f64(), sample.workers));
            panel(
                &bottom,
                "workers",
                steps((0.0, limits.min), sizes),
                limits.max + 1,
                &RED,
            )?;
            root.present().map_err(|error| error.to_string())
        });
    drawn.map_err(|error| format!("cannot draw {}: {error}", path.display()))
}

/// The corners of a line that starts at `start` and holds each value until the next one comes,
/// with a step at each change. The pool resizes only on a tick, so its size really is a step;
/// the queue is looked at only on a tick, so its line holds what a tick saw. A straight line
/// from one sample to the next would draw a resize, or the burst's arrival, as a slope.
pub fn steps(
    start: (f64, usize),
    values: impl IntoIterator<Item = (f64, usize)>,
) -> Vec<(f64, usize)> {
    let mut corners = vec![start];
    let mut held = start;
    for (at, value) in values {
        if value != held.1 {
            corners.extend([(at, held.1), (at, value)]);
        }
        held = (at, value);
    }
    if corners.last() != Some(&held) {
        corners.push(held);
    }
    corners
}

/// One panel: a step line of `corners`, on a scale from 0 to `top`.
fn panel(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    caption: &str,
    corners: Vec<(f64, usize)>,
    top: usize,
    color: &RGBColor,
) -> Result<(), String> {
    // A little room after the last corner, so that a step there is not drawn on the frame.
    let end = corners.last().map_or(1.0, |corner| corner.0).max(0.1) * 1.05;
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", CAPTION_SIZE))
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..end, 0..top)
        .map_err(|error| error.to_string())?;
    chart
        .configure_mesh()
        .x_labels(8)
        // A label for each worker count; about five for a deep queue.
        .y_labels(if top <= 10 { top + 1 } else { 5 })
        .x_label_formatter(&|seconds| format!("{seconds:.1}"))
        .x_desc("seconds")
        .label_style(("sans-serif", LABEL_SIZE))
        .axis_desc_style(("sans-serif", LABEL_SIZE))
        .draw()
        .map_err(|error| error.to_string())?;
    chart
        .draw_series(LineSeries::new(corners, color.stroke_width(2)))
        .map_err(|error| error.to_string())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_is_a_step_and_a_held_value_one_flat_line() {
        let corners = steps((0.0, 1), [(0.1, 1), (0.2, 8), (0.3, 8), (0.4, 1), (0.5, 1)]);
        assert_eq!(
            corners,
            [(0.0, 1), (0.2, 1), (0.2, 8), (0.4, 8), (0.4, 1), (0.5, 1)]
        );
        // Every segment is flat or upright.
        assert!(
            corners
                .windows(2)
                .all(|pair| pair[0].0 == pair[1].0 || pair[0].1 == pair[1].1)
        );
        assert_eq!(steps((0.0, 3), []), [(0.0, 3)]);
    }
}
