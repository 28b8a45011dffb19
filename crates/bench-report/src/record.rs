//! The record: the runs behind the book's figures, one file each in `book/src/record/runs/`,
//! named by the minute they were recorded. Every run is a whole `cargo bench` of one machine;
//! the tables quote the median of the runs, and the prose check holds a comparison to every run.

use std::fs;
use std::path::{Path, PathBuf};

use crate::run::{Point, Run};

/// The folder of the run files, inside the record directory.
pub const RUNS_DIR: &str = "runs";

/// How many runs, separated in time, the book wants behind every figure: enough for a median to
/// mean something and for a comparison that flips between runs to show it.
pub const RUNS_WANTED: usize = 3;

/// The runs of the record, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Each run, as its file holds it.
    pub runs: Vec<Run>,
}

impl Record {
    /// A record of one run: a reader's own `target/criterion`.
    pub fn of_one(run: Run) -> Record {
        Record { runs: vec![run] }
    }

    /// The runs in `record_dir`/runs, oldest first; none if the folder does not exist yet.
    pub fn read(record_dir: &Path) -> Result<Record, String> {
        let mut runs = Vec::new();
        for path in run_files(record_dir)? {
            let text = fs::read_to_string(&path)
                .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
            runs.push(
                Run::from_json(&text).map_err(|error| format!("{}: {error}", path.display()))?,
            );
        }
        Ok(Record { runs })
    }

    /// The runs in `record_dir`/runs, which must hold one at least: the book's record.
    pub fn read_for_the_book(record_dir: &Path) -> Result<Record, String> {
        let record = Record::read(record_dir)?;
        if record.runs.is_empty() {
            return Err(format!(
                "no recorded runs in {}: run scripts/compare-with-go.sh, then \
                 `cargo run -p bench-report -- record`",
                record_dir.join(RUNS_DIR).display()
            ));
        }
        Ok(record)
    }

    /// The point with this id in each run, `None` where a run did not measure it.
    pub fn point_in_each_run<'a>(&'a self, id: &'a str) -> impl Iterator<Item = Option<&'a Point>> {
        self.runs.iter().map(move |run| run.point(id))
    }

    /// Every point of every run, run by run.
    pub fn every_point(&self) -> impl Iterator<Item = &Point> {
        self.runs.iter().flat_map(|run| &run.points)
    }

    /// Whether any run measured something in `group`.
    pub fn has_group(&self, group: &str) -> bool {
        self.every_point().any(|point| point.group == group)
    }

    /// A line to print when the record holds fewer runs than the book wants.
    pub fn shortfall(&self) -> Option<String> {
        let count = self.runs.len();
        (count < RUNS_WANTED).then(|| {
            format!(
                "the record holds {count} run{}; the book wants {RUNS_WANTED}, separated in \
                 time: run the benches again later and `record` each run",
                if count == 1 { "" } else { "s" }
            )
        })
    }
}

/// The run files in `record_dir`/runs, sorted by name (so by date).
fn run_files(record_dir: &Path) -> Result<Vec<PathBuf>, String> {
    let dir = record_dir.join(RUNS_DIR);
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(format!("cannot read {}: {error}", dir.display())),
    };
    let mut paths: Vec<PathBuf> = entries
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "json")
        })
        .collect();
    paths.sort();
    Ok(paths)
}

/// Adds `run` to the record in `record_dir`, as a file of its own. Refuses a run on another
/// number of cores (the book's figures are for one size of machine) and a run the record already
/// holds (the same criterion results recorded twice). A run on another CPU model of the same
/// size is welcome: a reader's machine will not have the recording's CPU either, and the ranges
/// across runs show what changes with it. Returns the file written.
pub fn add_run(record_dir: &Path, run: &Run) -> Result<PathBuf, String> {
    let record = Record::read(record_dir)?;
    if let Some(other) = record
        .runs
        .iter()
        .find(|recorded| recorded.machine.cores != run.machine.cores)
    {
        return Err(format!(
            "this run's machine ({}) has another number of cores than the recorded runs' ({}): \
             record on a machine of their size, or start a new set with `record --new-set`",
            run.machine.hardware(),
            other.machine.hardware()
        ));
    }
    if let Some(same) = record
        .runs
        .iter()
        .find(|recorded| recorded.same_measurements(run))
    {
        return Err(format!(
            "the record already holds these results (runs/{}): run the benches again before \
             recording",
            same.file_name()
        ));
    }
    let dir = record_dir.join(RUNS_DIR);
    fs::create_dir_all(&dir)
        .map_err(|error| format!("cannot create {}: {error}", dir.display()))?;
    let path = dir.join(run.file_name());
    if path.exists() {
        return Err(format!(
            "{} already exists: a run was recorded this minute; wait a minute and record again",
            path.display()
        ));
    }
    fs::write(&path, run.to_json()?)
        .map_err(|error| format!("cannot write {}: {error}", path.display()))?;
    Ok(path)
}

/// Removes every run of the record in `record_dir`, to start a new set. Returns how many.
pub fn remove_runs(record_dir: &Path) -> Result<usize, String> {
    let files = run_files(record_dir)?;
    for path in &files {
        fs::remove_file(path)
            .map_err(|error| format!("cannot remove {}: {error}", path.display()))?;
    }
    Ok(files.len())
}
