//! `cargo run -p bench-report` prints the benchmark tables of your own `cargo bench` run;
//! `-- record` writes that run into the book (`book/src/record/run.json`) and renders the book's
//! tables and chart from it; `-- render` renders them again from the record alone; `-- check`
//! lists the figures of the chapters that the record does not back.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use bench_report::record::{self, Measured, Record};
use bench_report::{RECORD_DIR, RECORD_FILE, tables};
use clap::{Parser, Subcommand};

/// The benchmark tables of the book, from criterion's results or from the recorded run.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// Criterion's output directory [default: target/criterion in the workspace].
    #[arg(long, value_name = "DIR", global = true)]
    criterion: Option<PathBuf>,
    /// Where scripts/compare-with-go.sh saves the idle-memory figures [default:
    /// target/bench-extra in the workspace].
    #[arg(long, value_name = "DIR", global = true)]
    extra: Option<PathBuf>,
    /// The record directory [default: book/src/record in the workspace].
    #[arg(long, value_name = "DIR", global = true)]
    out: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write this run into the book (record/run.json) and render its tables and chart.
    Record,
    /// Render the tables and the chart again from record/run.json alone.
    Render,
    /// List the figures in the chapters and the README that the record does not back.
    Check,
}

/// Where things are, from the flags and the workspace root.
struct Places {
    root: PathBuf,
    criterion: PathBuf,
    extra: PathBuf,
    out: PathBuf,
}

impl Places {
    fn new(cli: &Cli) -> Places {
        // `cargo run` sets CARGO_MANIFEST_DIR for the program; otherwise start from where we
        // are, and last from where this crate was built.
        let starts = [
            std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from),
            std::env::current_dir().ok(),
            Some(PathBuf::from(env!("CARGO_MANIFEST_DIR"))),
        ];
        let root = starts
            .into_iter()
            .flatten()
            .find_map(|start| record::workspace_root(&start))
            .unwrap_or_else(|| PathBuf::from("."));
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(|dir| root.join(dir))
            .unwrap_or_else(|| root.join("target"));
        Places {
            criterion: cli
                .criterion
                .clone()
                .unwrap_or_else(|| target.join("criterion")),
            extra: cli
                .extra
                .clone()
                .unwrap_or_else(|| target.join("bench-extra")),
            out: cli.out.clone().unwrap_or_else(|| root.join(RECORD_DIR)),
            root,
        }
    }
}

/// The file scripts/compare-with-go.sh touches before the bench starts: points older than it
/// are left over from an earlier run.
const STARTED_FILE: &str = "started";

/// A run read from criterion's directory and the probes' files, with notes about what was left
/// out.
fn measure(places: &Places) -> Result<(Record, Vec<String>), String> {
    if !places.criterion.is_dir() {
        return Err(no_results(&places.criterion));
    }
    let measured = record::read_criterion(&places.criterion)?;
    let (measured, notes) = this_run_only(measured, &places.extra.join(STARTED_FILE));
    if measured.is_empty() {
        return Err(no_results(&places.criterion));
    }
    let (idle_workers, measuring_seconds) = record::read_extras(&places.extra)?;
    let record = Record {
        about: record::ABOUT.to_owned(),
        format: record::FORMAT,
        recorded: record::recorded_now(&places.root),
        machine: record::this_machine(&places.root),
        measuring_seconds,
        idle_workers,
        points: measured
            .into_iter()
            .map(|measured| measured.point)
            .collect(),
    };
    Ok((record, notes))
}

fn no_results(dir: &Path) -> String {
    format!(
        "no benchmark results in {}: run `cargo bench` (or scripts/compare-with-go.sh) first",
        dir.display()
    )
}

/// Leaves out the points measured before the last scripts/compare-with-go.sh run started, if
/// that run measured anything: a record is one run, not a mix of runs.
fn this_run_only(measured: Vec<Measured>, started: &Path) -> (Vec<Measured>, Vec<String>) {
    let Some(started) = std::fs::metadata(started)
        .and_then(|metadata| metadata.modified())
        .ok()
    else {
        return (measured, Vec::new());
    };
    let (current, old): (Vec<Measured>, Vec<Measured>) = measured
        .into_iter()
        .partition(|measured| measured.written >= started);
    if current.is_empty() || old.is_empty() {
        let mut all = current;
        all.extend(old);
        return (all, Vec::new());
    }
    let notes = old
        .iter()
        .map(|measured| {
            format!(
                "left out: {} (measured before the last scripts/compare-with-go.sh run, at {})",
                measured.point.id,
                record::utc_date(measured.written)
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

fn tables_text(record: &Record) -> String {
    let mut text = format!(
        "Machine: {}\n\n",
        tables::machine_line(record).replace('`', "")
    );
    for table in tables::tables(record) {
        text.push_str(&table.to_text());
        text.push('\n');
    }
    for line in tables::missing(record) {
        text.push_str(&format!("missing: {line}\n"));
    }
    text
}

fn show(places: &Places) -> Result<(), String> {
    let (record, notes) = measure(places)?;
    print(&tables_text(&record))?;
    for note in notes {
        print(&format!("{note}\n"))?;
    }
    Ok(())
}

fn write_record(places: &Places) -> Result<(), String> {
    let (record, notes) = measure(places)?;
    std::fs::create_dir_all(&places.out)
        .map_err(|error| format!("cannot create {}: {error}", places.out.display()))?;
    let path = places.out.join(RECORD_FILE);
    std::fs::write(&path, record.to_json()?)
        .map_err(|error| format!("cannot write {}: {error}", path.display()))?;
    let written = bench_report::write_rendered(&places.out, &bench_report::render(&record)?)?;
    let mut text = tables_text(&record);
    for note in notes {
        text.push_str(&format!("{note}\n"));
    }
    text.push_str(&format!(
        "recorded {} points in {}, rendered {}\n",
        record.points.len(),
        path.display(),
        written.join(", ")
    ));
    print(&text)
}

fn render_again(places: &Places) -> Result<(), String> {
    let record = bench_report::read_record(&places.out.join(RECORD_FILE))?;
    let written = bench_report::write_rendered(&places.out, &bench_report::render(&record)?)?;
    print(&format!(
        "rendered {} in {}\n",
        written.join(", "),
        places.out.display()
    ))
}

fn check(places: &Places) -> Result<bool, String> {
    let record = bench_report::read_record(&places.out.join(RECORD_FILE))?;
    let rendered = bench_report::render(&record)?;
    let unbacked = bench_report::check_prose(&places.root, &rendered)?;
    let mut text: String = unbacked.iter().map(|line| format!("{line}\n")).collect();
    text.push_str(&format!(
        "{} figures in the prose that the record does not back\n",
        unbacked.len()
    ));
    print(&text)?;
    Ok(unbacked.is_empty())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let places = Places::new(&cli);
    let outcome = match cli.command {
        None => show(&places).map(|()| true),
        Some(Command::Record) => write_record(&places).map(|()| true),
        Some(Command::Render) => render_again(&places).map(|()| true),
        Some(Command::Check) => check(&places),
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
