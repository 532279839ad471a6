//! The command line: `check-config` and start-up refusals, without ClickHouse.

mod common;

use common::Beaconhouse;

fn config_file(text: &str) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), text).unwrap();
    file
}

#[test]
fn check_config_accepts_a_valid_file() {
    let file = config_file(common::SITE_TOML);
    let (ok, stdout, stderr) = Beaconhouse::new()
        .config(file.path())
        .arg("check-config")
        .output();
    assert!(ok, "{stderr}");
    assert!(stdout.contains("configuration is valid"), "{stdout}");
}

#[test]
fn check_config_rejects_and_names_the_key() {
    let file = config_file(common::SITE_TOML);
    let cases = [
        ("BEACONHOUSE_LISTEN", "nowhere", "`listen`"),
        ("BEACONHOUSE_CLICKHOUSE_URL", "tcp://x", "`clickhouse.url`"),
        (
            "BEACONHOUSE_GEOIP_PRECISION",
            "street",
            "BEACONHOUSE_GEOIP_PRECISION",
        ),
        ("BEACONHOUSE_CLICKHOUSE_URLL", "x", "`clickhouse.urll`"),
    ];
    for (key, value, expected) in cases {
        let (ok, _, stderr) = Beaconhouse::new()
            .config(file.path())
            .env(key, value)
            .arg("check-config")
            .output();
        assert!(!ok, "{key}={value} should be refused");
        assert!(stderr.contains(expected), "{key}={value}: {stderr}");
    }
    let (ok, _, stderr) = Beaconhouse::new()
        .config("/nonexistent.toml")
        .arg("check-config")
        .output();
    assert!(!ok);
    assert!(stderr.contains("/nonexistent.toml"), "{stderr}");
}

#[test]
fn serve_refuses_an_unreadable_geoip_database() {
    let file = config_file(common::SITE_TOML);
    let (ok, _, stderr) = Beaconhouse::new()
        .config(file.path())
        .env("BEACONHOUSE_GEOIP_DATABASE", "/nonexistent/city.mmdb")
        .env("BEACONHOUSE_LISTEN", "127.0.0.1:0")
        .env("BEACONHOUSE_CLICKHOUSE_URL", "http://127.0.0.1:9")
        .arg("serve")
        .output();
    assert!(!ok);
    assert!(stderr.contains("/nonexistent/city.mmdb"), "{stderr}");
    assert!(stderr.contains("geoip.database"), "{stderr}");
}

#[test]
fn serve_follows_no_link_planted_in_the_spool() {
    let file = config_file(common::SITE_TOML);
    // Where the first segment and the ledger would be.
    for name in ["segment-00000000000000000001.log", "ledger"] {
        let dir = tempfile::tempdir().unwrap();
        let spool = dir.path().join("spool");
        std::fs::create_dir(&spool).unwrap();
        let target = dir.path().join("not-the-collectors");
        std::fs::write(&target, "kept as it was").unwrap();
        let link = spool.join(name);
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let (ok, _, stderr) = Beaconhouse::new()
            .config(file.path())
            .env("BEACONHOUSE_SPOOL_DIR", &spool)
            .env("BEACONHOUSE_LISTEN", "127.0.0.1:0")
            .env("BEACONHOUSE_CLICKHOUSE_URL", "http://127.0.0.1:9")
            .arg("serve")
            .output();
        assert!(!ok, "{name}: serve started on a spool with a link");
        assert!(
            stderr.contains(&format!("{} is a symbolic link", link.display())),
            "{name}: {stderr}"
        );
        assert!(stderr.contains("spool.dir"), "{stderr}");
        assert_eq!(
            std::fs::read_to_string(&target).unwrap(),
            "kept as it was",
            "{name}: the link's target was touched"
        );
    }
}
