//! Errors as values: `Result`, `Option`, `?` and `expect`, next to Go's `(value, err)`.
//!
//! A Go function that can fail returns a value and an error side by side, and the caller is
//! trusted to look at the error before it uses the value. A Rust function returns one value,
//! `Result<T, E>`, which is either `Ok(value)` or `Err(error)`: the value cannot be reached
//! without deciding what to do about the error.

use std::num::ParseIntError;

// ANCHOR: parse_job
/// Why a line of input could not become a job.
#[derive(Debug, PartialEq, Eq)]
pub enum LineError {
    /// The line has no `:` between the job's id and its number.
    MissingColon,
    /// The id or the number is not a whole number.
    NotANumber(ParseIntError),
}

/// Lets `?` turn a parsing error into a `LineError` on its way out.
impl From<ParseIntError> for LineError {
    fn from(error: ParseIntError) -> Self {
        Self::NotANumber(error)
    }
}

/// Reads a line such as `"7:49"` as a job's id and number.
pub fn parse_job(line: &str) -> Result<(u64, u64), LineError> {
    // `Option` is Go's `value, ok`: `split_once` returns `Some((before, after))` or `None`.
    let Some((id, number)) = line.split_once(':') else {
        return Err(LineError::MissingColon);
    };
    // `?` is `if err != nil { return err }`: an `Err` returns at once (converted by the `From`
    // above), an `Ok` gives up the value inside it.
    let id = id.trim().parse()?;
    let number = number.trim().parse()?;
    Ok((id, number))
}
// ANCHOR_END: parse_job

// ANCHOR: expect
/// Reads jobs from text this program wrote itself, where a bad line is a bug and not bad input.
///
/// # Panics
///
/// On a line that [`parse_job`] rejects: `expect` panics with its message and the error, as a
/// Go program might `panic(err)` on an error that cannot happen.
pub fn trusted_jobs(text: &str) -> Vec<(u64, u64)> {
    text.lines()
        .map(|line| parse_job(line).expect("this program writes only well-formed lines"))
        .collect()
}
// ANCHOR_END: expect

// ANCHOR: nested
/// Describes one line whose parsing ran with panics caught: the outer `Result` says whether the
/// code ran to its end (`Err` holds a panic's message), the inner one what it returned. Stage 3
/// sorts the runs of its jobs into outcomes with the same `match`.
pub fn describe(ran: Result<Result<(u64, u64), LineError>, String>) -> String {
    match ran {
        Ok(Ok((id, number))) => format!("job {id}: number {number}"),
        Ok(Err(LineError::MissingColon)) => "failed: no colon".to_owned(),
        Ok(Err(LineError::NotANumber(error))) => format!("failed: {error}"),
        Err(panic_message) => format!("panicked: {panic_message}"),
    }
}
// ANCHOR_END: nested

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_a_job_or_says_why_not() {
        assert_eq!(parse_job("7:49"), Ok((7, 49)));
        assert_eq!(parse_job(" 7 : 49 "), Ok((7, 49)));
        assert_eq!(parse_job("7"), Err(LineError::MissingColon));
        assert!(matches!(
            parse_job("7:forty-nine"),
            Err(LineError::NotANumber(_))
        ));
        assert!(matches!(parse_job("-1:2"), Err(LineError::NotANumber(_))));
    }

    #[test]
    fn trusted_text_gives_every_job() {
        assert_eq!(trusted_jobs("1:1\n2:4\n3:9"), [(1, 1), (2, 4), (3, 9)]);
    }

    #[test]
    #[should_panic(expected = "this program writes only well-formed lines: MissingColon")]
    fn a_bad_trusted_line_is_a_panic_with_the_message_and_the_error() {
        trusted_jobs("1:1\noops");
    }

    #[test]
    fn the_nested_match_sorts_every_case() {
        assert_eq!(describe(Ok(parse_job("7:49"))), "job 7: number 49");
        assert_eq!(describe(Ok(parse_job("7"))), "failed: no colon");
        assert_eq!(
            describe(Ok(parse_job("7:x"))),
            "failed: invalid digit found in string"
        );
        assert_eq!(describe(Err("boom".to_owned())), "panicked: boom");
    }
}
