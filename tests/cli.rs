//! The command line: `check-config` and start-up refusals, without ClickHouse.

mod common;

use std::process::Command;

fn beaconhouse(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let mut command = Command::new(common::binary());
    command.args(args).env_remove("BEACONHOUSE_CONFIG");
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn config_file(text: &str) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), text).unwrap();
    file
}

#[test]
fn check_config_accepts_a_valid_file() {
    let file = config_file(common::SITE_TOML);
    let (ok, stdout, stderr) = beaconhouse(
        &["--config", file.path().to_str().unwrap(), "check-config"],
        &[],
    );
    assert!(ok, "{stderr}");
    assert!(stdout.contains("configuration is valid"), "{stdout}");
}

#[test]
fn check_config_rejects_and_names_the_key() {
    let file = config_file(common::SITE_TOML);
    let path = file.path().to_str().unwrap();
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("BEACONHOUSE_LISTEN", "nowhere")], "`listen`"),
        (
            &[("BEACONHOUSE_CLICKHOUSE_URL", "tcp://x")],
            "`clickhouse.url`",
        ),
        (
            &[("BEACONHOUSE_GEOIP_PRECISION", "street")],
            "BEACONHOUSE_GEOIP_PRECISION",
        ),
        (&[("BEACONHOUSE_CLICKHOUSE_URLL", "x")], "`clickhouse.urll`"),
    ];
    for (env, expected) in cases {
        let (ok, _, stderr) = beaconhouse(&["--config", path, "check-config"], env);
        assert!(!ok, "{env:?} should be refused");
        assert!(stderr.contains(expected), "{env:?}: {stderr}");
    }
    let (ok, _, stderr) = beaconhouse(&["--config", "/nonexistent.toml", "check-config"], &[]);
    assert!(!ok);
    assert!(stderr.contains("/nonexistent.toml"), "{stderr}");
}

#[test]
fn serve_refuses_an_unreadable_geoip_database() {
    let file = config_file(common::SITE_TOML);
    let (ok, _, stderr) = beaconhouse(
        &["--config", file.path().to_str().unwrap(), "serve"],
        &[
            ("BEACONHOUSE_GEOIP_DATABASE", "/nonexistent/city.mmdb"),
            ("BEACONHOUSE_LISTEN", "127.0.0.1:0"),
            ("BEACONHOUSE_CLICKHOUSE_URL", "http://127.0.0.1:9"),
        ],
    );
    assert!(!ok);
    assert!(stderr.contains("/nonexistent/city.mmdb"), "{stderr}");
    assert!(stderr.contains("geoip.database"), "{stderr}");
}
