//! The book's benchmark tables, in the order the terminal prints them: the pools on the article's
//! workload first, then the other measures. Adding a contender, a column or a whole table is an
//! entry in one of the two files.

mod other_measures;
mod reference_workload;

use super::spec::{Column, Header, TableSpec, Value};
use crate::format;
use other_measures::{
    CANCELLATION, DISTRIBUTED, HANDOFF, HANDOFF_REPEATED, HANDOFF_SWITCHES, HTTP, IDLE_MEMORY,
    OTHER_GROUPS,
};
use reference_workload::{
    FAST_POOL_STEPS, JOB_COST, REFERENCE_PER_CONTENDER, REFERENCE_QUEUE, REFERENCE_QUEUE_W4,
    REFERENCE_WORKERS, SIDE_BY_SIDE, STAGE_4_MONITORING, STAGE_COSTS,
};

/// Every table of the book, in order.
pub const BOOK_TABLES: &[TableSpec] = &[
    SIDE_BY_SIDE,
    FAST_POOL_STEPS,
    REFERENCE_QUEUE,
    REFERENCE_QUEUE_W4,
    REFERENCE_WORKERS,
    HANDOFF,
    HANDOFF_SWITCHES,
    HANDOFF_REPEATED,
    JOB_COST,
    STAGE_COSTS,
    HTTP,
    DISTRIBUTED,
    CANCELLATION,
    STAGE_4_MONITORING,
    REFERENCE_PER_CONTENDER,
    IDLE_MEMORY,
    OTHER_GROUPS,
];

/// A column with a fixed header that applies to every row.
pub(super) const fn column(header: &'static str, value: Value) -> Column {
    Column {
        header: Header::Fixed(header),
        only: None,
        value,
    }
}

/// A column per key found, each a time per job.
pub(super) const fn per_job_by(label: fn(&str) -> String, point: &'static str) -> Column {
    Column {
        header: Header::Found(label),
        only: None,
        value: Value::PerJob(point),
    }
}

pub(super) fn queue_column(key: &str) -> String {
    format!("Q = {key}")
}

pub(super) fn workers_column(key: &str) -> String {
    format!("W = {key}")
}

pub(super) fn as_is(key: &str) -> String {
    key.to_owned()
}

pub(super) fn as_code(key: &str) -> String {
    format!("`{key}`")
}

pub(super) fn workers_row(key: &str) -> String {
    match key {
        "1" => "1 worker".to_owned(),
        _ => format!("{key} workers"),
    }
}

pub(super) fn route_row(key: &str) -> String {
    match key {
        "no-latency" => "a route that answers at once".to_owned(),
        "no-latency-server-apart" => {
            "a route that answers at once, the server in a process of its own (Go's)".to_owned()
        }
        "20ms-latency" => "a route that takes 20 ms".to_owned(),
        _ => format!("`{key}`"),
    }
}

pub(super) fn work_per_job(nanos: &str) -> String {
    match nanos.parse::<f64>() {
        Ok(0.0) => "0".to_owned(),
        Ok(nanos) => format::duration(nanos),
        Err(_) => nanos.to_owned(),
    }
}

/// `W2/Q100` as "2, 100".
pub(super) fn size_row(key: &str) -> String {
    key.replace('W', "").replace("/Q", ", ")
}
