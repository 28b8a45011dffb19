//! Every `$ cargo run …` command a chapter tells the reader to run is run by a test: the table
//! below names the test for each, and this file fails when a chapter shows a command the table
//! does not know, when the table keeps a command no chapter shows, or when the named test is
//! gone or never passes one of the command's flags. A new command in the book therefore needs a
//! test before it lands.

use std::path::Path;

/// A command as a chapter shows it (after `$ `, without a trailing `# comment`), and the test
/// that runs it: the test file, from the workspace root, and the test function's name.
struct Shown {
    command: &'static str,
    test_file: &'static str,
    test: &'static str,
}

const fn shown(command: &'static str, test_file: &'static str, test: &'static str) -> Shown {
    Shown {
        command,
        test_file,
        test,
    }
}

const STAGE_1: &str = "crates/stage-1-basic/tests/cli.rs";
const STAGE_2: &str = "crates/stage-2-metadata/tests/cli.rs";
const STAGE_3: &str = "crates/stage-3-cancel/tests/cli.rs";
const STAGE_4: &str = "crates/stage-4-scaling/tests/cli.rs";
const STAGE_5: &str = "crates/stage-5-http/tests/cli.rs";
const STAGE_6: &str = "crates/stage-6-distributed/tests/cli.rs";
const IDLE_WORKERS: &str = "crates/idle-workers/tests/cli.rs";
const BENCH_REPORT: &str = "crates/bench-report/tests/record/main.rs";

const SHOWN: &[Shown] = &[
    shown(
        "cargo run -p stage-1-basic",
        STAGE_1,
        "default_run_squares_the_five_article_jobs",
    ),
    shown(
        "cargo run -p stage-1-basic -- --jobs 20 --workers 4",
        STAGE_1,
        "the_chapters_suggested_runs_pick_up_every_job_once",
    ),
    shown(
        "cargo run -p stage-1-basic -- --queue 0",
        STAGE_1,
        "the_chapters_suggested_runs_pick_up_every_job_once",
    ),
    shown(
        "cargo run -p stage-2-metadata",
        STAGE_2,
        "default_run_prints_ten_results_and_the_ideal_time",
    ),
    shown(
        "cargo run -p stage-2-metadata -- --help",
        STAGE_2,
        "help_lists_the_flags_and_their_defaults",
    ),
    shown(
        "cargo run -p stage-2-metadata -- --timeline timeline.svg",
        STAGE_2,
        "the_timeline_has_a_bar_per_job_and_a_row_per_worker",
    ),
    shown(
        "cargo run -p stage-2-metadata -- --workers 5",
        STAGE_2,
        "the_chapters_predictions_are_what_the_runs_say",
    ),
    shown(
        "cargo run -p stage-2-metadata -- --workers 10",
        STAGE_2,
        "the_chapters_predictions_are_what_the_runs_say",
    ),
    shown(
        "cargo run -p stage-2-metadata -- --workers 4",
        STAGE_2,
        "the_chapters_predictions_are_what_the_runs_say",
    ),
    shown(
        "cargo run -p stage-2-metadata -- --queue 0 --delay 100ms",
        STAGE_2,
        "the_chapters_predictions_are_what_the_runs_say",
    ),
    shown(
        "cargo run -p stage-3-cancel",
        STAGE_3,
        "default_run_completes_nine_jobs_and_cancels_the_last_at_the_deadline",
    ),
    shown(
        "cargo run -p stage-3-cancel -- --go-port --queue 10 --timeout 1200ms",
        STAGE_3,
        "the_books_go_port_run_is_what_the_program_prints",
    ),
    shown(
        "cargo run -p stage-3-cancel -- --timeline timeline.svg",
        STAGE_3,
        "the_timeline_shows_every_job_that_ran_by_outcome_and_the_deadline",
    ),
    shown(
        "cargo run -p stage-3-cancel -- --jobs 12 --delay 100ms --fail-every 4 --panic-every 5",
        STAGE_3,
        "the_books_failures_run_is_what_the_program_prints",
    ),
    shown(
        "cargo run -p stage-3-cancel -- --delay 10s --timeout 1m",
        STAGE_3,
        "sigint_stops_the_run_prints_the_account_and_exits_130",
    ),
    shown(
        "cargo run -p stage-4-scaling",
        STAGE_4,
        "default_run_scales_up_for_the_burst_and_back_down",
    ),
    shown(
        "cargo run -p stage-4-scaling -- --max-workers 2",
        STAGE_4,
        "the_longest_waits_of_exercise_1_are_the_arithmetics",
    ),
    shown(
        "cargo run -p stage-4-scaling -- --max-workers 32",
        STAGE_4,
        "the_longest_waits_of_exercise_1_are_the_arithmetics",
    ),
    shown(
        "cargo run -p stage-4-scaling -- --jobs 16 --delay 2s --keep-alive 100ms --metrics-addr 9898",
        STAGE_4,
        "the_command_of_exercise_3_finishes_inside_its_deadline",
    ),
    shown(
        "cargo run -p stage-4-scaling -- --metrics-addr 9898 --keep-alive 30s",
        STAGE_4,
        "the_metrics_endpoint_serves_every_metric_and_counts_that_match_the_account",
    ),
    shown(
        "cargo run -p stage-5-http",
        STAGE_5,
        "default_run_shows_every_kind_of_outcome",
    ),
    shown(
        "cargo run -p stage-5-http -- --rate 0 --jobs 100",
        STAGE_5,
        "the_chapters_other_runs_account_for_every_url",
    ),
    shown(
        "cargo run -p stage-5-http -- --url https://www.rust-lang.org/ --url https://go.dev/",
        STAGE_5,
        "the_chapters_other_runs_account_for_every_url",
    ),
    shown(
        "cargo run -p stage-5-http -- --urls my-urls.txt --workers 16 --rate 50",
        STAGE_5,
        "the_chapters_other_runs_account_for_every_url",
    ),
    shown(
        "cargo run -p stage-6-distributed",
        STAGE_6,
        "the_demo_kills_a_worker_loses_nothing_and_dead_letters_the_poison_job",
    ),
    shown(
        "cargo run -p stage-6-distributed -- chaos",
        STAGE_6,
        "chaos_with_its_defaults_finds_every_promise_kept",
    ),
    shown(
        "cargo run --release -p idle-workers -- threads",
        IDLE_WORKERS,
        "the_books_runs_are_what_the_program_prints",
    ),
    shown(
        "cargo run --release -p idle-workers -- tasks",
        IDLE_WORKERS,
        "the_books_runs_are_what_the_program_prints",
    ),
    shown(
        "cargo run -p bench-report",
        BENCH_REPORT,
        "a_readers_run_is_printed_with_the_spread_of_its_samples_and_nothing_written",
    ),
    shown(
        "cargo run -p bench-report -- record",
        BENCH_REPORT,
        "a_run_is_recorded_rendered_and_rendered_again_from_the_record_alone",
    ),
];

fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every `$ cargo run …` line of the book's chapters, as the table spells it, with where it is.
fn commands_in_the_book() -> Vec<(String, String)> {
    let chapters = test_support::files_under(&workspace_root().join("book/src"), &["md"]);
    let mut found = Vec::new();
    for chapter in chapters {
        let text = std::fs::read_to_string(&chapter).expect("a chapter is readable");
        for (index, line) in text.lines().enumerate() {
            let Some(command) = line.strip_prefix("$ ") else {
                continue;
            };
            if !command.starts_with("cargo run") {
                continue;
            }
            let command = command.split(" #").next().unwrap_or(command);
            let where_shown = format!("{}:{}", chapter.display(), index + 1);
            found.push((
                command.split_whitespace().collect::<Vec<_>>().join(" "),
                where_shown,
            ));
        }
    }
    found
}

/// What the command passes the program that a test must pass too: its flags and, for programs
/// with subcommands or shapes, its first bare word.
fn flags_of(command: &str) -> Vec<&str> {
    let Some((_, arguments)) = command.split_once(" -- ") else {
        return Vec::new();
    };
    let mut words = arguments.split_whitespace();
    let mut flags: Vec<&str> = words
        .clone()
        .filter(|word| word.starts_with("--"))
        .collect();
    if let Some(first) = words.next().filter(|word| !word.starts_with('-')) {
        flags.push(first);
    }
    flags
}

#[test]
fn every_command_a_chapter_shows_has_a_test_that_runs_it() {
    let known: Vec<&str> = SHOWN.iter().map(|shown| shown.command).collect();
    let in_the_book = commands_in_the_book();
    let unknown: Vec<String> = in_the_book
        .iter()
        .filter(|(command, _)| !known.contains(&command.as_str()))
        .map(|(command, place)| format!("{place}: `{command}`"))
        .collect();
    assert!(
        unknown.is_empty(),
        "commands the book shows that no test is named for (add a test, then a row to SHOWN):\n{}",
        unknown.join("\n")
    );
    let shown_commands: Vec<&str> = in_the_book
        .iter()
        .map(|(command, _)| command.as_str())
        .collect();
    let stale: Vec<&str> = known
        .iter()
        .copied()
        .filter(|command| !shown_commands.contains(command))
        .collect();
    assert!(
        stale.is_empty(),
        "rows for commands no chapter shows any more: {stale:?}"
    );
}

#[test]
fn the_test_named_for_each_command_passes_its_flags() {
    let mut problems = Vec::new();
    for shown in SHOWN {
        let path = workspace_root().join(shown.test_file);
        let source = std::fs::read_to_string(&path).expect("the test file is readable");
        let shared_helpers =
            test_support::files_under(&workspace_root().join("crates/test-support/src"), &["rs"])
                .iter()
                .map(|helper| std::fs::read_to_string(helper).expect("a helper is readable"))
                .collect::<String>();
        if !source.contains(&format!("#[test]\nfn {}(", shown.test)) {
            problems.push(format!("{}: no test fn {}", shown.test_file, shown.test));
        }
        // The test may pass a flag through a helper of its file or of test-support, or read
        // the whole command from the chapter (stage 4's `chapter_command`); either way the flag
        // is in one of those files.
        for flag in flags_of(shown.command) {
            let quoted = format!("\"{flag}");
            if !source.contains(&quoted) && !shared_helpers.contains(&quoted) {
                problems.push(format!(
                    "{}: no test in the file passes `{flag}` (for `{}`)",
                    shown.test_file, shown.command
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_check_reads_the_flags_a_command_passes() {
    assert_eq!(
        flags_of("cargo run -p stage-4-scaling -- --max-workers 2 --keep-alive 1s"),
        ["--max-workers", "--keep-alive"]
    );
    assert_eq!(
        flags_of("cargo run --release -p idle-workers -- threads"),
        ["threads"]
    );
    assert!(flags_of("cargo run -p stage-1-basic").is_empty());
}
