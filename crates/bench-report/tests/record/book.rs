//! The book against its record: `book/src/record/runs/`, which the repository keeps.

use std::collections::BTreeSet;
use std::fs;

use bench_report::check::{self, Finding, Kind};
use bench_report::record::RUNS_DIR;
use bench_report::{RECORD_DIR, Record, Run};

use super::workspace_root;

fn recorded_runs() -> Record {
    let dir = workspace_root().join(RECORD_DIR);
    Record::read_for_the_book(&dir).unwrap_or_else(|error| {
        panic!(
            "{error}; the book's figures come from this record. Record a run with \
             scripts/compare-with-go.sh, then `cargo run -p bench-report -- record`"
        )
    })
}

#[test]
fn the_rendered_files_are_what_the_record_renders() {
    let record = recorded_runs();
    let dir = workspace_root().join(RECORD_DIR);
    let rendered = bench_report::render(&record).expect("the record renders");
    let on_disk = bench_report::render::rendered_files_in(&dir).expect("the record directory");
    let expected: BTreeSet<String> = rendered.keys().cloned().collect();
    assert_eq!(
        on_disk, expected,
        "book/src/record/ should hold exactly what the record renders; run \
         `cargo run -p bench-report -- render`"
    );
    for (name, contents) in &rendered {
        let file = fs::read_to_string(dir.join(name)).expect("a rendered file");
        assert!(
            &file == contents,
            "book/src/record/{name} is not what the runs render (edited by hand, or the \
             renderer changed): run `cargo run -p bench-report -- render`"
        );
    }
}

#[test]
fn every_run_file_is_as_the_tool_writes_it() {
    let dir = workspace_root().join(RECORD_DIR).join(RUNS_DIR);
    let entries = fs::read_dir(&dir).expect("the runs directory");
    for path in entries.flatten().map(|entry| entry.path()) {
        let text = fs::read_to_string(&path).expect("a run file");
        let run =
            Run::from_json(&text).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        let written = run.to_json().expect("json");
        let first_difference = written
            .lines()
            .zip(text.lines())
            .position(|(ours, theirs)| ours != theirs);
        assert!(
            written == text,
            "{} is not as `record` writes it (edited by hand?), from line {:?}",
            path.display(),
            first_difference.map(|index| index + 1)
        );
        assert!(
            path.ends_with(run.file_name()),
            "{} is named for its date",
            path.display()
        );
    }
}

fn lines(findings: &[Finding]) -> String {
    findings
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn every_figure_and_comparison_in_the_prose_holds_in_every_recorded_run() {
    let record = recorded_runs();
    let rendered = bench_report::render(&record).expect("the record renders");
    let findings =
        check::check_book(workspace_root(), &record, &rendered).expect("the chapters read");
    assert!(
        findings.is_empty(),
        "{} figures or comparisons in the prose that the record does not back. Quote the \
         record's tables; say that a comparison varies where the runs disagree on it; for a \
         parameter, add its phrase to bench_report::check::ALLOWED:\n{}",
        findings.len(),
        lines(&findings)
    );
}

/// The check is no formality: a second run in which every contender's place is turned round
/// (each time per job becomes its reciprocal, so the fastest becomes the slowest) makes every
/// comparison the book states flip in one run of two. The book's sentences that compare must then
/// say that they vary, and the check finds the ones that do not.
#[test]
fn a_run_that_disagrees_on_every_comparison_fails_the_books_comparisons() {
    let mut record = recorded_runs();
    let mut turned = record.runs[0].clone();
    turned.recorded.date = "2099-01-01 00:00 UTC".to_owned();
    for point in &mut turned.points {
        let jobs = point.jobs_per_iteration as f64;
        let reciprocal = |nanos: f64| jobs * jobs * 1e4 / nanos;
        (point.median_ns, point.median_low_ns, point.median_high_ns) = (
            reciprocal(point.median_ns),
            reciprocal(point.median_high_ns),
            reciprocal(point.median_low_ns),
        );
    }
    record.runs.push(turned);
    let rendered = bench_report::render(&record).expect("the record renders");
    let findings: Vec<Finding> = check::check_book(workspace_root(), &record, &rendered)
        .expect("the chapters read")
        .into_iter()
        .filter(|finding| finding.kind == Kind::Comparison)
        .collect();
    eprintln!("{}", lines(&findings));
    assert!(
        findings
            .iter()
            .any(|finding| finding.message.ends_with("say that it varies")),
        "the book compares contenders, and no comparison was found to vary:\n{}",
        lines(&findings)
    );
}

#[test]
fn every_allowed_phrase_is_still_in_its_chapter() {
    // Part of the book-wide check: an allowance whose words are gone from the prose would
    // otherwise sit in the list unnoticed.
    let files = check::prose_files(workspace_root()).expect("the chapters read");
    let stale: Vec<String> = check::ALLOWED
        .iter()
        .filter(|allowed| {
            !files
                .iter()
                .any(|(name, text)| name == allowed.file && text.contains(allowed.phrase))
        })
        .map(|allowed| format!("{}: {:?}", allowed.file, allowed.phrase))
        .collect();
    assert!(
        stale.is_empty(),
        "allowed phrases no longer in their chapter (remove them from check::ALLOWED):\n{}",
        stale.join("\n")
    );
}
