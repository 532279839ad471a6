//! The stats API: `GET /api/v1/stats/<kind>` for every report kind (and the
//! same handler under `/dashboard/api/stats/<kind>` for the dashboard), and
//! its OpenAPI document at `GET /api/v1/openapi.json` (served and built by
//! `http::openapi`).
//!
//! Owns: handing the query string to the shared report parser (with the
//! site's time zone as the default `tz`), asking `access` whether the reader
//! may read the answer, and the answer's format (JSON, CSV, or the CLI's
//! table).
//! Must never: answer without a reader `access` let in, log a token, run
//! a report on the HTTP worker (a report is computed and rendered on the
//! reports' runtime, `report::bounded`; the worker only awaits it), or
//! share one reader's answer with a reader it was not made for: identical
//! requests in flight run once (`report::coalesce`) only where all the
//! answer depends on is the same.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use schemars::JsonSchema;
use serde::Serialize;

use super::access::{Denied, Reader, Readers, Scope, session_cookie};
use super::body::BodyError;
use super::params::{MAX_PAIRS, Query};
use super::throttle::AuthThrottle;
use crate::clock;
use crate::enrich::geo::GeoLookup;
use crate::report::bounded::Bounded;
use crate::report::coalesce::InFlight;
use crate::report::output;
use crate::report::request::{self, MAX_FILTERS, ReportRequest};
use crate::report::vocabulary::{Format, ReportKind, RequestError, Vocabulary};
use crate::report::{ReportError, Reporter};
use crate::store::sign_outs::SignOutKeeper;

/// What the stats handlers share.
pub struct StatsState {
    pub reporter: Reporter,
    /// Where reports run, and how many at once.
    pub bounded: Bounded,
    /// Identical requests in flight, answered once.
    pub requests: InFlight,
    pub readers: Readers,
    /// Slows clients that fail to authenticate.
    pub throttle: AuthThrottle,
    /// Tells every collector of a dashboard sign-out.
    pub sign_outs: SignOutKeeper,
    /// How long a sign-in's body may take to arrive (`http.request_timeout_ms`).
    pub request_timeout: std::time::Duration,
    /// The GeoIP database hits are located with: the dashboard credits it
    /// where it shows locations.
    pub geo: Arc<GeoLookup>,
}

/// The path of a kind of report.
pub fn route(kind: ReportKind) -> String {
    format!("/api/v1/stats/{}", kind.as_str())
}

pub fn routes(config: &mut web::ServiceConfig) {
    for &kind in ReportKind::ALL {
        config.route(&route(kind), handler(kind));
    }
}

/// The handler of one kind of report, wherever it is mounted.
pub fn handler(kind: ReportKind) -> actix_web::Route {
    web::get()
        .to(move |request: HttpRequest, state: web::Data<StatsState>| report(kind, request, state))
}

/// The body of every refusal.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ErrorBody {
    /// What is wrong, and what to do about it.
    pub error: String,
}

/// A refusal, with the status it is answered with.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    Unauthorized(String),
    Forbidden(String),
    NotFound(String),
    BadRequest(String),
    /// The request's body did not arrive in time: 408, and the connection
    /// is closed.
    TimedOut(String),
    Unavailable(String),
    /// Every report slot is taken: 503, with a `Retry-After`.
    Busy(String),
    /// Too many failed authentications from this client: 429, with a
    /// `Retry-After` of `retry_after` seconds.
    Throttled {
        message: String,
        retry_after: u64,
    },
}

impl From<Denied> for Refusal {
    fn from(denied: Denied) -> Self {
        match denied {
            Denied::Unauthorized(m) => Refusal::Unauthorized(m),
            Denied::Forbidden(m) => Refusal::Forbidden(m),
            Denied::NotFound(m) => Refusal::NotFound(m),
            Denied::Throttled { retry_after } => Refusal::Throttled {
                message: format!(
                    "too many failed sign-ins from this address; try again in {retry_after} s (until then, no token or sign-in from it is checked; a sign-in naming another token is)"
                ),
                retry_after,
            },
        }
    }
}

impl Refusal {
    pub fn status(&self) -> StatusCode {
        match self {
            Refusal::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Refusal::Forbidden(_) => StatusCode::FORBIDDEN,
            Refusal::NotFound(_) => StatusCode::NOT_FOUND,
            Refusal::BadRequest(_) => StatusCode::BAD_REQUEST,
            Refusal::TimedOut(_) => StatusCode::REQUEST_TIMEOUT,
            Refusal::Unavailable(_) | Refusal::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            Refusal::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    /// What the caller is told.
    pub fn message(&self) -> &str {
        match self {
            Refusal::Unauthorized(m)
            | Refusal::Forbidden(m)
            | Refusal::NotFound(m)
            | Refusal::BadRequest(m)
            | Refusal::TimedOut(m)
            | Refusal::Unavailable(m)
            | Refusal::Busy(m)
            | Refusal::Throttled { message: m, .. } => m,
        }
    }

    pub fn response(self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status());
        match &self {
            Refusal::Unauthorized(_) => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            }
            // A slot frees when a report ends: most take well under a second.
            Refusal::Busy(_) => {
                response.insert_header((header::RETRY_AFTER, "1"));
            }
            Refusal::TimedOut(_) => {
                response.force_close();
            }
            Refusal::Throttled { retry_after, .. } => {
                response.insert_header((header::RETRY_AFTER, retry_after.to_string()));
            }
            _ => {}
        }
        response.json(ErrorBody {
            error: self.message().to_string(),
        })
    }
}

impl From<BodyError> for Refusal {
    fn from(error: BodyError) -> Self {
        match error {
            BodyError::TimedOut { .. } => Refusal::TimedOut(error.to_string()),
            BodyError::TooLarge { .. } | BodyError::Unreadable => {
                Refusal::BadRequest(error.to_string())
            }
        }
    }
}

impl From<RequestError> for Refusal {
    fn from(error: RequestError) -> Self {
        Refusal::BadRequest(error.to_string())
    }
}

impl From<ReportError> for Refusal {
    fn from(error: ReportError) -> Self {
        match error {
            ReportError::Request(e) => Refusal::BadRequest(e.to_string()),
            e @ ReportError::UnknownTimeZone(_) => Refusal::BadRequest(e.to_string()),
            e @ (ReportError::TooSlow | ReportError::TooLarge) => {
                tracing::warn!(error = %e, "a report was stopped at its limit");
                Refusal::Unavailable(e.to_string())
            }
            e @ (ReportError::Busy(_) | ReportError::QueueFull(_)) => {
                tracing::warn!(error = %e, "a report was refused: no slot in time");
                Refusal::Busy(e.to_string())
            }
            e @ ReportError::Stopped => Refusal::Unavailable(e.to_string()),
            e @ ReportError::NoNoiseKey => {
                tracing::error!(error = %e, "a report was refused");
                Refusal::Unavailable(
                    "reports are off until the operator sets the release step's noise key (the collector's log says how)"
                        .into(),
                )
            }
            ReportError::ClickHouse(message) => {
                tracing::error!(%message, "a report failed");
                Refusal::Unavailable(
                    "the report could not be computed; try again, and tell the operator if it persists"
                        .into(),
                )
            }
        }
    }
}

/// Who a report is run for, as reports take turns (`report::bounded`):
/// each dashboard session on its own, else the token or shared link. Never
/// the credential itself, which a log or a panic could show.
fn caller(request: &HttpRequest, reader: &Reader<'_>) -> String {
    use sha2::{Digest, Sha256};
    match session_cookie(request) {
        Some(session) => {
            let digest = Sha256::digest(session.as_bytes());
            format!(
                "{} session {}",
                reader.describe(),
                hex::encode(&digest[..8])
            )
        }
        None => reader.describe(),
    }
}

fn accepts_csv(request: &HttpRequest) -> bool {
    request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/csv"))
}

/// A rendered report, as `format` says.
fn answer(rendered: String, format: Format) -> HttpResponse {
    let content_type = match format {
        Format::Json => "application/json",
        Format::Csv => "text/csv; charset=utf-8",
        Format::Table => "text/plain; charset=utf-8",
    };
    let mut response = HttpResponse::Ok().body(rendered);
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Reports are for the token holder only.
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    response
}

/// Every report: token, parameters (any the kind does not take is refused,
/// so a typo does not silently widen a report), access, then the figures.
async fn report(
    kind: ReportKind,
    request: HttpRequest,
    state: web::Data<StatsState>,
) -> HttpResponse {
    let answered = async {
        let readers = &state.readers;
        let now = u64::from(clock::now_unix());
        // A bearer token can be guessed at; a session cookie is a signed grant.
        let reader = if request.headers().contains_key(header::AUTHORIZATION) {
            state
                .throttle
                .check(&request, Scope::Other, || readers.of_request(&request, now))?
        } else {
            readers.of_request(&request, now)?
        };
        let query = Query::parse(request.query_string());
        if query.truncated() {
            return Err(Refusal::BadRequest(format!(
                "the query string has more than {MAX_PAIRS} parameters; a report takes each of its parameters once (`filter` up to {MAX_FILTERS} times)"
            )));
        }
        let default_format = if accepts_csv(&request) {
            Format::Csv
        } else {
            Format::Json
        };
        let decoded: Vec<_> = query.pairs().collect();
        let pairs = request::with_site_time_zone(
            decoded
                .iter()
                .map(|(name, value)| (name.as_ref(), value.as_ref())),
            |site| readers.time_zone(site),
        );
        let report_request = ReportRequest::from_pairs(kind, pairs, default_format)?;
        readers.may_read(&reader, report_request.subject())?;
        let format = report_request.format;
        let campaigns = reader.readable_campaigns();
        // Access was checked above; the answer depends on the request and,
        // for the campaigns list, on which campaigns the reader may see.
        let key = format!("{report_request:?}\u{0}{campaigns:?}");
        let caller = caller(&request, &reader);
        let work = state.clone();
        let rendered = state
            .requests
            .run(key, async move {
                let reporter = work.reporter.clone();
                work.bounded
                    .run(&caller, async move {
                        let report = reporter
                            .run(&report_request)
                            .await?
                            .retain_readable(|campaign| campaigns.allows(campaign));
                        Ok(output::render(&report, format))
                    })
                    .await
            })
            .await?;
        Ok::<_, Refusal>(answer(rendered, format))
    };
    answered.await.unwrap_or_else(Refusal::response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_report_pool_is_a_503_that_says_when_to_try_again() {
        let response = Refusal::from(ReportError::Busy(8)).response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            response.headers().get(header::RETRY_AFTER),
            Some(&HeaderValue::from_static("1"))
        );
        let body = actix_web::body::to_bytes(response.into_body());
        let body = futures_util::FutureExt::now_or_never(body)
            .unwrap()
            .unwrap();
        let error: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            error["error"],
            "8 reports are running, as many as `reporting.max_concurrent` allows, and none ended within `reporting.queue_timeout_ms`; try again in a moment"
        );
    }
}
