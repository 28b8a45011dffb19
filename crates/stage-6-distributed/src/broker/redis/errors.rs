//! Redis's errors and the scripts' answers, in the broker's words.

use redis::{ErrorKind, RedisError};

use crate::broker::{BrokerError, Settlement};

/// A settling script's one-word answer; `None` for a job whose record was lost, which is to be
/// dead-lettered as such.
pub(super) fn settlement(answer: &str) -> Result<Option<Settlement>, BrokerError> {
    Ok(Some(match answer {
        "record-lost" => return Ok(None),
        "recorded" => Settlement::Recorded,
        "recorded-not-held" => Settlement::RecordedNotHeld,
        "duplicate" => Settlement::Duplicate,
        "dead-lettered" => Settlement::DeadLettered,
        "already-completed" => Settlement::AlreadyCompleted,
        "not-held" => Settlement::NotHeld,
        "not-a-job" => Settlement::NotAJob,
        other => {
            return Err(BrokerError::Protocol(format!(
                "a script answered {other:?}"
            )));
        }
    }))
}

/// The error codes with which Redis refuses a command for now, taking no part of it.
const REFUSALS: [&str; 8] = [
    "OOM",
    "READONLY",
    "BUSY",
    "LOADING",
    "MASTERDOWN",
    "TRYAGAIN",
    "NOREPLICAS",
    "CLUSTERDOWN",
];

// ANCHOR: broker_error
/// The broker's error for one of the redis crate's: a connection that broke or did not answer in
/// time is lost; a refusal for now (out of memory, a read-only replica, a busy script, a server
/// loading its data) is refused; a queue whose epoch or group is gone lost its state; anything
/// else is an answer this program did not expect.
pub(super) fn broker_error(e: RedisError) -> BrokerError {
    if e.is_io_error() || e.is_timeout() || e.is_connection_dropped() {
        return BrokerError::Lost(one_line(&e.to_string()));
    }
    let code = e.code().unwrap_or_default();
    let detail = one_line(&script_location_removed(e.detail().unwrap_or_default()));
    // Redis ends some messages with a full stop; they are quoted mid-sentence here.
    let detail = detail.trim_end_matches('.');
    // Redis 6.2 reports a command refused inside a script as `ERR Error running script … -OOM …`.
    let refused_in_script = |refusal: &&str| detail.contains(&format!("-{refusal} "));
    if REFUSALS.contains(&code) || (code == "ERR" && REFUSALS.iter().any(refused_in_script)) {
        BrokerError::Refused(format!("{code} {detail}"))
    } else if matches!(code, "STATELOST" | "NOGROUP" | "UNBLOCKED") {
        BrokerError::StateLost(detail.to_owned())
    } else if code == "DAMAGED" {
        BrokerError::Damaged(detail.to_owned())
    } else if code == "NOQUEUE" {
        BrokerError::NoQueue(String::new())
    } else if e.kind() == ErrorKind::Parse {
        BrokerError::Protocol("the server does not speak Redis's protocol".to_owned())
    } else if detail.is_empty() {
        // Some refusals (a wrong password among them) come with no code the crate keeps.
        BrokerError::Protocol(one_line(&e.to_string()))
    } else {
        BrokerError::Protocol(format!("{code} {detail}"))
    }
}
// ANCHOR_END: broker_error

/// An error from inside a script ends with where in the script it was raised (`script: <sha>,
/// on @user_script:12.`): noise to the person reading the log.
fn script_location_removed(detail: &str) -> String {
    match detail.find(" script: ") {
        Some(at) => detail[..at].to_owned(),
        None => detail.to_owned(),
    }
}

/// A message on one line: some servers' errors span several.
pub(super) fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::redis::replies;

    fn server_error(code: &str, detail: &str) -> BrokerError {
        broker_error(redis::make_extension_error(
            code.to_owned(),
            Some(detail.to_owned()),
        ))
    }

    #[test]
    fn a_refusal_for_now_is_told_from_a_lost_state_and_from_a_surprise() {
        for code in REFUSALS {
            assert!(
                matches!(server_error(code, "not now"), BrokerError::Refused(_)),
                "{code}"
            );
        }
        // Redis 6.2 wraps a refusal inside a script in an ERR.
        assert!(matches!(
            server_error(
                "ERR",
                "Error running script (call to f_1): @user_script:9: -OOM command not allowed"
            ),
            BrokerError::Refused(_)
        ));
        assert!(matches!(
            server_error("NOGROUP", "No such key 'pool:jobs' or consumer group"),
            BrokerError::StateLost(_)
        ));
        assert_eq!(
            server_error(
                "STATELOST",
                "its epoch is missing script: 4f1e0c, on @user_script:27."
            ),
            BrokerError::StateLost("its epoch is missing".to_owned())
        );
        assert!(matches!(
            server_error("WRONGTYPE", "pool:completed holds a list"),
            BrokerError::Protocol(_)
        ));
    }

    #[test]
    fn a_full_server_and_an_evicting_one_are_told_apart() {
        let info = |used: u64, limit: u64, policy: &str| {
            format!(
                "# Memory\r\nused_memory:{used}\r\nmaxmemory:{limit}\r\nmaxmemory_policy:{policy}\r\n"
            )
        };
        assert_eq!(
            replies::memory_trouble(&info(5 << 20, 0, "noeviction")),
            None
        );
        assert_eq!(
            replies::memory_trouble(&info(5 << 20, 10 << 20, "noeviction")),
            None
        );
        assert_eq!(
            replies::memory_trouble(&info(10 << 20, 10 << 20, "noeviction")),
            Some(
                "the broker is full (10.0 MiB used of maxmemory 10.0 MiB): it refuses new jobs \
                 and results until memory is freed"
                    .to_owned()
            )
        );
        assert!(
            replies::memory_trouble(&info(1, 10 << 20, "allkeys-lru"))
                .is_some_and(|trouble| trouble.contains("may drop jobs"))
        );
    }
}
