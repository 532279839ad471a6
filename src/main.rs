//! The `beaconhouse` command: parses arguments, loads the configuration and
//! hands over to the library. Errors end here, printed with what to do.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use beaconhouse::config::{Config, LogFormat};
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
        Command::Serve => {
            init_logging(config.log_format);
            actix_web::rt::System::new()
                .block_on(beaconhouse::serve::run(config))
                .context("the collector stopped with an error")
        }
    }
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
