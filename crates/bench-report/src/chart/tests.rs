use super::*;
use crate::test_runs;

/// A `<text>` element of the SVG: where plotters put it and what it says.
#[derive(Debug)]
struct Placed {
    x: f64,
    y: f64,
    /// How far the baseline is below `y`, in `em`: plotters writes `dy` in `em` or `ex`.
    baseline_em: f64,
    anchor: String,
    font_px: f64,
    content: String,
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let end = tag[start..].find('"')? + start;
    Some(tag[start..end].to_owned())
}

fn number(tag: &str, name: &str) -> f64 {
    attribute(tag, name)
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("no number {name} in {tag}"))
}

fn texts(svg: &str) -> Vec<Placed> {
    svg.split("<text")
        .skip(1)
        .map(|element| {
            let (tag, rest) = element.split_once('>').expect("a whole tag");
            let content = rest.split("</text>").next().expect("a closed text").trim();
            Placed {
                x: number(tag, "x"),
                y: number(tag, "y"),
                baseline_em: match attribute(tag, "dy").as_deref() {
                    Some("0.76em") => 0.76,
                    Some("0.5ex") => 0.25,
                    Some("-0.5ex") => -0.25,
                    None => 0.0,
                    Some(other) => panic!("a dy plotters does not write: {other}"),
                },
                anchor: attribute(tag, "text-anchor").unwrap_or_else(|| "start".to_owned()),
                font_px: number(tag, "font-size"),
                content: content
                    .replace("&amp;", "&")
                    .replace("&lt;", "<")
                    .replace("&gt;", ">"),
            }
        })
        .collect()
}

/// The texts that run over an edge of the SVG's viewBox, by their estimated width, and by a
/// height of 0.8 em above the baseline and 0.25 em below it (a sans-serif's ascent and descent).
fn outside(svg: &str) -> Vec<String> {
    let view_box = attribute(svg, "viewBox").expect("a viewBox");
    let size: Vec<f64> = view_box
        .split_whitespace()
        .map(|value| value.parse().expect("a number"))
        .collect();
    let (width, height) = (size[2], size[3]);
    texts(svg)
        .into_iter()
        .filter(|text| {
            let wide = text_width(&text.content, text.font_px);
            let left = match text.anchor.as_str() {
                "middle" => text.x - wide / 2.0,
                "end" => text.x - wide,
                _ => text.x,
            };
            let baseline = text.y + text.baseline_em * text.font_px;
            left < 0.0
                || left + wide > width
                || baseline - 0.8 * text.font_px < 0.0
                || baseline + 0.25 * text.font_px > height
        })
        .map(|text| format!("{text:?}"))
        .collect()
}

/// Every contender the book knows, at the magnitudes a real run has, the slowest at a whole
/// decade (where a figure has the least room after it) and one with a name the book does not
/// know yet, which shows as its id.
fn every_contender(scale: f64) -> Vec<(String, f64)> {
    [
        ("peer-rayon-par-iter", 0.373),
        ("peer-sequential", 0.441),
        ("fast-pool", 5.01),
        ("go-tuned", 46.3),
        ("fast-pool-step-1-batched-jobs", 59.4),
        ("stage-1-basic", 73.6),
        ("go-reference", 128.0),
        ("fast-pool-step-2-local-results", 149.0),
        ("peer-mpsc-mutex", 162.0),
        ("stage-3-cancel", 372.0),
        ("stage-2-metadata", 452.0),
        ("stage-4-autoscaled", 458.0),
        ("peer-rayon-spawn", 504.0),
        ("stage-4-fixed", 543.0),
        ("stage-5-http", 1_010.0),
        ("peer-a-pool-the-book-does-not-know", 20_000.0),
        ("peer-thread-per-job", 100_000.0),
    ]
    .into_iter()
    .map(|(contender, per_job)| (format!("side-by-side/{contender}"), per_job * scale))
    .collect()
}

fn record_of(runs: &[Vec<(String, f64)>]) -> Record {
    let lists: Vec<Vec<(&str, f64)>> = runs
        .iter()
        .map(|run| {
            run.iter()
                .map(|(id, per_job)| (id.as_str(), *per_job))
                .collect()
        })
        .collect();
    let slices: Vec<&[(&str, f64)]> = lists.iter().map(Vec::as_slice).collect();
    test_runs::record(&slices)
}

fn chart(record: &Record) -> String {
    side_by_side(record)
        .expect("the chart draws")
        .expect("the record has the group")
}

#[test]
fn every_text_lies_inside_the_picture() {
    for runs in [
        vec![every_contender(1.0)],
        vec![
            every_contender(1.0),
            every_contender(0.7),
            every_contender(3.9),
        ],
    ] {
        let svg = chart(&record_of(&runs));
        let outside = outside(&svg);
        assert!(
            outside.is_empty(),
            "texts outside the picture:\n{}",
            outside.join("\n")
        );
        assert!(svg.contains("peer-a-pool-the-book-does-not-know"));
    }
}

#[test]
fn families_have_their_colours_and_a_legend() {
    let svg = chart(&record_of(&[every_contender(1.0)]));
    for family in Family::ALL {
        assert!(svg.contains(family.name()), "no legend for {family:?}");
        let RGBColor(red, green, blue) = colour(family);
        let hex = format!("#{red:02X}{green:02X}{blue:02X}");
        assert!(svg.contains(&hex), "no bar in {hex} for {family:?}");
    }
    assert!(svg.starts_with(RENDERED_SVG_NOTICE));
    assert!(svg.contains("bar: the median of one run"));
}

#[test]
fn several_runs_draw_a_whisker_from_the_lowest_to_the_highest() {
    let fast = vec![("side-by-side/fast-pool".to_owned(), 5.0)];
    let one = chart(&record_of(std::slice::from_ref(&fast)));
    let apart = vec![("side-by-side/fast-pool".to_owned(), 9.0)];
    let three = chart(&record_of(&[fast.clone(), apart, fast]));
    // The axis is drawn one pixel wide, a whisker two.
    let whisker_lines = |svg: &str| svg.matches(r#"stroke-width="2""#).count();
    assert_eq!(whisker_lines(&one), 0);
    assert_eq!(whisker_lines(&three), 3, "a line and two caps");
    assert!(three.contains("bar: median of 3 runs; whisker: lowest to highest run"));
    assert!(
        texts(&three).iter().any(|text| text.content == "5 ns"),
        "the median's figure"
    );
}
