//! The stats API: `GET /api/v1/stats/{summary,timeseries,breakdown,email}`
//! and its OpenAPI document at `GET /api/v1/openapi.json`.
//!
//! Owns: bearer-token access (compared in constant time, limited to sites
//! and campaigns), reading the query string into a report request, and the
//! answer's format (JSON, CSV, or the CLI's table).
//! Must never: answer without a valid token, or log a token.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use subtle::ConstantTimeEq;

use super::params::Query;
use crate::config::{ApiToken, Site};
use crate::report::output::{self, Format, Report};
use crate::report::request::{self, Day, Dimension, Filter, Interval, Period, RequestError};
use crate::report::{ReportError, Reporter};

/// The OpenAPI 3 description of this module's endpoints.
pub const OPENAPI: &str = include_str!("openapi.json");

/// What the stats handlers share.
pub struct StatsState {
    pub reporter: Reporter,
    pub tokens: Vec<ApiToken>,
    /// Configured site ids: a report on another site is a 404.
    pub sites: Vec<String>,
}

impl StatsState {
    pub fn new(
        reporter: Reporter,
        tokens: Vec<ApiToken>,
        sites: &std::collections::HashMap<String, Site>,
    ) -> StatsState {
        StatsState {
            reporter,
            tokens,
            sites: sites.keys().cloned().collect(),
        }
    }
}

pub fn routes(config: &mut web::ServiceConfig) {
    config
        .route("/api/v1/stats/summary", web::get().to(summary))
        .route("/api/v1/stats/timeseries", web::get().to(timeseries))
        .route("/api/v1/stats/breakdown", web::get().to(breakdown))
        .route("/api/v1/stats/email", web::get().to(email))
        .route("/api/v1/openapi.json", web::get().to(openapi));
}

/// A refusal, with the status it is answered with.
#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    Unauthorized(&'static str),
    Forbidden(String),
    NotFound(String),
    BadRequest(String),
    Unavailable(String),
}

impl Refusal {
    fn response(self) -> HttpResponse {
        let (status, message) = match self {
            Refusal::Unauthorized(m) => (StatusCode::UNAUTHORIZED, m.to_string()),
            Refusal::Forbidden(m) => (StatusCode::FORBIDDEN, m),
            Refusal::NotFound(m) => (StatusCode::NOT_FOUND, m),
            Refusal::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            Refusal::Unavailable(m) => (StatusCode::SERVICE_UNAVAILABLE, m),
        };
        let mut response = HttpResponse::build(status);
        if status == StatusCode::UNAUTHORIZED {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        response.json(serde_json::json!({ "error": message }))
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

/// The token of an `Authorization: Bearer` header, checked against every
/// configured token without stopping at the first match, so the time taken
/// says nothing about how close a guess was.
fn authorize<'t>(
    tokens: &'t [ApiToken],
    authorization: Option<&str>,
) -> Result<&'t ApiToken, Refusal> {
    let presented = authorization
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .ok_or(Refusal::Unauthorized(
            "send an API token from the configuration as `Authorization: Bearer <token>`",
        ))?;
    let digest = ApiToken::digest(presented);
    let mut found = None;
    for token in tokens {
        if bool::from(token.sha256.ct_eq(&digest)) {
            found = Some(token);
        }
    }
    found.ok_or(Refusal::Unauthorized("the API token is not valid"))
}

/// The parameters every report takes, checked against the caller's token.
struct Common {
    period: Period,
    format: Format,
}

fn common(request: &HttpRequest, query: &Query, known: &[&str]) -> Result<Common, Refusal> {
    if let Some(name) = query.unknown(known) {
        return Err(Refusal::BadRequest(format!(
            "unknown parameter `{name}`; this endpoint takes {}",
            known.join(", ")
        )));
    }
    let day = |key: &'static str, example: &'static str| -> Result<Day, Refusal> {
        let text = query.get(key).ok_or(RequestError::Missing(key, example))?;
        Ok(Day::parse(key, text)?)
    };
    let period = Period::new(
        day("from", "from=2026-11-01")?,
        day("to", "to=2026-11-30")?,
        query.get("tz").unwrap_or("UTC"),
    )?;
    let format = match query.get("format") {
        Some(text) => Format::parse(text).ok_or_else(|| {
            Refusal::BadRequest(format!("`format` is {text:?}: use json, csv or table"))
        })?,
        None if accepts_csv(request) => Format::Csv,
        None => Format::Json,
    };
    Ok(Common { period, format })
}

fn accepts_csv(request: &HttpRequest) -> bool {
    request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/csv"))
}

fn authorization(request: &HttpRequest) -> Option<&str> {
    request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
}

/// A site report's common parameters and its site, if the caller's token may
/// read it and it exists.
fn site_report<'q>(
    request: &HttpRequest,
    state: &StatsState,
    query: &'q Query,
    known: &[&str],
) -> Result<(Common, &'q str), Refusal> {
    let token = authorize(&state.tokens, authorization(request))?;
    let common = common(request, query, known)?;
    let site = query
        .get("site")
        .ok_or(RequestError::Missing("site", "site=optimumabq.com"))?;
    if !token.sites.allows(site) {
        return Err(Refusal::Forbidden(format!(
            "the token {:?} may not read site {site:?}",
            token.name
        )));
    }
    if !state.sites.iter().any(|s| s == site) {
        return Err(Refusal::NotFound(format!("no site {site:?} is configured")));
    }
    Ok((common, site))
}

fn filters(query: &Query) -> Result<Vec<Filter>, Refusal> {
    Ok(query
        .get_all("filter")
        .map(Filter::parse)
        .collect::<Result<_, _>>()?)
}

fn limit(query: &Query) -> Result<usize, Refusal> {
    Ok(query.get("limit").map_or(Ok(10), request::parse_limit)?)
}

fn answer(report: &impl Report, format: Format) -> HttpResponse {
    let content_type = match format {
        Format::Json => "application/json",
        Format::Csv => "text/csv; charset=utf-8",
        Format::Table => "text/plain; charset=utf-8",
    };
    let mut response = HttpResponse::Ok().body(output::render(report, format));
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

fn respond(result: Result<HttpResponse, Refusal>) -> HttpResponse {
    result.unwrap_or_else(Refusal::response)
}

// The query parameters each endpoint takes; any other is refused, so a typo
// does not silently widen a report. `openapi.json` lists the same.
const SITE_PARAMETERS: [&str; 6] = ["site", "from", "to", "tz", "filter", "format"];
const TIMESERIES_PARAMETERS: [&str; 7] =
    ["site", "from", "to", "tz", "filter", "format", "interval"];
const BREAKDOWN_PARAMETERS: [&str; 8] = [
    "site", "from", "to", "tz", "filter", "format", "by", "limit",
];
const EMAIL_PARAMETERS: [&str; 6] = ["campaign", "from", "to", "tz", "limit", "format"];

async fn summary(request: HttpRequest, state: web::Data<StatsState>) -> HttpResponse {
    respond(
        async {
            let query = Query::parse(request.query_string());
            let (common, site) = site_report(&request, &state, &query, &SITE_PARAMETERS)?;
            let report = state
                .reporter
                .summary(site, &common.period, &filters(&query)?)
                .await?;
            Ok(answer(&report, common.format))
        }
        .await,
    )
}

async fn timeseries(request: HttpRequest, state: web::Data<StatsState>) -> HttpResponse {
    respond(
        async {
            let query = Query::parse(request.query_string());
            let (common, site) = site_report(&request, &state, &query, &TIMESERIES_PARAMETERS)?;
            let interval = Interval::parse(query.get("interval").unwrap_or("day"))?;
            let report = state
                .reporter
                .timeseries(site, &common.period, interval, &filters(&query)?)
                .await?;
            Ok(answer(&report, common.format))
        }
        .await,
    )
}

async fn breakdown(request: HttpRequest, state: web::Data<StatsState>) -> HttpResponse {
    respond(
        async {
            let query = Query::parse(request.query_string());
            let (common, site) = site_report(&request, &state, &query, &BREAKDOWN_PARAMETERS)?;
            let by = query
                .get("by")
                .ok_or(RequestError::Missing("by", "by=path"))?;
            let dimension = Dimension::parse("by", by)?;
            let report = state
                .reporter
                .breakdown(
                    site,
                    &common.period,
                    dimension,
                    &filters(&query)?,
                    limit(&query)?,
                )
                .await?;
            Ok(answer(&report, common.format))
        }
        .await,
    )
}

async fn email(request: HttpRequest, state: web::Data<StatsState>) -> HttpResponse {
    respond(
        async {
            let token = authorize(&state.tokens, authorization(&request))?;
            let query = Query::parse(request.query_string());
            let common = common(&request, &query, &EMAIL_PARAMETERS)?;
            let campaign = query
                .get("campaign")
                .ok_or(RequestError::Missing("campaign", "campaign=nov-newsletter"))?;
            if !token.campaigns.allows(campaign) {
                return Err(Refusal::Forbidden(format!(
                    "the token {:?} may not read campaign {campaign:?}",
                    token.name
                )));
            }
            let report = state
                .reporter
                .email(campaign, &common.period, limit(&query)?)
                .await?;
            Ok(answer(&report, common.format))
        }
        .await,
    )
}

async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(OPENAPI)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Access;

    fn token(name: &str, secret: &str) -> ApiToken {
        ApiToken {
            name: name.into(),
            sha256: ApiToken::digest(secret),
            sites: Access::Only(vec!["optimumabq.com".into()]),
            campaigns: Access::All,
        }
    }

    #[test]
    fn only_a_configured_bearer_token_is_let_in() {
        let tokens = [
            token("marketing", "a-very-long-secret-token-of-marketing"),
            token("agency", "another-long-secret-token-for-agency"),
        ];
        let found =
            authorize(&tokens, Some("Bearer another-long-secret-token-for-agency")).unwrap();
        assert_eq!(found.name, "agency");
        for bad in [
            None,
            Some(""),
            Some("Bearer "),
            Some("Basic YWxhZGRpbjpvcGVuc2VzYW1l"),
            Some("a-very-long-secret-token-of-marketing"),
            Some("Bearer a-very-long-secret-token-of-marketin"),
            Some("Bearer a-very-long-secret-token-of-marketingX"),
        ] {
            assert!(
                matches!(authorize(&tokens, bad), Err(Refusal::Unauthorized(_))),
                "{bad:?}"
            );
        }
        assert!(authorize(&[], Some("Bearer anything-at-all")).is_err());
    }

    #[test]
    fn the_openapi_document_lists_every_route_and_parameter() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        let mut listed: Vec<&str> = paths.keys().map(String::as_str).collect();
        listed.sort();
        assert_eq!(
            listed,
            [
                "/api/v1/openapi.json",
                "/api/v1/stats/breakdown",
                "/api/v1/stats/email",
                "/api/v1/stats/summary",
                "/api/v1/stats/timeseries"
            ]
        );
        let parameters = |path: &str| -> Vec<String> {
            let mut names: Vec<String> = doc["paths"][path]["get"]["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["name"].as_str().unwrap().to_string())
                .collect();
            names.sort();
            names
        };
        let sorted = |names: &[&str]| {
            let mut v: Vec<String> = names.iter().map(|s| s.to_string()).collect();
            v.sort();
            v
        };
        assert_eq!(
            parameters("/api/v1/stats/summary"),
            sorted(&SITE_PARAMETERS)
        );
        assert_eq!(
            parameters("/api/v1/stats/timeseries"),
            sorted(&TIMESERIES_PARAMETERS)
        );
        assert_eq!(
            parameters("/api/v1/stats/breakdown"),
            sorted(&BREAKDOWN_PARAMETERS)
        );
        assert_eq!(parameters("/api/v1/stats/email"), sorted(&EMAIL_PARAMETERS));
        let by: Vec<&str> = doc["components"]["schemas"]["Dimension"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(by, Dimension::ALL.map(Dimension::as_str));
        let intervals: Vec<&str> = doc["components"]["schemas"]["Interval"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(intervals, Interval::ALL.map(Interval::as_str));
    }
}
