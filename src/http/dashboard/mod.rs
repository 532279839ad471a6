//! The dashboard staff open in a browser: `GET /dashboard`, its script (native
//! ES modules) and style (plain files compiled into the binary, no build
//! step), sign-in and
//! sign-out, and the reports it reads, which are the stats API's own handler
//! mounted under `/dashboard/api/stats/<kind>`: the page shows the same
//! numbers as the API, under the same rules.
//!
//! Owns: the session cookie (`__Host-beaconhouse_session`: `HttpOnly;
//! Secure; SameSite=Strict`, `Path=/` as the `__Host-` prefix requires,
//! eight hours at most), sign-out (which ends the holder's sessions on
//! every collector, `store::sign_outs`), what `/dashboard/api/me` tells the
//! page (the reader; its sites with their goals, funnels and property keys,
//! read from the configuration; the request limits the page applies,
//! read from the parser's own constants; and the attribution the GeoIP
//! database's licence asks for beside locations, read from the database:
//! the script restates none of them),
//! and the security headers of every dashboard response.
//! Must never: set a cookie from anywhere but sign-in and sign-out
//! (visitors never get one), load anything from another host, or run SQL
//! of its own.

use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::DefaultHeaders;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::access::{Reader, SESSION_COOKIE, Scope, session_cookie};
use super::body;
use super::stats::{self, Refusal, StatsState};
use crate::clock;
use crate::config::{Access, Site};
use crate::enrich::geo::Attribution;
use crate::grant::{Holder, SESSION_SECONDS};
use crate::report::request::MAX_FILTERS;
use crate::report::vocabulary::{Dimension, Filter, MAX_DAYS, MAX_LIMIT, ReportKind, Vocabulary};

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_CSS: &str = include_str!("assets/app.css");

/// The script's modules, each served at `/dashboard/<name>`. `app.js` is the
/// entry that `index.html` loads; it imports the others (and `index.html`
/// preloads them, so the browser fetches them at once, not level by level).
const MODULES: &[(&str, &str)] = &[
    ("app.js", include_str!("assets/app.js")),
    ("api.js", include_str!("assets/api.js")),
    ("campaigns.js", include_str!("assets/campaigns.js")),
    ("chart.js", include_str!("assets/chart.js")),
    ("conversions.js", include_str!("assets/conversions.js")),
    ("dates.js", include_str!("assets/dates.js")),
    ("dom.js", include_str!("assets/dom.js")),
    ("filtered.js", include_str!("assets/filtered.js")),
    ("overview.js", include_str!("assets/overview.js")),
    ("panels.js", include_str!("assets/panels.js")),
    ("view.js", include_str!("assets/view.js")),
];

/// Where the dashboard is served.
pub const PATH: &str = "/dashboard";

/// Scripts and styles from this origin only, nothing inline, no framing,
/// no form posting elsewhere.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// Largest sign-in body: a token or a shared link's grant.
const MAX_SESSION_BODY: usize = 4096;

pub fn routes(config: &mut web::ServiceConfig) {
    let page = |body: &'static str, content_type: &'static str| {
        web::get().to(move || async move {
            HttpResponse::Ok()
                .insert_header((header::CONTENT_TYPE, content_type))
                // Revalidated on every load, so a new release shows at once.
                .insert_header((header::CACHE_CONTROL, "no-cache"))
                .body(body)
        })
    };
    let html = "text/html; charset=utf-8";
    let mut scope = web::scope(PATH)
        .wrap(
            DefaultHeaders::new()
                .add((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
                .add((header::REFERRER_POLICY, "no-referrer"))
                .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                .add((header::X_FRAME_OPTIONS, "DENY"))
                .add(("Cross-Origin-Opener-Policy", "same-origin"))
                .add(("Cross-Origin-Resource-Policy", "same-origin")),
        )
        .route("", page(INDEX_HTML, html))
        .route("/", page(INDEX_HTML, html))
        .route("/app.css", page(APP_CSS, "text/css; charset=utf-8"))
        .route("/api/me", web::get().to(me))
        .route("/session", web::post().to(sign_in))
        .route("/session", web::delete().to(sign_out));
    for &(name, body) in MODULES {
        scope = scope.route(
            &format!("/{name}"),
            page(body, "text/javascript; charset=utf-8"),
        );
    }
    for &kind in ReportKind::ALL {
        scope = scope.route(
            &format!("/api/stats/{}", kind.as_str()),
            stats::handler(kind),
        );
    }
    config.service(scope);
}

/// What the page learns about its reader.
#[derive(Debug, Serialize, PartialEq)]
struct Me {
    signed_in: bool,
    /// Why the session the browser sent is no longer valid.
    #[serde(skip_serializing_if = "Option::is_none")]
    ended: Option<String>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    session: Option<Session>,
}

#[derive(Debug, Serialize, PartialEq)]
struct Session {
    name: String,
    shared: bool,
    /// The session's end, UTC seconds.
    expires: u64,
    sites: Vec<SiteInfo>,
    /// Whether the reader may read any campaign.
    campaigns: bool,
    limits: Limits,
    /// What the GeoIP database in use asks to be shown where locations are
    /// (`enrich::geo::attribution_for`); null when it asks nothing or there
    /// is none.
    locations_attribution: Option<Attribution>,
}

/// What a report request may ask, as the parser checks it: the page keeps
/// its links, forms and filters within these, and its text says them.
#[derive(Debug, Serialize, PartialEq)]
struct Limits {
    /// Longest period, in days, both ends included.
    max_days: u32,
    /// Most filters one report combines.
    max_filters: usize,
    /// Most rows a report lists (`limit`): "See all" and the CSV downloads.
    max_limit: usize,
    /// The dimensions a filter may test, in the order the API lists them.
    filterable: Vec<&'static str>,
}

impl Limits {
    fn of_the_parser() -> Limits {
        Limits {
            max_days: MAX_DAYS,
            max_filters: MAX_FILTERS,
            max_limit: MAX_LIMIT,
            // Asked of the parser itself, so this list follows its rule.
            filterable: Dimension::ALL
                .iter()
                .filter_map(|dimension| dimension.word())
                .filter(|name| Filter::parse(&format!("{name}==")).is_ok())
                .collect(),
        }
    }
}

/// A site as the page offers it: what its reports ask of the
/// configuration, so the page restates none of it.
#[derive(Debug, Serialize, PartialEq)]
struct SiteInfo {
    id: String,
    time_zone: String,
    /// Its goals' names (`[[sites.goals]]`), in the configuration's order:
    /// the goals report's rows and what a `goal==` filter may name.
    goals: Vec<String>,
    /// Its funnels' names (`[[sites.funnels]]`): what `funnel=` may name.
    funnels: Vec<String>,
    /// The event property keys it keeps (`[[sites]] props`): what
    /// `by=prop:<key>` and a `prop:<key>==` filter may name.
    props: Vec<String>,
}

impl SiteInfo {
    fn of(site: &Site) -> SiteInfo {
        let conversions = &site.conversions;
        SiteInfo {
            id: site.id.clone(),
            time_zone: site.time_zone.clone(),
            goals: conversions.goals.iter().map(|g| g.name.clone()).collect(),
            funnels: conversions.funnels.iter().map(|f| f.name.clone()).collect(),
            props: site.props.clone(),
        }
    }
}

/// Always 200, so a signed-out page is not an error in the browser.
async fn me(request: HttpRequest, state: web::Data<StatsState>) -> HttpResponse {
    let answer = match session_cookie(&request) {
        None => Me {
            signed_in: false,
            ended: None,
            session: None,
        },
        Some(text) => match state.readers.session(text, u64::from(clock::now_unix())) {
            Ok((reader, opened)) => Me {
                signed_in: true,
                ended: None,
                session: Some(session(&reader, opened.expires, &state)),
            },
            Err(denied) => Me {
                signed_in: false,
                ended: Some(Refusal::from(denied).message().to_string()),
                session: None,
            },
        },
    };
    private(HttpResponse::Ok().json(answer))
}

fn session(reader: &Reader, expires: u64, state: &StatsState) -> Session {
    let sites = state
        .readers
        .sites()
        .filter(|site| reader.may_read_site(&site.id))
        .map(SiteInfo::of)
        .collect();
    let (name, shared, campaigns) = match reader {
        Reader::Token(token) => (
            token.name.clone(),
            false,
            token.campaigns != Access::Only(Vec::new()),
        ),
        Reader::Shared(site) => (format!("shared link to {site}"), true, false),
    };
    Session {
        name,
        shared,
        expires,
        sites,
        campaigns,
        limits: Limits::of_the_parser(),
        locations_attribution: state.geo.attribution(),
    }
}

/// A sign-in as sent: a stats token (with its name, which the page always
/// sends, so failures are counted per name), or a shared link's grant.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    name: Option<String>,
    token: Option<String>,
    share: Option<String>,
}

/// Opens a session: checks the token or link, then sets the cookie.
async fn sign_in(
    request: HttpRequest,
    mut payload: web::Payload,
    state: web::Data<StatsState>,
) -> HttpResponse {
    let opened = async {
        if !same_origin(&request) {
            return Err(Refusal::Forbidden(
                "sign in from the dashboard's own page".into(),
            ));
        }
        let body = body::read(
            &request,
            &mut payload,
            MAX_SESSION_BODY,
            state.request_timeout,
        )
        .await?;
        let malformed = || {
            Refusal::BadRequest(
                "send {\"name\": \"...\", \"token\": \"...\"} or {\"share\": \"...\"} as JSON"
                    .into(),
            )
        };
        let sign_in: SignIn = serde_json::from_slice(&body).map_err(|_| malformed())?;
        let opened_ms = clock::now_millis();
        let now = opened_ms / 1000;
        let session_end = now + SESSION_SECONDS;
        let readers = &state.readers;
        let name = sign_in.name.as_deref().map(str::trim);
        let cookie = match (sign_in.token, sign_in.share) {
            (Some(token), None) => {
                state
                    .throttle
                    .check(&request, readers.throttle_scope(name), || {
                        let token = readers.token(token.trim(), name)?;
                        readers.open_session(
                            Holder::Token(token.name.clone()),
                            opened_ms,
                            session_end,
                        )
                    })?
            }
            (None, Some(link)) if name.is_none() => {
                state.throttle.check(&request, Scope::Other, || {
                    let link = readers.shared_link(&link, now)?;
                    readers.open_session(
                        Holder::Shared(link.site),
                        opened_ms,
                        link.expires.min(session_end),
                    )
                })?
            }
            _ => return Err(malformed()),
        };
        Ok(cookie)
    }
    .await;
    match opened {
        Ok(cookie) => {
            let max_age = SESSION_SECONDS;
            private(
                HttpResponse::NoContent()
                    .insert_header((header::SET_COOKIE, session_cookie_header(&cookie, max_age)))
                    .finish(),
            )
        }
        Err(refusal) => {
            tracing::info!(status = %refusal.status(), "dashboard sign-in refused");
            refusal.response()
        }
    }
}

/// Ends the session here and on every collector: its holder's sessions
/// opened until now end (a token's on every browser), and the cookie is
/// cleared. Only the holder of a valid session can sign it out.
async fn sign_out(request: HttpRequest, state: web::Data<StatsState>) -> HttpResponse {
    if !same_origin(&request) {
        return Refusal::Forbidden("sign out from the dashboard's own page".into()).response();
    }
    let now = u64::from(clock::now_unix());
    if let Some(Ok((_, session))) = session_cookie(&request).map(|t| state.readers.session(t, now))
    {
        actix_web::rt::spawn(state.sign_outs.record(&session.holder, clock::now_millis()));
    }
    private(
        HttpResponse::NoContent()
            .insert_header((header::SET_COOKIE, session_cookie_header("", 0)))
            .finish(),
    )
}

/// The `Set-Cookie` of a session (empty and aged 0 to end one).
fn session_cookie_header(value: &str, max_age: u64) -> String {
    format!(
        "{SESSION_COOKIE}={value}; Path=/; Max-Age={max_age}; HttpOnly; Secure; SameSite=Strict"
    )
}

/// Whether a sign-in comes from a page of this origin: browsers send
/// `Sec-Fetch-Site` (and `Origin`) with a `fetch`, so another site's page
/// cannot sign its visitor in with the other site's token.
fn same_origin(request: &HttpRequest) -> bool {
    let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = header("sec-fetch-site") {
        return site == "same-origin";
    }
    match (header("origin"), header("host")) {
        (Some(origin), Some(host)) => origin
            .split_once("://")
            .is_some_and(|(_, authority)| authority == host),
        (Some(_), None) => false,
        // Not a browser (curl): nothing to forge.
        (None, _) => true,
    }
}

/// Answers about a session are for the holder only, and never cached.
fn private(mut response: HttpResponse) -> HttpResponse {
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn the_session_cookie_is_host_only_http_only_secure_and_strict() {
        let header = session_cookie_header("ts.6d.1.2.ab", SESSION_SECONDS);
        assert_eq!(
            header,
            "__Host-beaconhouse_session=ts.6d.1.2.ab; Path=/; Max-Age=28800; HttpOnly; Secure; SameSite=Strict"
        );
    }

    #[test]
    fn only_a_same_origin_page_or_a_non_browser_may_sign_in() {
        let request = |headers: &[(&'static str, &'static str)]| {
            let mut request = TestRequest::default();
            for &header in headers {
                request = request.insert_header(header);
            }
            request.to_http_request()
        };
        assert!(same_origin(&request(&[("sec-fetch-site", "same-origin")])));
        assert!(!same_origin(&request(&[("sec-fetch-site", "cross-site")])));
        assert!(!same_origin(&request(&[("sec-fetch-site", "same-site")])));
        assert!(same_origin(&request(&[
            ("origin", "https://stats.example"),
            ("host", "stats.example")
        ])));
        assert!(!same_origin(&request(&[
            ("origin", "https://evil.example"),
            ("host", "stats.example")
        ])));
        assert!(same_origin(&request(&[])));
    }

    /// The names after each `marker` up to the closing `quote`.
    fn quoted_after<'a>(text: &'a str, marker: &str, quote: char) -> Vec<&'a str> {
        text.split(marker)
            .skip(1)
            .filter_map(|rest| rest.split_once(quote).map(|(name, _)| name))
            .collect()
    }

    #[test]
    fn every_module_is_served_loaded_at_once_and_imported() {
        let served: Vec<&str> = MODULES.iter().map(|&(name, _)| name).collect();
        let mut imported = vec!["app.js"];
        for &(name, body) in MODULES {
            for import in quoted_after(body, " from './", '\'') {
                assert!(served.contains(&import), "{name} imports {import}");
                imported.push(import);
            }
        }
        let scripts = quoted_after(INDEX_HTML, "<script type=\"module\" src=\"/dashboard/", '"');
        assert_eq!(scripts, ["app.js"], "one entry, a module");
        let mut preloaded = quoted_after(
            INDEX_HTML,
            "<link rel=\"modulepreload\" href=\"/dashboard/",
            '"',
        );
        preloaded.push("app.js");
        for name in &served {
            assert!(imported.contains(name), "no module imports {name}");
            assert!(
                preloaded.contains(name),
                "index.html does not preload {name}"
            );
        }
        for name in &preloaded {
            assert!(served.contains(name), "index.html preloads {name}");
        }
    }

    #[test]
    fn the_page_may_filter_on_every_dimension_but_entry_page() {
        let filterable = Limits::of_the_parser().filterable;
        assert_eq!(filterable.len(), Dimension::ALL.len() - 1, "{filterable:?}");
        assert!(!filterable.contains(&"entry_page"), "a breakdown only");
        assert!(filterable.contains(&"path") && filterable.contains(&"name"));
    }

    #[test]
    fn a_site_is_offered_with_its_goals_funnels_and_property_keys_as_configured() {
        use crate::goal::{Funnel, Goal, SiteConversions, Target};
        let book = Target::Event("book_tour".into());
        let site = Site {
            id: "optimumabq.com".into(),
            hostnames: vec!["optimumabq.com".into()],
            path_patterns: Vec::new(),
            time_zone: "America/Denver".into(),
            props: vec!["plan".into(), "location".into()],
            conversions: SiteConversions {
                goals: vec![
                    Goal {
                        name: "Book a tour".into(),
                        target: book.clone(),
                    },
                    Goal {
                        name: "Read the blog".into(),
                        target: Target::Page("/blog/*".into()),
                    },
                ],
                funnels: vec![Funnel {
                    name: "Tour booking".into(),
                    steps: vec![Target::Page("/pricing".into()), book],
                }],
            },
        };
        assert_eq!(
            serde_json::to_value(SiteInfo::of(&site)).unwrap(),
            serde_json::json!({
                "id": "optimumabq.com",
                "time_zone": "America/Denver",
                "goals": ["Book a tour", "Read the blog"],
                "funnels": ["Tour booking"],
                "props": ["plan", "location"],
            })
        );
    }

    #[test]
    fn the_policy_allows_no_inline_script_no_other_host_and_no_framing() {
        let policy = CONTENT_SECURITY_POLICY;
        assert!(!policy.contains("unsafe"));
        assert!(!policy.contains("http"));
        assert!(policy.contains("frame-ancestors 'none'"));
        assert!(policy.contains("script-src 'self';"));
        assert!(policy.starts_with("default-src 'none';"));
    }
}
