//! The `--timeline` pictures: what one shows, counted from its SVG text, and the refusal of a
//! file that cannot be written.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::stdout_of;

/// What a `pool_core::timeline` picture shows, counted from its SVG text: tests compare these
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

/// Runs `program` with `--timeline` writing into `folder`; returns what it printed and what the
/// picture shows, having checked that the run ends by naming the file and that the file is an SVG.
pub fn run_with_timeline(program: &mut Command, folder: &Path) -> (String, TimelineShape) {
    let path = folder.join("timeline.svg");
    let output = stdout_of(program.arg("--timeline").arg(&path));
    assert!(
        output.ends_with(&format!("timeline: {}\n", path.display())),
        "{output}"
    );
    let svg = std::fs::read_to_string(&path).expect("the timeline was written");
    assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(80)]);
    (output, TimelineShape::of(&svg))
}

/// A fresh folder under the system's temporary folder for one test of one program, so tests
/// running at once never share a file; the caller removes it when done.
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
