//! One recorded run behind every measured figure of the book.
//!
//! `cargo bench` leaves criterion's results in `target/criterion/`, and
//! `scripts/compare-with-go.sh` adds the memory of idle workers in `target/bench-extra/`. This
//! crate reads both ([`record`]), prints the reader's own tables from them, writes the run into
//! the repository as `book/src/record/run.json`, and renders the book's benchmark tables and the
//! side-by-side chart from that file alone ([`render`]). The tests hold the book to the record:
//! the rendered files must be what the record renders, and a figure quoted in the prose must be
//! one of the record's ([`figures`]).

pub mod chart;
pub mod figures;
pub mod format;
pub mod record;
pub mod tables;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

pub use record::Record;

/// The record's file name in the record directory.
pub const RECORD_FILE: &str = "run.json";

/// The record directory, relative to the workspace root.
pub const RECORD_DIR: &str = "book/src/record";

/// The files rendered from a record: file name (in the record directory) to contents.
pub type Rendered = BTreeMap<String, String>;

/// Every file the book includes from the record: a markdown file per table, the machine line,
/// and the side-by-side chart. Pure: the same record gives the same bytes.
pub fn render(record: &Record) -> Result<Rendered, String> {
    let mut files = Rendered::new();
    for table in tables::tables(record) {
        files.insert(format!("{}.md", table.name), table.to_markdown());
    }
    files.insert("machine.md".to_owned(), tables::machine_line(record) + "\n");
    if let Some(svg) = chart::side_by_side(record)? {
        files.insert("side-by-side.svg".to_owned(), svg);
    }
    Ok(files)
}

/// Every figure the rendered markdown shows: what the book's prose may quote.
pub fn backed_figures(rendered: &Rendered) -> BTreeSet<String> {
    figures::figures_of(
        rendered
            .iter()
            .filter(|(name, _)| name.ends_with(".md"))
            .map(|(_, text)| text.as_str()),
    )
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

/// Reads the record file.
pub fn read_record(path: &Path) -> Result<Record, String> {
    let text = fs::read_to_string(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    Record::from_json(&text).map_err(|error| format!("{}: {error}", path.display()))
}

/// The chapters and the README, read for the prose check: (name, contents), the name as the
/// allowlist keys it (`stage-2.md`, `README.md`).
pub fn prose_files(root: &Path) -> Result<Vec<(String, String)>, String> {
    let source = root.join("book/src");
    let entries = fs::read_dir(&source)
        .map_err(|error| format!("cannot read {}: {error}", source.display()))?;
    let mut files: Vec<(String, String)> = Vec::new();
    let mut paths: Vec<_> = entries
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "md"))
        .collect();
    paths.push(root.join("README.md"));
    paths.sort();
    for path in paths {
        let text = fs::read_to_string(&path)
            .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
        let name = path
            .file_name()
            .map_or_else(String::new, |name| name.to_string_lossy().into_owned());
        files.push((name, text));
    }
    Ok(files)
}

/// Every figure of the chapters and the README that the record does not back.
pub fn check_prose(root: &Path, rendered: &Rendered) -> Result<Vec<figures::Unbacked>, String> {
    let backed = backed_figures(rendered);
    Ok(prose_files(root)?
        .iter()
        .flat_map(|(name, text)| figures::unbacked(name, text, &backed, figures::ALLOWED))
        .collect())
}
