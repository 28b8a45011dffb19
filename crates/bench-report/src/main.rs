//! `cargo run -p bench-report` prints the benchmark tables of your own `cargo bench` run;
//! `-- record` adds that run to the book's record (`book/src/record/runs/`) and renders the
//! book's tables and chart from every run of it; `-- render` renders them again from the record
//! alone; `-- check` lists the figures and comparisons of the chapters that the record does not
//! back.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use bench_report::criterion::{self, CriterionPoint};
use bench_report::machine::{self, utc_minute};
use bench_report::probes::{self, STARTED_FILE};
use bench_report::record::{self, RUNS_DIR, Record};
use bench_report::run::{ABOUT, FORMAT, Run};
use bench_report::tables::{self, Spread};
use bench_report::{RECORD_DIR, check, render};
use clap::{Parser, Subcommand};

/// The benchmark tables of the book, from criterion's results or from the recorded runs.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// Criterion's output directory [default: target/criterion in the workspace].
    #[arg(long, value_name = "DIR", global = true)]
    criterion: Option<PathBuf>,
    /// Where scripts/compare-with-go.sh saves what criterion does not measure: the idle-memory
    /// and hand-off probes' output, the Redis commands per job, the measuring time, the run's
    /// start [default: target/bench-extra in the workspace].
    #[arg(long, value_name = "DIR", global = true)]
    probes: Option<PathBuf>,
    /// The record directory: the runs in its runs/ folder, the rendered tables beside them
    /// [default: book/src/record in the workspace].
    #[arg(long, value_name = "DIR", global = true)]
    record_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Add this run to the book's record (record/runs/) and render the tables and the chart.
    Record {
        /// Start a new set of runs: remove the recorded runs first (after a change that moves
        /// the figures, or on a machine with another number of cores).
        #[arg(long)]
        new_set: bool,
    },
    /// Render the tables and the chart again from the recorded runs alone.
    Render,
    /// List the figures and comparisons in the chapters and the README that the record does
    /// not back in every run.
    Check,
}

/// The directories the program reads and writes, from the flags and the workspace root.
struct Directories {
    workspace: PathBuf,
    criterion: PathBuf,
    probes: PathBuf,
    record: PathBuf,
}

impl Directories {
    fn new(cli: &Cli) -> Directories {
        // `cargo run` sets CARGO_MANIFEST_DIR for the program; otherwise start from where we
        // are, and last from where this crate was built.
        let starts = [
            std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from),
            std::env::current_dir().ok(),
            Some(PathBuf::from(env!("CARGO_MANIFEST_DIR"))),
        ];
        let workspace = starts
            .into_iter()
            .flatten()
            .find_map(|start| machine::workspace_root(&start))
            .unwrap_or_else(|| PathBuf::from("."));
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(|dir| workspace.join(dir))
            .unwrap_or_else(|| workspace.join("target"));
        Directories {
            criterion: cli
                .criterion
                .clone()
                .unwrap_or_else(|| target.join("criterion")),
            probes: cli
                .probes
                .clone()
                .unwrap_or_else(|| target.join("bench-extra")),
            record: cli
                .record_dir
                .clone()
                .unwrap_or_else(|| workspace.join(RECORD_DIR)),
            workspace,
        }
    }
}

/// This run, from criterion's directory and the probes folder, with notes on what was left
/// out.
fn read_this_run(directories: &Directories) -> Result<(Run, Vec<String>), String> {
    if !directories.criterion.is_dir() {
        return Err(no_results(&directories.criterion));
    }
    let found = criterion::read_criterion(&directories.criterion)?;
    let (found, notes) = this_run_only(found, &directories.probes.join(STARTED_FILE));
    if found.is_empty() {
        return Err(no_results(&directories.criterion));
    }
    let probed = probes::read_probes(&directories.probes)?;
    let run = Run {
        about: ABOUT.to_owned(),
        format: FORMAT,
        recorded: machine::recorded_now(&directories.workspace),
        machine: machine::this_machine(&directories.workspace),
        measuring_seconds: probed.measuring_seconds,
        idle_workers: probed.idle_workers,
        redis_commands: probed.redis_commands,
        handoff: probed.handoff,
        points: found.into_iter().map(|found| found.point).collect(),
    };
    Ok((run, notes))
}

fn no_results(dir: &Path) -> String {
    format!(
        "no benchmark results in {}: run `cargo bench` (or scripts/compare-with-go.sh) first",
        dir.display()
    )
}

/// Leaves out the points measured before the last scripts/compare-with-go.sh run started, if
/// that run measured anything: a run is one run, not a mix of runs.
fn this_run_only(found: Vec<CriterionPoint>, started: &Path) -> (Vec<CriterionPoint>, Vec<String>) {
    let Ok(started) = std::fs::metadata(started).and_then(|metadata| metadata.modified()) else {
        return (found, Vec::new());
    };
    let (current, old): (Vec<_>, Vec<_>) = found
        .into_iter()
        .partition(|found| found.written >= started);
    if current.is_empty() || old.is_empty() {
        let mut all = current;
        all.extend(old);
        return (all, Vec::new());
    }
    let notes = old
        .iter()
        .map(|found| {
            format!(
                "left out: {} (measured before the last scripts/compare-with-go.sh run, at {})",
                found.point.id,
                utc_minute(found.written)
            )
        })
        .collect();
    (current, notes)
}

/// Writes to stdout, locked: the program's output is its tables.
fn print(text: &str) -> Result<(), String> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|error| format!("cannot write to stdout: {error}"))
}

/// The tables of a record for the terminal, with what they miss.
fn tables_text(record: &Record, spread: Spread) -> String {
    let machines: Vec<String> = render::machine_lines(record)
        .lines()
        .map(|line| format!("Machine: {}\n", line.replace('`', "")))
        .collect();
    let mut text = machines.concat();
    text.push_str(match spread {
        Spread::Samples => "In brackets: the fastest and the slowest sample of the run.\n\n",
        Spread::AcrossRuns if record.runs.len() > 1 => {
            "Medians of the runs; in brackets, where the runs disagree beyond their noise: the \
             lowest and the highest run.\n\n"
        }
        Spread::AcrossRuns => "\n",
    });
    for table in tables::tables(record) {
        text.push_str(&table.to_text(spread));
        text.push('\n');
    }
    for line in tables::missing(record) {
        text.push_str(&format!("missing: {line}\n"));
    }
    text
}

fn show(directories: &Directories) -> Result<(), String> {
    let (run, notes) = read_this_run(directories)?;
    let mut text = tables_text(&Record::of_one(run), Spread::Samples);
    text.extend(notes.iter().map(|note| format!("{note}\n")));
    print(&text)
}

fn write_record(directories: &Directories, new_set: bool) -> Result<(), String> {
    let (run, notes) = read_this_run(directories)?;
    let mut text = String::new();
    if new_set {
        let removed = record::remove_runs(&directories.record)?;
        text.push_str(&format!(
            "started a new set: removed {removed} recorded runs\n"
        ));
    }
    let path = record::add_run(&directories.record, &run)?;
    let record = Record::read_for_the_book(&directories.record)?;
    let written = render::write_rendered(&directories.record, &render::render(&record)?)?;
    text.insert_str(0, &tables_text(&record, Spread::AcrossRuns));
    text.extend(notes.iter().map(|note| format!("{note}\n")));
    text.push_str(&format!(
        "recorded {} points in {}, run {} of the record; rendered {}\n",
        run.points.len(),
        path.display(),
        record.runs.len(),
        written.join(", ")
    ));
    text.extend(record.shortfall().map(|line| format!("{line}\n")));
    print(&text)
}

fn render_again(directories: &Directories) -> Result<(), String> {
    let record = Record::read_for_the_book(&directories.record)?;
    let written = render::write_rendered(&directories.record, &render::render(&record)?)?;
    print(&format!(
        "rendered {} in {} from the {} runs in {}\n",
        written.join(", "),
        directories.record.display(),
        record.runs.len(),
        RUNS_DIR
    ))
}

fn check(directories: &Directories) -> Result<bool, String> {
    let record = Record::read_for_the_book(&directories.record)?;
    let rendered = render::render(&record)?;
    let findings = check::check_book(&directories.workspace, &record, &rendered)?;
    let mut text: String = findings
        .iter()
        .map(|finding| format!("{finding}\n"))
        .collect();
    text.push_str(&format!(
        "{} figures or comparisons in the prose that the record does not back\n",
        findings.len()
    ));
    text.extend(record.shortfall().map(|line| format!("{line}\n")));
    print(&text)?;
    Ok(findings.is_empty())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let directories = Directories::new(&cli);
    let outcome = match cli.command {
        None => show(&directories).map(|()| true),
        Some(Command::Record { new_set }) => write_record(&directories, new_set).map(|()| true),
        Some(Command::Render) => render_again(&directories).map(|()| true),
        Some(Command::Check) => check(&directories),
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
