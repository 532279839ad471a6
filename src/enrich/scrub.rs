//! Personal data in what is stored as text: page paths, `utm_*` values and
//! custom event names.
//!
//! A path segment (or a whole value) that looks like personal data is
//! replaced by a fixed marker before anything is stored: an e-mail address
//! becomes `:email`, a UUID `:uuid`, a long hex or base64-like run (a
//! token) `:token`, a run of six or more digits `:id`. Matrix parameters
//! (`;jsessionid=…`) are cut from a segment. What only a site knows (that
//! the second segment of `/members/bob` is a person) is said by its path
//! patterns: `/members/:id` turns `/members/bob/photos` into
//! `/members/:id/photos`.
//!
//! Owns: these rules, as pure functions.
//! Must never: keep a segment it recognises as personal data, or log input.

/// A site's pattern, e.g. `/members/:id`: a `:name` segment matches any one
/// segment and is stored as `:name`; other segments must match exactly. A
/// pattern applies to every path that starts with its segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPattern {
    segments: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a path pattern; write one such as \"/members/:id\" (starts with /, `:name` stands for one segment)"
)]
pub struct PatternError(String);

impl PathPattern {
    pub fn parse(text: &str) -> Result<PathPattern, PatternError> {
        let refuse = || PatternError(text.to_string());
        let rest = text.strip_prefix('/').ok_or_else(refuse)?;
        let segments: Vec<String> = rest.split('/').map(str::to_string).collect();
        let well_formed = segments.iter().all(|s| !s.is_empty() && s != ":")
            && segments.iter().any(|s| s.starts_with(':'));
        if !well_formed {
            return Err(refuse());
        }
        Ok(PathPattern { segments })
    }

    /// The path with this pattern's `:name` segments put in, if it matches.
    fn apply(&self, segments: &mut [String]) -> bool {
        // segments[0] is the empty string before the leading `/`.
        let Some(tail) = segments.get_mut(1..=self.segments.len()) else {
            return false;
        };
        let matches = self
            .segments
            .iter()
            .zip(tail.iter())
            .all(|(want, got)| want.starts_with(':') || want == got);
        if matches {
            for (want, got) in self.segments.iter().zip(tail.iter_mut()) {
                if want.starts_with(':') {
                    got.clone_from(want);
                }
            }
        }
        matches
    }
}

/// `path` with personal data replaced: the first of `patterns` that matches
/// applies, then every segment is checked on its own.
pub fn path(path: &str, patterns: &[PathPattern]) -> String {
    let mut segments: Vec<String> = path
        .split('/')
        .map(|segment| match segment.split_once(';') {
            Some((kept, _matrix)) => kept.to_string(),
            None => segment.to_string(),
        })
        .collect();
    for pattern in patterns {
        if pattern.apply(&mut segments) {
            break;
        }
    }
    for segment in &mut segments {
        if let Some(marker) = personal_data(segment) {
            *segment = marker.to_string();
        }
    }
    segments.join("/")
}

/// A campaign value or event name, whole, or its marker if it holds
/// personal data.
pub fn value(text: &str) -> String {
    personal_data(text).map_or_else(|| text.to_string(), str::to_string)
}

/// The marker for a piece of text that holds personal data, if it does.
fn personal_data(text: &str) -> Option<&'static str> {
    if is_email(text) {
        Some(":email")
    } else if has_uuid(text) {
        Some(":uuid")
    } else if has_token(text) {
        Some(":token")
    } else if longest_run(text, |c| c.is_ascii_digit()) >= 6 {
        Some(":id")
    } else {
        None
    }
}

/// Something `@` something-with-a-dot, at any `@`: loose on purpose, a
/// false positive only costs a path its segment. Not only at the first `@`
/// (`@alice@mastodon.social`, a fediverse handle), and a dot that ends the
/// text does not clear it (`bob@example.com.`).
fn is_email(text: &str) -> bool {
    text.match_indices('@').any(|(at, _)| {
        let domain = text[at + 1..].trim_end_matches('.');
        at > 0 && domain.contains('.')
    })
}

fn has_uuid(text: &str) -> bool {
    const GROUPS: [usize; 5] = [8, 4, 4, 4, 12];
    let bytes = text.as_bytes();
    (0..bytes.len()).any(|start| {
        let mut at = start;
        GROUPS.iter().enumerate().all(|(i, len)| {
            if i > 0 {
                if bytes.get(at) != Some(&b'-') {
                    return false;
                }
                at += 1;
            }
            let group = bytes.get(at..at + len);
            at += len;
            group.is_some_and(|g| g.iter().all(u8::is_ascii_hexdigit))
        })
    })
}

/// A run of letters and digits that mixes both and is long enough to be a
/// key rather than a word: 16 or more hex digits, or 20 or more of base64's
/// letters and digits.
fn has_token(text: &str) -> bool {
    text.split(|c: char| !c.is_ascii_alphanumeric()).any(|run| {
        let mixed =
            run.bytes().any(|b| b.is_ascii_digit()) && run.bytes().any(|b| b.is_ascii_alphabetic());
        let hex = run.bytes().all(|b| b.is_ascii_hexdigit());
        mixed && (run.len() >= 20 || (hex && run.len() >= 16))
    })
}

fn longest_run(text: &str, part_of_run: impl Fn(char) -> bool) -> usize {
    text.split(|c: char| !part_of_run(c))
        .map(str::len)
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personal_data_in_paths_is_replaced_by_markers() {
        let cases: &[(&str, &str)] = &[
            ("/", "/"),
            ("/pricing", "/pricing"),
            (
                "/blog/2026/11/coworking-in-albuquerque",
                "/blog/2026/11/coworking-in-albuquerque",
            ),
            ("/u/bob@example.com/reset", "/u/:email/reset"),
            ("/u/bob.smith+tag@mail.example.org", "/u/:email"),
            (
                "/reset/3f2a9c1e-7b4d-4e8a-9c0f-1234567890ab",
                "/reset/:uuid",
            ),
            (
                "/reset/3F2A9C1E-7B4D-4E8A-9C0F-1234567890AB/done",
                "/reset/:uuid/done",
            ),
            ("/orders/1234567", "/orders/:id"),
            ("/orders/12345", "/orders/12345"),
            ("/invoice-000123456.pdf", "/:id"),
            ("/t/9f86d081884c7d659a2feaa0c55ad015", "/t/:token"),
            ("/t/deadbeefdeadbeef", "/t/deadbeefdeadbeef"),
            ("/t/deadbeef0deadbeef", "/t/:token"),
            (
                "/auth/eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig",
                "/auth/:token",
            ),
            ("/confirm/Zm9vYmFyYmF6cXV4cXV1eDEyMw", "/confirm/:token"),
            (
                "/coworking-space-in-downtown-albuquerque",
                "/coworking-space-in-downtown-albuquerque",
            ),
            ("/cart;jsessionid=A1B2C3D4E5F6", "/cart"),
            ("/a;b=c/d;e", "/a/d"),
            ("/c@t", "/c@t"),
            ("/c@t.", "/c@t."),
            (
                "/@alice@mastodon.social/with_replies",
                "/:email/with_replies",
            ),
            ("/u/bob@example.com./x", "/u/:email/x"),
        ];
        for (raw, expected) in cases {
            assert_eq!(path(raw, &[]), *expected, "{raw}");
        }
    }

    #[test]
    fn site_patterns_name_what_only_the_site_knows() {
        let patterns = vec![
            PathPattern::parse("/members/:id").unwrap(),
            PathPattern::parse("/teams/:team/people/:person").unwrap(),
        ];
        let cases: &[(&str, &str)] = &[
            ("/members/bob", "/members/:id"),
            ("/members/bob/photos", "/members/:id/photos"),
            ("/members", "/members"),
            ("/teams/abq/people/carol", "/teams/:team/people/:person"),
            ("/teams/abq/rooms/blue", "/teams/abq/rooms/blue"),
            ("/pricing/bob", "/pricing/bob"),
            ("/members/bob@example.com", "/members/:id"),
        ];
        for (raw, expected) in cases {
            assert_eq!(path(raw, &patterns), *expected, "{raw}");
        }
    }

    #[test]
    fn malformed_patterns_are_refused() {
        for bad in ["members/:id", "/members/", "/members", "//:id", "/a/:"] {
            assert!(PathPattern::parse(bad).is_err(), "{bad}");
        }
        assert!(PathPattern::parse("/:id").is_ok());
    }

    #[test]
    fn values_are_kept_whole_or_replaced_whole() {
        let cases: &[(&str, &str)] = &[
            ("newsletter", "newsletter"),
            ("spring-2026", "spring-2026"),
            ("carol@example.com", ":email"),
            ("carol@example.com.", ":email"),
            ("see carol@example.com/..", ":email"),
            ("@carol@example.com", ":email"),
            ("@carol", "@carol"),
            ("signup-3f2a9c1e-7b4d-4e8a-9c0f-1234567890ab", ":uuid"),
            ("user 55512345", ":id"),
            ("=HYPERLINK(\"http://x\")", "=HYPERLINK(\"http://x\")"),
        ];
        for (raw, expected) in cases {
            assert_eq!(value(raw), *expected, "{raw}");
        }
    }
}
