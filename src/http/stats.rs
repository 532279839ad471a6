//! The stats API: `GET /api/v1/stats/<kind>` for every report kind, and its
//! OpenAPI document at `GET /api/v1/openapi.json` (served and built by `http::openapi`).
//!
//! Owns: bearer-token access (compared in constant time, limited to sites
//! and campaigns), handing the query string to the shared report parser, and
//! the answer's format (JSON, CSV, or the CLI's table).
//! Must never: answer without a valid token, or log a token.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use schemars::JsonSchema;
use serde::Serialize;
use subtle::ConstantTimeEq;

use super::params::Query;
use crate::config::{ApiToken, Site};
use crate::report::output::{self, Format, Report};
use crate::report::request::{Choice, ReportKind, ReportRequest, RequestError, Subject};
use crate::report::{ReportError, Reporter};

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

/// The path of a kind of report.
pub fn route(kind: ReportKind) -> String {
    format!("/api/v1/stats/{}", kind.as_str())
}

pub fn routes(config: &mut web::ServiceConfig) {
    for &kind in ReportKind::ALL {
        config.route(
            &route(kind),
            web::get().to(move |request: HttpRequest, state: web::Data<StatsState>| {
                report(kind, request, state)
            }),
        );
    }
}

/// The body of every refusal.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ErrorBody {
    /// What is wrong, and what to do about it.
    pub error: String,
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
        let (status, error) = match self {
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
        response.json(ErrorBody { error })
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

/// Whether `token` may read `subject`, and (for a site) whether it exists;
/// a token that may not read a site learns nothing of whether it exists.
fn may_read(token: &ApiToken, sites: &[String], subject: Subject) -> Result<(), Refusal> {
    match subject {
        Subject::Site(site) => {
            if !token.sites.allows(site) {
                return Err(Refusal::Forbidden(format!(
                    "the token {:?} may not read site {site:?}",
                    token.name
                )));
            }
            if !sites.iter().any(|s| s == site) {
                return Err(Refusal::NotFound(format!("no site {site:?} is configured")));
            }
        }
        Subject::Campaign(campaign) => {
            if !token.campaigns.allows(campaign) {
                return Err(Refusal::Forbidden(format!(
                    "the token {:?} may not read campaign {campaign:?}",
                    token.name
                )));
            }
        }
    }
    Ok(())
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

/// Every report: token, parameters (any the kind does not take is refused,
/// so a typo does not silently widen a report), access, then the figures.
async fn report(
    kind: ReportKind,
    request: HttpRequest,
    state: web::Data<StatsState>,
) -> HttpResponse {
    let answered = async {
        let token = authorize(&state.tokens, authorization(&request))?;
        let query = Query::parse(request.query_string());
        let default_format = if accepts_csv(&request) {
            Format::Csv
        } else {
            Format::Json
        };
        let report_request = ReportRequest::from_pairs(kind, query.pairs(), default_format)?;
        may_read(token, &state.sites, report_request.subject())?;
        let report = state.reporter.run(&report_request).await?;
        Ok(answer(&report, report_request.format))
    };
    answered.await.unwrap_or_else(Refusal::response)
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
    fn a_token_reads_only_its_sites_and_campaigns_and_learns_of_sites_only_then() {
        let marketing = token("marketing", "a-very-long-secret-token-of-marketing");
        let configured = [
            "optimumabq.com".to_string(),
            "elsewhere.example".to_string(),
        ];
        assert_eq!(
            may_read(&marketing, &configured, Subject::Site("optimumabq.com")),
            Ok(())
        );
        assert!(matches!(
            may_read(&marketing, &configured, Subject::Site("elsewhere.example")),
            Err(Refusal::Forbidden(_))
        ));
        assert!(matches!(
            may_read(
                &marketing,
                &configured[1..],
                Subject::Site("optimumabq.com")
            ),
            Err(Refusal::NotFound(_))
        ));
        assert_eq!(
            may_read(&marketing, &[], Subject::Campaign("nov-newsletter")),
            Ok(())
        );
        let agency = ApiToken {
            campaigns: Access::Only(vec!["dec-newsletter".into()]),
            ..marketing
        };
        assert!(matches!(
            may_read(&agency, &[], Subject::Campaign("nov-newsletter")),
            Err(Refusal::Forbidden(_))
        ));
    }
}
