//! The checker's counterexamples as the book prints them.

use stateright::Model;

use crate::Protocol;
use crate::state::{Producer, State, Step};

/// The shortest order of steps in which `protocol` breaks `property`, if any order does.
///
/// The checker keeps, for each property, the last breaking state it came to, which need not be
/// the nearest; so this asks it again with a bound on the number of steps, one step more each
/// time. The first bound under which it finds a break gives a shortest order, and, with one
/// thread, always the same one.
pub fn shortest_break(
    protocol: Protocol,
    property: &'static str,
) -> Option<stateright::Path<State, Step>> {
    use stateright::Checker;
    // The checker counts the initial state as depth 1 and does not look at a state at the
    // bound itself: a bound of `steps + 2` looks at every order of up to `steps` steps.
    let deepest = protocol.checker().spawn_bfs().join().max_depth();
    (2..=deepest + 2).find_map(|bound| {
        protocol
            .checker()
            .target_max_depth(bound)
            .spawn_bfs()
            .join()
            .discovery(property)
    })
}

/// An order of steps the checker found, as the book prints it: the steps, numbered, then the
/// jobs as the broker has them at the end, and what each producer was told.
pub fn describe(path: &stateright::Path<State, Step>) -> String {
    let steps = path.clone().into_vec();
    let mut text = String::new();
    for (number, step) in steps.iter().filter_map(|(_, step)| *step).enumerate() {
        text.push_str(&format!("{:>2}. {step}\n", number + 1));
    }
    let last = path.last_state();
    text.push_str("then:\n");
    for entry in &last.broker.entries {
        text.push_str(&format!("    {entry}\n"));
    }
    for (producer, progress) in last.producers.iter().enumerate() {
        if let Producer::Told(job) = progress {
            text.push_str(&format!(
                "    producer {} was told: job {job}\n",
                producer + 1
            ));
        }
    }
    text
}
