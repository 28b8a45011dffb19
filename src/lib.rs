//! The workspace's root package. It has no code of its own: it owns the tests in `tests/` that
//! span every stage (invariants, the book's includes) and the criterion benches in `benches/`
//! that run every stage's pool side by side.
