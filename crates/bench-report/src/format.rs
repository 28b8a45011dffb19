//! How the book writes a measured figure: times to three significant figures in the unit that
//! keeps them short ("331 ns", "1.83 µs", "18.5 µs", "94 µs", "673 ms"), ratios as "41× faster"
//! or "2.6× slower", big counts grouped by thousands with a space ("2 970 req/s").
//!
//! Every table the book includes is written with these functions, and the prose check formats
//! the record's values with them too, so a figure quoted in a chapter matches the table's figure
//! character for character.

/// `value` rounded to `digits` significant figures.
fn round_significant(value: f64, digits: i32) -> f64 {
    if value == 0.0 || !value.is_finite() {
        return value;
    }
    let scale = 10f64.powi(value.abs().log10().floor() as i32 - (digits - 1));
    (value / scale).round() * scale
}

/// `value` (already rounded) written with at most three significant figures, trailing zeros
/// after the point dropped ("94", not "94.0") and thousands grouped by spaces.
fn significant(value: f64) -> String {
    if value == 0.0 {
        return "0".to_owned();
    }
    let magnitude = value.abs().log10().floor() as i32;
    let decimals = (2 - magnitude).max(0) as usize;
    let written = format!("{value:.decimals$}");
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
    format!(
        "{} {unit}",
        significant(round_significant(rounded / scale, 3))
    )
}

/// A signed difference of durations, "+15 ns" or "−12 ns" (a real minus sign).
pub fn difference(nanos: f64) -> String {
    let sign = if nanos < 0.0 { "−" } else { "+" };
    format!("{sign}{}", duration(nanos.abs()))
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

/// `contender` against `baseline`, both times: "41× faster" or "2.6× slower".
pub fn versus(contender: f64, baseline: f64) -> String {
    if contender <= baseline {
        format!("{}× faster", times(baseline / contender))
    } else {
        format!("{}× slower", times(contender / baseline))
    }
}

/// A plain ratio of two figures with two decimals, as in "stage 4 / stage 3 = 1.07".
pub fn ratio(numerator: f64, denominator: f64) -> String {
    format!("{:.2}", numerator / denominator)
}

/// A count to three significant figures, grouped: "2 970".
pub fn count(value: f64) -> String {
    significant(round_significant(value, 3))
}

/// Mebibytes with one decimal, as the idle-memory probes print them: "97.8 MiB".
pub fn mebibytes(value: f64) -> String {
    format!("{value:.1} MiB")
}

/// Bytes as kibibytes with one decimal: "9.7 KiB".
pub fn kibibytes(bytes: u64) -> String {
    format!("{:.1} KiB", bytes as f64 / 1024.0)
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
    }

    #[test]
    fn ratios_read_as_the_book_writes_them() {
        assert_eq!(versus(8.0, 331.0), "41× faster");
        assert_eq!(versus(856.0, 331.0), "2.6× slower");
        assert_eq!(versus(0.254, 331.0), "1 303× faster");
        assert_eq!(versus(119.0, 113.0), "1.05× slower");
        assert_eq!(ratio(394.0, 368.0), "1.07");
        assert_eq!(difference(-12.3), "−12.3 ns");
        assert_eq!(count(2_971.6), "2 970");
        assert_eq!(kibibytes(9_968), "9.7 KiB");
    }
}
