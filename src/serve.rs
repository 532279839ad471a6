//! `beaconhouse serve`: wires the pipeline together and runs it until a signal.
//!
//! Start-up order: GeoIP database, ClickHouse client and salts (a collector
//! whose ClickHouse is down still starts and answers hits), the periodic jobs
//! (the reports' daily rollup, retention, reading dashboard sign-outs), the reports' runtime (reports
//! never run on the threads that answer hits), the spool and its shipper,
//! the daily audit (after each retention pass), then the listener. SIGHUP re-reads the GeoIP database. Shutdown order is the reverse: stop accepting, drop
//! the reports' runtime, fsync the spool, let the shipper deliver what it can before the deadline
//! (the rest stays spooled for the next start), exit.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use actix_web::web;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::{oneshot, watch};

use crate::audit::{self, Auditor};
use crate::clock;
use crate::config::{Config, ExposedSecrets, SessionKey};
use crate::enrich::geo::{GeoError, GeoLookup, Reloaded};
use crate::http::access::Readers;
use crate::http::stats::StatsState;
use crate::http::throttle::AuthThrottle;
use crate::http::{self, AppState, Listeners};
use crate::ingest::Ingest;
use crate::metrics::Metrics;
use crate::pipeline::dead_letter::DeadLetter;
use crate::pipeline::shipper::{self, ShipSettings};
use crate::report::{Reporter, bounded};
use crate::rollup::Rollup;
use crate::spool::{Spool, SpoolError};
use crate::store::clickhouse::{ClickHouseSink, Endpoints, TlsError, describe};
use crate::store::filtered_hits::FilteredHits;
use crate::store::retention_job::{self, Retention};
use crate::store::salt_keeper::SaltKeeper;
use crate::store::sign_outs::SignOutKeeper;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A configuration file with secrets that others may write.
    #[error("{0}")]
    WritableConfig(ExposedSecrets),
    #[error(transparent)]
    Geo(#[from] GeoError),
    #[error(transparent)]
    Spool(#[from] SpoolError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("cannot listen on {address}: {cause}; choose a free address with `{key}` ({variable})")]
    Listen {
        address: SocketAddr,
        key: &'static str,
        variable: &'static str,
        cause: std::io::Error,
    },
    #[error("the HTTP server failed: {0}")]
    Server(std::io::Error),
    #[error("cannot listen for SIGHUP (which re-reads the GeoIP database): {0}")]
    Signal(std::io::Error),
    #[error(
        "cannot start the reports' {threads} threads: {0}; check the process's thread limit (ulimit -u, TasksMax=)",
        threads = bounded::THREADS
    )]
    ReportThreads(std::io::Error),
}

/// Runs the collector until SIGINT/SIGTERM.
pub async fn run(config: Config) -> Result<(), ServeError> {
    match &config.exposed_secrets {
        Some(exposed) if exposed.writable() => {
            return Err(ServeError::WritableConfig(exposed.clone()));
        }
        Some(exposed) => tracing::warn!("{exposed}"),
        None => {}
    }
    let geo = Arc::new(match &config.geoip.database {
        Some(path) => GeoLookup::open(path, config.geoip.precision)?,
        None => {
            tracing::warn!(
                "no GeoIP database configured (geoip.database / BEACONHOUSE_GEOIP_DATABASE): country, region and city will be empty"
            );
            GeoLookup::disabled()
        }
    });
    let hangups = signal(SignalKind::hangup()).map_err(ServeError::Signal)?;
    tokio::spawn(reload_geoip_on_hangup(hangups, geo.clone()));

    let metrics = Arc::new(Metrics::default());
    let endpoints = Endpoints::new(&config.clickhouse)?;
    // The rollup writes daily_stats and daily_filtered: the ingest user. Reports read only.
    tokio::spawn(Rollup::new(endpoints.clone(), &config).run());
    let reporter = Reporter::new(
        Endpoints::for_reports(&config.clickhouse, &config.reporting)?,
        config.reporting.release.clone(),
        config.reporting.views_cap,
        config.conversions(),
    );
    // The audit runs after each retention pass, so it never finds a month
    // that retention was about to drop.
    let (retention_passes, audit_after) = watch::channel(());
    tokio::spawn(retention_job::run(
        Retention::new(
            endpoints.clone(),
            &config.clickhouse,
            config.retention.clone(),
        ),
        metrics.clone(),
        retention_passes,
    ));
    // Dashboard sign-outs on any collector reach this one within seconds.
    let sign_outs = SignOutKeeper::new(endpoints.clone());
    tokio::spawn(sign_outs.clone().run());
    // Reports run here, never on the threads that answer hits.
    let reports_runtime = bounded::runtime().map_err(ServeError::ReportThreads)?;
    let limits = &config.reporting.limits;
    let stats = web::Data::new(StatsState {
        reporter,
        bounded: bounded::Bounded::new(
            reports_runtime.handle(),
            limits.max_concurrent,
            limits.query_timeout,
            limits.queue_timeout,
        ),
        requests: Default::default(),
        readers: Readers::new(
            &config.reporting,
            session_key(&config),
            sign_outs.sign_outs(),
            &config.sites,
        ),
        throttle: AuthThrottle::new(config.http.trusted_proxies.clone(), metrics.clone()),
        sign_outs,
        request_timeout: config.http.request_timeout,
        geo: geo.clone(),
    });
    let keeper = SaltKeeper::new(endpoints.clone());
    if let Err(error) = keeper.rotate(clock::day_of(clock::now_unix())).await {
        tracing::warn!(
            %error,
            "hashing with local salts until ClickHouse is reachable; visitor ids may differ from other collectors' until then"
        );
    }
    let salts = keeper.salts();
    tokio::spawn(keeper.run());

    let (spool, reader) = Spool::open(config.spool.clone())?;
    let dead_letter = DeadLetter::open(
        &config.spool.dir,
        config.spool.dead_letter_max_bytes,
        &metrics,
    )?;
    // After the salts' first rotation: an audit finds no salt it was about
    // to destroy.
    tokio::spawn(audit::daily(
        Auditor::new(&config)?,
        metrics.clone(),
        spool.clone(),
        audit_after,
    ));
    // The filtered-traffic counts are written as the ingest user too.
    let counts_endpoints = endpoints.clone();
    let (stop_shipper, shipper_stopped) = oneshot::channel::<()>();
    let shipper = tokio::spawn(shipper::run(
        reader,
        ClickHouseSink::new(endpoints),
        dead_letter,
        ShipSettings {
            batch_rows: config.pipeline.batch_rows,
            flush_interval: config.pipeline.flush_interval,
            shutdown_timeout: config.pipeline.shutdown_timeout,
        },
        metrics.clone(),
        async {
            let _ = shipper_stopped.await;
        },
    ));

    let listeners = Listeners {
        public: bind(config.listen, "listen", "BEACONHOUSE_LISTEN")?,
        admin: bind(
            config.admin_listen,
            "admin_listen",
            "BEACONHOUSE_ADMIN_LISTEN",
        )?,
    };
    let filtered = Arc::new(FilteredHits::default());
    tokio::spawn(filtered.clone().run(counts_endpoints.clone()));
    let state = web::Data::new(AppState {
        ingest: Ingest::new(&config, geo, salts),
        spool: spool.clone(),
        metrics,
        filtered: filtered.clone(),
        max_body_bytes: config.http.max_body_bytes,
        request_timeout: config.http.request_timeout,
        max_headers: config.http.max_headers,
        max_header_bytes: config.http.max_header_bytes,
    });
    tracing::info!(listen = %config.listen, admin_listen = %config.admin_listen, sites = config.sites.len(), spool = %config.spool.dir.display(), referrer_spam_hosts = config.filter.referrer_spam.len(), "collector listening");
    tracing::info!("{}", dashboard_hint(&config));
    let served = http::serve(listeners, state, stats, &config.http).await;

    tracing::info!("stopped accepting hits; delivering what is spooled");
    // No handler waits on a report any more; their queries end in ClickHouse
    // by max_execution_time.
    drop(reports_runtime);
    spool.close();
    let _ = stop_shipper.send(());
    if let Err(error) = shipper.await {
        tracing::error!(%error, "the shipper task failed");
    }
    if let Err(error) = filtered.flush(&counts_endpoints).await {
        tracing::warn!(error = %describe(&error), "the last filtered-traffic counts were not written");
    }
    served.map_err(ServeError::Server)
}

/// Re-reads the GeoIP database on each SIGHUP (`systemctl reload`, which
/// `deploy/beaconhouse-geoip.path` runs when geoipupdate replaces the file):
/// hits go on meanwhile, and a file that cannot be read leaves the database
/// read before in use.
async fn reload_geoip_on_hangup(mut hangups: Signal, geo: Arc<GeoLookup>) {
    while hangups.recv().await.is_some() {
        let geo = geo.clone();
        match tokio::task::spawn_blocking(move || geo.reload()).await {
            Ok(Ok(Reloaded::Database { build_epoch })) => {
                tracing::info!(build_epoch, "SIGHUP: GeoIP database read again")
            }
            Ok(Ok(Reloaded::NoDatabase)) => tracing::warn!(
                "SIGHUP: no GeoIP database is configured (geoip.database), so there is none to read again; set it and restart to add one"
            ),
            Ok(Err(error)) => tracing::error!(
                "SIGHUP: {error}; locations keep coming from the database read before"
            ),
            Err(error) => tracing::error!(
                %error,
                "SIGHUP: reading the GeoIP database stopped; locations keep coming from the database read before"
            ),
        }
    }
}

fn bind(
    address: SocketAddr,
    key: &'static str,
    variable: &'static str,
) -> Result<TcpListener, ServeError> {
    TcpListener::bind(address).map_err(|cause| ServeError::Listen {
        address,
        key,
        variable,
        cause,
    })
}

/// The key dashboard sessions are signed with: `reporting.session_key`, or
/// one drawn now, which only this process knows.
fn session_key(config: &Config) -> SessionKey {
    config.reporting.session_key.clone().unwrap_or_else(|| {
        if !config.reporting.tokens.is_empty() {
            tracing::info!(
                "dashboard sessions are signed with a key drawn at start: they end when this collector restarts, and no other collector accepts them; set reporting.session_key (`openssl rand -hex 32`, the same on every collector) to keep them"
            );
        }
        SessionKey::random()
    })
}

/// Where the dashboard is, and how to sign in: what a newcomer needs from
/// the first screen of logs.
fn dashboard_hint(config: &Config) -> String {
    let url = format!("http://{}{}", config.listen, http::dashboard::PATH);
    match config.reporting.tokens.len() {
        0 => format!(
            "dashboard at {url}: add a [[reporting.tokens]] entry (token from `openssl rand -hex 32`) to sign in"
        ),
        n => format!(
            "dashboard at {url}: sign in with one of the {n} stats token(s) in [[reporting.tokens]]"
        ),
    }
}
