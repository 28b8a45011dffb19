//! How the book writes a measured figure: times to three significant figures in the unit that
//! keeps them short ("331 ns", "1.83 µs", "18.5 µs", "94 µs", "673 ms"), ratios as "41× faster"
//! or "2.6× slower", big counts grouped by thousands with a space ("2 970 req/s"), and a range
//! across runs with an en dash ("71.8–290 ns", "12–17× faster").
//!
//! Every table the book includes is written with these functions, and the prose check reads the
//! rendered tables, so a figure quoted in a chapter matches the table's figure character for
//! character.

/// `value` rounded to `digits` significant figures: the one rounding of this crate, for the
/// three figures the book shows and the five a run file keeps. It goes through the decimal text
/// so that the result is the double nearest that decimal (6433.7, not 6433.700000000001), which
/// a run file writes and reads back unchanged.
pub fn round_significant(value: f64, digits: usize) -> f64 {
    if value == 0.0 || !value.is_finite() {
        return value;
    }
    let precision = digits.saturating_sub(1);
    format!("{value:.precision$e}").parse().unwrap_or(value)
}

/// `value` to three significant figures, trailing zeros after the point dropped ("94", not
/// "94.0") and thousands grouped by spaces.
fn three_figures(value: f64) -> String {
    let rounded = round_significant(value, 3);
    if rounded == 0.0 {
        return "0".to_owned();
    }
    let magnitude = rounded.abs().log10().floor() as i32;
    let decimals = (2 - magnitude).max(0) as usize;
    let written = format!("{rounded:.decimals$}");
    let trimmed = if written.contains('.') {
        written
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_owned()
    } else {
        written
    };
    group_thousands(&trimmed)
}

/// "1302" as "1 302", "2970.5" as "2 970.5": the book's thousands separator is a space.
pub fn group_thousands(number: &str) -> String {
    let (sign, unsigned) = match number.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", number),
    };
    let (whole, fraction) = match unsigned.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (unsigned, None),
    };
    if whole.len() <= 3 {
        return number.to_owned();
    }
    let mut grouped = String::new();
    for (index, digit) in whole.chars().enumerate() {
        if index > 0 && (whole.len() - index) % 3 == 0 {
            grouped.push(' ');
        }
        grouped.push(digit);
    }
    match fraction {
        Some(fraction) => format!("{sign}{grouped}.{fraction}"),
        None => format!("{sign}{grouped}"),
    }
}

/// A duration given in nanoseconds, in ns, µs, ms or s, three significant figures.
pub fn duration(nanos: f64) -> String {
    if !nanos.is_finite() || nanos < 0.0 {
        return "?".to_owned();
    }
    let rounded = round_significant(nanos, 3);
    let (scale, unit) = [(1e9, "s"), (1e6, "ms"), (1e3, "µs")]
        .into_iter()
        .find(|(scale, _)| rounded >= *scale)
        .unwrap_or((1.0, "ns"));
    format!("{} {unit}", three_figures(rounded / scale))
}

/// Two figures with their units as a range: one unit where they share it ("71.8–290 ns"), both
/// where they do not ("980 ns–1.2 µs").
fn unit_range(low: &str, high: &str) -> String {
    match (low.rsplit_once(' '), high.rsplit_once(' ')) {
        (Some((low_number, low_unit)), Some((_, high_unit))) if low_unit == high_unit => {
            format!("{low_number}–{high}")
        }
        _ => format!("{low}–{high}"),
    }
}

/// A range of durations in nanoseconds: "71.8–290 ns".
pub fn duration_range(low: f64, high: f64) -> String {
    unit_range(&duration(low), &duration(high))
}

/// A signed difference of durations, "+15 ns" or "−12 ns" (a real minus sign).
pub fn difference(nanos: f64) -> String {
    let sign = if nanos < 0.0 { "−" } else { "+" };
    format!("{sign}{}", duration(nanos.abs()))
}

/// A range of differences: "+12.1 ns to +25.3 ns", and "varies: −5 ns to +25.3 ns" where the
/// runs disagree on the sign.
pub fn difference_range(low: f64, high: f64) -> String {
    let varies = if low < 0.0 && high >= 0.0 {
        "varies: "
    } else {
        ""
    };
    format!("{varies}{} to {}", difference(low), difference(high))
}

/// How many times one figure is the other: a whole number from 10 up, one decimal from 1.1,
/// two below that (so that 1.05 does not read as 1.1 or 1.0).
pub fn times(ratio: f64) -> String {
    if !ratio.is_finite() {
        return "?".to_owned();
    }
    if ratio >= 9.95 {
        group_thousands(&format!("{:.0}", ratio.round()))
    } else if ratio >= 1.095 {
        format!("{ratio:.1}")
    } else {
        format!("{ratio:.2}")
    }
}

/// A contender's time as a multiple of its baseline's (`contender / baseline`), in words:
/// "41× faster" below 1, "2.6× slower" above.
pub fn versus(time_ratio: f64) -> String {
    if time_ratio <= 1.0 {
        format!("{}× faster", times(1.0 / time_ratio))
    } else {
        format!("{}× slower", times(time_ratio))
    }
}

/// A range of time ratios in words: "12–17× faster", "1.2–1.4× slower", and "varies: 1.7×
/// faster to 1.2× slower" where the runs disagree on the direction.
pub fn versus_range(lowest: f64, highest: f64) -> String {
    if highest <= 1.0 {
        format!("{}–{}× faster", times(1.0 / highest), times(1.0 / lowest))
    } else if lowest > 1.0 {
        format!("{}–{}× slower", times(lowest), times(highest))
    } else {
        format!("varies: {} to {}", versus(lowest), versus(highest))
    }
}

/// A plain ratio of two figures with two decimals, as in "stage 4 / stage 3 = 1.07".
pub fn ratio(value: f64) -> String {
    format!("{value:.2}")
}

/// A count to three significant figures, grouped: "2 970".
pub fn count(value: f64) -> String {
    three_figures(value)
}

/// A share as a whole percentage: "93%".
pub fn percent(share: f64) -> String {
    format!("{:.0}%", 100.0 * share)
}

/// Mebibytes with one decimal, as the idle-memory probes print them: "97.8 MiB".
pub fn mebibytes(value: f64) -> String {
    format!("{value:.1} MiB")
}

/// Bytes as kibibytes with one decimal: "9.7 KiB".
pub fn kibibytes(bytes: f64) -> String {
    format!("{:.1} KiB", bytes / 1024.0)
}

/// Two figures of the same unit as a range: "97.8–98.1 MiB", "2 800–3 100", "90–95%".
pub fn plain_range(low: &str, high: &str) -> String {
    let low_number = low.trim_end_matches(|c: char| !c.is_ascii_digit());
    let shared_unit = &low[low_number.len()..];
    if !shared_unit.is_empty() && high.ends_with(shared_unit) {
        format!("{low_number}–{high}")
    } else {
        format!("{low}–{high}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_the_book_writes_them() {
        assert_eq!(duration(331.2), "331 ns");
        assert_eq!(duration(1_834.0), "1.83 µs");
        assert_eq!(duration(18_490.0), "18.5 µs");
        assert_eq!(duration(94_020.0), "94 µs");
        assert_eq!(duration(673_400_000.0), "673 ms");
        assert_eq!(duration(0.2504), "0.25 ns");
        assert_eq!(duration(8.04), "8.04 ns");
        assert_eq!(duration(999.7), "1 µs");
        assert_eq!(duration(297e9), "297 s");
        assert_eq!(duration(1_500e9), "1 500 s");
        assert_eq!(duration(0.0), "0 ns");
        assert_eq!(round_significant(123_456.7, 5), 123_460.0);
    }

    #[test]
    fn ratios_read_as_the_book_writes_them() {
        assert_eq!(versus(8.0 / 331.0), "41× faster");
        assert_eq!(versus(856.0 / 331.0), "2.6× slower");
        assert_eq!(versus(0.254 / 331.0), "1 303× faster");
        assert_eq!(versus(119.0 / 113.0), "1.05× slower");
        assert_eq!(ratio(394.0 / 368.0), "1.07");
        assert_eq!(difference(-12.3), "−12.3 ns");
        assert_eq!(count(2_971.6), "2 970");
        assert_eq!(kibibytes(9_968.0), "9.7 KiB");
        assert_eq!(percent(0.934), "93%");
    }

    #[test]
    fn ranges_share_their_unit_and_say_when_the_direction_varies() {
        assert_eq!(duration_range(71.8, 290.0), "71.8–290 ns");
        assert_eq!(duration_range(980.0, 1_200.0), "980 ns–1.2 µs");
        assert_eq!(versus_range(1.0 / 17.0, 1.0 / 12.0), "12–17× faster");
        assert_eq!(versus_range(1.2, 1.4), "1.2–1.4× slower");
        assert_eq!(
            versus_range(1.0 / 1.7, 1.2),
            "varies: 1.7× faster to 1.2× slower"
        );
        assert_eq!(difference_range(12.1, 25.3), "+12.1 ns to +25.3 ns");
        assert_eq!(difference_range(-5.0, 25.3), "varies: −5 ns to +25.3 ns");
        assert_eq!(plain_range("97.8 MiB", "98.1 MiB"), "97.8–98.1 MiB");
        assert_eq!(plain_range("90%", "95%"), "90–95%");
        assert_eq!(plain_range("2 800", "3 100"), "2 800–3 100");
    }
}
