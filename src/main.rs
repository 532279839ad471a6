//! The `beaconhouse` command: parses arguments, loads the configuration and
//! hands over to the library. Errors end here, printed with what to do.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use beaconhouse::config::{Config, LogFormat};
use beaconhouse::report::Reporter;
use beaconhouse::report::output::{self, Format};
use beaconhouse::report::request::{Day, Dimension, Filter, Interval, Period, parse_limit};
use clap::{Parser, Subcommand};

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
    /// Validate the configuration and exit.
    CheckConfig,
    /// Compute the reports' daily rollup for every ended day that needs it
    /// (`serve` does this every 5 minutes).
    Rollup,
    /// Print an aggregate report, read from ClickHouse.
    Report {
        #[command(subcommand)]
        report: ReportCommand,
    },
}

#[derive(Subcommand)]
enum ReportCommand {
    /// Visitors, page views, visits, views per visit, bounce rate, and the
    /// change from the previous period of the same length.
    Summary(SiteArgs),
    /// Visitors and page views per hour, day, week or month.
    Timeseries {
        #[command(flatten)]
        site: SiteArgs,
        /// hour, day, week (from Monday) or month.
        #[arg(long, default_value = "day")]
        interval: String,
    },
    /// Top groups of one dimension with counts and share.
    Breakdown {
        #[command(flatten)]
        site: SiteArgs,
        /// path, entry_page, referrer_host, utm_source, utm_medium,
        /// utm_campaign, country, region, city, browser, os, device or name.
        #[arg(long)]
        by: String,
        /// Most rows before "(other)".
        #[arg(long, default_value = "10")]
        limit: String,
    },
    /// Opens of one email campaign.
    Email {
        /// The campaign id (the `c` of /o.gif).
        #[arg(long)]
        campaign: String,
        #[command(flatten)]
        period: PeriodArgs,
        /// Most rows per group before "(other)".
        #[arg(long, default_value = "10")]
        limit: String,
    },
}

#[derive(clap::Args)]
struct PeriodArgs {
    /// First day, YYYY-MM-DD, in --tz.
    #[arg(long)]
    from: String,
    /// Last day (included), YYYY-MM-DD, in --tz.
    #[arg(long)]
    to: String,
    /// IANA time zone for day boundaries.
    #[arg(long, default_value = "UTC")]
    tz: String,
    /// table, json or csv.
    #[arg(long, default_value = "table")]
    format: String,
}

#[derive(clap::Args)]
struct SiteArgs {
    /// A configured site id.
    #[arg(long)]
    site: String,
    #[command(flatten)]
    period: PeriodArgs,
    /// dimension==value, dimension!=value or dimension~text; repeat to combine.
    #[arg(long = "filter")]
    filters: Vec<String>,
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
        Command::CheckConfig => {
            println!(
                "configuration is valid: {} site(s), ClickHouse at {}, database {}",
                config.sites.len(),
                config.clickhouse.url,
                config.clickhouse.database
            );
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
            let days =
                runtime()?.block_on(reporter(&config).roll_up(beaconhouse::clock::now_unix()))?;
            println!("rolled up {} day(s)", days.len());
            Ok(())
        }
        Command::Report { report } => {
            init_logging(config.log_format);
            let text = runtime()?.block_on(print_report(&config, report))?;
            print!("{text}");
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

impl PeriodArgs {
    fn parse(&self) -> anyhow::Result<(Period, Format)> {
        let period = Period::new(
            Day::parse("from", &self.from)?,
            Day::parse("to", &self.to)?,
            &self.tz,
        )?;
        let format = Format::parse(&self.format)
            .with_context(|| format!("--format is {:?}: use table, json or csv", self.format))?;
        Ok((period, format))
    }
}

impl SiteArgs {
    fn filters(&self) -> anyhow::Result<Vec<Filter>> {
        Ok(self
            .filters
            .iter()
            .map(|f| Filter::parse(f))
            .collect::<Result<_, _>>()?)
    }
}

fn reporter(config: &Config) -> Reporter {
    Reporter::new(
        beaconhouse::sink::clickhouse::client(&config.clickhouse),
        config.reporting.min_group_size,
    )
}

async fn print_report(config: &Config, report: ReportCommand) -> anyhow::Result<String> {
    let reporter = reporter(config);
    let known_site = |site: &str| -> anyhow::Result<()> {
        if config.sites.contains_key(site) {
            Ok(())
        } else {
            let mut known: Vec<&str> = config.sites.keys().map(String::as_str).collect();
            known.sort();
            anyhow::bail!(
                "--site {site:?} is not configured; configured sites: {}",
                known.join(", ")
            )
        }
    };
    Ok(match report {
        ReportCommand::Summary(args) => {
            known_site(&args.site)?;
            let (period, format) = args.period.parse()?;
            let report = reporter
                .summary(&args.site, &period, &args.filters()?)
                .await?;
            output::render(&report, format)
        }
        ReportCommand::Timeseries {
            site: args,
            interval,
        } => {
            known_site(&args.site)?;
            let (period, format) = args.period.parse()?;
            let interval = Interval::parse(&interval)?;
            let report = reporter
                .timeseries(&args.site, &period, interval, &args.filters()?)
                .await?;
            output::render(&report, format)
        }
        ReportCommand::Breakdown {
            site: args,
            by,
            limit,
        } => {
            known_site(&args.site)?;
            let (period, format) = args.period.parse()?;
            let report = reporter
                .breakdown(
                    &args.site,
                    &period,
                    Dimension::parse("by", &by)?,
                    &args.filters()?,
                    parse_limit(&limit)?,
                )
                .await?;
            output::render(&report, format)
        }
        ReportCommand::Email {
            campaign,
            period,
            limit,
        } => {
            let (period, format) = period.parse()?;
            let report = reporter
                .email(&campaign, &period, parse_limit(&limit)?)
                .await?;
            output::render(&report, format)
        }
    })
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
