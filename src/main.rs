//! The `beaconhouse` command: parses arguments (clap; the report flags are
//! built from `report::parameters`), loads the configuration and hands over
//! to the library's `cli`, which does the work. Errors end here, printed
//! with what to do.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::ExitCode;

use beaconhouse::cli;
use beaconhouse::config::Config;
use beaconhouse::report::parameters::{self, Parameter, Values};
use beaconhouse::report::vocabulary::{ReportKind, Vocabulary};
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
    /// Check this installation against its privacy promises and print each
    /// finding with what to do; exit non-zero on any finding, or when a
    /// check cannot run. Reads only.
    Audit {
        /// `text`: a line per check or finding; `json`: one object.
        #[arg(long, value_enum, default_value_t = AuditFormat::Text)]
        format: AuditFormat,
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
    /// Print the email open pixel's URL for a campaign (or a link's, with
    /// --link, or the hidden honeypot link's, with --honeypot): one per
    /// recipient token, signed with `email.signing_key` when it is set, or
    /// one template with the mail tool's merge tag for the token.
    EmailUrl {
        /// The campaign, as `email.campaigns` allows it.
        #[arg(long)]
        campaign: String,
        /// A link's URL instead, which a click goes through (`/l`) on its
        /// way to this destination (an absolute http(s) URL).
        #[arg(long, value_name = "DESTINATION", conflicts_with = "honeypot")]
        link: Option<String>,
        /// The honeypot link's URL instead: put it in the message where no
        /// reader sees it (README, "Email links"); a scanner that follows
        /// every link follows it too.
        #[arg(long)]
        honeypot: bool,
        /// A recipient's token (opaque, never an address); repeat for
        /// several, one URL a line.
        #[arg(
            long = "recipient",
            value_name = "TOKEN",
            required_unless_present = "recipient_token_placeholder",
            conflicts_with = "recipient_token_placeholder"
        )]
        recipients: Vec<String>,
        /// The mail tool's merge tag for each recipient's token, e.g.
        /// '{{ .Subscriber.UUID }}': one URL template, which cannot be
        /// signed (the signature covers the token).
        #[arg(long, value_name = "MERGE_TAG")]
        recipient_token_placeholder: Option<String>,
        /// The collector's public address, as mail clients reach it.
        #[arg(long, value_name = "URL", default_value_t = String::new(), hide_default_value = true)]
        url: String,
    },
}

/// How `beaconhouse audit` prints its report.
#[derive(Clone, Copy, clap::ValueEnum)]
enum AuditFormat {
    Text,
    Json,
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
        Values::OneOf(names) | Values::Dimension(names) => names(),
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
        Ok(code) => code,
        Err(error) => {
            eprintln!("beaconhouse: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Loads the configuration and runs the command; prints what it returns.
/// Fails only with an error; `audit` may end in a failure code without one.
fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::CheckConfig { strict } => {
            let (warning, summary) = cli::check_config(&config, strict)?;
            if let Some(warning) = warning {
                eprintln!("beaconhouse: {warning}");
            }
            println!("{summary}");
        }
        Command::Healthcheck => println!("{}", cli::healthcheck(config.admin_listen)?),
        Command::Migrate => {
            cli::init_logging(config.log_format);
            for line in cli::migrate(&config)? {
                println!("{line}");
            }
        }
        Command::Rollup => {
            cli::init_logging(config.log_format);
            for line in cli::rollup(&config)? {
                println!("{line}");
            }
        }
        Command::Retention { dry_run } => {
            cli::init_logging(config.log_format);
            for line in cli::retention(&config, dry_run)? {
                println!("{line}");
            }
        }
        Command::Audit { format } => {
            cli::init_logging(config.log_format);
            let format = match format {
                AuditFormat::Text => beaconhouse::audit::Format::Text,
                AuditFormat::Json => beaconhouse::audit::Format::Json,
            };
            let (report, passed) = cli::audit(&config, format)?;
            print!("{report}");
            if !passed {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Report { report } => {
            cli::init_logging(config.log_format);
            print!("{}", cli::report(&config, report.kind, report.pairs())?);
        }
        Command::Share { site, expires, url } => {
            let now = beaconhouse::clock::now_unix();
            let (link, note) = cli::share(&config, &site, &expires, &url, now)?;
            println!("{link}");
            eprintln!("{note}");
        }
        Command::EmailUrl {
            campaign,
            link,
            honeypot,
            recipients,
            recipient_token_placeholder,
            url,
        } => {
            let recipients = match recipient_token_placeholder {
                Some(tag) => cli::Recipients::Placeholder(tag),
                None => cli::Recipients::Tokens(recipients),
            };
            let what = match (link, honeypot) {
                (Some(destination), _) => cli::EmailUrl::Link(destination),
                (None, true) => cli::EmailUrl::Honeypot,
                (None, false) => cli::EmailUrl::Pixel,
            };
            let (urls, note) = cli::email_url(&config, &campaign, &recipients, &what, &url)?;
            for url in urls {
                println!("{url}");
            }
            if let Some(note) = note {
                eprintln!("{note}");
            }
        }
        Command::Serve => {
            cli::init_logging(config.log_format);
            cli::serve(config)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
