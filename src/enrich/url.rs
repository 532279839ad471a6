//! Page URL and referrer cleaning.
//!
//! A page URL keeps its host (to check it belongs to the site), its path and the
//! `utm_*` campaign parameters (scrubbed of personal data, `scrub::value`); every other query parameter and the fragment
//! are dropped, because they routinely carry emails, tokens and search terms;
//! a site that routes by fragment has it kept as part of the path
//! ([`route_fragment`]), without its query.
//! A referrer keeps only its host, and none at all when it is the site itself.
//!
//! A hit's page comes from its `url`, else from the `Referer` header; the
//! header may have been cut to the origin by the browser's referrer policy,
//! and such a page is stored as [`UNKNOWN_PAGE`], never as the home page,
//! unless the hit says it asked for the whole URL ([`page_of`]).

use url::Url;

use super::{bounded, scrub, truncate_bytes};

/// Longest input looked at; anything past it is ignored before parsing.
const MAX_INPUT_BYTES: usize = 8192;
pub const MAX_PATH_CHARS: usize = 512;
pub const MAX_UTM_CHARS: usize = 128;
pub const MAX_HOST_CHARS: usize = 253;

/// What is stored as the path of a page view whose page is not known: no
/// `url` and no `Referer`, or a `Referer` that is only an origin the browser
/// may have cut. Cleaning and scrubbing give every page a path that starts
/// with `/` (`tests/it/fuzz.rs`, `page_url_cleaning`), so no page is ever
/// stored as this.
pub const UNKNOWN_PAGE: &str = "(unknown)";

/// What is kept of a page URL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageUrl {
    /// Lower-cased host; empty for a host-relative URL such as `/pricing`.
    pub host: String,
    /// Percent-decoded path, `/` at least.
    pub path: String,
    pub utm: Utm,
}

/// The campaign parameters of a page URL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Utm {
    pub source: String,
    pub medium: String,
    pub campaign: String,
    pub term: String,
    pub content: String,
}

/// Cleans a page URL; `None` when it is not an http(s) or host-relative URL.
pub fn clean_page_url(raw: &str) -> Option<PageUrl> {
    read_page(raw).map(|(page, _)| page)
}

/// What a hit says of its page.
#[derive(Debug, Clone, Copy, Default)]
pub struct PageEvidence<'a> {
    /// The `url` the hit sent: what the page knew of itself, so an origin
    /// alone is the home page.
    pub url: Option<&'a str>,
    /// The `Referer` header.
    pub referer: Option<&'a str>,
    /// The hit says it asked the browser for the whole page URL as its
    /// `Referer` (the README's pixel: `page=referrer` beside
    /// `referrerpolicy="no-referrer-when-downgrade"`).
    pub referer_whole: bool,
    /// The `Sec-Fetch-Site` header: `cross-site` means a browser may have cut
    /// the `Referer` whatever the pixel asked for (Safari does).
    pub fetch_site: Option<&'a str>,
}

/// The page of a hit: its `url` cleaned, else its `Referer` cleaned; `None`
/// when the one read is not an http(s) or host-relative URL.
///
/// The path is [`UNKNOWN_PAGE`] when there is neither, and when the `Referer`
/// is only an origin (`https://optimumabq.com/`) that may have been cut: a
/// browser's default policy (`strict-origin-when-cross-origin`) sends only
/// the origin to a collector on another origin, from every page, so the
/// header alone cannot tell the home page from any other. Only when the hit
/// says it asked for the whole URL, and the request is not cross-site, is an
/// origin the home page. The host is kept either way, to check it is the
/// site's.
pub fn page_of(evidence: &PageEvidence<'_>) -> Option<PageUrl> {
    if let Some(url) = evidence.url {
        return clean_page_url(url);
    }
    let Some(referer) = evidence.referer else {
        return Some(PageUrl {
            path: UNKNOWN_PAGE.to_string(),
            ..PageUrl::default()
        });
    };
    let (mut page, origin_only) = read_page(referer)?;
    let cross_site = evidence
        .fetch_site
        .is_some_and(|site| site.trim().eq_ignore_ascii_case("cross-site"));
    // Asked for whole and sent within the site, it is whole, but in a
    // browser set to cut every Referer (README, "Snippets", says so).
    let whole = evidence.referer_whole && !cross_site;
    if origin_only && !whole {
        page.path = UNKNOWN_PAGE.to_string();
    }
    Some(page)
}

/// A cleaned page URL, and whether it was an origin alone (nothing after
/// the host but `/`): what a browser sends as the `Referer` when its policy
/// cuts the rest.
fn read_page(raw: &str) -> Option<(PageUrl, bool)> {
    let raw = truncate_bytes(raw.trim(), MAX_INPUT_BYTES);
    match plain_pieces(raw) {
        Some(pieces) => Some(page_from(raw, &pieces)),
        None => page_by_url_crate(raw),
    }
}

/// What cleaning reads of a URL: its host, path and query, as the `url`
/// crate would serialize them (before percent-decoding).
struct Pieces<'a> {
    host: &'a str,
    path: &'a str,
    query: &'a str,
}

/// The pieces of a plain URL, read in place; `None` for anything the URL
/// standard would rewrite, which the `url` crate then parses. Plain means:
/// `http://` or `https://` (or a host-relative `/…`), printable ASCII only
/// (no space, no backslash), a host of letters, digits, dots and hyphens that
/// is not an IPv4 number or punycode, an optional port of at most five digits
/// up to 65535, and a path with no dot segment (`/.`, `%2e`). Page URLs and
/// referrers are nearly always plain, and a full parse costs about as much
/// as the rest of the hit (see `benches/hot_path.rs`); `plain_urls_read_as_the_url_crate_reads_them`
/// checks the two agree on every plain URL.
fn plain_pieces(raw: &str) -> Option<Pieces<'_>> {
    if !raw.bytes().all(|b| (0x21..0x7f).contains(&b) && b != b'\\') {
        return None;
    }
    let (host, rest) = if raw.starts_with('/') {
        if raw.starts_with("//") {
            return None;
        }
        ("", raw)
    } else {
        let after = raw
            .strip_prefix("https://")
            .or_else(|| raw.strip_prefix("http://"))?;
        let end = after.find(['/', '?', '#']).unwrap_or(after.len());
        let (authority, rest) = after.split_at(end);
        (plain_host(authority)?, rest)
    };
    let rest = rest.split('#').next().unwrap_or_default();
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if contains_ignoring_case(path, "/.") || contains_ignoring_case(path, "%2e") {
        return None;
    }
    Some(Pieces {
        host,
        path: if path.is_empty() { "/" } else { path },
        query,
    })
}

/// The host of a plain authority (`host` or `host:port`), as in [`plain_pieces`].
fn plain_host(authority: &str) -> Option<&str> {
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    if let Some(port) = port {
        let digits =
            !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit());
        if !digits || port.parse::<u32>().ok()? > 65_535 {
            return None;
        }
    }
    let plain = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        && !contains_ignoring_case(host, "xn--");
    // A last label that starts with a digit may make the host an IPv4
    // number (`10.1`, `0x7f.1`), which the standard rewrites.
    let last = host.strip_suffix('.').unwrap_or(host).rsplit('.').next()?;
    let numeric = last.bytes().next().is_none_or(|b| b.is_ascii_digit());
    (plain && !numeric).then_some(host)
}

fn contains_ignoring_case(text: &str, needle: &str) -> bool {
    text.as_bytes()
        .windows(needle.len())
        .any(|window| window.eq_ignore_ascii_case(needle.as_bytes()))
}

/// [`read_page`] by a full parse with the `url` crate.
fn page_by_url_crate(raw: &str) -> Option<(PageUrl, bool)> {
    let url = if raw.starts_with('/') && !raw.starts_with("//") {
        Url::parse("http://relative.invalid").ok()?.join(raw).ok()?
    } else {
        Url::parse(raw).ok()?
    };
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    let pieces = Pieces {
        host: url.host_str().unwrap_or(""),
        path: url.path(),
        query: url.query().unwrap_or(""),
    };
    Some(page_from(raw, &pieces))
}

fn page_from(raw: &str, pieces: &Pieces<'_>) -> (PageUrl, bool) {
    let origin_only = pieces.path == "/" && pieces.query.is_empty();
    let host = if raw.starts_with('/') {
        String::new()
    } else {
        bounded(pieces.host, MAX_HOST_CHARS).to_ascii_lowercase()
    };
    let decoded = percent_encoding::percent_decode_str(pieces.path).decode_utf8_lossy();
    // `%3F` and `%23` decode to `?` and `#`: what follows is a query or a
    // fragment encoded once too often, and is dropped as one would be.
    let decoded = decoded.split(['?', '#']).next().unwrap_or_default();
    let mut path = bounded(decoded, MAX_PATH_CHARS);
    if path.is_empty() {
        path.push('/');
    }
    let mut utm = Utm::default();
    for (key, value) in form_urlencoded::parse(pieces.query.as_bytes()) {
        let slot = match key.as_ref() {
            "utm_source" => &mut utm.source,
            "utm_medium" => &mut utm.medium,
            "utm_campaign" => &mut utm.campaign,
            "utm_term" => &mut utm.term,
            "utm_content" => &mut utm.content,
            _ => continue,
        };
        *slot = scrub::value(&bounded(&value, MAX_UTM_CHARS));
    }
    (PageUrl { host, path, utm }, origin_only)
}

/// The route of a page that routes by its fragment (`/app#/settings`):
/// the fragment with its `#`, without any query it carries (`#/search?q=`),
/// percent-decoded and bounded; `None` when the URL has none. Read only when
/// the tracker says the site routes so (`data-hash`); the caller scrubs the
/// path it makes, as any path.
pub fn route_fragment(raw: &str) -> Option<String> {
    let raw = truncate_bytes(raw.trim(), MAX_INPUT_BYTES);
    let (_, fragment) = raw.split_once('#')?;
    let route = fragment.split(['?', '#']).next().unwrap_or_default();
    let decoded = percent_encoding::percent_decode_str(route).decode_utf8_lossy();
    let decoded = decoded.split(['?', '#']).next().unwrap_or_default();
    let route = bounded(decoded, MAX_PATH_CHARS);
    (!route.is_empty()).then(|| format!("#{route}"))
}

/// The host a visitor came from, without `www.`; empty when there is none, it
/// cannot be read, or it is one of `own_hosts` (moving within the site is not a
/// referral).
pub fn referrer_host(raw: &str, own_hosts: &[String]) -> String {
    let raw = truncate_bytes(raw.trim(), MAX_INPUT_BYTES);
    if raw.is_empty() {
        return String::new();
    }
    let host = match plain_pieces(raw) {
        Some(pieces) if !raw.starts_with('/') => pieces.host.to_ascii_lowercase(),
        _ => match Url::parse(raw)
            .ok()
            .and_then(|url| url.host_str().map(str::to_ascii_lowercase))
        {
            Some(host) => host,
            None => return String::new(),
        },
    };
    if own_hosts.contains(&host) {
        return String::new();
    }
    let short = host.strip_prefix("www.").unwrap_or(&host);
    // What is kept must not be one of the site's hosts either
    // (`www.www.example.org` would be kept as `www.example.org`).
    if own_hosts
        .iter()
        .any(|own| own == short || own.strip_prefix("www.").unwrap_or(own) == short)
    {
        return String::new();
    }
    bounded(short, MAX_HOST_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(raw: &str) -> PageUrl {
        clean_page_url(raw).unwrap_or_else(|| panic!("{raw} should parse"))
    }

    #[test]
    fn a_route_is_the_fragment_without_its_query() {
        let route = |raw| route_fragment(raw);
        assert_eq!(
            route("https://a.com/app#/settings").as_deref(),
            Some("#/settings")
        );
        assert_eq!(
            route("https://a.com/app#/search?q=carol").as_deref(),
            Some("#/search")
        );
        assert_eq!(route("/app#/a%3Fb=c").as_deref(), Some("#/a"));
        assert_eq!(route("/app#/caf%C3%A9").as_deref(), Some("#/café"));
        assert_eq!(route("https://a.com/app#"), None);
        assert_eq!(route("https://a.com/app"), None);
        assert_eq!(route("/app#?x=1"), None);
    }

    #[test]
    fn keeps_host_path_and_utm_only() {
        let cleaned = page(
            "https://WWW.OptimumABQ.com/pricing/?email=a%40b.com&utm_source=news&utm_medium=email&utm_campaign=nov&utm_term=desk&utm_content=hero&token=s3cret#team",
        );
        assert_eq!(cleaned.host, "www.optimumabq.com");
        assert_eq!(cleaned.path, "/pricing/");
        assert_eq!(
            cleaned.utm,
            Utm {
                source: "news".into(),
                medium: "email".into(),
                campaign: "nov".into(),
                term: "desk".into(),
                content: "hero".into(),
            }
        );
    }

    #[test]
    fn utm_values_holding_personal_data_are_stored_as_markers() {
        let cleaned = page(
            "https://a.com/?utm_source=carol%40example.com&utm_campaign=spring&utm_content=3f2a9c1e-7b4d-4e8a-9c0f-1234567890ab",
        );
        assert_eq!(
            (
                cleaned.utm.source.as_str(),
                cleaned.utm.campaign.as_str(),
                cleaned.utm.content.as_str()
            ),
            (":email", "spring", ":uuid")
        );
    }

    #[test]
    fn page_url_table() {
        let cases: &[(&str, Option<(&str, &str)>)] = &[
            ("https://a.com", Some(("a.com", "/"))),
            ("http://a.com/x/y?z=1", Some(("a.com", "/x/y"))),
            ("/pricing?q=secret", Some(("", "/pricing"))),
            ("https://a.com/caf%C3%A9", Some(("a.com", "/café"))),
            (
                "https://a.com/bad%FFbyte",
                Some(("a.com", "/bad\u{fffd}byte")),
            ),
            ("https://a.com/%", Some(("a.com", "/%"))),
            // An encoded query or fragment is cut like a plain one.
            (
                "https://a.com/search%3Fq%3Dmy%20name/x",
                Some(("a.com", "/search")),
            ),
            ("/a%2Fb/%23frag%40x", Some(("", "/a/b/"))),
            ("https://a.com/%3f", Some(("a.com", "/"))),
            ("https://[2001:db8::1]/p", Some(("[2001:db8::1]", "/p"))),
            ("javascript:alert(1)", None),
            ("file:///etc/passwd", None),
            ("not a url", None),
            ("//a.com/x", None),
            ("", None),
        ];
        for (raw, expected) in cases {
            let got = clean_page_url(raw).map(|p| (p.host, p.path));
            let expected = expected.map(|(h, p)| (h.to_string(), p.to_string()));
            assert_eq!(got, expected, "{raw}");
        }
    }

    #[test]
    fn a_page_known_only_from_an_origin_is_unknown_unless_the_pixel_asked_for_the_whole_url() {
        let page = |url, referer, referer_whole, fetch_site| {
            page_of(&PageEvidence {
                url,
                referer,
                referer_whole,
                fetch_site,
            })
            .map(|p| (p.host, p.path))
        };
        let known = |host: &str, path: &str| Some((host.to_string(), path.to_string()));
        let home = Some("https://optimumabq.com/");
        let pricing = Some("https://optimumabq.com/pricing/");
        // A `url` is what the page says of itself: its origin is the home page.
        assert_eq!(page(home, None, false, None), known("optimumabq.com", "/"));
        assert_eq!(
            page(Some("/pricing/"), home, false, Some("cross-site")),
            known("", "/pricing/")
        );
        assert_eq!(page(Some("javascript:x"), pricing, true, None), None);
        // No `url`: the Referer, if it holds more than an origin.
        for whole in [false, true] {
            for site in [None, Some("same-site"), Some("cross-site")] {
                assert_eq!(
                    page(None, pricing, whole, site),
                    known("optimumabq.com", "/pricing/")
                );
                assert_eq!(
                    page(
                        None,
                        Some("https://optimumabq.com/?utm_source=x"),
                        whole,
                        site
                    ),
                    known("optimumabq.com", "/")
                );
                assert_eq!(page(None, None, whole, site), known("", UNKNOWN_PAGE));
                assert_eq!(page(None, Some("about:blank"), whole, site), None);
            }
        }
        // An origin alone, as `strict-origin-when-cross-origin` cuts every page.
        for origin in [
            "https://optimumabq.com/",
            "https://optimumabq.com",
            "http://optimumabq.com:18500/",
            "https://b\u{fc}cher.example/",
        ] {
            let host = clean_page_url(origin).unwrap().host;
            let unknown = known(&host, UNKNOWN_PAGE);
            let at_home = known(&host, "/");
            assert_eq!(page(None, Some(origin), false, None), unknown, "{origin}");
            assert_eq!(page(None, Some(origin), false, Some("same-site")), unknown);
            assert_eq!(page(None, Some(origin), true, None), at_home, "{origin}");
            assert_eq!(page(None, Some(origin), true, Some("same-site")), at_home);
            assert_eq!(page(None, Some(origin), true, Some("same-origin")), at_home);
            // Safari cuts a cross-site Referer to the origin whatever the policy.
            assert_eq!(page(None, Some(origin), true, Some("cross-site")), unknown);
            assert_eq!(page(None, Some(origin), true, Some("Cross-Site")), unknown);
        }
    }

    use proptest::strategy::Strategy;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4000))]

        /// The in-place reading of plain URLs is an optimisation only: on
        /// every URL it accepts, it answers what the `url` crate answers.
        #[test]
        fn plain_urls_read_as_the_url_crate_reads_them(
            scheme in proptest::sample::select(vec!["http://", "https://", "HTTP://", "ftp://", "", "/", "//", "http:/"]),
            host in proptest::prop_oneof![
                "[a-zA-Z0-9.-]{0,12}",
                proptest::sample::select(vec!["a.com", "A.CoM.", "10.1", "a.0x7f", "1a.b", "a.1b", "xn--bcher-kva.de", "XN--x.a", "a..b", "-", ".", "..", "a@b.c", "b\u{fc}cher.de", "[::1]", "a b.c", "a%41.com", "a_b.c"]).prop_map(String::from),
            ],
            port in proptest::sample::select(vec!["", "", ":80", ":", ":65535", ":65536", ":0080", ":99999", ":123456", ":8a", "::1"]),
            path in proptest::collection::vec(proptest::prop_oneof![
                "/[a-zA-Z0-9~_!$&'()*+,;=:@\"<>`{}|^%-]{0,6}",
                proptest::sample::select(vec!["/.", "/..", "/./", "/%2e", "/%2E%2e", "/.hidden", "/a.", "//", "/%zz", "/%C3%A9", "/%3Fx", "/\\x", "/\tx", "/\u{e9}"]).prop_map(String::from),
            ], 0..4),
            query in proptest::prop_oneof![
                proptest::strategy::Just(String::new()),
                "\\?[a-z_=&+%0-9A-F'\"<>]{0,24}",
                proptest::sample::select(vec!["?utm_source=a+b&utm_medium=%41&utm_campaign=x%2By", "?utm_source=me%40example.com", "?utm_term=%FF", "?&&utm_content=", "??utm_source=q"]).prop_map(String::from),
            ],
            fragment in proptest::sample::select(vec!["", "#f", "#?utm_source=no", "#/a/../b"]),
        ) {
            let raw = format!("{scheme}{host}{port}{}{query}{fragment}", path.concat());
            if let Some(pieces) = plain_pieces(&raw) {
                proptest::prop_assert_eq!(Some(page_from(&raw, &pieces)), page_by_url_crate(&raw), "{}", raw);
                if !raw.starts_with('/') {
                    let by_crate = Url::parse(&raw).ok().and_then(|u| u.host_str().map(str::to_ascii_lowercase));
                    proptest::prop_assert_eq!(Some(pieces.host.to_ascii_lowercase()), by_crate, "{}", raw);
                }
            }
        }
    }

    #[test]
    fn every_part_is_bounded() {
        let long = format!(
            "https://a.com/{}?utm_source={}",
            "p".repeat(100_000),
            "s".repeat(10_000)
        );
        let cleaned = page(&long);
        assert_eq!(cleaned.path.chars().count(), MAX_PATH_CHARS);
        assert!(cleaned.utm.source.is_empty(), "cut off by the input bound");
        let cleaned = page(&format!("https://a.com/?utm_source={}", "s".repeat(1000)));
        assert_eq!(cleaned.utm.source.len(), MAX_UTM_CHARS);
        let multibyte = format!("https://a.com/{}", "é".repeat(10_000));
        assert!(clean_page_url(&multibyte).is_some());
    }

    #[test]
    fn referrer_table() {
        let own = vec![
            "optimumabq.com".to_string(),
            "www.optimumabq.com".to_string(),
        ];
        let cases: &[(&str, &str)] = &[
            (
                "https://www.google.com/search?q=coworking+abq",
                "google.com",
            ),
            (
                "https://News.YCombinator.com/item?id=1",
                "news.ycombinator.com",
            ),
            ("https://optimumabq.com/about", ""),
            ("https://www.optimumabq.com/", ""),
            ("https://www.www.optimumabq.com/", ""),
            ("https://www.www.google.com/", "www.google.com"),
            (
                "android-app://com.google.android.gm/",
                "com.google.android.gm",
            ),
            ("", ""),
            ("garbage", ""),
            ("https://", ""),
        ];
        for (raw, expected) in cases {
            assert_eq!(referrer_host(raw, &own), *expected, "{raw}");
        }
        let own_bare = vec!["example.org".to_string()];
        assert_eq!(referrer_host("https://www.example.org/", &own_bare), "");
    }
}
