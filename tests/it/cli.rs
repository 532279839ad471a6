//! The command line: `check-config` and start-up refusals and warnings,
//! without ClickHouse.

use std::os::unix::fs::PermissionsExt;

use crate::common::{self, Beaconhouse, COLLECTOR_START, eventually};

/// A configuration file, mode 0600 (as `tempfile` makes it).
fn config_file(text: &str) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), text).unwrap();
    file
}

/// A configuration with a stats token in it, mode `mode`.
fn config_with_a_token(mode: u32) -> tempfile::NamedTempFile {
    let file = config_file(&format!(
        "{}\n[[reporting.tokens]]\nname = \"staff\"\ntoken = \"{}\"\nsites = [\"*\"]\n",
        common::SITE_TOML,
        "0123456789abcdef".repeat(2)
    ));
    std::fs::set_permissions(file.path(), std::fs::Permissions::from_mode(mode)).unwrap();
    file
}

/// `serve` with the configuration `config`, its spool in `dir`, on free
/// ports, ClickHouse unreachable; and the file its output goes to.
fn serve_without_clickhouse(
    config: &std::path::Path,
    dir: &std::path::Path,
) -> (std::process::Child, std::path::PathBuf) {
    let log = dir.join("serve.log");
    let serve = Beaconhouse::new()
        .config(config)
        .env("BEACONHOUSE_SPOOL_DIR", dir.join("spool"))
        .env(
            "BEACONHOUSE_LISTEN",
            format!("127.0.0.1:{}", common::free_port()),
        )
        .env(
            "BEACONHOUSE_ADMIN_LISTEN",
            format!("127.0.0.1:{}", common::free_port()),
        )
        .env("BEACONHOUSE_CLICKHOUSE_URL", "http://127.0.0.1:9")
        .arg("serve")
        .spawn(&log);
    (serve, log)
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

#[test]
fn check_config_strict_refuses_secrets_others_may_read() {
    let file = config_with_a_token(0o644);
    let path = file.path().display().to_string();
    let check = |strict: bool| {
        let command = Beaconhouse::new().config(file.path()).arg("check-config");
        if strict {
            command.arg("--strict").output()
        } else {
            command.output()
        }
    };
    let (ok, stdout, stderr) = check(false);
    assert!(ok, "without --strict it is a warning: {stderr}");
    assert!(stdout.contains("configuration is valid"), "{stdout}");
    assert!(stderr.contains("warning"), "{stderr}");

    let (ok, _, stderr) = check(true);
    assert!(!ok, "--strict refuses a file others may read");
    for needed in [
        path.as_str(),
        "reporting.tokens",
        "mode 0644",
        &format!("chmod 600 {path}"),
        "LoadCredential=",
    ] {
        assert!(stderr.contains(needed), "{needed:?} in {stderr}");
    }

    std::fs::set_permissions(file.path(), std::fs::Permissions::from_mode(0o600)).unwrap();
    let (ok, _, stderr) = check(true);
    assert!(ok, "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");

    // The same secret from the environment leaves the file nothing to hide.
    let plain = config_file(common::SITE_TOML);
    std::fs::set_permissions(plain.path(), std::fs::Permissions::from_mode(0o644)).unwrap();
    let (ok, _, stderr) = Beaconhouse::new()
        .config(plain.path())
        .env("BEACONHOUSE_CLICKHOUSE_PASSWORD", "from-the-environment")
        .args(["check-config", "--strict"])
        .output();
    assert!(ok, "{stderr}");
}

#[test]
fn serve_warns_at_start_of_secrets_others_may_read() {
    let file = config_with_a_token(0o640);
    let dir = tempfile::tempdir().unwrap();
    let (mut serve, log) = serve_without_clickhouse(file.path(), dir.path());
    let warning = eventually("serve warns about the file", COLLECTOR_START, || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        match text.lines().find(|line| line.contains("chmod 600")) {
            Some(line) => Ok(line.to_string()),
            None => Err(text),
        }
    });
    let _ = serve.kill();
    let _ = serve.wait();
    assert!(warning.contains("WARN"), "{warning}");
    assert!(
        warning.contains(&file.path().display().to_string()),
        "{warning}"
    );
}

#[test]
fn a_refused_configuration_names_the_key_and_line_never_the_secret() {
    let secret = "s3cret-0123456789abcdef0123456789abcdef";
    let text = format!(
        "{}\n[[reporting.tokens]]\nname = \"staff\"\ntoken = \"{secret}\nsites = [\"*\"]\n",
        common::SITE_TOML
    );
    let line = 1 + text.lines().position(|l| l.starts_with("token")).unwrap();
    let broken = config_file(&text);
    let (ok, _, stderr) = Beaconhouse::new()
        .config(broken.path())
        .arg("serve")
        .output();
    assert!(!ok, "serve started on a file that is not TOML");
    assert!(!stderr.contains("s3cret"), "{stderr}");
    assert!(stderr.contains(&format!("line {line}")), "{stderr}");
    assert!(
        stderr.contains("`token` in [[reporting.tokens]]"),
        "{stderr}"
    );

    let tokens = format!("[{{name=\"staff\",token=\"{secret}\",sites=[\"*\"]}} {{}}]");
    let (ok, _, stderr) = Beaconhouse::new()
        .config(config_file(common::SITE_TOML).path())
        .env("BEACONHOUSE_REPORTING_TOKENS", &tokens)
        .arg("check-config")
        .output();
    assert!(!ok, "a malformed BEACONHOUSE_REPORTING_TOKENS was taken");
    assert!(!stderr.contains("s3cret"), "{stderr}");
    assert!(
        stderr.contains("`reporting.tokens`") && stderr.contains("BEACONHOUSE_REPORTING_TOKENS"),
        "{stderr}"
    );
}

#[test]
fn serve_refuses_secrets_in_a_file_others_may_write() {
    let file = config_with_a_token(0o620);
    let dir = tempfile::tempdir().unwrap();
    let (mut serve, log) = serve_without_clickhouse(file.path(), dir.path());
    let read_log = || std::fs::read_to_string(&log).unwrap_or_default();
    // Exited, or listening (refused nothing): whichever comes first.
    let exited = eventually("serve exits or listens", COLLECTOR_START, || {
        match serve.try_wait().unwrap() {
            Some(status) => Ok(Some(status)),
            None if read_log().contains("collector listening") => Ok(None),
            None => Err(read_log()),
        }
    });
    if exited.is_none() {
        let _ = serve.kill();
        let _ = serve.wait();
    }
    let stderr = read_log();
    assert!(
        exited.is_some_and(|status| !status.success()),
        "serve started on a file others may write: {stderr}"
    );
    let path = file.path().display().to_string();
    for needed in ["may write it", "mode 0620", &format!("chmod 600 {path}")] {
        assert!(stderr.contains(needed), "{needed:?} in {stderr}");
    }
    // check-config says the same, --strict or not.
    let (ok, _, stderr) = Beaconhouse::new()
        .config(file.path())
        .arg("check-config")
        .output();
    assert!(!ok && stderr.contains("may write it"), "{stderr}");
}

#[test]
fn email_url_signs_as_the_readmes_openssl_formula_does() {
    let key = "email-signing-key-0123456789abcdef0123456789";
    let file = config_file(&format!(
        "{}\n[email]\nsigning_key = \"{key}\"\n",
        common::SITE_TOML
    ));
    let (campaign, recipient) = ("2026-11-newsletter", "3f9 a+b");
    let stdout = Beaconhouse::new().config(file.path()).email_url(
        campaign,
        recipient,
        "https://stats.optimumabq.com/",
    );
    let (url, sig) = stdout.split_once("&sig=").unwrap();
    assert_eq!(
        url,
        "https://stats.optimumabq.com/o.gif?c=2026-11-newsletter&rid=3f9+a%2Bb"
    );
    // README, "Signed open pixels": what a mail tool runs.
    let formula = format!(
        "printf '%s\\n%s' \"$c\" \"$rid\" | {} dgst -sha256 -hmac \"$key\" | awk '{{print $NF}}'",
        common::tool("openssl", "openssl").display()
    );
    let (ran, openssl) = common::run(
        std::process::Command::new("bash")
            .args(["-c", &formula])
            .env("c", campaign)
            .env("rid", recipient)
            .env("key", key),
    );
    assert!(ran, "{openssl}");
    assert_eq!(sig, openssl.trim());
    assert!(!stdout.contains(key));
}
