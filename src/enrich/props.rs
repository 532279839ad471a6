//! Event properties: which of the properties a hit sends are kept, and in
//! what form.
//!
//! A property is kept only when its key is one the site allows
//! (`[[sites]] props`, at most [`MAX_KEYS_PER_SITE`] keys of at most
//! [`MAX_KEY_CHARS`] characters), or the one key the tracker sends with its
//! own events: `host` with `outbound` (the destination's host alone) and
//! `file` with `download` (the file's path, scrubbed as page paths are).
//! Every other key is dropped whole, so a careless `email` property is never
//! stored. A value is text (the tracker sends numbers and booleans as text),
//! scrubbed by the rules of event names and `utm_*` values (a value that
//! holds an e-mail address, a UUID, a token or a long number becomes its
//! marker), then cut to [`MAX_VALUE_CHARS`] characters; a value left empty
//! is dropped. Kept properties are in key order, each key once.
//!
//! Owns: these rules, as pure functions.
//! Must never: keep a key the site has not allowed (but the tracker's own),
//! keep a value before scrubbing it, or log what a hit sent.

use std::borrow::Cow;

use super::scrub::{self, PathPattern};
use super::url::{MAX_HOST_CHARS, clean_page_url};
use super::{bounded, truncate_bytes};

/// Most keys a site may allow (so most properties an event keeps, but the
/// tracker's own key on its own events).
pub const MAX_KEYS_PER_SITE: usize = 10;
pub const MAX_KEY_CHARS: usize = 64;
pub const MAX_VALUE_CHARS: usize = 256;
/// Longest value looked at before scrubbing: a value past it is cut before
/// any work is done on it (the cut can only hide a marker's cause, never
/// keep one: scrubbing sees every byte that is kept).
const MAX_VALUE_INPUT_BYTES: usize = 4 * MAX_VALUE_CHARS;

/// The event the tracker sends for a click on a link to another host.
pub const OUTBOUND: &str = "outbound";
/// The event the tracker sends for a click on a link to a file.
pub const DOWNLOAD: &str = "download";

/// An event's kept properties, as the two parallel columns of `events`
/// store them: `values[i]` is the value of `keys[i]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Props {
    pub keys: Vec<String>,
    pub values: Vec<String>,
}

/// Whether `key` may be allowed by a site: 1 to [`MAX_KEY_CHARS`] ASCII
/// letters, digits, `_`, `-` or `.` (so `prop:<key>` in a report request
/// reads back as written).
pub fn is_valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= MAX_KEY_CHARS
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// The properties kept of those `sent` with the event `event` of a site
/// that allows `allowed` and scrubs paths with `patterns`.
pub fn kept(
    sent: &[(&str, Cow<'_, str>)],
    event: &str,
    allowed: &[String],
    patterns: &[PathPattern],
) -> Props {
    let mut kept: Vec<(&str, String)> = Vec::new();
    for (key, value) in sent {
        let value = match own_key(event) {
            Some((own, clean)) if *key == own => clean(value, patterns),
            _ if allowed.iter().any(|a| a == key) => plain_value(value),
            _ => None,
        };
        let Some(value) = value.filter(|v| !v.is_empty()) else {
            continue;
        };
        // A key sent twice keeps its last value, as a JSON object does.
        match kept.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => kept.push((key, value)),
        }
    }
    kept.sort_by(|a, b| a.0.cmp(b.0));
    let (keys, values) = kept.into_iter().map(|(k, v)| (k.to_string(), v)).unzip();
    Props { keys, values }
}

/// A cleaning rule for a value.
type Clean = fn(&str, &[PathPattern]) -> Option<String>;

/// The key the tracker sends with its own event `event`, and how its value
/// is cleaned.
fn own_key(event: &str) -> Option<(&'static str, Clean)> {
    match event {
        OUTBOUND => Some(("host", destination_host)),
        DOWNLOAD => Some(("file", file_path)),
        _ => None,
    }
}

fn plain_value(value: &str) -> Option<String> {
    let value = truncate_bytes(value, MAX_VALUE_INPUT_BYTES);
    Some(bounded(&scrub::value(value), MAX_VALUE_CHARS))
}

/// A host name, lower-cased: letters, digits, dots and hyphens only.
fn destination_host(value: &str, _: &[PathPattern]) -> Option<String> {
    let host = value.trim().trim_end_matches('.').to_ascii_lowercase();
    let plain = !host.is_empty()
        && host.len() <= MAX_HOST_CHARS
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    plain.then_some(host)
}

/// A file's path, as a page's path is kept: no query, no fragment, no host,
/// scrubbed with the site's patterns.
fn file_path(value: &str, patterns: &[PathPattern]) -> Option<String> {
    let page = clean_page_url(value.trim())?;
    Some(scrub::path(&page.path, patterns))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent<'a>(pairs: &[(&'a str, &'a str)]) -> Vec<(&'a str, Cow<'a, str>)> {
        pairs.iter().map(|(k, v)| (*k, Cow::Borrowed(*v))).collect()
    }

    fn allowed(keys: &[&str]) -> Vec<String> {
        keys.iter().map(|k| k.to_string()).collect()
    }

    fn pairs(props: &Props) -> Vec<(&str, &str)> {
        props
            .keys
            .iter()
            .zip(&props.values)
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    #[test]
    fn only_allowed_keys_are_kept_in_key_order() {
        let props = kept(
            &sent(&[
                ("plan", "monthly"),
                ("email", "carol@example.com"),
                ("location", "Downtown"),
                ("Plan", "other case"),
            ]),
            "book_tour",
            &allowed(&["location", "plan"]),
            &[],
        );
        assert_eq!(
            pairs(&props),
            [("location", "Downtown"), ("plan", "monthly")]
        );
    }

    #[test]
    fn values_are_scrubbed_then_cut_and_empty_ones_dropped() {
        let long = "x".repeat(5000);
        let props = kept(
            &sent(&[
                ("a", "write to carol@example.com"),
                ("b", "order 12345678"),
                ("c", &long),
                ("d", "   "),
                ("e", "f47ac10b-58cc-4372-a567-0e02b2c3d479"),
            ]),
            "signup",
            &allowed(&["a", "b", "c", "d", "e"]),
            &[],
        );
        assert_eq!(
            pairs(&props)
                .iter()
                .map(|(k, v)| (*k, v.len()))
                .collect::<Vec<_>>(),
            [("a", 6), ("b", 3), ("c", MAX_VALUE_CHARS), ("e", 5)]
        );
        assert_eq!(props.values[0], ":email");
        assert_eq!(props.values[1], ":id");
        assert_eq!(props.values[3], ":uuid");
    }

    #[test]
    fn a_key_sent_twice_keeps_its_last_value() {
        let props = kept(
            &sent(&[("plan", "a"), ("plan", "b")]),
            "x",
            &allowed(&["plan"]),
            &[],
        );
        assert_eq!(pairs(&props), [("plan", "b")]);
    }

    #[test]
    fn the_trackers_own_events_keep_their_own_key_cleaned() {
        let patterns = [PathPattern::parse("/members/:id").unwrap()];
        let outbound = kept(
            &sent(&[("host", "Docs.Example.ORG."), ("path", "/secret")]),
            OUTBOUND,
            &[],
            &patterns,
        );
        assert_eq!(pairs(&outbound), [("host", "docs.example.org")]);
        let download = kept(
            &sent(&[("file", "/members/bob/cv.pdf?token=abc#p2")]),
            DOWNLOAD,
            &[],
            &patterns,
        );
        assert_eq!(pairs(&download), [("file", "/members/:id/cv.pdf")]);
        let full_url = kept(
            &sent(&[(
                "file",
                "https://cdn.example.com/files/carol@example.com.pdf",
            )]),
            DOWNLOAD,
            &[],
            &patterns,
        );
        assert_eq!(pairs(&full_url), [("file", "/files/:email")]);
        for bad in ["https://evil.example/x", "not a host", "a/b", ""] {
            assert!(
                kept(&sent(&[("host", bad)]), OUTBOUND, &[], &[])
                    .keys
                    .is_empty(),
                "{bad:?}"
            );
        }
        assert!(
            kept(&sent(&[("host", "a.com")]), "custom", &[], &[])
                .keys
                .is_empty(),
            "the tracker's key is not allowed on other events"
        );
    }

    #[test]
    fn keys_a_site_may_allow() {
        for good in [
            "plan",
            "a",
            "utm.v2",
            "page-kind",
            &"k".repeat(MAX_KEY_CHARS),
        ] {
            assert!(is_valid_key(good), "{good:?}");
        }
        for bad in [
            "",
            "a b",
            "plan==x",
            "é",
            &"k".repeat(MAX_KEY_CHARS + 1),
            "a:b",
        ] {
            assert!(!is_valid_key(bad), "{bad:?}");
        }
    }
}
