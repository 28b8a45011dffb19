//! The model checked over every order of its steps: the current protocol keeps every property,
//! and each step of the first version breaks one. The shortest order that breaks it is what the
//! book prints (`book/src/output/model-*.txt`), so the book's traces are the checker's.

use stage_6_model::{Design, Protocol, describe, shortest_break};
use stateright::{Checker, Model};
use test_support::check_generated_output;

#[test]
fn the_current_protocol_keeps_every_property_in_every_order() {
    let checker = Protocol {
        design: Design::CURRENT,
        lost_answers: true,
    }
    .checker()
    .spawn_bfs()
    .join();
    checker.assert_properties();
    // Pinned, so that a change that shrinks the model (and what it checks) is noticed.
    assert_eq!(checker.unique_state_count(), 9_263);
}

/// Each first-version step, the property it breaks, and the file the book prints its trace from.
const FIRST_VERSION_STEPS: [(&str, Design, &str); 3] = [
    (
        "model-producers-number-their-jobs.txt",
        Design {
            numbers_from_the_broker: false,
            ..Design::CURRENT
        },
        "every job a producer was told of is in the stream, once",
    ),
    (
        "model-multi-exec-records-and-acknowledges.txt",
        Design {
            record_checks_first: false,
            ..Design::CURRENT
        },
        "an acknowledged job has ended",
    ),
    (
        "model-dead-letters-without-checking.txt",
        Design {
            dead_letter_checks_first: false,
            ..Design::CURRENT
        },
        "a job ends one way, never two",
    ),
];

#[test]
fn each_first_version_step_breaks_a_property_and_the_book_shows_how() {
    for (file, design, property) in FIRST_VERSION_STEPS {
        // Each first-version step breaks its property without any answer lost; the trace
        // leaves them out, so that it shows only what breaks.
        let protocol = Protocol {
            design,
            lost_answers: false,
        };
        let path = shortest_break(protocol, property)
            .unwrap_or_else(|| panic!("{file}: no order of steps breaks {property:?}"));
        check_generated_output(
            file,
            &format!("breaks \"{property}\":\n{}", describe(&path)),
        );
    }
}
