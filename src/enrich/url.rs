//! Page URL and referrer cleaning.
//!
//! A page URL keeps its host (to check it belongs to the site), its path and the
//! `utm_*` campaign parameters (scrubbed of personal data, `scrub::value`); every other query parameter and the fragment
//! are dropped, because they routinely carry emails, tokens and search terms.
//! A referrer keeps only its host, and none at all when it is the site itself.

use url::Url;

use super::{bounded, scrub, truncate_bytes};

/// Longest input looked at; anything past it is ignored before parsing.
const MAX_INPUT_BYTES: usize = 8192;
pub const MAX_PATH_CHARS: usize = 512;
pub const MAX_UTM_CHARS: usize = 128;
pub const MAX_HOST_CHARS: usize = 253;

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
    let raw = truncate_bytes(raw.trim(), MAX_INPUT_BYTES);
    let url = if raw.starts_with('/') && !raw.starts_with("//") {
        Url::parse("http://relative.invalid").ok()?.join(raw).ok()?
    } else {
        Url::parse(raw).ok()?
    };
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    let host = if raw.starts_with('/') {
        String::new()
    } else {
        bounded(url.host_str().unwrap_or(""), MAX_HOST_CHARS).to_ascii_lowercase()
    };
    let decoded = percent_encoding::percent_decode_str(url.path()).decode_utf8_lossy();
    // `%3F` and `%23` decode to `?` and `#`: what follows is a query or a
    // fragment encoded once too often, and is dropped as one would be.
    let decoded = decoded.split(['?', '#']).next().unwrap_or_default();
    let mut path = bounded(decoded, MAX_PATH_CHARS);
    if path.is_empty() {
        path.push('/');
    }
    let mut utm = Utm::default();
    for (key, value) in url.query_pairs() {
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
    Some(PageUrl { host, path, utm })
}

/// The host a visitor came from, without `www.`; empty when there is none, it
/// cannot be read, or it is one of `own_hosts` (moving within the site is not a
/// referral).
pub fn referrer_host(raw: &str, own_hosts: &[String]) -> String {
    let raw = truncate_bytes(raw.trim(), MAX_INPUT_BYTES);
    if raw.is_empty() {
        return String::new();
    }
    let Some(host) = Url::parse(raw)
        .ok()
        .and_then(|url| url.host_str().map(str::to_ascii_lowercase))
    else {
        return String::new();
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
