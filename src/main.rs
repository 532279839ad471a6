//! The `beaconhouse` command: parses arguments, loads the configuration and
//! hands over to the library. Errors end here, printed with what to do.

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use beaconhouse::config::{Config, LogFormat};
use beaconhouse::grant::{self, Grant, Holder};
use beaconhouse::report::Reporter;
use beaconhouse::report::output;
use beaconhouse::report::parameters::{self, Parameter, Values};
use beaconhouse::report::request::{ReportRequest, Subject, with_site_time_zone};
use beaconhouse::report::vocabulary::{Format, ReportKind, Vocabulary};
use beaconhouse::rollup::Rollup;
use beaconhouse::store::clickhouse::Endpoints;
use beaconhouse::store::retention_job::Retention;
use clap::builder::{PossibleValue, StringValueParser, TypedValueParser};
use clap::{Arg, ArgAction, ArgMatches, FromArgMatches, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "beaconhouse",
    version,
    about = "Privacy-respecting web analytics collector"
)]
struct Cli {
    /// TOML configuration file; every key can be overridden by an environment
    /// variable BEACONHOUSE_<SECTION>_<KEY>.
    #[arg(long, global = true, env = "BEACONHOUSE_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the collector.
    Serve,
    /// Create or update the ClickHouse tables (safe to run again).
    Migrate,
    /// Validate the configuration and exit; warn when the file holds
    /// secrets that its group or others may read.
    CheckConfig {
        /// Fail, rather than warn, when the file holds secrets that its
        /// group or others may read.
        #[arg(long)]
        strict: bool,
    },
    /// Exit 0 if the collector on this host answers `/readyz` on its admin
    /// listener (`admin_listen`); for container health checks, as the image
    /// has no HTTP client.
    Healthcheck,
    /// Compute the reports' daily rollup for every ended day that needs it
    /// (`serve` does this every 5 minutes).
    Rollup,
    /// Drop the months of events, email opens and the daily rollup whose
    /// `[retention]` period has ended, and print them per table (`serve` does
    /// this daily).
    Retention {
        /// Print what would be dropped; drop nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Print an aggregate report, read from ClickHouse.
    Report {
        #[command(subcommand)]
        report: ReportCommand,
    },
    /// Print a link to one site's dashboard that works without a token
    /// until it expires. Changing `reporting.share_key` revokes every link.
    Share {
        /// The configured site the link shows.
        #[arg(long)]
        site: String,
        /// How long the link works: 30d, 12h or 90m (at most 366d).
        #[arg(long, default_value = "30d")]
        expires: String,
        /// The dashboard's public address, as staff reach it.
        #[arg(long, value_name = "URL", default_value_t = String::new(), hide_default_value = true)]
        url: String,
    },
}

/// `beaconhouse report <kind> --<parameter> VALUE ...`: a subcommand per
/// report kind and a flag per parameter it takes, built from
/// `report::parameters`, so the CLI takes what the API takes. The values
/// reach the same parser as the API's query string.
struct ReportCommand {
    kind: ReportKind,
    pairs: Vec<(&'static str, String)>,
}

impl ReportCommand {
    fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
    }
}

impl Subcommand for ReportCommand {
    fn augment_subcommands(mut command: clap::Command) -> clap::Command {
        for &kind in ReportKind::ALL {
            command = command.subcommand(
                clap::Command::new(kind.as_str())
                    .about(kind.description())
                    .args(parameters::taken_by(kind).map(flag)),
            );
        }
        command
    }

    fn augment_subcommands_for_update(command: clap::Command) -> clap::Command {
        ReportCommand::augment_subcommands(command)
    }

    fn has_subcommand(name: &str) -> bool {
        ReportKind::parse("report", name).is_ok()
    }
}

impl FromArgMatches for ReportCommand {
    fn from_arg_matches(matches: &ArgMatches) -> Result<ReportCommand, clap::Error> {
        let (name, flags) = matches
            .subcommand()
            .ok_or_else(|| clap::Error::new(clap::error::ErrorKind::MissingSubcommand))?;
        let kind = ReportKind::parse("report", name)
            .map_err(|e| clap::Error::raw(clap::error::ErrorKind::InvalidSubcommand, e))?;
        let mut pairs = Vec::new();
        for parameter in parameters::taken_by(kind) {
            let values = flags
                .try_get_many::<String>(parameter.name)
                .map_err(|e| clap::Error::raw(clap::error::ErrorKind::InvalidValue, e))?;
            pairs.extend(
                values
                    .into_iter()
                    .flatten()
                    .map(|v| (parameter.name, v.clone())),
            );
        }
        Ok(ReportCommand { kind, pairs })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = ReportCommand::from_arg_matches(matches)?;
        Ok(())
    }
}

/// The flag `--<name>` of a parameter. Defaults are shown, not filled in:
/// the parser fills them, as it does for the API.
fn flag(parameter: &'static Parameter) -> Arg {
    let words = match parameter.values {
        Values::OneOf(names) => names(),
        Values::Text | Values::Date | Values::Count { .. } => Vec::new(),
    };
    let help = match parameter.default {
        Some(default) => format!("{} [default: {default}]", parameter.description),
        None => parameter.description.to_string(),
    };
    Arg::new(parameter.name)
        .long(parameter.name)
        .value_name(parameter.name.to_uppercase())
        .help(help)
        .required(parameter.required)
        .action(if parameter.repeatable {
            ArgAction::Append
        } else {
            ArgAction::Set
        })
        .value_parser(ShowsWords(words))
}

/// Takes any text and leaves judging it to the report parser, so the CLI
/// refuses a value in the same words as the API; lists the parameter's words
/// in `--help` (and for completion).
#[derive(Clone)]
struct ShowsWords(Vec<&'static str>);

impl TypedValueParser for ShowsWords {
    type Value = String;

    fn parse_ref(
        &self,
        command: &clap::Command,
        arg: Option<&Arg>,
        value: &OsStr,
    ) -> Result<String, clap::Error> {
        StringValueParser::new().parse_ref(command, arg, value)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        if self.0.is_empty() {
            return None;
        }
        Some(Box::new(self.0.iter().copied().map(PossibleValue::new)))
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("beaconhouse: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::CheckConfig { strict } => {
            if let Some(exposed) = &config.exposed_secrets {
                if strict {
                    anyhow::bail!("{exposed}");
                }
                eprintln!("beaconhouse: warning: {exposed}");
            }
            // Reads clickhouse.ca_file; reaches nothing.
            Endpoints::new(&config.clickhouse)?;
            println!(
                "configuration is valid: {} site(s), ClickHouse at {}, database {}{}",
                config.sites.len(),
                config.clickhouse.urls.join(", "),
                config.clickhouse.database,
                match &config.clickhouse.cluster {
                    Some(cluster) => format!(" on cluster {cluster}"),
                    None => String::new(),
                }
            );
            Ok(())
        }
        Command::Healthcheck => {
            let answer = healthcheck(config.admin_listen)?;
            println!("{answer}");
            Ok(())
        }
        Command::Migrate => {
            init_logging(config.log_format);
            runtime()?.block_on(async {
                let applied = beaconhouse::migrate::apply(&config.clickhouse).await?;
                if applied.is_empty() {
                    println!("schema is up to date");
                } else {
                    for file in applied {
                        println!("applied {file}");
                    }
                }
                anyhow::Ok(())
            })
        }
        Command::Rollup => {
            init_logging(config.log_format);
            // The rollup writes daily_stats and daily_filtered: the ingest user, not the reports'.
            let rollup = Rollup::new(Endpoints::new(&config.clickhouse)?);
            let days = runtime()?.block_on(rollup.roll_up(beaconhouse::clock::now_unix()))?;
            println!("rolled up {} day(s)", days.len());
            Ok(())
        }
        Command::Retention { dry_run } => {
            init_logging(config.log_format);
            let retention = Retention::new(
                Endpoints::new(&config.clickhouse)?,
                &config.clickhouse,
                config.retention.clone(),
            );
            let today = beaconhouse::clock::day_of(beaconhouse::clock::now_unix());
            let expired = runtime()?.block_on(async {
                if dry_run {
                    retention.expired(today).await
                } else {
                    retention.enforce(today, |_| {}).await
                }
            })?;
            for expiry in expired {
                println!("{}", expiry.describe(dry_run));
            }
            Ok(())
        }
        Command::Report { report } => {
            init_logging(config.log_format);
            let pairs = with_site_time_zone(report.pairs(), |site| {
                config.sites.get(site).map(|s| s.time_zone.as_str())
            });
            let request = ReportRequest::from_pairs(report.kind, pairs, Format::Table)?;
            if let Subject::Site(site) = request.subject() {
                configured(&config, site)?;
            }
            let reporter = Reporter::new(
                Endpoints::for_reports(&config.clickhouse, &config.reporting)?,
                config.reporting.min_group_size,
            );
            let answer = runtime()?.block_on(reporter.run(&request))?;
            print!("{}", output::render(&answer, request.format));
            Ok(())
        }
        Command::Share { site, expires, url } => {
            configured(&config, &site)?;
            let key = config.reporting.share_key.as_ref().context(
                "shared links are off: set `reporting.share_key` (BEACONHOUSE_REPORTING_SHARE_KEY) to a secret from `openssl rand -hex 32`, the same on every collector",
            )?;
            let lifetime = grant::parse_lifetime(&expires)
                .map_err(|problem| anyhow::anyhow!("--expires: {problem}"))?;
            let now = beaconhouse::clock::now_unix();
            let expires = u64::from(now) + lifetime;
            let link = Grant {
                holder: Holder::Shared(site),
                expires,
            }
            .sign(key.as_bytes());
            let base = if url.is_empty() {
                format!("http://{}", config.listen)
            } else {
                url.trim_end_matches('/').to_string()
            };
            println!("{base}/dashboard/#share={link}");
            eprintln!(
                "valid until {} UTC; change reporting.share_key to revoke every shared link",
                beaconhouse::clock::utc_minute(now.saturating_add(lifetime as u32))
            );
            Ok(())
        }
        Command::Serve => {
            init_logging(config.log_format);
            actix_web::rt::System::new()
                .block_on(beaconhouse::serve::run(config))
                .context("the collector stopped with an error")
        }
    }
}

/// Asks the admin listener for `/readyz` and returns its status line if it
/// is 200. A wildcard address (`0.0.0.0`, `::`) is asked on loopback.
fn healthcheck(admin: SocketAddr) -> anyhow::Result<String> {
    let ip = match admin.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let address = SocketAddr::new(ip, admin.port());
    let timeout = Duration::from_secs(3);
    let ask = || -> std::io::Result<String> {
        let mut stream = TcpStream::connect_timeout(&address, timeout)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        stream.write_all(b"GET /readyz HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
        let mut head = Vec::new();
        stream.take(1024).read_to_end(&mut head)?;
        let head = String::from_utf8_lossy(&head);
        Ok(head.lines().next().unwrap_or_default().to_string())
    };
    let status_line = ask().with_context(|| {
        format!("no answer from the admin listener at {address} (admin_listen, BEACONHOUSE_ADMIN_LISTEN)")
    })?;
    if status_line.split_whitespace().nth(1) != Some("200") {
        anyhow::bail!("{address}/readyz answered {status_line:?}");
    }
    Ok(format!("ready: {address}/readyz answered {status_line}"))
}

/// Refuses a site the configuration does not have, listing those it has.
fn configured(config: &Config, site: &str) -> anyhow::Result<()> {
    if config.sites.contains_key(site) {
        return Ok(());
    }
    let mut known: Vec<&str> = config.sites.keys().map(String::as_str).collect();
    known.sort();
    anyhow::bail!(
        "--site {site:?} is not configured; configured sites: {}",
        known.join(", ")
    )
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn init_logging(format: LogFormat) {
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
