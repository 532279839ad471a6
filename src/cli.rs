//! What each `beaconhouse` subcommand does, given a validated [`Config`]:
//! the library half of the command line. `main.rs` parses the arguments
//! (clap), calls one of these, prints what it returns and reports its error;
//! nothing here parses arguments or exits.
//!
//! Owns: the command bodies (`check-config`, `healthcheck`, `migrate`,
//! `rollup`, `retention`, `audit`, `report`, `share`, `email-url`, `serve`), each returning the
//! text to print so a test can call it, and [`CliError`], every way one
//! fails, each saying what to do.
//! Must never: print a secret (a token, a key, a password), or
//! build a report other than through `Reporter::run`.

use std::future::Future;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::Duration;

use crate::audit::{self, Auditor, Exposition};
use crate::clock;
use crate::config::{Config, ExposedSecrets, LogFormat};
use crate::enrich::{campaign, link, scrub};
use crate::grant::{self, Link, Signed};
use crate::metrics::Metrics;
use crate::migrate::{self, MigrateError};
use crate::privacy::audit_rules::Check;
use crate::report::output;
use crate::report::request::{ReportRequest, Subject, with_site_time_zone};
use crate::report::vocabulary::{Format, ReportKind, RequestError};
use crate::report::{ReportError, Reporter};
use crate::rollup::{Rollup, RollupError};
use crate::serve::{self, ServeError};
use crate::spool::SpoolStats;
use crate::store::clickhouse::{Endpoints, TlsError};
use crate::store::retention_job::{Retention, RetentionError};

/// Longest the health check (and the audit's scrape) waits for the admin
/// listener, per step.
const HEALTHCHECK_TIMEOUT: Duration = Duration::from_secs(3);
/// The most of `/metrics` the audit reads.
const METRICS_MAX_BYTES: u64 = 4 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// `check-config --strict` on a file whose secrets others may read, or
    /// `check-config` on one others may write.
    #[error("{0}")]
    ExposedSecrets(ExposedSecrets),
    #[error("--site {site:?} is not configured; configured sites: {known}")]
    UnknownSite { site: String, known: String },
    #[error(
        "shared links are off: set `reporting.share_key` (BEACONHOUSE_REPORTING_SHARE_KEY) to a secret from `openssl rand -hex 32`, the same on every collector"
    )]
    SharingOff,
    #[error("--expires: {0}")]
    Lifetime(String),
    /// An open pixel's URL that the collector would not count.
    #[error("--campaign {campaign:?}: {problem}")]
    Campaign { campaign: String, problem: String },
    #[error(
        "email.require_signature is on, and a URL with a merge tag for the recipient cannot be signed (the signature covers the token): pass each token with --recipient, or have the mail tool add sig = lowercase hex of HMAC-SHA256(email.signing_key, campaign + \"\\n\" + recipient token) (for a link: of \"/l\\n\" + campaign + \"\\n\" + token + \"\\n\" + destination)"
    )]
    PlaceholderUnsigned,
    /// An email link the collector would not send on.
    #[error("--link {url:?}: {problem}")]
    Link { url: String, problem: String },
    #[error(
        "no answer from the admin listener at {address} (admin_listen, BEACONHOUSE_ADMIN_LISTEN): {cause}"
    )]
    NoAnswer {
        address: SocketAddr,
        cause: std::io::Error,
    },
    #[error("{address}/readyz answered {status_line:?}")]
    NotReady {
        address: SocketAddr,
        status_line: String,
    },
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error(transparent)]
    Migrate(#[from] MigrateError),
    #[error(transparent)]
    Rollup(#[from] RollupError),
    #[error(transparent)]
    Retention(#[from] RetentionError),
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error(transparent)]
    Report(#[from] ReportError),
    #[error("the collector stopped with an error")]
    Serve(#[from] ServeError),
}

/// `check-config`: the configuration is valid (it loaded); warns, or with
/// `strict` fails, when the file holds secrets its group or others may read,
/// and fails when they may write it (as `serve` would).
/// Returns the warning, if any, and the summary to print.
pub fn check_config(config: &Config, strict: bool) -> Result<(Option<String>, String), CliError> {
    let warning = match &config.exposed_secrets {
        Some(exposed) if strict || exposed.writable() => {
            return Err(CliError::ExposedSecrets(exposed.clone()));
        }
        Some(exposed) => Some(format!("warning: {exposed}")),
        None => None,
    };
    // Reads clickhouse.ca_file; reaches nothing.
    Endpoints::new(&config.clickhouse)?;
    let summary = format!(
        "configuration is valid: {} site(s), ClickHouse at {}, database {}{}",
        config.sites.len(),
        config.clickhouse.urls.join(", "),
        config.clickhouse.database,
        match &config.clickhouse.cluster {
            Some(cluster) => format!(" on cluster {cluster}"),
            None => String::new(),
        }
    );
    Ok((warning, summary))
}

/// `healthcheck`: the status line of the admin listener's `/readyz` if it
/// is 200, for container health checks (the image has no HTTP client).
pub fn healthcheck(admin: SocketAddr) -> Result<String, CliError> {
    let address = reachable(admin);
    let (status_line, _) = admin_get(address, "/readyz", 1024)
        .map_err(|cause| CliError::NoAnswer { address, cause })?;
    if !answered_ok(&status_line) {
        return Err(CliError::NotReady {
            address,
            status_line,
        });
    }
    Ok(format!("ready: {address}/readyz answered {status_line}"))
}

/// `GET path` on the admin listener at `address`: the status line and the
/// body, of at most `limit` bytes in all.
fn admin_get(address: SocketAddr, path: &str, limit: u64) -> std::io::Result<(String, String)> {
    let mut stream = TcpStream::connect_timeout(&address, HEALTHCHECK_TIMEOUT)?;
    stream.set_read_timeout(Some(HEALTHCHECK_TIMEOUT))?;
    stream.set_write_timeout(Some(HEALTHCHECK_TIMEOUT))?;
    stream.write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes())?;
    let mut answer = Vec::new();
    stream.take(limit).read_to_end(&mut answer)?;
    let answer = String::from_utf8_lossy(&answer);
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status_line = head.lines().next().unwrap_or_default().to_string();
    Ok((status_line, body.to_string()))
}

/// Whether a status line says 200.
fn answered_ok(status_line: &str) -> bool {
    status_line.split_whitespace().nth(1) == Some("200")
}

/// Where to ask a listener bound to `address`: a wildcard address (`0.0.0.0`,
/// `::`) is asked on loopback.
fn reachable(address: SocketAddr) -> SocketAddr {
    let ip = match address.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, address.port())
}

/// `migrate`: applies `schema/`; one line per file applied.
pub fn migrate(config: &Config) -> Result<Vec<String>, CliError> {
    let applied = block_on(migrate::apply(&config.clickhouse))??;
    if applied.is_empty() {
        return Ok(vec!["schema is up to date".into()]);
    }
    Ok(applied
        .iter()
        .map(|file| format!("applied {file}"))
        .collect())
}

/// `rollup`: computes the reports' daily rollup for every ended day that
/// needs it, and releases them to staff SQL, as the ingest user (the
/// reports' user may not write). One line for each.
pub fn rollup(config: &Config) -> Result<Vec<String>, CliError> {
    let rollup = Rollup::new(Endpoints::new(&config.clickhouse)?, config);
    let done = block_on(rollup.roll_up(clock::now_unix()))??;
    let mut lines = vec![format!("rolled up {} day(s)", done.rolled_up.len())];
    if let Some(released) = done.released {
        lines.push(format!(
            "released {} day(s) to {}.daily",
            released.len(),
            config.clickhouse.released_database()
        ));
    }
    if done.goal_days > 0 {
        lines.push(format!(
            "counted {} day(s) of goals added since those days were rolled up",
            done.goal_days
        ));
    }
    if let Some(until) = done.today {
        lines.push(format!(
            "rolled up today up to {} UTC",
            clock::utc_minute(until)
        ));
    }
    if done.local > 0 {
        lines.push(format!(
            "rolled up {} part(s) of yesterday and today from sites' local midnights",
            done.local
        ));
    }
    Ok(lines)
}

/// `retention`: drops (or, on a dry run, lists) the months whose retention
/// period has ended; one line per table.
pub fn retention(config: &Config, dry_run: bool) -> Result<Vec<String>, CliError> {
    let retention = Retention::new(
        Endpoints::new(&config.clickhouse)?,
        &config.clickhouse,
        config.retention.clone(),
    );
    let today = clock::day_of(clock::now_unix());
    let expired = block_on(async {
        if dry_run {
            retention.expired(today).await
        } else {
            retention.enforce(today, |_| {}).await
        }
    })??;
    Ok(expired
        .iter()
        .map(|expiry| expiry.describe(dry_run))
        .collect())
}

/// `audit`: every check of the installation (`privacy::audit_rules::Check`)
/// and what it found, rendered as `format`, and whether it passed (nothing
/// found, every check run; `main` exits non-zero otherwise). The metrics
/// checked are those of the collector on `admin_listen`, or, when none
/// answers there, this binary's own.
pub fn audit(config: &Config, format: audit::Format) -> Result<(String, bool), CliError> {
    let auditor = Auditor::new(config)?;
    let metrics = scrape_metrics(config.admin_listen);
    let report = block_on(auditor.run(&Check::ALL, &metrics, clock::now_unix()))?;
    Ok((report.render(format), report.passed()))
}

/// The collector's `/metrics` on `admin`, or this binary's own series when
/// nothing answers there with them.
fn scrape_metrics(admin: SocketAddr) -> Exposition {
    let address = reachable(admin);
    match admin_get(address, "/metrics", METRICS_MAX_BYTES) {
        Ok((status_line, text)) if answered_ok(&status_line) => Exposition {
            source: format!("http://{address}/metrics"),
            text,
        },
        _ => Exposition {
            source: format!(
                "this binary's own metrics (no collector answered /metrics on admin_listen {address})"
            ),
            text: Metrics::default().render(SpoolStats {
                bytes: 0,
                segments: 0,
                max_bytes: 0,
                sync_failures: 0,
            }),
        },
    }
}

/// `report <kind>`: the report the flags ask for, printed as a table unless
/// `--format` says otherwise. The pairs reach the same parser as the API's
/// query string, with the site's own time zone by default.
pub fn report<'a>(
    config: &'a Config,
    kind: ReportKind,
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<String, CliError> {
    let pairs = with_site_time_zone(pairs, |site| {
        config.sites.get(site).map(|s| s.time_zone.as_str())
    });
    let request = ReportRequest::from_pairs(kind, pairs, Format::Table)?;
    if let Subject::Site(site) = request.subject() {
        configured(config, site)?;
    }
    let reporter = Reporter::new(
        Endpoints::for_reports(&config.clickhouse, &config.reporting)?,
        config.reporting.release.clone(),
        config.reporting.views_cap,
        config.conversions(),
    );
    let answer = block_on(reporter.run(&request))??;
    Ok(output::render(&answer, request.format))
}

/// `share`: a link to one site's dashboard that works without a token until
/// it expires, and a note saying until when and how to revoke it.
pub fn share(
    config: &Config,
    site: &str,
    expires: &str,
    url: &str,
    now: u32,
) -> Result<(String, String), CliError> {
    configured(config, site)?;
    let key = config
        .reporting
        .share_key
        .as_ref()
        .ok_or(CliError::SharingOff)?;
    let lifetime = grant::parse_lifetime(expires).map_err(CliError::Lifetime)?;
    let link = Link {
        site: site.to_string(),
        expires: u64::from(now) + lifetime,
    }
    .sign(key.as_bytes());
    let base = base_url(config, url);
    let note = format!(
        "valid until {} UTC; change reporting.share_key to revoke every shared link",
        clock::utc_minute(now.saturating_add(lifetime as u32))
    );
    Ok((format!("{base}/dashboard/#share={link}"), note))
}

/// Who an email pixel's URL is for: recipient tokens, or the mail tool's
/// merge tag that stands for each one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipients {
    Tokens(Vec<String>),
    Placeholder(String),
}

/// Which URL of a campaign `email-url` prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailUrl {
    /// The open pixel (`/o.gif`).
    Pixel,
    /// A link (`/l`) that sends a click on to this destination.
    Link(String),
    /// The honeypot link (`/l` with `h=1`), hidden from readers.
    Honeypot,
}

/// `email-url`: the open pixel's URL for `campaign` (or a link's, or the
/// honeypot's: `what`), one per recipient token (signed when
/// `email.signing_key` is set), or one template with the mail tool's merge
/// tag (unsigned); and a note when the template is unsigned although a key
/// is set. Refuses a campaign the collector would not count, or store under
/// another name, and a link the collector would not send on: a destination
/// that is not an absolute http(s) URL, or whose host no site and no
/// `email.link_hosts` has when the URL cannot be signed.
pub fn email_url(
    config: &Config,
    campaign: &str,
    recipients: &Recipients,
    what: &EmailUrl,
    url: &str,
) -> Result<(Vec<String>, Option<String>), CliError> {
    let rules = &config.email.campaigns;
    let refused = |problem: &str| CliError::Campaign {
        campaign: campaign.to_string(),
        problem: problem.to_string(),
    };
    if !campaign::is_plain(campaign) {
        return Err(refused(
            "is not counted: name a campaign with letters, digits, `-`, `_` and `.` (at most 100)",
        ));
    }
    if !rules.lists(campaign) {
        return Err(refused(
            "is not in email.campaigns, so its opens and clicks are not counted; add it there",
        ));
    }
    if scrub::value(campaign) != campaign {
        return Err(refused(
            "looks like personal data (an e-mail, a UUID, a token or six digits in a row) and would be stored as a marker; rename it",
        ));
    }
    let placeholder = matches!(recipients, Recipients::Placeholder(_));
    if let EmailUrl::Link(destination) = what {
        let refused = |problem: &str| CliError::Link {
            url: destination.clone(),
            problem: problem.to_string(),
        };
        let host = link::destination(destination)
            .ok_or_else(|| {
                refused("is not an address a click can be sent to: give an absolute http:// or https:// URL without a user name or password")
            })?
            .host;
        let signed = rules.signing_key.is_some() && !placeholder;
        if !signed && !config.link_hosts().allows(&host) {
            return Err(refused(
                "leads to a host no site and no email.link_hosts has, and the URL is not signed (no email.signing_key, or a merge tag): the collector would show the address instead of sending the click on; add the host to email.link_hosts, or set email.signing_key and pass each token with --recipient",
            ));
        }
    }
    let destination = match what {
        EmailUrl::Pixel => None,
        EmailUrl::Link(destination) => Some(Some(destination.as_str())),
        EmailUrl::Honeypot => Some(None),
    };
    let base = base_url(config, url);
    let url_of = |recipient: &str| match destination {
        None => rules.url(&base, campaign, recipient, placeholder),
        Some(to) => rules.link_url(&base, campaign, recipient, placeholder, to),
    };
    match recipients {
        Recipients::Tokens(tokens) => {
            Ok((tokens.iter().map(|token| url_of(token)).collect(), None))
        }
        Recipients::Placeholder(_) if rules.require_signature => Err(CliError::PlaceholderUnsigned),
        Recipients::Placeholder(tag) => {
            let counted = if destination.is_some() {
                "clicks"
            } else {
                "opens"
            };
            let note = rules.signing_key.as_ref().map(|_| {
                format!("unsigned: its {counted} count while email.require_signature is off; for signed URLs pass each token with --recipient")
            });
            Ok((vec![url_of(tag)], note))
        }
    }
}

/// The collector's public address as a URL without a trailing `/`: `url`,
/// or `http://` and `listen`.
fn base_url(config: &Config, url: &str) -> String {
    if url.is_empty() {
        format!("http://{}", config.listen)
    } else {
        url.trim_end_matches('/').to_string()
    }
}

/// `serve`: runs the collector until SIGINT or SIGTERM.
pub fn serve(config: Config) -> Result<(), CliError> {
    actix_web::rt::System::new().block_on(serve::run(config))?;
    Ok(())
}

/// Sends the log to standard error, as JSON or text, filtered by `RUST_LOG`
/// (default `info`).
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

/// Refuses a site the configuration does not have, listing those it has.
fn configured(config: &Config, site: &str) -> Result<(), CliError> {
    if config.sites.contains_key(site) {
        return Ok(());
    }
    let mut known: Vec<&str> = config.sites.keys().map(String::as_str).collect();
    known.sort();
    Err(CliError::UnknownSite {
        site: site.to_string(),
        known: known.join(", "),
    })
}

/// Runs `work` to completion on a runtime of its own: a command does one
/// thing, so one thread is enough.
fn block_on<F: Future>(work: F) -> Result<F::Output, CliError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    Ok(runtime.block_on(work))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(toml: &str) -> Config {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("beaconhouse.toml");
        std::fs::write(&path, toml).unwrap();
        Config::load(Some(&path)).unwrap()
    }

    const SITES: &str = "[[sites]]\nid = \"optimumabq.com\"\nhostnames = [\"optimumabq.com\"]\n\n[[sites]]\nid = \"blog.example\"\nhostnames = [\"blog.example\"]\n";

    #[test]
    fn email_urls_are_signed_per_recipient_or_a_template_with_the_merge_tag() {
        let key = "e".repeat(32);
        let email =
            format!("{SITES}\n[email]\ncampaigns = [\"2026-*\"]\nsigning_key = \"{key}\"\n");
        let signed = config(&email);
        let tokens = Recipients::Tokens(vec!["r 1".into(), "r-2".into()]);
        let (urls, note) = email_url(
            &signed,
            "2026-11-newsletter",
            &tokens,
            &EmailUrl::Pixel,
            "https://stats.optimumabq.com/",
        )
        .unwrap();
        assert_eq!(note, None);
        let sig = campaign::signature(
            &campaign::SigningKey::new(key.clone()),
            "2026-11-newsletter",
            "r 1",
        );
        assert_eq!(
            urls[0],
            format!("https://stats.optimumabq.com/o.gif?c=2026-11-newsletter&rid=r+1&sig={sig}")
        );
        assert_eq!(urls.len(), 2);
        assert!(!urls.iter().any(|url| url.contains(&key)));

        let tag = Recipients::Placeholder("{{ .Subscriber.UUID }}".into());
        let (urls, note) =
            email_url(&signed, "2026-11-newsletter", &tag, &EmailUrl::Pixel, "").unwrap();
        assert_eq!(
            urls,
            ["http://127.0.0.1:8080/o.gif?c=2026-11-newsletter&rid={{ .Subscriber.UUID }}"]
        );
        assert!(note.is_some_and(|n| n.contains("unsigned")));
        let required = config(&format!("{email}require_signature = true\n"));
        assert!(matches!(
            email_url(&required, "2026-11-newsletter", &tag, &EmailUrl::Pixel, ""),
            Err(CliError::PlaceholderUnsigned)
        ));
        for refused in ["nov newsletter", "welcome", "2026-4155550123"] {
            assert!(
                matches!(
                    email_url(&signed, refused, &tokens, &EmailUrl::Pixel, ""),
                    Err(CliError::Campaign { .. })
                ),
                "{refused}"
            );
        }
        let unsigned = config(SITES);
        let (urls, note) = email_url(&unsigned, "welcome", &tag, &EmailUrl::Pixel, "").unwrap();
        assert_eq!(note, None);
        assert!(!urls[0].contains("sig="));
    }

    #[test]
    fn email_links_and_the_honeypot_are_signed_per_recipient_where_they_can_be() {
        let key = "e".repeat(32);
        let signed = config(&format!(
            "{SITES}\n[email]\nlink_hosts = [\"*.optimumabq.events\"]\nsigning_key = \"{key}\"\n"
        ));
        let tokens = Recipients::Tokens(vec!["r-1".into()]);
        let tag = Recipients::Placeholder("{{ .Subscriber.UUID }}".into());
        let partner = EmailUrl::Link("https://partner.example/offer".into());
        let base = "https://stats.optimumabq.com";
        let (urls, note) = email_url(&signed, "welcome", &tokens, &partner, base).unwrap();
        let sig = campaign::link_signature(
            &campaign::SigningKey::new(key.clone()),
            "welcome",
            "r-1",
            "https://partner.example/offer",
        );
        assert_eq!(
            urls,
            [format!(
                "{base}/l?c=welcome&rid=r-1&u=https%3A%2F%2Fpartner.example%2Foffer&sig={sig}"
            )]
        );
        assert_eq!(note, None);
        // A merge tag cannot be signed: only to a host the collector allows.
        assert!(matches!(
            email_url(&signed, "welcome", &tag, &partner, base),
            Err(CliError::Link { .. })
        ));
        let own = EmailUrl::Link("https://tickets.optimumabq.events/nov".into());
        let (urls, note) = email_url(&signed, "welcome", &tag, &own, base).unwrap();
        assert_eq!(
            urls,
            [format!(
                "{base}/l?c=welcome&rid={{{{ .Subscriber.UUID }}}}&u=https%3A%2F%2Ftickets.optimumabq.events%2Fnov"
            )]
        );
        assert!(note.is_some_and(|n| n.contains("clicks count")));
        let site = EmailUrl::Link("https://optimumabq.com/tour".into());
        assert!(email_url(&config(SITES), "welcome", &tag, &site, base).is_ok());
        assert!(matches!(
            email_url(&config(SITES), "welcome", &tokens, &partner, base),
            Err(CliError::Link { .. })
        ));
        for bad in ["/tour", "javascript:alert(1)", "https://a@partner.example/"] {
            assert!(matches!(
                email_url(
                    &signed,
                    "welcome",
                    &tokens,
                    &EmailUrl::Link(bad.into()),
                    base
                ),
                Err(CliError::Link { .. })
            ));
        }
        let (urls, _) = email_url(&signed, "welcome", &tokens, &EmailUrl::Honeypot, base).unwrap();
        assert_eq!(
            urls,
            [format!(
                "{base}/l?c=welcome&rid=r-1&h=1&sig={}",
                campaign::link_signature(&campaign::SigningKey::new(key), "welcome", "r-1", "")
            )]
        );
    }

    #[test]
    fn wildcard_listeners_are_asked_on_loopback() {
        let asked = |text: &str| reachable(text.parse().unwrap()).to_string();
        assert_eq!(asked("0.0.0.0:9091"), "127.0.0.1:9091");
        assert_eq!(asked("[::]:9091"), "[::1]:9091");
        assert_eq!(asked("10.1.2.3:9091"), "10.1.2.3:9091");
    }

    #[test]
    fn a_silent_admin_listener_is_named_with_its_key() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        drop(listener);
        let error = healthcheck(address).unwrap_err().to_string();
        assert!(
            error.starts_with(&format!(
                "no answer from the admin listener at {address} (admin_listen, BEACONHOUSE_ADMIN_LISTEN): "
            )),
            "{error}"
        );
    }

    #[test]
    fn a_link_is_for_a_configured_site_with_a_key_and_a_lifetime() {
        let now = 1_796_083_200; // 2026-12-01 00:00 UTC
        let without_key = config(SITES);
        assert!(matches!(
            share(&without_key, "optimumabq.com", "30d", "", now),
            Err(CliError::SharingOff)
        ));
        let key = "k".repeat(64);
        let with_key = config(&format!("{SITES}\n[reporting]\nshare_key = \"{key}\"\n"));
        let error = share(&with_key, "elsewhere.example", "30d", "", now)
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "--site \"elsewhere.example\" is not configured; configured sites: blog.example, optimumabq.com"
        );
        assert!(matches!(
            share(&with_key, "optimumabq.com", "400d", "", now),
            Err(CliError::Lifetime(_))
        ));
        let (link, note) = share(
            &with_key,
            "optimumabq.com",
            "30d",
            "https://stats.optimumabq.com/",
            now,
        )
        .unwrap();
        let grant = link
            .strip_prefix("https://stats.optimumabq.com/dashboard/#share=")
            .unwrap();
        let verified = Link::read(grant)
            .unwrap()
            .check(key.as_bytes(), u64::from(now))
            .unwrap();
        assert_eq!(verified.site, "optimumabq.com");
        assert_eq!(verified.expires, u64::from(now) + 30 * 86_400);
        assert!(
            note.starts_with("valid until 2026-12-31 00:00 UTC"),
            "{note}"
        );
        assert!(!note.contains(&key) && !link.contains(&key));
    }
}
