//! The ground floor of the configuration: [`ConfigError`], which every
//! refusal is and which names the key at fault, and the checks more than one
//! section uses (a number within its range, milliseconds, a list of networks,
//! a string the file wrote as a number, a secret long enough).
//!
//! Imports no section and no loader, so every file of `config` may import it.
//! Must never know a section's keys beyond the one it is handed.

use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;

/// Why a configuration is refused; its message says what to change.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration: {0}")]
    Load(String),
    #[error("invalid configuration: `{key}` {problem}")]
    Invalid { key: String, problem: String },
    /// The file is not TOML. Its line is not quoted: it may hold a secret.
    #[error(
        "invalid configuration: the file is not TOML at line {line}, column {column}{}: {problem} (the line is not shown, as it may hold a secret)",
        key.as_ref().map(|key| format!(" ({key})")).unwrap_or_default()
    )]
    Syntax {
        line: usize,
        column: usize,
        /// The key written on that line and its table, when the line has one.
        key: Option<String>,
        problem: String,
    },
}

impl ConfigError {
    pub(super) fn invalid(key: impl Into<String>, problem: impl Into<String>) -> Self {
        ConfigError::Invalid {
            key: key.into(),
            problem: problem.into(),
        }
    }
}

/// As [`string_or_number`], for a key that may be left out.
pub(super) fn some_string_or_number<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    struct Lenient(#[serde(deserialize_with = "string_or_number")] String);
    Ok(Option::<Lenient>::deserialize(deserializer)?.map(|Lenient(text)| text))
}

/// Accepts `1234` as well as `"1234"` for keys that are strings, so a file may
/// write `password = 1234`. (An environment variable reaches a string key as
/// its text, exactly as given: `config::env_value`.)
pub(super) fn string_or_number<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Lenient {
        Text(String),
        Unsigned(u64),
        Signed(i64),
    }
    Ok(match Lenient::deserialize(deserializer)? {
        Lenient::Text(s) => s,
        Lenient::Unsigned(n) => n.to_string(),
        Lenient::Signed(n) => n.to_string(),
    })
}

/// `value` if it lies in `range`, otherwise an error naming `key` and the range.
pub(super) fn in_range<T>(
    key: &str,
    value: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, ConfigError>
where
    T: PartialOrd + std::fmt::Display,
{
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(ConfigError::invalid(
            key,
            format!(
                "must be between {} and {}, got {value}",
                range.start(),
                range.end()
            ),
        ))
    }
}

/// As [`in_range`], for a key in milliseconds.
pub(super) fn millis(
    key: &str,
    value: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Duration, ConfigError> {
    in_range(key, value, range).map(Duration::from_millis)
}

/// Shortest accepted secret (a token, a key): 128 bits written in hex.
const MIN_SECRET_CHARS: usize = 32;

/// Refuses a secret too short to resist guessing.
pub(super) fn long_secret(key: &str, secret: &str) -> Result<(), ConfigError> {
    if secret.chars().count() < MIN_SECRET_CHARS || secret.contains(char::is_whitespace) {
        return Err(ConfigError::invalid(
            key,
            format!(
                "must be at least {MIN_SECRET_CHARS} characters without spaces; make one with `openssl rand -hex 32`"
            ),
        ));
    }
    Ok(())
}

/// Parses CIDR networks; a bare address means that single host.
pub(super) fn parse_networks(key: &str, entries: &[String]) -> Result<Vec<IpNet>, ConfigError> {
    entries
        .iter()
        .map(|entry| {
            let entry = entry.trim();
            entry
                .parse::<IpNet>()
                .or_else(|_| entry.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    ConfigError::invalid(
                        key,
                        format!("must list networks such as 10.0.0.0/8 or ::1/128, got {entry:?}"),
                    )
                })
        })
        .collect()
}
