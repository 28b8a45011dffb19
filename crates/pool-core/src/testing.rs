//! Helpers the stages' tests share: measuring concurrency, and putting a run's lines in an order
//! that does not depend on the scheduler.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts the jobs running right now and remembers the most there ever were at once.
///
/// Wrap a job's work in [`InFlight::enter`]; afterwards [`InFlight::peak`] is the measured
/// concurrency, which a pool of W workers must keep at or below W.
#[derive(Debug, Default)]
pub struct InFlight {
    now: AtomicUsize,
    peak: AtomicUsize,
}

/// Marks one job as running until it is dropped.
#[derive(Debug)]
pub struct Running<'a>(&'a InFlight);

impl InFlight {
    /// Marks a job as started; the job counts as running until the guard is dropped.
    pub fn enter(&self) -> Running<'_> {
        let running = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(running, Ordering::SeqCst);
        Running(self)
    }

    /// The most jobs that were ever running at once.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }

    /// Jobs running right now.
    pub fn now(&self) -> usize {
        self.now.load(Ordering::SeqCst)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::SeqCst);
    }
}

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

/// Runs a stage's program to the end and returns what it printed on stdout. Panics, failing the
/// test, if the program cannot start, exits with an error, or writes to stderr.
pub fn stdout_of(program: &mut Command) -> String {
    let output = program.output().expect("the program starts");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{program:?} failed: {stderr}");
    assert!(stderr.is_empty(), "{program:?} wrote to stderr: {stderr}");
    String::from_utf8(output.stdout).expect("the program prints UTF-8")
}

/// The path of a file in the book's `src/output/` folder, where the chapters keep the sample
/// runs they show. Each stage's tests check that its sample is still what the program prints.
fn book_output(file_name: &str) -> PathBuf {
    [
        env!("CARGO_MANIFEST_DIR"),
        "..",
        "..",
        "book",
        "src",
        "output",
        file_name,
    ]
    .iter()
    .collect()
}

/// Checks a transcript the book shows: a file of `$ program args…` lines, each followed by what
/// that command prints (stdout, then stderr). Every command is run with `program` standing in for
/// its first word, and what it prints must match the transcript line for line. Returns how many
/// commands were checked.
pub fn check_transcript(file_name: &str, program: &Path) -> usize {
    let transcript = read_book_output(file_name);
    // Each command with the lines it is expected to print.
    let mut commands: Vec<(&str, String)> = Vec::new();
    for line in transcript.lines() {
        match (line.strip_prefix("$ "), commands.last_mut()) {
            (Some(command_line), _) => commands.push((command_line, String::new())),
            (None, Some((_, expected))) => {
                expected.push_str(line);
                expected.push('\n');
            }
            (None, None) => panic!("{file_name}: output before the first `$ ` command: {line}"),
        }
    }
    for (command_line, expected) in &commands {
        let args = command_line.split_whitespace().skip(1);
        let output = Command::new(program)
            .args(args)
            .output()
            .expect("the program starts");
        let printed = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(
            &printed, expected,
            "{file_name}: `{command_line}` printed something else"
        );
    }
    commands.len()
}

/// Reads a [`book_output`] file.
pub fn read_book_output(file_name: &str) -> String {
    let path = book_output(file_name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
}

/// What a [`crate::timeline`] picture shows, counted from its SVG text: tests compare these
/// counts, never pixels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineShape {
    /// Filled bars, one per job that ran (the white background is not one).
    pub bars: usize,
    /// The bars' labels in the order drawn, e.g. `job 3`, `job 4 failed`, `job 10 cancelled`.
    pub job_labels: Vec<String>,
    /// Rows labelled `worker N`.
    pub worker_rows: usize,
    /// Deadline lines: the only lines not drawn in black (the axes are).
    pub deadlines: usize,
    /// Whether jobs that never started are listed under the axis.
    pub lists_never_started: bool,
}

impl TimelineShape {
    /// Counts the parts of a timeline's SVG. plotters writes each element on a line of its own
    /// and each text's content on the line after its `<text>` tag.
    pub fn of(svg: &str) -> Self {
        let lines: Vec<&str> = svg.lines().map(str::trim).collect();
        let texts: Vec<&str> = lines
            .windows(2)
            .filter(|pair| pair[0].starts_with("<text"))
            .map(|pair| pair[1])
            .collect();
        Self {
            bars: lines
                .iter()
                .filter(|line| line.starts_with("<rect") && !line.contains("fill=\"#FFFFFF\""))
                .count(),
            job_labels: texts
                .iter()
                .filter(|text| text.starts_with("job "))
                .map(|text| (*text).to_owned())
                .collect(),
            worker_rows: texts
                .iter()
                .filter(|text| text.starts_with("worker "))
                .count(),
            deadlines: lines
                .iter()
                .filter(|line| line.starts_with("<polyline"))
                .filter(|line| !line.contains("stroke=\"#000000\""))
                .count(),
            lists_never_started: texts.iter().any(|text| text.starts_with("never started")),
        }
    }

    /// Labels that end with `suffix`, such as ` failed` or ` cancelled`.
    pub fn labels_ending(&self, suffix: &str) -> usize {
        self.job_labels
            .iter()
            .filter(|label| label.ends_with(suffix))
            .count()
    }
}

/// A fresh folder under the system's temporary folder for one test of one program; the caller
/// removes it when done.
pub fn scratch_folder(program: &str, test: &str) -> PathBuf {
    let folder = std::env::temp_dir().join(format!("{program}-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&folder).expect("a temporary folder");
    folder
}

/// Runs `program` with `--timeline` pointing into a folder that does not exist, and checks that
/// it is refused as bad input before the run starts: exit code 2, no run output, one line on
/// stderr that names the flag and the path.
pub fn assert_unwritable_timeline_is_refused(program: &mut Command, scratch: &Path) {
    let path = scratch.join("no-such-folder").join("timeline.svg");
    let output = program
        .arg("--timeline")
        .arg(&path)
        .output()
        .expect("the program starts");
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&output.stdout), "", "no run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!("error: --timeline {}: ", path.display())),
        "{stderr}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_flight_keeps_the_peak_after_jobs_end() {
        let gauge = InFlight::default();
        {
            let _first = gauge.enter();
            let _second = gauge.enter();
            assert_eq!(gauge.now(), 2);
        }
        let _third = gauge.enter();
        assert_eq!((gauge.now(), gauge.peak()), (1, 2));
    }

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
