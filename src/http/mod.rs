//! The HTTP edge: routes, request parsing and answers. `collect` takes hits;
//! `stats` serves aggregate reports to the readers `access` lets in, and
//! `dashboard` the page staff read them on; neither shares anything with
//! collection but the listener.
//!
//! Handlers do only cheap work: read the request into plain values, hand them
//! to `ingest`, append the row to the spool, answer. Every collection endpoint
//! answers the same whether or not the hit was stored, so a page never breaks
//! and never reveals a visitor's privacy choice. No endpoint sets or reads a
//! cookie.
//! Must never: log a request's address, user agent, URL or query string (no
//! access-log middleware is installed for this reason).

pub mod access;
pub mod body;
mod collect;
pub mod dashboard;
pub mod openapi;
pub mod params;
pub mod stats;
pub mod throttle;

pub use collect::AppState;

use std::net::TcpListener;

use actix_web::{App, HttpServer, web};

use crate::config::HttpConfig;

/// Registers every route on an actix app.
pub fn routes(config: &mut web::ServiceConfig) {
    collect::routes(config);
    stats::routes(config);
    openapi::routes(config);
    dashboard::routes(config);
}

/// The two listeners `serve` answers on.
pub struct Listeners {
    /// Hits, `/t.js`, the stats API, health checks.
    pub public: TcpListener,
    /// `/metrics` and health checks, for the operator only.
    pub admin: TcpListener,
}

/// Serves until SIGINT or SIGTERM, then stops accepting and lets requests in
/// progress finish.
pub async fn serve(
    listeners: Listeners,
    state: web::Data<AppState>,
    stats: web::Data<stats::StatsState>,
    config: &HttpConfig,
) -> std::io::Result<()> {
    let admin_state = state.clone();
    let admin = HttpServer::new(move || {
        App::new()
            .app_data(admin_state.clone())
            .configure(collect::admin_routes)
    })
    .workers(1)
    .client_request_timeout(config.request_timeout)
    .keep_alive(config.keep_alive)
    .shutdown_timeout(5)
    .listen(listeners.admin)?
    .run();
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(stats.clone())
            .configure(routes)
    })
    .client_request_timeout(config.request_timeout)
    .client_disconnect_timeout(config.request_timeout)
    // A client that closes its side has gone (browsers never half-close):
    // its handler is dropped, and with it its report (`report::bounded`).
    .h1_allow_half_closed(false)
    .keep_alive(config.keep_alive)
    .max_connections(config.max_connections)
    .shutdown_timeout(5);
    if config.workers > 0 {
        server = server.workers(config.workers);
    }
    let public = server.listen(listeners.public)?.run();
    // Each server stops on the signal by itself; if one fails, stop the other.
    let (public_handle, admin_handle) = (public.handle(), admin.handle());
    tokio::select! {
        result = public => {
            admin_handle.stop(true).await;
            result
        }
        result = admin => {
            public_handle.stop(true).await;
            result
        }
    }
}
