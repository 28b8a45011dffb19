//! Text the programs print about things that are not their lesson: a panic's message, a
//! measured duration.

use std::any::Any;
use std::time::Duration;

/// The message a panic was raised with. `panic!("…")` with a literal carries a `&str`, with
/// arguments a `String`; any other payload (from `std::panic::panic_any`) has no text to show.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_owned())
}

/// A measured duration in its most readable unit, rounded: `850µs`, `20ms`, `1.25s`. (Flags and
/// settings, which a person wrote, are printed back with `humantime` as they were written.)
pub fn short_duration(duration: Duration) -> String {
    let seconds = duration.as_secs_f64();
    if seconds >= 1.0 {
        format!("{seconds:.2}s")
    } else if seconds >= 1e-3 {
        format!("{:.0}ms", seconds * 1e3)
    } else {
        format!("{:.0}µs", seconds * 1e6)
    }
}

/// `count` with its noun, singular or plural as the count wants: `1 job`, `3 jobs`,
/// `0 deliveries`. `many` is the plural, for nouns that do not just add an s.
pub fn counted(count: u64, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}

/// Numbers as runs: `1–3, 7, 9–10` for 1, 2, 3, 7, 9, 10. The numbers are sorted first, and a
/// number given twice counts once. A list of job numbers stays one short line however long it is.
pub fn number_ranges(numbers: impl IntoIterator<Item = u64>) -> String {
    let mut numbers: Vec<u64> = numbers.into_iter().collect();
    numbers.sort_unstable();
    numbers.dedup();
    let mut runs: Vec<(u64, u64)> = Vec::new();
    for number in numbers {
        match runs.last_mut() {
            Some((_, last)) if *last + 1 == number => *last = number,
            _ => runs.push((number, number)),
        }
    }
    runs.iter()
        .map(|&(first, last)| {
            if first == last {
                first.to_string()
            } else {
                format!("{first}–{last}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_messages_are_read_from_either_string_type() {
        let literal = std::panic::catch_unwind(|| panic!("plain")).expect_err("it panics");
        assert_eq!(panic_message(literal.as_ref()), "plain");
        let job = 7;
        let formatted =
            std::panic::catch_unwind(|| panic!("job {job} broke")).expect_err("it panics");
        assert_eq!(panic_message(formatted.as_ref()), "job 7 broke");
        let other = std::panic::catch_unwind(|| std::panic::panic_any(42)).expect_err("it panics");
        assert_eq!(panic_message(other.as_ref()), "(no message)");
    }

    #[test]
    fn numbers_print_as_runs() {
        assert_eq!(number_ranges([3, 1, 2, 7, 9, 10, 10]), "1–3, 7, 9–10");
        assert_eq!(number_ranges([5]), "5");
        assert_eq!(number_ranges(201..=400), "201–400");
        assert_eq!(number_ranges([]), "");
    }

    #[test]
    fn durations_print_in_their_most_readable_unit() {
        assert_eq!(short_duration(Duration::from_micros(850)), "850µs");
        assert_eq!(short_duration(Duration::from_millis(20)), "20ms");
        assert_eq!(short_duration(Duration::from_millis(1250)), "1.25s");
    }
}
