//! Request parameters as the endpoints read them: the pixels' and the stats
//! API's query strings and the beacon's JSON body. Pure parsing, no decisions.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;

/// Most parameters of a query string that are read; a pixel needs three, a
/// report a handful.
pub const MAX_PAIRS: usize = 32;

/// A query string's parameters: the first [`MAX_PAIRS`], and whether there
/// were more. Values are decoded only when asked for, so a pixel pays for
/// the three it reads and nothing for the rest (`form_urlencoded` decodes
/// and allocates every pair: 1.4 µs for a typical pixel query). Decoding
/// follows `application/x-www-form-urlencoded`, as `form_urlencoded` does:
/// `+` is a space, percent-decoding errors and invalid UTF-8 become U+FFFD
/// instead of failing the request.
pub struct Query<'a> {
    raw: &'a str,
}

impl<'a> Query<'a> {
    pub fn parse(query: &'a str) -> Query<'a> {
        Query { raw: query }
    }

    /// Every `name=value` piece, empty pieces skipped.
    fn pieces(&self) -> impl Iterator<Item = &'a str> + use<'a> {
        self.raw.split('&').filter(|piece| !piece.is_empty())
    }

    /// The raw `(name, value)` pieces that are read.
    fn raw_pairs(&self) -> impl Iterator<Item = (&'a str, &'a str)> + use<'a> {
        self.pieces()
            .take(MAX_PAIRS)
            .map(|piece| piece.split_once('=').unwrap_or((piece, "")))
    }

    /// Whether the query string had more than [`MAX_PAIRS`] parameters (the
    /// rest are not read): a pixel ignores them, the stats API refuses them.
    pub fn truncated(&self) -> bool {
        self.pieces().nth(MAX_PAIRS).is_some()
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<Cow<'a, str>> {
        let [value] = self.first_values([name]);
        value
    }

    /// The first value of each of `names`, in one pass: a pixel reads four,
    /// and reading them one at a time walked the query four times.
    pub fn first_values<const N: usize>(&self, names: [&str; N]) -> [Option<Cow<'a, str>>; N] {
        let mut values = [const { None }; N];
        let mut missing = N;
        for (key, value) in self.raw_pairs() {
            if missing == 0 {
                break;
            }
            let key = decode(key);
            let unread = names
                .iter()
                .zip(values.iter_mut())
                .find(|(name, slot)| slot.is_none() && **name == key);
            if let Some((_, slot)) = unread {
                *slot = Some(decode(value));
                missing -= 1;
            }
        }
        values
    }

    /// Every `(name, value)`, decoded, in order, repeated names included.
    pub fn pairs(&self) -> impl Iterator<Item = (Cow<'a, str>, Cow<'a, str>)> + use<'a> {
        self.raw_pairs()
            .map(|(key, value)| (decode(key), decode(value)))
    }
}

/// One form-urlencoded name or value; borrowed when there is nothing to decode.
fn decode(raw: &str) -> Cow<'_, str> {
    let bytes = raw.as_bytes();
    if !bytes.iter().any(|&b| b == b'%' || b == b'+') {
        return Cow::Borrowed(raw);
    }
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    while let Some((&first, tail)) = rest.split_first() {
        rest = tail;
        decoded.push(match first {
            b'+' => b' ',
            b'%' => match (rest.first().and_then(hex), rest.get(1).and_then(hex)) {
                (Some(high), Some(low)) => {
                    rest = &rest[2..];
                    high << 4 | low
                }
                _ => b'%',
            },
            other => other,
        });
    }
    match String::from_utf8(decoded) {
        Ok(text) => Cow::Owned(text),
        Err(error) => Cow::Owned(String::from_utf8_lossy(error.as_bytes()).into_owned()),
    }
}

fn hex(digit: &u8) -> Option<u8> {
    (*digit as char).to_digit(16).map(|value| value as u8)
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
    /// Properties: an object of keys to text (numbers and booleans are read
    /// as their text; anything else, and `props` that is not an object, is
    /// ignored rather than costing the hit).
    #[serde(default)]
    props: Option<Value>,
    /// 1 (or `true`) when the site routes by the URL's fragment.
    #[serde(default)]
    h: Option<Value>,
}

impl EventBody {
    pub fn parse(body: &[u8]) -> Result<EventBody, serde_json::Error> {
        serde_json::from_slice(body)
    }

    /// The properties sent, each value as text.
    pub fn props(&self) -> Vec<(&str, Cow<'_, str>)> {
        let Some(Value::Object(props)) = &self.props else {
            return Vec::new();
        };
        props
            .iter()
            .filter_map(|(key, value)| {
                let text = match value {
                    Value::String(text) => Cow::Borrowed(text.as_str()),
                    Value::Number(number) => Cow::Owned(number.to_string()),
                    Value::Bool(flag) => Cow::Owned(flag.to_string()),
                    _ => return None,
                };
                Some((key.as_str(), text))
            })
            .collect()
    }

    /// Whether the page routes by its URL's fragment.
    pub fn hash_route(&self) -> bool {
        matches!(&self.h, Some(Value::Bool(true)))
            || self.h.as_ref().and_then(Value::as_u64) == Some(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parsing_is_forgiving() {
        let query =
            Query::parse("site=a.com&url=https%3A%2F%2Fa.com%2Fx&site=b.com&bad=%E0%A4%A&x");
        assert_eq!(query.get("site").as_deref(), Some("a.com"));
        assert_eq!(query.get("url").as_deref(), Some("https://a.com/x"));
        assert_eq!(query.get("bad").as_deref(), Some("\u{fffd}%A"));
        assert_eq!(query.get("x").as_deref(), Some(""));
        assert_eq!(query.get("missing"), None);
        let [site, url, missing, x] = query.first_values(["site", "url", "missing", "x"]);
        assert_eq!(
            (site.as_deref(), url.as_deref(), missing, x.as_deref()),
            (Some("a.com"), Some("https://a.com/x"), None, Some(""))
        );
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
        assert_eq!(query.get("p31").as_deref(), Some("31"));
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
        assert!(event.props().is_empty() && !event.hash_route());
        let event = EventBody::parse(
            br#"{"site":"a.com","name":"book_tour","props":{"plan":"monthly","seats":3,"trial":true,"x":null,"y":{"z":1}},"h":1}"#,
        )
        .unwrap();
        let props: Vec<(&str, String)> = event
            .props()
            .into_iter()
            .map(|(k, v)| (k, v.into_owned()))
            .collect();
        let mut props = props;
        props.sort();
        assert_eq!(
            props,
            [
                ("plan", "monthly".to_string()),
                ("seats", "3".to_string()),
                ("trial", "true".to_string())
            ]
        );
        assert!(event.hash_route());
        for odd in [r#""props":"plan=x","h":"1""#, r#""props":[1],"h":2"#] {
            let body = format!(r#"{{"site":"a.com",{odd}}}"#);
            let event = EventBody::parse(body.as_bytes()).unwrap();
            assert!(event.props().is_empty() && !event.hash_route(), "{odd}");
        }
        for bad in [&b"{}"[..], b"[]", b"null", b"{\"site\":1}", b"\xff"] {
            assert!(EventBody::parse(bad).is_err(), "{bad:?}");
        }
    }
}
