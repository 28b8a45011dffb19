//! `--timeline FILE.svg`: a picture of a real run, drawn with plotters.
//!
//! One row per worker, one bar per job from the moment the job started to the moment it ended,
//! the time axis in seconds since the pool started. A stage turns its results into [`Span`]s,
//! puts them in a [`Timeline`] and calls [`Timeline::draw`]; how the bars look is decided here,
//! once, so the stages' pictures can be compared.

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::{Clock, number_ranges};

/// How a job that ran ended; each kind has its own colour and label in the picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanKind {
    /// The job produced a result.
    Completed,
    /// The job returned an error or panicked.
    Failed,
    /// The job was cancelled while it ran.
    Cancelled,
}

/// One job that a worker ran: a bar in the picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// The job's id, which labels the bar.
    pub job: u64,
    /// The worker that ran it, from 1: the bar's row.
    pub worker: usize,
    /// When the job started, since the pool started.
    pub start: Duration,
    /// When the job ended, since the pool started.
    pub end: Duration,
    /// How it ended.
    pub kind: SpanKind,
}

/// Everything one picture shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeline {
    /// The line above the picture, e.g. `stage 2: 10 jobs on 3 workers`.
    pub title: String,
    /// The pool's workers: one row each, busy or not.
    pub workers: usize,
    /// Every job that ran.
    pub spans: Vec<Span>,
    /// The run's deadline, if it had one: a vertical line.
    pub deadline: Option<Duration>,
    /// Jobs that never started. They have no bar; the picture lists them under the axis.
    pub never_started: Vec<u64>,
}

/// Why a timeline could not be written: the file, and what went wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineError {
    path: PathBuf,
    problem: String,
}

impl fmt::Display for TimelineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.problem)
    }
}

impl std::error::Error for TimelineError {}

impl TimelineError {
    fn new(path: &Path, problem: impl fmt::Display) -> Self {
        Self {
            path: path.to_owned(),
            problem: problem.to_string(),
        }
    }
}

/// Creates (or empties) the file at `path`, so that a path the picture could never be written to
/// is reported before the run rather than after it.
pub fn check_writable(path: &Path) -> Result<(), TimelineError> {
    File::create(path)
        .map(drop)
        .map_err(|error| TimelineError::new(path, error))
}

/// `--timeline FILE` checked before the run: a file that cannot be written is bad input, said in
/// one line on stderr, with the exit code for bad input to return.
pub fn check_timeline_flag(path: Option<&Path>) -> Result<(), std::process::ExitCode> {
    if let Some(path) = path
        && let Err(error) = check_writable(path)
    {
        eprintln!("error: --timeline {error}");
        return Err(std::process::ExitCode::from(crate::cli::BAD_INPUT));
    }
    Ok(())
}

const WIDTH: u32 = 720;
/// The caption and the time axis with its labels.
const FRAME_HEIGHT: u32 = 100;
/// A row's height, shrunk for big pools so the picture stays on a screen.
const ROW_HEIGHT: u32 = 44;
const MIN_ROW_HEIGHT: u32 = 4;
const ROWS_HEIGHT_BUDGET: u32 = 600;
const NOTE_HEIGHT: u32 = 24;

const COMPLETED: RGBColor = RGBColor(158, 202, 225);
const FAILED: RGBColor = RGBColor(244, 166, 160);
const CANCELLED: RGBColor = RGBColor(208, 208, 208);
const DEADLINE: RGBColor = RGBColor(200, 30, 30);

impl SpanKind {
    fn colour(self) -> RGBColor {
        match self {
            Self::Completed => COMPLETED,
            Self::Failed => FAILED,
            Self::Cancelled => CANCELLED,
        }
    }

    fn label(self, job: u64) -> String {
        match self {
            Self::Completed => format!("job {job}"),
            Self::Failed => format!("job {job} failed"),
            Self::Cancelled => format!("job {job} cancelled"),
        }
    }
}

impl Timeline {
    /// Draws the picture into an SVG file at `path`.
    pub fn draw(&self, path: &Path) -> Result<(), TimelineError> {
        let workers = u32::try_from(self.workers.max(1)).unwrap_or(u32::MAX);
        let row_height = (ROWS_HEIGHT_BUDGET / workers).clamp(MIN_ROW_HEIGHT, ROW_HEIGHT);
        let note_height = if self.never_started.is_empty() {
            0
        } else {
            NOTE_HEIGHT
        };
        let height = FRAME_HEIGHT + row_height.saturating_mul(workers) + note_height;
        let root = SVGBackend::new(path, (WIDTH, height)).into_drawing_area();
        self.draw_on(&root, row_height, note_height)
            .and_then(|()| root.present().map_err(|error| error.to_string()))
            .map_err(|problem| TimelineError::new(path, problem))
    }

    fn draw_on(
        &self,
        root: &DrawingArea<SVGBackend<'_>, Shift>,
        row_height: u32,
        note_height: u32,
    ) -> Result<(), String> {
        root.fill(&WHITE).map_err(|error| error.to_string())?;
        let (chart_area, note_area) = root.split_vertically(root.dim_in_pixel().1 - note_height);
        let rows = self.workers.max(1) as f64;
        let last_end = self.spans.iter().map(|span| span.end).max();
        let end = last_end
            .into_iter()
            .chain(self.deadline)
            .max()
            .unwrap_or_default()
            .as_secs_f64()
            .max(0.1)
            * 1.05;
        let mut chart = ChartBuilder::on(&chart_area)
            .caption(&self.title, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..end, 0.0..rows)
            .map_err(|error| error.to_string())?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(TRANSPARENT)
            .y_labels(0)
            .x_desc("seconds since the pool started")
            .draw()
            .map_err(|error| error.to_string())?;

        // Worker 1 is the top row. Each row is one unit high; a bar fills the middle of it.
        let top_of = |worker: usize| rows - (worker as f64 - 1.0);
        let label_every = usize::try_from(14_u32.div_ceil(row_height)).unwrap_or(1);
        for worker in (1..=self.workers).step_by(label_every.max(1)) {
            let (x, y) = chart.backend_coord(&(0.0, top_of(worker) - 0.5));
            let style = ("sans-serif", 14)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Right, VPos::Center));
            root.draw(&Text::new(format!("worker {worker}"), (x - 8, y), style))
                .map_err(|error| error.to_string())?;
        }

        // A job that failed at once still gets a bar that can be seen: 3 pixels at least.
        let plot_width = f64::from(chart.plotting_area().dim_in_pixel().0.max(1));
        let narrowest = 3.0 * end / plot_width;
        for span in &self.spans {
            let top = top_of(span.worker) - 0.15;
            let bottom = top_of(span.worker) - 0.85;
            let start = span.start.as_secs_f64();
            let stop = span.end.as_secs_f64().max(start + narrowest);
            let mut bar =
                Rectangle::new([(start, top), (stop, bottom)], span.kind.colour().filled());
            // A pixel of white at the end, so jobs that follow each other on a worker stay apart.
            let (left, _) = chart.backend_coord(&(start, top));
            let (right, _) = chart.backend_coord(&(stop, top));
            if right - left >= 3 {
                bar.set_margin(0, 0, 0, 1);
            }
            chart
                .draw_series([bar])
                .map_err(|error| error.to_string())?;
            if row_height >= 14 {
                let style = ("sans-serif", 13)
                    .into_font()
                    .color(&BLACK)
                    .pos(Pos::new(HPos::Left, VPos::Center));
                chart
                    .draw_series([EmptyElement::at((start, top - 0.35))
                        + Text::new(span.kind.label(span.job), (4, 0), style)])
                    .map_err(|error| error.to_string())?;
            }
        }

        if let Some(deadline) = self.deadline {
            let at = deadline.as_secs_f64();
            chart
                .draw_series([PathElement::new(
                    [(at, 0.0), (at, rows)],
                    DEADLINE.stroke_width(2),
                )])
                .map_err(|error| error.to_string())?;
            let style = ("sans-serif", 13)
                .into_font()
                .color(&DEADLINE)
                .pos(Pos::new(HPos::Right, VPos::Bottom));
            let label = format!("deadline {}", humantime::format_duration(deadline));
            chart
                .draw_series([EmptyElement::at((at, rows)) + Text::new(label, (-4, -2), style)])
                .map_err(|error| error.to_string())?;
        }

        if !self.never_started.is_empty() {
            let style = ("sans-serif", 14)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Left, VPos::Center));
            let at = (80, i32::try_from(note_height / 2).unwrap_or(0));
            note_area
                .draw(&Text::new(
                    never_started_note(&self.never_started),
                    at,
                    style,
                ))
                .map_err(|error| error.to_string())?;
        }
        Ok(())
    }
}

/// `never started (no bar): jobs 8–10`: the jobs as runs of numbers, one short line however
/// many there are.
fn never_started_note(jobs: &[u64]) -> String {
    let noun = if jobs.len() == 1 { "job" } else { "jobs" };
    format!(
        "never started (no bar): {noun} {}",
        number_ranges(jobs.iter().copied())
    )
}

/// When each job ran, timed around its work, for pools whose outcomes do not all say when they
/// started and ended (a failed or cancelled job carries no times). Shared by the workers.
#[derive(Debug)]
pub struct JobTimes {
    clock: Clock,
    /// The zero of every time recorded: when the pool started.
    started_at: SystemTime,
    /// `(job, start, end)`, in the order the jobs ended.
    runs: Mutex<Vec<(u64, Duration, Duration)>>,
}

/// Records the end of one job's run when dropped: at the end of the work, or while a panic
/// unwinds out of it.
struct Running<'a> {
    times: &'a JobTimes,
    job: u64,
    start: Duration,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let end = self.times.since_start(self.times.clock.now());
        self.times
            .runs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((self.job, self.start, end));
    }
}

impl JobTimes {
    /// Starts the clock that every job's times are measured from.
    pub fn start_now(clock: &Clock) -> Self {
        Self {
            clock: *clock,
            started_at: clock.now(),
            runs: Mutex::new(Vec::new()),
        }
    }

    /// Runs `work` for job `job` and records when it started and ended, even if it panics.
    pub fn time<T>(&self, job: u64, work: impl FnOnce() -> T) -> T {
        let _running = Running {
            times: self,
            job,
            start: self.since_start(self.clock.now()),
        };
        work()
    }

    /// When each job that ran started and ended, by job id.
    pub fn runs(&self) -> HashMap<u64, (Duration, Duration)> {
        self.runs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|&(job, start, end)| (job, (start, end)))
            .collect()
    }

    /// `at` as time since the pool started; zero if the clock went back.
    pub fn since_start(&self, at: SystemTime) -> Duration {
        at.duration_since(self.started_at).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_started_jobs_are_listed_as_runs() {
        assert_eq!(
            never_started_note(&[8, 9, 10, 12]),
            "never started (no bar): jobs 8–10, 12"
        );
        assert_eq!(never_started_note(&[10]), "never started (no bar): job 10");
        let many: Vec<u64> = (201..=400).collect();
        assert_eq!(
            never_started_note(&many),
            "never started (no bar): jobs 201–400"
        );
    }

    #[test]
    fn a_job_that_panics_still_gets_its_end() {
        let times = JobTimes::start_now(&Clock::System);
        let caught = std::panic::catch_unwind(|| times.time(7, || panic!("on purpose")));
        assert!(caught.is_err());
        let runs = times.runs();
        let (start, end) = runs.get(&7).expect("the run was recorded");
        assert!(start <= end);
        assert_eq!(runs.len(), 1);
    }
}
