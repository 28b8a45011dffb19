//! The runs the book shows, kept in `book/src/output/`, checked against what the programs print.

use std::path::{Path, PathBuf};
use std::process::Command;

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

/// Checks that the book's `src/output/<file_name>` is `generated`, text a test made (a model
/// checker's trace, say). With `UPDATE_BOOK_OUTPUT=1` it writes the file instead; review the
/// change like any other change of the book.
pub fn check_generated_output(file_name: &str, generated: &str) {
    let path = book_output(file_name);
    if std::env::var_os("UPDATE_BOOK_OUTPUT").is_some() {
        std::fs::write(&path, generated)
            .unwrap_or_else(|error| panic!("cannot write {}: {error}", path.display()));
        return;
    }
    let shown = read_book_output(file_name);
    assert!(
        shown == generated,
        "{} is not what the test made; if the change is meant, rerun with \
         UPDATE_BOOK_OUTPUT=1\n--- book\n{shown}--- made\n{generated}",
        path.display()
    );
}

/// Reads a file from the book's `src/output/` folder.
pub fn read_book_output(file_name: &str) -> String {
    let path = book_output(file_name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
}

/// Checks a transcript the book shows: a file of `$ program args…` lines, each followed by what
/// that command prints (stdout, then stderr). Every command is run with `program` standing in for
/// its first word, and what it prints must match the transcript line for line. Returns how many
/// commands were checked.
pub fn check_transcript(file_name: &str, program: &Path) -> usize {
    check_transcript_with(file_name, program, &[])
}

/// [`check_transcript`], with `environment` set for every command. A command may also be
/// written as the reader types it in the workspace, `$ cargo run -q -p <crate> -- args…`, and
/// may end in `2>/dev/null`, in which case only its stdout is compared.
pub fn check_transcript_with(
    file_name: &str,
    program: &Path,
    environment: &[(&str, &str)],
) -> usize {
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
        let (args, quiet) = arguments(command_line);
        let output = Command::new(program)
            .args(&args)
            .envs(environment.iter().copied())
            .output()
            .expect("the program starts");
        let mut printed = String::from_utf8_lossy(&output.stdout).into_owned();
        if !quiet {
            printed.push_str(&String::from_utf8_lossy(&output.stderr));
        }
        assert_eq!(
            &printed, expected,
            "{file_name}: `{command_line}` printed something else"
        );
    }
    commands.len()
}

/// The arguments of a transcript's command line, after the program (its first word, or
/// `cargo run … --`), and whether it sends stderr away.
fn arguments(command_line: &str) -> (Vec<&str>, bool) {
    let words: Vec<&str> = command_line.split_whitespace().collect();
    let skip = match words.first() {
        Some(&"cargo") => {
            words
                .iter()
                .position(|word| *word == "--")
                .unwrap_or_else(|| panic!("`{command_line}`: cargo run without `--`"))
                + 1
        }
        _ => 1,
    };
    let quiet = words.last() == Some(&"2>/dev/null");
    let end = words.len() - usize::from(quiet);
    (words[skip..end].to_vec(), quiet)
}
