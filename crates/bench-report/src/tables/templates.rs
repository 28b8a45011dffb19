//! Point-id templates: `reference/{row}/W2/Q{col}` names a point once its holes are filled, and
//! finds the keys that fit a hole among the ids a record holds.
//!
//! A template is an id cut into segments by `/`. A segment is literal text, `*` (any one
//! segment), or text with one hole in it (`Q{col}`). A hole that is a whole last segment takes
//! the rest of the id, slashes and all (`reference/stage-4-fixed/{row}` fits
//! `reference/stage-4-fixed/W2/Q100` with `W2/Q100`).

use std::cmp::Ordering;

/// The holes a template may have, filled in this order.
pub const EACH: &str = "{each}";
/// The row's key.
pub const ROW: &str = "{row}";
/// The column's key.
pub const COL: &str = "{col}";

/// `template` with each hole that has a key filled in.
pub fn fill(template: &str, each: Option<&str>, row: Option<&str>, col: Option<&str>) -> String {
    let mut filled = template.to_owned();
    for (hole, key) in [(EACH, each), (ROW, row), (COL, col)] {
        if let Some(key) = key {
            filled = filled.replace(hole, key);
        }
    }
    filled
}

/// What `hole` stands for in `id`, if `id` fits `template` (which has no other hole left).
pub fn key_in(template: &str, hole: &str, id: &str) -> Option<String> {
    let pattern: Vec<&str> = template.split('/').collect();
    let parts: Vec<&str> = id.split('/').collect();
    let mut key = None;
    for (index, segment) in pattern.iter().enumerate() {
        let last = index + 1 == pattern.len();
        if last && *segment == hole {
            let rest = parts.get(index..).filter(|rest| !rest.is_empty())?;
            return Some(rest.join("/"));
        }
        let part = parts.get(index)?;
        match segment.split_once(hole) {
            _ if *segment == "*" => {}
            Some((before, after)) => {
                let middle = part.strip_prefix(before)?.strip_suffix(after)?;
                if middle.is_empty() {
                    return None;
                }
                key = Some(middle.to_owned());
            }
            None if segment == part => {}
            None => return None,
        }
    }
    (parts.len() == pattern.len()).then_some(key).flatten()
}

/// Every key that `hole` stands for among `ids`, in natural order, each once.
pub fn keys_fitting<'a>(
    template: &str,
    hole: &str,
    ids: impl IntoIterator<Item = &'a str>,
) -> Vec<String> {
    let mut keys: Vec<String> = ids
        .into_iter()
        .filter_map(|id| key_in(template, hole, id))
        .collect();
    keys.sort_by(|a, b| natural_order(a, b));
    keys.dedup();
    keys
}

/// Text compared with its runs of digits as numbers, so that `Q100` comes before `Q1024`,
/// `W1/Q1024` before `W2/Q0`, and `20ms-latency` (a number first) before `no-latency`.
pub fn natural_order(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a, b);
    loop {
        match (chunk(a), chunk(b)) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some((first, rest_a)), Some((second, rest_b))) => {
                let order = match (first.parse::<u64>(), second.parse::<u64>()) {
                    (Ok(x), Ok(y)) => x.cmp(&y),
                    (Ok(_), Err(_)) => Ordering::Less,
                    (Err(_), Ok(_)) => Ordering::Greater,
                    (Err(_), Err(_)) => first.cmp(second),
                };
                if order != Ordering::Equal {
                    return order;
                }
                (a, b) = (rest_a, rest_b);
            }
        }
    }
}

/// The first run of digits, or of other characters, and what follows it.
fn chunk(text: &str) -> Option<(&str, &str)> {
    let first = text.chars().next()?;
    let digits = first.is_ascii_digit();
    let end = text
        .find(|c: char| c.is_ascii_digit() != digits)
        .unwrap_or(text.len());
    Some(text.split_at(end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hole_fits_part_of_a_segment_or_the_rest_of_the_id() {
        let id = "reference/stage-1-basic/W2/Q100";
        assert_eq!(
            key_in("reference/{row}/W2/Q100", ROW, id).as_deref(),
            Some("stage-1-basic")
        );
        assert_eq!(
            key_in("reference/stage-1-basic/W2/Q{col}", COL, id).as_deref(),
            Some("100")
        );
        assert_eq!(
            key_in("reference/*/W{row}/*", ROW, id).as_deref(),
            Some("2")
        );
        assert_eq!(
            key_in("reference/stage-1-basic/{row}", ROW, id).as_deref(),
            Some("W2/Q100")
        );
        assert_eq!(key_in("reference/{row}/W4/Q100", ROW, id), None);
        assert_eq!(
            key_in("reference/{row}", ROW, "side-by-side/fast-pool"),
            None
        );
    }

    #[test]
    fn keys_come_in_natural_order() {
        let ids = ["g/Q1024", "g/Q100", "g/Q2", "g/Q0", "g/Q100"];
        assert_eq!(
            keys_fitting("g/Q{col}", COL, ids),
            ["0", "2", "100", "1024"]
        );
        let mut routes = ["no-latency", "20ms-latency", "W2/Q0", "W1/Q1024"];
        routes.sort_by(|a, b| natural_order(a, b));
        assert_eq!(routes, ["20ms-latency", "W1/Q1024", "W2/Q0", "no-latency"]);
    }
}
