//! Worked solutions to the book's exercises: one module per chapter, one function per exercise
//! that has code in its answer. The chapters include them, folded, under each exercise; the tests
//! beside them show that each solution does what its answer claims.

pub mod fast_pool;
pub mod stage_1;
pub mod stage_2;
pub mod stage_3;
pub mod stage_4;
pub mod stage_5;
pub mod stage_6;
