//! Reading numbers out of a run's lines, and ordering the lines so that every correct run prints
//! the same text.

/// The whole number written right after `marker` in `line`, if there is one:
/// `number_after("job 12 done", "job ")` is `Some(12)`.
pub fn number_after(line: &str, marker: &str) -> Option<u64> {
    let (_, rest) = line.split_once(marker)?;
    let digits = rest.trim_start();
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end].parse().ok()
}

/// Sorts `text`'s lines by `key`, keeping lines with equal keys in their printed order, and
/// joins them back with a final newline. Sorting by job id turns a run whose interleaving the
/// scheduler chose into one text that every correct run shares.
pub fn sort_lines_by_key<K: Ord>(text: &str, key: impl Fn(&str) -> K) -> String {
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort_by_key(|line| key(line));
    lines.iter().map(|line| format!("{line}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_read_after_their_marker() {
        assert_eq!(number_after("job 12 done", "job "), Some(12));
        assert_eq!(number_after("job  7", "job"), Some(7));
        assert_eq!(number_after("worker 3", "job "), None);
    }

    #[test]
    fn sorting_is_stable_for_equal_keys() {
        let text = "b 2\na 1\nc 2\n";
        let sorted = sort_lines_by_key(text, |line| number_after(line, " "));
        assert_eq!(sorted, "a 1\nb 2\nc 2\n");
    }
}
