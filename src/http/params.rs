//! Request parameters as the collection endpoints read them: the pixels'
//! query strings and the beacon's JSON body. Pure parsing, no decisions.

use std::borrow::Cow;

use serde::Deserialize;

/// A query string's parameters, first occurrence winning. Percent-decoding
/// errors and invalid UTF-8 become U+FFFD instead of failing the request.
pub struct Query<'a> {
    pairs: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

impl<'a> Query<'a> {
    pub fn parse(query: &'a str) -> Query<'a> {
        Query {
            pairs: form_urlencoded::parse(query.as_bytes()).take(32).collect(),
        }
    }

    pub fn get<'q>(&'q self, name: &'q str) -> Option<&'q str> {
        self.get_all(name).next()
    }

    /// Every value of a repeated parameter, in order.
    pub fn get_all<'q>(&'q self, name: &'q str) -> impl Iterator<Item = &'q str> + 'q {
        self.pairs
            .iter()
            .filter(move |(key, _)| key == name)
            .map(|(_, value)| value.as_ref())
    }

    /// The first parameter whose name is not in `known`.
    pub fn unknown(&self, known: &[&str]) -> Option<&str> {
        self.pairs
            .iter()
            .map(|(key, _)| key.as_ref())
            .find(|key| !known.contains(key))
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
