//! The files the book includes from the record, and writing them into the record directory.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use crate::chart;
use crate::format;
use crate::record::Record;
use crate::run::Run;
use crate::tables;

/// The first line of every rendered markdown file: where it comes from, and that it is not to be
/// edited by hand.
pub const RENDERED_NOTICE: &str = "<!-- Rendered from record/runs/ by `cargo run -p bench-report \
     -- render`; do not edit. -->";

/// The same for the chart. An XML comment may not hold two hyphens in a row, so it names the
/// command in words.
pub const RENDERED_SVG_NOTICE: &str =
    "<!-- Rendered from record/runs/ by bench-report's render command; do not edit. -->";

/// The files rendered from a record: file name (in the record directory) to contents.
pub type Rendered = BTreeMap<String, String>;

/// Every file the book includes from the record: a markdown file per table, the machine lines,
/// and the side-by-side chart. Pure: the same record gives the same bytes.
pub fn render(record: &Record) -> Result<Rendered, String> {
    let mut files = Rendered::new();
    for table in tables::tables(record) {
        files.insert(
            format!("{}.md", table.name),
            table.to_markdown(record.runs.len()),
        );
    }
    files.insert("machine.md".to_owned(), machine_lines(record));
    if let Some(svg) = chart::side_by_side(record)? {
        files.insert("side-by-side.svg".to_owned(), svg);
    }
    Ok(files)
}

/// The machine and the moment of each run, a line each, oldest first: `record/machine.md`, which
/// a chapter shows in a text block.
pub fn machine_lines(record: &Record) -> String {
    record
        .runs
        .iter()
        .map(|run| machine_line(run) + "\n")
        .collect()
}

/// One run's line: "2 cores of AMD EPYC, Linux …, rustc …, go …; recorded … at commit `…`".
fn machine_line(run: &Run) -> String {
    let machine = &run.machine;
    let mut parts = vec![machine.hardware()];
    parts.extend(machine.os.clone());
    parts.extend(machine.rustc.clone());
    parts.extend(machine.go.clone());
    let mut line = parts.join(", ");
    line.push_str(&format!("; recorded {}", run.recorded.date));
    if let Some(commit) = &run.recorded.commit {
        line.push_str(&format!(" at commit `{commit}`"));
        if run.recorded.dirty == Some(true) {
            line.push_str(" with uncommitted changes");
        }
    }
    if let Some(seconds) = run.measuring_seconds {
        line.push_str(&format!(
            "; {} of measuring",
            format::duration(seconds as f64 * 1e9)
        ));
    }
    line
}

/// Writes the rendered files into `dir` and removes any table or chart there that the record
/// no longer renders (a table of a group that went away), so the directory holds exactly what
/// the record gives. Returns the names written.
pub fn write_rendered(dir: &Path, rendered: &Rendered) -> Result<Vec<String>, String> {
    fs::create_dir_all(dir).map_err(|error| format!("cannot create {}: {error}", dir.display()))?;
    for stale in rendered_files_in(dir)? {
        if !rendered.contains_key(&stale) {
            let path = dir.join(&stale);
            fs::remove_file(&path)
                .map_err(|error| format!("cannot remove {}: {error}", path.display()))?;
        }
    }
    for (name, contents) in rendered {
        let path = dir.join(name);
        fs::write(&path, contents)
            .map_err(|error| format!("cannot write {}: {error}", path.display()))?;
    }
    Ok(rendered.keys().cloned().collect())
}

/// The `.md` and `.svg` files in the record directory: what rendering owns there.
pub fn rendered_files_in(dir: &Path) -> Result<BTreeSet<String>, String> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeSet::new()),
        Err(error) => return Err(format!("cannot read {}: {error}", dir.display())),
    };
    Ok(entries
        .flatten()
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter(|name| name.ends_with(".md") || name.ends_with(".svg"))
        .collect())
}
