//! The book built with mdbook, for the tests that look at the pages a reader sees.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The book, built into a folder of its own that is removed when this is dropped.
#[derive(Debug)]
pub struct BuiltBook {
    /// Where the pages are.
    pub dir: PathBuf,
}

impl BuiltBook {
    /// Builds the book for `test`. mdbook is part of the project's toolchain (`.ci/run` installs
    /// the pinned version): without it this says loudly that `test` was skipped and returns
    /// `None`, and fails instead when `CI` is set. A build that fails, or that logs an error or
    /// a warning (mdbook logs a missing include as an ERROR and still succeeds), fails the test.
    pub fn build(test: &str) -> Option<BuiltBook> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let dir = std::env::temp_dir().join(format!("worker-pools-{test}-{}", std::process::id()));
        let built = Command::new("mdbook")
            .arg("build")
            .arg(root.join("book"))
            .arg("--dest-dir")
            .arg(&dir)
            .output();
        let built = match built {
            Ok(built) => built,
            Err(error) if std::env::var_os("CI").is_none() => {
                eprintln!(
                    "\n*** SKIPPED {test}: mdbook could not be run ({error}); .ci/run installs it ***\n"
                );
                return None;
            }
            Err(error) => panic!("mdbook could not be run ({error}); CI must have it"),
        };
        let book = BuiltBook { dir };
        let log = String::from_utf8_lossy(&built.stderr);
        assert!(built.status.success(), "mdbook build failed:\n{log}");
        let complaints: Vec<&str> = log
            .lines()
            .filter(|line| line.contains("ERROR") || line.contains("WARN"))
            .collect();
        assert!(
            complaints.is_empty(),
            "mdbook complained:\n{}",
            complaints.join("\n")
        );
        Some(book)
    }

    /// Every page a reader reads: the chapters, without mdbook's own pages (the print page
    /// repeats every chapter; 404 and the table of contents are templates).
    pub fn pages(&self) -> Vec<PathBuf> {
        files_under(&self.dir, &["html"])
            .into_iter()
            .filter(|page| {
                let name = page.file_name().unwrap_or_default();
                name != "print.html" && name != "404.html" && name != "toc.html"
            })
            .collect()
    }

    /// Every picture of the book: the drawings, the programs' charts and the benchmark chart.
    pub fn pictures(&self) -> Vec<PathBuf> {
        files_under(&self.dir, &["svg"])
            .into_iter()
            // mdbook's own icons.
            .filter(|picture| !picture.starts_with(self.dir.join("fonts")))
            .filter(|picture| !picture.starts_with(self.dir.join("FontAwesome")))
            .collect()
    }
}

impl Drop for BuiltBook {
    fn drop(&mut self) {
        // Best effort: a leftover folder in the temporary directory is harmless.
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Every file under `folder` whose name ends in one of `extensions`, recursively, sorted.
pub fn files_under(folder: &Path, extensions: &[&str]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = fs::read_dir(folder) else {
        return found;
    };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_under(&path, extensions));
        } else if path
            .extension()
            .is_some_and(|extension| extensions.iter().any(|wanted| extension == *wanted))
        {
            found.push(path);
        }
    }
    found.sort();
    found
}
