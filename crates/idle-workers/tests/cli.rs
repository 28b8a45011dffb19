//! The idle-workers program as a reader runs it: what it measures, its help, and its answers to
//! bad input.

use std::process::Command;

use insta::{assert_snapshot, with_settings};
use insta_cmd::{assert_cmd_snapshot, get_cargo_bin};
use test_support::{number_after, read_book_output, stdout_of};

fn program() -> Command {
    Command::new(get_cargo_bin("idle-workers"))
}

fn per_worker_bytes(output: &str) -> u64 {
    output
        .lines()
        .find_map(|line| number_after(line, "per worker:"))
        .unwrap_or_else(|| panic!("no per-worker figure in:\n{output}"))
}

/// The figures change from run to run; the lines and their order do not.
fn assert_shape_snapshot(name: &str, output: &str) {
    with_settings!({ filters => vec![(r"\d+(\.\d+)?", "[N]")] }, {
        assert_snapshot!(name, output);
    });
}

/// Every thread keeps at least the page of stack it runs on (4 KiB); a waiting task keeps only
/// its state, a few hundred bytes. Both hold whatever else the machine does.
fn assert_threads_cost_more_than_tasks(threads: u64, tasks: u64) {
    assert!(
        threads >= 4096,
        "a thread with less than a page: {threads} bytes"
    );
    assert!(
        tasks * 4 < threads,
        "tasks ({tasks} bytes each) should hold far less than threads ({threads} bytes each)"
    );
}

#[test]
fn an_idle_thread_holds_at_least_a_page_and_an_idle_task_far_less() {
    let threads = stdout_of(program().args(["--workers", "2000", "threads"]));
    let tasks = stdout_of(program().args(["--workers", "2000", "tasks"]));
    assert_shape_snapshot("threads", &threads);
    assert_shape_snapshot("tasks", &tasks);
    assert!(threads.contains("workers: 2000\n"), "{threads}");
    assert_threads_cost_more_than_tasks(per_worker_bytes(&threads), per_worker_bytes(&tasks));
}

/// The performance chapter shows one run of each; they must be runs this program could print.
#[test]
fn the_books_runs_are_what_the_program_prints() {
    let threads = read_book_output("idle-workers-threads.txt");
    let tasks = read_book_output("idle-workers-tasks.txt");
    assert_shape_snapshot("threads", &threads);
    assert_shape_snapshot("tasks", &tasks);
    assert_threads_cost_more_than_tasks(per_worker_bytes(&threads), per_worker_bytes(&tasks));
}

#[test]
fn help_lists_the_shapes_and_the_flag() {
    assert_cmd_snapshot!(program().arg("--help"));
}

#[test]
fn zero_workers_is_refused() {
    assert_cmd_snapshot!(program().args(["--workers", "0", "threads"]));
}

#[test]
fn a_negative_worker_count_is_refused() {
    assert_cmd_snapshot!(program().args(["--workers", "-5", "tasks"]));
}

#[test]
fn too_many_workers_is_refused() {
    assert_cmd_snapshot!(program().args(["--workers", "20001", "threads"]));
}

#[test]
fn an_unknown_shape_is_refused() {
    assert_cmd_snapshot!(program().arg("fibers"));
}
