use super::*;
use crate::render::render;
use crate::test_runs;

/// The findings in `text` (as `performance.md`) against a record of these runs.
fn check(runs: &[&[(&str, f64)]], text: &str) -> Vec<Finding> {
    check_allowing(runs, text, &[])
}

fn check_allowing(runs: &[&[(&str, f64)]], text: &str, allowed: &[Allowed]) -> Vec<Finding> {
    let record = test_runs::record(runs);
    let rendered = render(&record).expect("the record renders");
    let backing = Backing::of(&record, &rendered);
    check_text("performance.md", text, &backing, allowed)
}

fn messages(findings: &[Finding]) -> Vec<String> {
    findings.iter().map(ToString::to_string).collect()
}

/// Stage 1 at 75 ns and Go at 128 ns, the tuned pool at 5 ns.
const AGREEING: &[(&str, f64)] = &[
    ("side-by-side/stage-1-basic", 75.0),
    ("side-by-side/go-reference", 128.0),
    ("side-by-side/fast-pool", 5.0),
];

/// The same with Go ahead of stage 1: a run that disagrees on stage 1 against Go.
const GO_AHEAD: &[(&str, f64)] = &[
    ("side-by-side/stage-1-basic", 110.0),
    ("side-by-side/go-reference", 90.0),
    ("side-by-side/fast-pool", 5.2),
];

// ---- figures ------------------------------------------------------------------------------

#[test]
fn catches_a_figure_the_record_does_not_have() {
    let text = "Stage 1 costs 75 ns a job.\nGo costs 117 ns.\n";
    let found = check(&[AGREEING], text);
    assert_eq!(
        messages(&found),
        ["performance.md:2: \"117 ns\" is not a figure of the record"]
    );
    assert_eq!(found[0].kind, Kind::Figure);
}

#[test]
fn a_number_after_a_number_may_be_a_figure_of_its_own() {
    assert!(check(&[AGREEING], "In the same run, stage 1 75 ns.\n").is_empty());
    assert_eq!(
        check(&[AGREEING], "In the same run, stage 1 270 ns.\n")[0].message,
        "\"1 270 ns\" is not a figure of the record"
    );
}

#[test]
fn ignores_code_blocks_inline_code_and_includes() {
    let text = "```console\n$ run --delay 500ms\ntook 812 ms\n```\n\
                Run `--timeout 700 ms` and see:\n\
                {{#include record/side-by-side.md}} 12 ns\n";
    assert!(check(&[AGREEING], text).is_empty());
}

#[test]
fn allows_parameters_by_chapter_and_phrase() {
    let list = [Allowed {
        file: "performance.md",
        phrase: "(500 ms by default)",
    }];
    let text = "Each job takes a while (500 ms by default).\nOne run took 500 ms.\n";
    let found = check_allowing(&[AGREEING], text, &list);
    assert_eq!(
        found.len(),
        1,
        "only the measured 500 ms is unbacked: {found:?}"
    );
    assert_eq!(found[0].line, 2);
    let elsewhere = [Allowed {
        file: "stage-3.md",
        phrase: "(500 ms by default)",
    }];
    assert_eq!(check_allowing(&[AGREEING], text, &elsewhere).len(), 2);
}

#[test]
fn a_phrase_may_span_a_line_break() {
    let list = [Allowed {
        file: "performance.md",
        phrase: "stays near\n   20 ms",
    }];
    let text = "so that a run stays near\n   20 ms), which is fine\n";
    assert!(check_allowing(&[AGREEING], text, &list).is_empty());
}

#[test]
fn the_ends_of_a_range_across_runs_are_figures_of_the_record() {
    // Stage 1 at 75, 110 and 75 ns: the runs disagree, and the table shows 75–110 ns.
    let runs = [AGREEING, GO_AHEAD, AGREEING];
    assert!(check(&runs, "Stage 1 took 75 ns, and up to 110 ns in one run.\n").is_empty());
    assert_eq!(
        check(&runs, "Stage 1 took 92.5 ns.\n").len(),
        1,
        "not a figure the tables show"
    );
}

// ---- comparisons that quote a ratio -------------------------------------------------------

#[test]
fn a_ratio_that_holds_in_every_run_passes() {
    let text = "The tuned pool is 15× faster than stage 1, and Go 1.7× slower.\n";
    assert_eq!(messages(&check(&[AGREEING], text)), Vec::<String>::new());
}

#[test]
fn a_ratio_quoted_the_wrong_way_round_fails() {
    // Stage 1 is 1.7× faster than Go: the figure is the record's, the direction is not.
    let found = check(&[AGREEING], "Here Go came out 1.7× faster than stage 1.\n");
    assert_eq!(
        messages(&found),
        ["performance.md:1: \"1.7× faster\" is not how the record compares Go"]
    );
    assert_eq!(found[0].kind, Kind::Comparison);
    assert!(check(&[AGREEING], "Here stage 1 came out 1.7× faster than Go.\n").is_empty());
    assert_eq!(
        messages(&check(&[AGREEING], "The tuned pool (15× slower).\n")),
        ["performance.md:1: \"15× slower\" is not a comparison of the record"]
    );
}

#[test]
fn a_ratio_whose_direction_changes_between_runs_must_say_it_varies() {
    // Go over stage 1: 1.7 (slower) in two runs, 0.82 (faster) in one. The table shows its
    // median, 1.7× slower, and its range, "varies: 1.2× faster to 1.7× slower".
    let runs = [AGREEING, GO_AHEAD, AGREEING];
    let claim = "Against stage 1, Go is 1.7× slower.\n";
    assert_eq!(
        messages(&check(&runs, claim)),
        ["performance.md:1: \"1.7× slower\" holds in 2 of 3 runs: say that it varies"]
    );
    let hedged = "Against stage 1, Go is 1.7× slower, but it varies: 1.2× faster in one run.\n";
    assert!(
        check(&runs, hedged).is_empty(),
        "{:?}",
        check(&runs, hedged)
    );
}

#[test]
fn a_ratio_is_held_to_its_subjects_comparisons_and_to_its_object_where_that_fits() {
    // "Go" after `than` means the Go client here: the record compares stage 5 with the Go
    // program only in `side-by-side` (at another figure), so the ratio is held to stage 5's
    // comparison that renders it, the one with the Go client.
    let run: &[(&str, f64)] = &[
        ("side-by-side/stage-5-http", 1_000.0),
        ("side-by-side/go-reference", 128.0),
        ("side-by-side/stage-1-basic", 75.0),
        ("http/stage-5-http/no-latency", 48.9),
        ("http/go-http-client/no-latency", 53.3),
    ];
    let text = "The Go client made fewer, so stage 5 is 1.09× faster than Go there.\n";
    assert!(check(&[run], text).is_empty(), "{:?}", check(&[run], text));
    assert_eq!(
        messages(&check(&[run], "Stage 1 is 1.09× faster than Go.\n")),
        ["performance.md:1: \"1.09× faster\" is not how the record compares stage 1"]
    );
}

#[test]
fn both_ends_of_a_quoted_range_are_held() {
    let runs = [AGREEING, GO_AHEAD, AGREEING];
    // Go over stage 1 runs from 1.2× faster to 1.7× slower: not a range of one direction.
    let found = check(&runs, "Go is 1.2–1.7× slower than stage 1.\n");
    assert_eq!(
        messages(&found),
        [
            "performance.md:1: \"1.2× slower\" is not how the record compares Go",
            "performance.md:1: \"1.7× slower\" holds in 2 of 3 runs: say that it varies"
        ]
    );
}

// ---- comparisons of two named contenders --------------------------------------------------

#[test]
fn a_named_comparison_that_holds_in_every_run_passes() {
    let text = "Stage 1 came out faster than Go, and the tuned pool is faster than stage 1.\n";
    assert!(check(&[AGREEING, AGREEING], text).is_empty());
}

#[test]
fn a_named_comparison_that_flips_in_one_run_must_say_it_varies() {
    let runs = [AGREEING, GO_AHEAD, AGREEING];
    assert_eq!(
        messages(&check(
            &runs,
            "Here stage 1 came out faster than `go-reference`.\n"
        )),
        ["performance.md:1: \"stage 1 faster than Go\" holds in 2 of 3 runs: say that it varies"]
    );
    let hedged = "Whether stage 1 is faster than Go varies from run to run.\n";
    assert!(check(&runs, hedged).is_empty());
}

#[test]
fn a_named_comparison_that_holds_in_no_run_fails_even_if_it_says_it_varies() {
    let found = check(
        &[AGREEING, GO_AHEAD],
        "Go is faster than the tuned pool; it varies.\n",
    );
    assert_eq!(
        messages(&found),
        ["performance.md:1: \"Go faster than tuned pool\" holds in no run of the record"]
    );
}

#[test]
fn a_named_comparison_needs_the_two_measured_side_by_side() {
    let found = check(&[AGREEING], "Step 2 is slower than Go's tuned program.\n");
    assert_eq!(
        messages(&found),
        [
            "performance.md:1: \"tuned pool, step 2 slower than Go, tuned\": the record never \
          measures the two side by side"
        ]
    );
}

#[test]
fn a_group_named_in_code_holds_the_comparison_to_that_group() {
    // Stage 1 ahead of Go in `side-by-side`, behind it in `reference`.
    let run: &[(&str, f64)] = &[
        ("side-by-side/stage-1-basic", 75.0),
        ("side-by-side/go-reference", 128.0),
        ("reference/stage-1-basic/W2/Q100", 190.0),
        ("reference/go-reference/W2/Q100", 170.0),
    ];
    assert!(
        check(&[run], "Stage 1 is faster than Go.\n").is_empty(),
        "at one point"
    );
    assert_eq!(
        check(&[run], "In `reference`, stage 1 is faster than Go.\n").len(),
        1
    );
}

#[test]
fn what_the_check_cannot_pin_down_it_leaves_alone() {
    let runs = [AGREEING, GO_AHEAD];
    for sentence in [
        "Stage 1 is no faster than Go.",
        "With a rendezvous, Go is tens of times faster.",
        "The tuned pool is faster than that program.",
        "A producer that is faster than the workers piles up work.",
    ] {
        assert!(
            check(&runs, &format!("{sentence}\n")).is_empty(),
            "{sentence}"
        );
    }
}
