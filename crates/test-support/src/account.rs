//! "Nothing is lost": every submitted job ends as exactly one kind of outcome, checked on an
//! in-process [`Account`] and on the account line a program prints.

use std::collections::BTreeSet;

use stage_3_cancel::{Account, Outcome};

/// Every job id from 1 to `count` appears exactly once across the outcomes and the jobs that
/// never started, and the account's total says so.
pub fn assert_every_job_once(account: &Account, count: u64) {
    let mut seen = BTreeSet::new();
    for job_id in account.outcomes.iter().map(Outcome::job_id) {
        assert!(seen.insert(job_id), "job {job_id} twice");
    }
    for (job_id, _) in &account.never_started {
        assert!(seen.insert(*job_id), "job {job_id} twice");
    }
    assert_eq!(seen, (1..=count).collect::<BTreeSet<_>>());
    assert_eq!(account.total() as u64, count);
}

/// The counts on the line a program prints last, e.g.
/// `account: 0 completed, 0 failed, 3 cancelled while running, 7 never started = 10 jobs`
/// (stage 5 counts URLs instead of jobs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrintedAccount {
    /// Jobs that finished with a result.
    pub completed: u64,
    /// Jobs that returned an error or panicked.
    pub failed: u64,
    /// Jobs cancelled while running.
    pub cancelled: u64,
    /// Jobs no worker took.
    pub never_started: u64,
    /// The number after `=`: the jobs submitted.
    pub total: u64,
}

impl PrintedAccount {
    /// Reads the `account:` line of `output`; panics, showing the output, if there is none or a
    /// count is missing.
    pub fn in_output(output: &str) -> Self {
        let line = output
            .lines()
            .find_map(|line| line.strip_prefix("account:"))
            .unwrap_or_else(|| panic!("no account line in:\n{output}"));
        let (kinds, total) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("no total in the account:{line}"));
        let count = |kind: &str| -> u64 {
            kinds
                .split(',')
                .find(|part| part.contains(kind))
                .and_then(|part| part.split_whitespace().next())
                .and_then(|number| number.parse().ok())
                .unwrap_or_else(|| panic!("no count of {kind} in the account:{line}"))
        };
        Self {
            completed: count("completed"),
            failed: count("failed"),
            cancelled: count("cancelled"),
            never_started: count("never started"),
            total: total
                .split_whitespace()
                .next()
                .and_then(|number| number.parse().ok())
                .unwrap_or_else(|| panic!("no total in the account:{line}")),
        }
    }

    /// Whether the kinds add up to the total: nothing lost, nothing counted twice.
    pub fn adds_up(&self) -> bool {
        self.completed + self.failed + self.cancelled + self.never_started == self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_account_line_is_read_kind_by_kind() {
        let output = "job 1 done\naccount: 1 completed, 2 failed, 3 cancelled while running, \
                      4 never started = 10 jobs\n";
        let account = PrintedAccount::in_output(output);
        assert_eq!(
            account,
            PrintedAccount {
                completed: 1,
                failed: 2,
                cancelled: 3,
                never_started: 4,
                total: 10
            }
        );
        assert!(account.adds_up());
    }
}
