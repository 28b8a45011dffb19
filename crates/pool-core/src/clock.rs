use std::fmt;
use std::time::SystemTime;

/// Tells the time of day that results are stamped with.
///
/// Programs use [`Clock::System`]; tests use [`Clock::Fixed`] so that a stamped result prints the
/// same on every run.
#[derive(Debug, Clone, Copy)]
pub enum Clock {
    /// The machine's wall clock.
    System,
    /// Always the same instant.
    Fixed(SystemTime),
}

impl Clock {
    /// The current time by this clock.
    pub fn now(&self) -> SystemTime {
        match self {
            Self::System => SystemTime::now(),
            Self::Fixed(instant) => *instant,
        }
    }
}

/// A [`SystemTime`] shown as a time of day, `HH:MM:SS` in UTC.
///
/// UTC because finding the local time zone needs a time-zone database, and the lesson only needs
/// to show that results finish in rounds, seconds apart.
#[derive(Debug, Clone, Copy)]
pub struct WallTime(pub SystemTime);

impl fmt::Display for WallTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // RFC 3339 is `YYYY-MM-DDTHH:MM:SSZ`; the time of day is the part between `T` and `Z`.
        let stamp = humantime::format_rfc3339_seconds(self.0).to_string();
        let time_of_day = stamp
            .split_once('T')
            .map_or(stamp.as_str(), |(_, rest)| rest.trim_end_matches('Z'));
        f.write_str(time_of_day)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn wall_time_is_the_utc_time_of_day() {
        let instant = UNIX_EPOCH + Duration::from_secs(3 * 86_400 + 13 * 3600 + 4 * 60 + 5);
        assert_eq!(WallTime(instant).to_string(), "13:04:05");
    }

    #[test]
    fn a_fixed_clock_does_not_move() {
        let instant = UNIX_EPOCH + Duration::from_secs(42);
        let clock = Clock::Fixed(instant);
        assert_eq!(clock.now(), instant);
        assert_eq!(clock.now(), instant);
    }
}
