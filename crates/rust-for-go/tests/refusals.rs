//! The programs the book shows the compiler refusing are really refused, with the errors the
//! book prints.
//!
//! Each file in `refusals/` is compiled on its own with `rustc` (the one `RUSTC` names, or the
//! one on `PATH`), as a library. Most are shown with short error messages, one line per error; a
//! few in full, as a terminal shows them without colour, with the compiler's help and notes. The
//! output, with lines longer than the book's code column wrapped, must equal
//! `book/src/output/rust-for-go-<name>.txt`, whose first line is the command. With
//! `UPDATE_BOOK_OUTPUT=1` the test writes those files instead, and notes the compiler's version
//! beside them.
//!
//! Another compiler version may word its errors differently. On a reader's machine with another
//! `rustc`, the test checks that each program is refused with the same error code and says that
//! it compared no more; in CI, which must keep the book true, a different version fails until the
//! outputs are regenerated and reviewed.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// How much of the compiler's explanation the book shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shown {
    /// `--error-format short`: one line per error, its code, message and the label at its spot.
    Short,
    /// The full diagnostics: the code with the compiler's arrows, its help and its notes. Only
    /// for programs whose notes stay in the program's own file: a note that points into the
    /// standard library prints its source only where `rust-src` is installed.
    Full,
}

/// Each refused program (the Rust-for-Go chapter's, then stage 4's), the error code it must be
/// refused with, and how the book shows the refusal.
const REFUSALS: &[(&str, &str, Shown)] = &[
    ("rc_not_send.rs", "E0277", Shown::Short),
    ("cell_not_sync.rs", "E0277", Shown::Full),
    ("spawn_borrow.rs", "E0597", Shown::Short),
    ("shared_mut.rs", "E0499", Shown::Short),
    ("moved_receiver.rs", "E0382", Shown::Full),
    ("scale_up_race.rs", "E0596", Shown::Full),
];

/// The arguments the book shows; the test adds only where to put the (never made) output.
fn rustc_arguments(shown: Shown) -> &'static [&'static str] {
    match shown {
        Shown::Short => &[
            "--edition",
            "2024",
            "--crate-type",
            "lib",
            "--error-format",
            "short",
        ],
        // With its output in a pipe, not a terminal, rustc writes no colour codes.
        Shown::Full => &["--edition", "2024", "--crate-type", "lib"],
    }
}

/// The width of the book's code column.
const WIDTH: usize = 100;

fn refusals_folder() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("refusals")
}

/// The file that names the compiler the book's outputs were made with.
fn recorded_version_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../book/src/output/rust-for-go-rustc-version.txt")
}

/// What `rustc -V` prints for the compiler the test uses.
fn rustc_version() -> String {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| OsString::from("rustc"));
    let output = Command::new(&rustc)
        .arg("-V")
        .output()
        .unwrap_or_else(|error| panic!("cannot run {}: {error}", rustc.to_string_lossy()));
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

fn book_output(file: &str) -> PathBuf {
    let name = file.trim_end_matches(".rs").replace('_', "-");
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../book/src/output")
        .join(format!("rust-for-go-{name}.txt"))
}

/// Splits `line` at spaces into pieces of at most [`WIDTH`] characters. Each piece after the
/// first starts under the text it continues, as the compiler aligns a message of several lines:
/// after `= help: ` or `= note: `, or after the margin and the underline of a label (keeping the
/// margin's `|` bars). Any other line, such as a short-format error, continues four spaces in.
fn wrap(line: &str) -> Vec<String> {
    let (head, text) = line.split_at(text_start(line));
    let continuation: String = if line.trim_start().starts_with("= ") {
        " ".repeat(head.chars().count())
    } else if head.contains('|') {
        head.chars()
            .map(|c| if c == '|' { '|' } else { ' ' })
            .collect()
    } else {
        "    ".to_owned()
    };
    let mut pieces = Vec::new();
    let mut current = head.to_owned();
    let mut empty = true; // Whether `current` holds no word of `text` yet.
    for word in text.split(' ') {
        if !empty && current.chars().count() + 1 + word.chars().count() > WIDTH {
            pieces.push(std::mem::replace(&mut current, continuation.clone()));
            empty = true;
        }
        if !empty {
            current.push(' ');
        }
        current.push_str(word);
        empty = false;
    }
    pieces.push(current);
    pieces
}

/// Where the words of a line start: after `= help: ` or `= note: ` in a full diagnostic, after
/// the margin (`12 |`) and the underline or bars that lead to a label, or at the start.
fn text_start(line: &str) -> usize {
    let indent = line.len() - line.trim_start().len();
    let rest = &line[indent..];
    if rest.starts_with("= ")
        && let Some(colon) = rest.find(": ")
    {
        return indent + colon + 2;
    }
    let after_number = rest.trim_start_matches(|c: char| c.is_ascii_digit() || c == ' ');
    if !after_number.starts_with('|') {
        return 0;
    }
    let margin = line.len() - after_number.len();
    let drawing = after_number
        .find(|c: char| !matches!(c, ' ' | '|' | '^' | '-' | '_'))
        .unwrap_or(after_number.len());
    margin + drawing
}

/// A folder of its own under the system's temporary folder, removed on drop.
struct TempFolder(PathBuf);

impl TempFolder {
    fn new(purpose: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "rust-for-go-{purpose}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        fs::create_dir_all(&path).expect("the temporary folder can be created");
        Self(path)
    }
}

impl Drop for TempFolder {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// What the book shows for one refused file: the command, then the compiler's lines, wrapped.
/// Short errors lose their blank lines; full ones keep the blank lines between diagnostics.
/// Panics if the file compiles.
fn refusal_output(file: &str, format: Shown) -> String {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| OsString::from("rustc"));
    let out_dir = TempFolder::new(file.trim_end_matches(".rs"));
    let folder = refusals_folder();
    let output = Command::new(&rustc)
        .current_dir(&folder)
        .args(rustc_arguments(format))
        .arg(file)
        .arg("--out-dir")
        .arg(&out_dir.0)
        .output()
        .unwrap_or_else(|error| panic!("cannot run {}: {error}", rustc.to_string_lossy()));
    assert!(
        !output.status.success(),
        "{file} compiled, but the book shows it refused"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    // The compiler names the file as it was given, relative to `refusals/`; strip the absolute
    // folder too, in case a compiler ever spells it out.
    let prefix = format!("{}/", folder.display());
    let mut shown = format!("$ rustc {} {file}\n", rustc_arguments(format).join(" "));
    let kept = stderr
        .trim_end()
        .lines()
        .filter(|line| format == Shown::Full || !line.trim().is_empty());
    for line in kept {
        for piece in wrap(&line.replace(&prefix, "")) {
            shown.push_str(&piece);
            shown.push('\n');
        }
    }
    shown
}

#[test]
fn every_refused_program_fails_with_the_errors_the_book_shows() {
    let update = std::env::var_os("UPDATE_BOOK_OUTPUT").is_some();
    let version = rustc_version();
    if update {
        fs::write(recorded_version_file(), format!("{version}\n"))
            .expect("the book's version note can be written");
    }
    let recorded = fs::read_to_string(recorded_version_file()).unwrap_or_default();
    let same_compiler = recorded.trim() == version;
    if !same_compiler {
        assert!(
            std::env::var_os("CI").is_none(),
            "the book's compiler errors were made with {}, and CI runs {version}: regenerate \
             them with UPDATE_BOOK_OUTPUT=1 and review the wording",
            recorded.trim()
        );
        eprintln!(
            "NOTE: the book's compiler errors were made with {}, this is {version}: checked \
             only that each program is refused with its error code",
            recorded.trim()
        );
    }
    let mut problems = Vec::new();
    for &(file, code, format) in REFUSALS {
        let shown = refusal_output(file, format);
        if !shown.contains(&format!("error[{code}]: ")) {
            problems.push(format!("{file} was not refused with {code}:\n{shown}"));
            continue;
        }
        let book_file = book_output(file);
        if update {
            fs::write(&book_file, &shown).expect("the book's output file can be written");
            continue;
        }
        if !same_compiler {
            continue;
        }
        match fs::read_to_string(&book_file) {
            Ok(in_book) if in_book == shown => {}
            Ok(in_book) => problems.push(format!(
                "{} differs from the compiler's errors for {file}; if only the compiler's \
                 wording changed, rerun with UPDATE_BOOK_OUTPUT=1.\n--- book\n{in_book}\
                 --- compiler\n{shown}",
                book_file.display()
            )),
            Err(error) => problems.push(format!("{}: {error}", book_file.display())),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_file_in_refusals_is_checked_and_fits_the_book() {
    let mut on_disk: Vec<String> = fs::read_dir(refusals_folder())
        .expect("refusals/ is readable")
        .map(|entry| {
            entry
                .expect("a readable folder entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = REFUSALS
        .iter()
        .map(|(file, _, _)| (*file).to_owned())
        .collect();
    listed.sort();
    assert_eq!(
        on_disk, listed,
        "every refused program is listed in REFUSALS"
    );

    for file in &listed {
        let source =
            fs::read_to_string(refusals_folder().join(file)).expect("a refusal is readable");
        let output = fs::read_to_string(book_output(file)).unwrap_or_default();
        for line in source.lines().chain(output.lines()) {
            assert!(
                line.chars().count() <= WIDTH,
                "{file}: a line is wider than the book's code column: {line}"
            );
        }
    }
}

#[test]
fn wrapping_keeps_every_word_and_every_line_within_the_column() {
    let long = "word ".repeat(50);
    let pieces = wrap(long.trim_end());
    assert!(pieces.len() > 2);
    assert!(pieces.iter().all(|piece| piece.chars().count() <= WIDTH));
    assert!(
        pieces[1..]
            .iter()
            .all(|piece| piece.starts_with("    word"))
    );
    let words: usize = pieces
        .iter()
        .map(|piece| piece.split_whitespace().count())
        .sum();
    assert_eq!(words, 50);
    assert_eq!(wrap("short line"), ["short line"]);
}

#[test]
fn a_full_diagnostic_continues_under_the_text_it_wraps() {
    let words = "words ".repeat(30);
    let help = format!("   = help: {}", words.trim_end());
    let pieces = wrap(&help);
    assert!(pieces.len() > 1);
    assert!(pieces.iter().all(|piece| piece.chars().count() <= WIDTH));
    assert!(pieces[0].starts_with("   = help: words"));
    assert!(
        pieces[1..]
            .iter()
            .all(|piece| piece.starts_with(&format!("{}words", " ".repeat(11))))
    );

    // A label under the code: the margin's bars stay, the words line up after the underline.
    let label = format!("   | |    -------- {}", words.trim_end());
    let pieces = wrap(&label);
    assert!(pieces.len() > 1);
    assert!(pieces[0].starts_with("   | |    -------- words"));
    assert!(
        pieces[1..]
            .iter()
            .all(|piece| piece.starts_with(&format!("   | |{}words", " ".repeat(13))))
    );
    assert_eq!(wrap("   = note: short"), ["   = note: short"]);
    assert_eq!(wrap("12 |     let x = 1;"), ["12 |     let x = 1;"]);
}
