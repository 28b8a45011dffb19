//! The machine a run measures, the moment it is recorded, and the checkout it comes from.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::run::{Machine, Recorded};

/// A program's first line of output, if it ran and succeeded: `None` where it is not installed.
fn command_line(program: &str, args: &[&str], cwd: &Path) -> Option<String> {
    let output = std::process::Command::new(program)
        .args(args)
        .current_dir(cwd)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    (output.status.success() && !text.is_empty()).then_some(text)
}

/// The machine this process runs on.
pub fn this_machine(root: &Path) -> Machine {
    let cpu = fs::read_to_string("/proc/cpuinfo").ok().and_then(|text| {
        text.lines()
            .find(|line| line.starts_with("model name"))
            .and_then(|line| line.split_once(':'))
            .map(|(_, model)| model.split_whitespace().collect::<Vec<_>>().join(" "))
    });
    Machine {
        cpu,
        cores: std::thread::available_parallelism().map_or(1, usize::from),
        os: command_line("uname", &["-sr"], root),
        rustc: command_line("rustc", &["-V"], root),
        go: command_line("go", &["version"], root),
    }
}

/// Now, and the checkout's commit and state.
pub fn recorded_now(root: &Path) -> Recorded {
    let commit = command_line("git", &["rev-parse", "--short", "HEAD"], root);
    let dirty = commit.as_ref().map(|_| {
        std::process::Command::new("git")
            .args(["status", "--porcelain"])
            .current_dir(root)
            .output()
            .map(|output| !output.stdout.is_empty())
            .unwrap_or(true)
    });
    Recorded {
        date: utc_minute(SystemTime::now()),
        commit,
        dirty,
    }
}

/// A moment as `YYYY-MM-DD HH:MM UTC`: humantime's RFC 3339 form (`2026-11-29T21:24:05Z`) to the
/// minute, which is all a run's date needs and reads better in the book.
pub fn utc_minute(moment: SystemTime) -> String {
    let rfc3339 = humantime::format_rfc3339_seconds(moment).to_string();
    let (day, time) = rfc3339.split_once('T').unwrap_or((&rfc3339, ""));
    let minute: String = time.chars().take("HH:MM".len()).collect();
    format!("{day} {minute} UTC")
}

/// The workspace root: the nearest ancestor of `start` whose Cargo.toml has a `[workspace]`.
pub fn workspace_root(start: &Path) -> Option<PathBuf> {
    start.ancestors().find_map(|dir| {
        let manifest = fs::read_to_string(dir.join("Cargo.toml")).ok()?;
        manifest
            .lines()
            .any(|line| line.trim() == "[workspace]")
            .then(|| dir.to_path_buf())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dates_are_utc_to_the_minute() {
        assert_eq!(utc_minute(SystemTime::UNIX_EPOCH), "1970-01-01 00:00 UTC");
        let leap_day = SystemTime::UNIX_EPOCH + Duration::from_secs(1_709_210_096);
        assert_eq!(utc_minute(leap_day), "2024-02-29 12:34 UTC");
    }
}
