//! Request parameters as the endpoints read them: the pixels' and the stats
//! API's query strings and the beacon's JSON body. Pure parsing, no decisions.

use std::borrow::Cow;

use serde::Deserialize;

/// Most parameters of a query string that are read; a pixel needs three, a
/// report a handful.
pub const MAX_PAIRS: usize = 32;

/// A query string's parameters (the first [`MAX_PAIRS`], and whether there
/// were more). Percent-decoding errors and invalid UTF-8 become U+FFFD
/// instead of failing the request.
pub struct Query<'a> {
    pairs: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    truncated: bool,
}

impl<'a> Query<'a> {
    pub fn parse(query: &'a str) -> Query<'a> {
        let mut pairs: Vec<_> = form_urlencoded::parse(query.as_bytes())
            .take(MAX_PAIRS + 1)
            .collect();
        let truncated = pairs.len() > MAX_PAIRS;
        pairs.truncate(MAX_PAIRS);
        Query { pairs, truncated }
    }

    /// Whether the query string had more than [`MAX_PAIRS`] parameters (the
    /// rest are not read): a pixel ignores them, the stats API refuses them.
    pub fn truncated(&self) -> bool {
        self.truncated
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value)
    }

    /// Every `(name, value)`, in order, repeated names included.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs
            .iter()
            .map(|(key, value)| (key.as_ref(), value.as_ref()))
    }
}

/// The beacon's JSON body. Unknown fields are ignored so newer trackers keep
/// working against older collectors.
#[derive(Debug, Deserialize)]
pub struct EventBody {
    pub site: String,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default, rename = "ref")]
    pub referrer: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub w: Option<f64>,
}

impl EventBody {
    pub fn parse(body: &[u8]) -> Result<EventBody, serde_json::Error> {
        serde_json::from_slice(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parsing_is_forgiving() {
        let query =
            Query::parse("site=a.com&url=https%3A%2F%2Fa.com%2Fx&site=b.com&bad=%E0%A4%A&x");
        assert_eq!(query.get("site"), Some("a.com"));
        assert_eq!(query.get("url"), Some("https://a.com/x"));
        assert_eq!(query.get("bad"), Some("\u{fffd}%A"));
        assert_eq!(query.get("x"), Some(""));
        assert_eq!(query.get("missing"), None);
        assert_eq!(
            query.pairs().filter(|(key, _)| *key == "site").count(),
            2,
            "repeats are kept for the stats API to refuse"
        );
        assert!(!query.truncated());
    }

    #[test]
    fn parameters_past_the_limit_are_not_read_and_say_so() {
        let pairs = |n: usize| {
            (0..n)
                .map(|i| format!("p{i}={i}"))
                .collect::<Vec<_>>()
                .join("&")
        };
        let full = pairs(MAX_PAIRS);
        let query = Query::parse(&full);
        assert_eq!(
            (query.pairs().count(), query.truncated()),
            (MAX_PAIRS, false)
        );
        let over = pairs(MAX_PAIRS + 1);
        let query = Query::parse(&over);
        assert_eq!(
            (query.pairs().count(), query.truncated()),
            (MAX_PAIRS, true)
        );
        assert_eq!(query.get("p31"), Some("31"));
        assert_eq!(query.get("p32"), None);
    }

    #[test]
    fn event_bodies() {
        let event = EventBody::parse(
            br#"{"site":"a.com","url":"https://a.com/","ref":null,"name":"x","w":390,"new":1}"#,
        )
        .unwrap();
        assert_eq!(event.site, "a.com");
        assert_eq!(event.name.as_deref(), Some("x"));
        assert_eq!(event.w, Some(390.0));
        assert!(event.referrer.is_none());
        for bad in [&b"{}"[..], b"[]", b"null", b"{\"site\":1}", b"\xff"] {
            assert!(EventBody::parse(bad).is_err(), "{bad:?}");
        }
    }
}
