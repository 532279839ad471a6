//! The collection endpoints of the contract: `/p.gif`, `/api/event`, `/o.gif`,
//! `/l` (an email link: recorded, then a redirect to a destination the
//! rules vouch for, or a page that sends nowhere), `/t.js`, plus `/healthz`
//! and `/readyz`; and the admin listener's routes (`/metrics` and the same
//! health checks).

use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::http::{ConnectionType, Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse, web};

use super::body::{self, BodyError};
use super::params::{EventBody, Query};
use crate::clock;
use crate::enrich::link::{Target, escape_html};
use crate::ingest::{ClickHit, Ingest, OpenHit, PageHit, RequestMeta};
use crate::metrics::{Endpoint, Metrics};
use crate::outcome::DropReason;
use crate::privacy::consent;
use crate::row::{EventRow, Record};
use crate::spool::{Spool, SpoolError, SyncMode};
use crate::store::filtered_hits::FilteredHits;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

/// What the collection handlers share (`serve` builds it).
pub struct AppState {
    pub ingest: Ingest,
    pub spool: Arc<Spool>,
    pub metrics: Arc<Metrics>,
    /// Page views and events not stored, per site and hour.
    pub filtered: Arc<FilteredHits>,
    /// Largest accepted beacon body.
    pub max_body_bytes: usize,
    /// How long a beacon's body may take to arrive (`http.request_timeout_ms`).
    pub request_timeout: std::time::Duration,
    pub max_headers: usize,
    pub max_header_bytes: usize,
}

/// A transparent 1x1 GIF, the smallest there is.
const PIXEL_GIF: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

/// `/t.js`: made from the readable `tracker.js` beside it by `tools/tracker`
/// (a pinned terser); `tests/it/tracker.rs` fails when the two disagree.
const TRACKER_JS: &str = include_str!("tracker.min.js");

pub fn routes(config: &mut web::ServiceConfig) {
    config
        .route("/p.gif", web::get().to(page_pixel))
        .route("/o.gif", web::get().to(open_pixel))
        .route("/l", web::get().to(email_link))
        .route("/l", web::head().to(email_link))
        .route("/api/event", web::post().to(event_beacon))
        .route(
            "/api/event",
            web::method(Method::OPTIONS).to(event_preflight),
        )
        .route("/t.js", web::get().to(tracker))
        .route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz));
}

/// The admin listener: operational counters, never on the public listener.
pub fn admin_routes(config: &mut web::ServiceConfig) {
    config
        .route("/metrics", web::get().to(metrics))
        .route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz));
}

async fn page_pixel(request: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if opts_out(&request) {
        return gif();
    }
    state.metrics.received(Endpoint::Pixel);
    let query = Query::parse(request.query_string());
    let [site, url, referrer, page] = query.first_values(["site", "url", "ref", "page"]);
    let hit = PageHit {
        site: site.as_deref().unwrap_or(""),
        url: url.as_deref(),
        referrer: referrer.as_deref(),
        name: None,
        screen_width: None,
        referer_whole: page.as_deref() == Some("referrer"),
        ..PageHit::default()
    };
    let meta = request_meta(&request, &state);
    let now = clock::now_unix();
    let outcome = state.ingest.page(&meta, &hit, now);
    count_filtered(&state, &hit, &meta, now, &outcome);
    record(&state, outcome.map(Record::Event)).await;
    gif()
}

async fn open_pixel(request: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if opts_out(&request) {
        return gif();
    }
    state.metrics.received(Endpoint::EmailOpen);
    let query = Query::parse(request.query_string());
    let [campaign, recipient, signature] = query.first_values(["c", "rid", "sig"]);
    let hit = OpenHit {
        campaign: campaign.as_deref().unwrap_or(""),
        recipient: recipient.as_deref().unwrap_or(""),
        signature: signature.as_deref(),
    };
    let meta = request_meta(&request, &state);
    let outcome = state
        .ingest
        .open(&meta, &hit, clock::now_unix())
        .map(Record::Open);
    record(&state, outcome).await;
    gif()
}

/// The headers that say a request only looks ahead (`enrich::scanner`).
const PURPOSE_HEADERS: [&str; 4] = ["purpose", "x-purpose", "sec-purpose", "x-moz"];

/// `GET /l`: a click on an email link. Where it goes is decided whether or
/// not it is recorded (a DNT or GPC click is sent on all the same, recorded
/// nowhere).
async fn email_link(request: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let query = Query::parse(request.query_string());
    let [campaign, recipient, url, signature, honeypot] =
        query.first_values(["c", "rid", "u", "sig", "h"]);
    let headers = request.headers();
    let hit = ClickHit {
        campaign: campaign.as_deref().unwrap_or(""),
        recipient: recipient.as_deref().unwrap_or(""),
        url: url.as_deref(),
        signature: signature.as_deref(),
        honeypot: honeypot.as_deref() == Some("1"),
        head: request.method() == Method::HEAD,
        purposes: PURPOSE_HEADERS
            .iter()
            .filter_map(|name| headers.get(*name))
            .filter_map(|v| std::str::from_utf8(v.as_bytes()).ok())
            .collect(),
    };
    let target = state.ingest.link_target(&hit);
    if !opts_out(&request) {
        state.metrics.received(Endpoint::EmailClick);
        let meta = request_meta(&request, &state);
        let outcome = state
            .ingest
            .click(&meta, &hit, &target, clock::now_unix())
            .map(Record::Click);
        record(&state, outcome).await;
    }
    link_answer(&target)
}

/// How a click is answered: a redirect, or a plain page that sends nowhere
/// and loads nothing (no script, no image, no style from anywhere).
fn link_answer(target: &Target) -> HttpResponse {
    let page = |status: StatusCode, title: &str, body: String| {
        HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::REFERRER_POLICY, "no-referrer"))
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .insert_header((
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; frame-ancestors 'none'",
            ))
            .body(format!(
                "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title></head><body><h1>{title}</h1>{body}</body></html>\n"
            ))
    };
    match target {
        Target::Redirect(destination) => HttpResponse::Found()
            .insert_header((header::LOCATION, destination.location.as_str()))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::REFERRER_POLICY, "no-referrer"))
            .finish(),
        Target::NotVouched(url) => page(
            StatusCode::OK,
            "This link was not opened",
            format!(
                "<p>It leads to the address below, which the sender's mail tool did not vouch for, so it is not opened for you. Copy it into your browser only if you trust it.</p><p><code>{}</code></p>",
                escape_html(url)
            ),
        ),
        Target::Honeypot => page(StatusCode::OK, "Nothing here", String::new()),
        Target::NoLink => page(
            StatusCode::BAD_REQUEST,
            "This link is incomplete",
            "<p>It names no address to go to.</p>".to_string(),
        ),
    }
}

async fn event_beacon(
    request: HttpRequest,
    mut payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    if opts_out(&request) {
        return accepted();
    }
    state.metrics.received(Endpoint::Event);
    let body = body::read(
        &request,
        &mut payload,
        state.max_body_bytes,
        state.request_timeout,
    )
    .await;
    let body = match body {
        Ok(body) => body,
        Err(error) => {
            state.metrics.dropped(DropReason::Invalid);
            state
                .filtered
                .count(None, clock::now_unix(), DropReason::Invalid, "");
            let message = match error {
                BodyError::TooLarge { .. } => format!("{error}; an event needs far less"),
                _ => error.to_string(),
            };
            let mut response = json_error(error.status(), &message);
            if error.closes() {
                response
                    .head_mut()
                    .set_connection_type(ConnectionType::Close);
            }
            return response;
        }
    };
    let event = match EventBody::parse(&body) {
        Ok(event) => event,
        Err(error) => {
            state.metrics.dropped(DropReason::Invalid);
            state
                .filtered
                .count(None, clock::now_unix(), DropReason::Invalid, "");
            return json_error(
                StatusCode::BAD_REQUEST,
                &format!(
                    "the body is not an event: {error}; send JSON such as {{\"site\":\"example.com\",\"url\":\"https://example.com/\",\"name\":\"pageview\"}}"
                ),
            );
        }
    };
    let hit = PageHit {
        site: &event.site,
        url: event.url.as_deref(),
        referrer: event.referrer.as_deref(),
        name: event.name.as_deref(),
        screen_width: event
            .w
            .filter(|w| w.is_finite() && *w >= 0.0)
            .map(|w| w.min(100_000.0) as u32),
        referer_whole: false,
        hash_route: event.hash_route(),
        props: event.props(),
    };
    let meta = request_meta(&request, &state);
    let now = clock::now_unix();
    let outcome = state.ingest.page(&meta, &hit, now);
    count_filtered(&state, &hit, &meta, now, &outcome);
    record(&state, outcome.map(Record::Event)).await;
    accepted()
}

fn accepted() -> HttpResponse {
    HttpResponse::Accepted()
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .finish()
}

/// A DNT or GPC request is answered like any other and recorded nowhere: not
/// stored, not counted as received, not counted as dropped.
fn opts_out(request: &HttpRequest) -> bool {
    let headers = request.headers();
    consent::opts_out(
        headers.get("dnt").map(HeaderValue::as_bytes),
        headers.get("sec-gpc").map(HeaderValue::as_bytes),
    )
}

/// CORS preflight for trackers that post `application/json`.
async fn event_preflight() -> HttpResponse {
    HttpResponse::NoContent()
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "POST"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, "Content-Type"))
        .insert_header((header::ACCESS_CONTROL_MAX_AGE, "86400"))
        .finish()
}

async fn tracker() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(TRACKER_JS)
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("ok\n")
}

/// Ready to take hits: the spool has room and its last fsync worked. A load
/// balancer should send traffic elsewhere while this answers 503.
async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    if state.spool.nearly_full() {
        return json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the spool is over 90% full: ClickHouse is not keeping up or is down",
        );
    }
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("ready\n")
}

async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render(state.spool.stats()))
}

/// Counts a page view or event the decisions refused, for the filtered
/// traffic figures: under its site when that is configured.
fn count_filtered(
    state: &AppState,
    hit: &PageHit<'_>,
    meta: &RequestMeta<'_>,
    now: u32,
    outcome: &Result<EventRow, DropReason>,
) {
    if let Err(reason) = outcome {
        let site = state.ingest.configured_site(hit.site);
        state.filtered.count(site, now, *reason, meta.user_agent);
    }
}

/// Spools an accepted row, or counts why there is none. With `sync = "always"`
/// it returns only once the row is fsynced.
async fn record(state: &AppState, outcome: Result<Record, DropReason>) {
    let row = match outcome {
        Ok(row) => row,
        Err(reason) => return state.metrics.dropped(reason),
    };
    match state.spool.append(&row) {
        Ok(ticket) => {
            if state.spool.sync_mode() == SyncMode::Always {
                state.spool.wait_durable(ticket).await;
            }
        }
        Err(SpoolError::Full) => {
            state.metrics.dropped(DropReason::SpoolFull);
            if first_in_ten_seconds(&SPOOL_FULL_LOGGED) {
                tracing::warn!(
                    "the spool is full: hits are being dropped until ClickHouse catches up (see beaconhouse_hits_dropped_total{{reason=\"spool_full\"}})"
                );
            }
        }
        Err(error) => {
            state.metrics.dropped(DropReason::SpoolError);
            // A full disk fails every hit alike: one line per ten seconds
            // tells the operator, a line per hit would fill the disk's logs.
            if first_in_ten_seconds(&SPOOL_ERROR_LOGGED) {
                tracing::error!(
                    %error,
                    "hits cannot be spooled and are being dropped (see beaconhouse_hits_dropped_total{{reason=\"spool_error\"}}; logged at most every 10 s)"
                );
            }
        }
    }
}

static SPOOL_FULL_LOGGED: AtomicU32 = AtomicU32::new(0);
static SPOOL_ERROR_LOGGED: AtomicU32 = AtomicU32::new(0);

/// Whether ten seconds have passed since `last` was marked; marks it now if
/// so (one caller wins).
fn first_in_ten_seconds(last: &AtomicU32) -> bool {
    let now = clock::now_unix();
    let previous = last.load(Ordering::Relaxed);
    now >= previous.saturating_add(10)
        && last
            .compare_exchange(previous, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
}

fn gif() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("image/gif")
        .insert_header((header::CACHE_CONTROL, "no-store, max-age=0"))
        .body(PIXEL_GIF)
}

fn json_error(status: StatusCode, message: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .json(serde_json::json!({ "error": message }))
}

/// What the transport says about the request. Header values that are not
/// UTF-8 are treated as absent.
fn request_meta<'a>(request: &'a HttpRequest, state: &AppState) -> RequestMeta<'a> {
    let headers = request.headers();
    let header_bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    RequestMeta {
        oversized: headers.len() > state.max_headers || header_bytes > state.max_header_bytes,
        peer: request.peer_addr().map(|a| a.ip()),
        forwarded_for: headers
            .get_all("x-forwarded-for")
            .filter_map(|v| std::str::from_utf8(v.as_bytes()).ok())
            .collect(),
        user_agent: text(headers, header::USER_AGENT).unwrap_or(""),
        referer: text(headers, header::REFERER),
        fetch_site: text(headers, header::HeaderName::from_static("sec-fetch-site")),
    }
}

fn text(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers
        .get(name)
        .and_then(|v| std::str::from_utf8(v.as_bytes()).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pixel_is_a_gif() {
        assert_eq!(PIXEL_GIF.len(), 43);
        assert!(PIXEL_GIF.starts_with(b"GIF89a"));
        assert_eq!(PIXEL_GIF.last(), Some(&0x3b));
    }

    #[test]
    fn the_tracker_stays_small() {
        assert!(
            TRACKER_JS.len() < 1536,
            "t.js is {} bytes",
            TRACKER_JS.len()
        );
    }
}
