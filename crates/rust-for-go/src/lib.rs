//! The Rust that the stages rely on, for a reader who knows Go.
//!
//! Each module is one section of the book's chapter "Rust for Go programmers": a small example
//! between `// ANCHOR:` markers, included in the chapter, with a test that checks what the text
//! says about it. The programs the compiler refuses are not here: they live in `refusals/`, where
//! `tests/refusals.rs` compiles each one and compares the errors with the book, and [`refusals`]
//! repeats them as `compile_fail` doc tests.

pub mod atomics;
pub mod channels;
pub mod closures;
pub mod errors;
pub mod panics;
pub mod send_sync;
pub mod sharing;

/// The programs the book shows the compiler refusing (this chapter's, and stage 4's version of the
/// article's data race), each a doc test that must fail to compile with the error code the book
/// names.
///
/// A doc test only checks its error code on a nightly toolchain; on stable it checks that the
/// program fails to compile at all. The same files are compiled by `tests/refusals.rs`, which
/// checks the compiler's messages, codes included, against the ones printed in the book.
pub mod refusals {
    /// An `Rc` moved into a spawned thread: `Rc<T>` is not `Send` (E0277).
    ///
    /// ```compile_fail,E0277
    #[doc = include_str!("../refusals/rc_not_send.rs")]
    /// ```
    pub mod rc_not_send {}

    /// Work that keeps a `Cell` shared by two threads: `Cell<T>` is not `Sync` (E0277).
    ///
    /// ```compile_fail,E0277
    #[doc = include_str!("../refusals/cell_not_sync.rs")]
    /// ```
    pub mod cell_not_sync {}

    /// A thread from `thread::spawn` that borrows a local: the borrow is not `'static` (E0597).
    ///
    /// ```compile_fail,E0597
    #[doc = include_str!("../refusals/spawn_borrow.rs")]
    /// ```
    pub mod spawn_borrow {}

    /// Two threads that mutate one counter through `&mut` borrows (E0499).
    ///
    /// ```compile_fail,E0499
    #[doc = include_str!("../refusals/shared_mut.rs")]
    /// ```
    pub mod shared_mut {}

    /// A receiver used after it was moved into a worker (E0382).
    ///
    /// ```compile_fail,E0382
    #[doc = include_str!("../refusals/moved_receiver.rs")]
    /// ```
    pub mod moved_receiver {}

    /// The article's `ScaleUp`: a plain count changed through an `Arc` by one thread while
    /// another reads it; an `Arc` gives no `&mut` (E0596). Shown in stage 4's chapter.
    ///
    /// ```compile_fail,E0596
    #[doc = include_str!("../refusals/scale_up_race.rs")]
    /// ```
    pub mod scale_up_race {}
}
