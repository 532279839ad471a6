//! What the configuration's unit tests share: the smallest valid file and
//! loading a file with an environment, as `serve` does. Each section's tests
//! go through the whole load, so a key is checked as the operator writes it
//! (file or `BEACONHOUSE_*` variable) and a rejection names that key.
//!
//! Test-only; must never grow checks of its own (those belong to a section).

use std::io::Write;

use super::{Config, ConfigError};

/// One site and nothing else: every other key takes its default.
pub(super) const MINIMAL: &str = r#"
        [[sites]]
        id = "optimumabq.com"
        hostnames = ["optimumabq.com", "WWW.optimumabq.com"]
    "#;

/// Loads `toml` from a real file with exactly the variables `env`.
pub(super) fn load(toml: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(toml.as_bytes()).unwrap();
    Config::load_with_env(
        Some(file.path()),
        env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
    )
}

/// The key a refused configuration names; panics if it is accepted.
pub(super) fn rejected_key(toml: &str, env: &[(&str, &str)]) -> String {
    match load(toml, env) {
        Err(ConfigError::Invalid { key, .. }) => key,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

/// A configuration that must be refused: the file, the environment, and the
/// key its error must name.
pub(super) type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);

/// Loads each case and checks that it is refused for the key it names.
pub(super) fn assert_rejections_name_their_keys(cases: &[Case]) {
    for (toml, env, key) in cases {
        assert_eq!(&rejected_key(toml, env), key, "case {toml:?} {env:?}");
    }
}
