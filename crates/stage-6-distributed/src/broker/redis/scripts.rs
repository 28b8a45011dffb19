//! The broker's Lua scripts, one atomic step on the server each (`scripts/*.lua`), every one
//! starting with what they share (`scripts/common.lua`).
//!
//! `redis::Script` sends a script by its SHA-1 (`EVALSHA`) and sends it whole only when the
//! server does not know it yet, as after a restart.

use std::sync::LazyLock;

use redis::Script;

/// A script: the shared start, then the file's own steps.
macro_rules! script {
    ($file:literal) => {
        LazyLock::new(|| {
            Script::new(concat!(
                include_str!("scripts/common.lua"),
                include_str!(concat!("scripts/", $file))
            ))
        })
    };
}

/// Finds the queue or makes it, and answers its epoch.
pub(super) static CONNECT: LazyLock<Script> = script!("connect.lua");
/// Adds a batch of jobs, numbered by the queue.
pub(super) static SUBMIT: LazyLock<Script> = script!("submit.lua");
/// Records finished runs and acknowledges the deliveries still held.
pub(super) static RECORD: LazyLock<Script> = script!("record.lua");
/// Moves a job to the dead-letter stream, if it is still held and has no result.
pub(super) static DEAD_LETTER: LazyLock<Script> = script!("dead_letter.lua");
/// Moves an entry that is not a job to the dead-letter stream.
pub(super) static REJECT: LazyLock<Script> = script!("reject.lua");
/// Extends a delivery's lease, if it is still held.
pub(super) static EXTEND: LazyLock<Script> = script!("extend.lua");
/// Claims entries whose lease ran out.
pub(super) static TAKE_OVER: LazyLock<Script> = script!("take_over.lua");
/// Deletes the stream's entries that nobody needs any more.
pub(super) static TRIM: LazyLock<Script> = script!("trim.lua");
/// Takes a consumer that holds nothing out of the group.
pub(super) static LEAVE: LazyLock<Script> = script!("leave.lua");
/// The queue's counts.
pub(super) static STATUS: LazyLock<Script> = script!("status.lua");
