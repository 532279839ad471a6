//! The words report requests and answers are made of: report kinds,
//! dimensions, filters, intervals, days and periods, output formats, and the
//! errors a request is refused with. The bottom of the report wing: it
//! imports nothing of it.
//!
//! Owns: each word's spelling and parsing, as pure functions, and the limits
//! that belong to one word (the longest period, filter value and row count).
//! Must never: let a name from a request reach SQL; dimensions are a closed
//! set that `report::sql` maps to fixed column names, and values are bound as
//! parameters there.

use std::borrow::Cow;

use arrayvec::ArrayString;
use schemars::JsonSchema;
use serde::Serialize;

use crate::clock;
use crate::enrich::props::{MAX_KEY_CHARS, is_valid_key};

/// Longest range one report may cover, in days.
pub const MAX_DAYS: u32 = 732;
/// Most rows a breakdown may list before `(other)`.
pub const MAX_LIMIT: usize = 1000;
/// Longest filter value, in characters: a path, a referrer host or a
/// campaign fits; a `~` filter tests every row of the period with it.
pub const MAX_FILTER_CHARS: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("`{name}` is missing; add it (e.g. {name}={example})")]
    Missing {
        name: &'static str,
        example: &'static str,
    },
    #[error(
        "unknown parameter `{name}`; the {kind} report takes {takes}; remove it or check its spelling"
    )]
    Unknown {
        name: String,
        kind: &'static str,
        takes: String,
    },
    #[error("`{0}` is given more than once; give it once")]
    Repeated(&'static str),
    #[error("`{key}` is {value:?}: {problem}")]
    Invalid {
        key: &'static str,
        value: String,
        problem: String,
    },
}

pub(super) fn invalid(key: &'static str, value: &str, problem: impl Into<String>) -> RequestError {
    RequestError::Invalid {
        key,
        value: shortened(value),
        problem: problem.into(),
    }
}

/// Request text as an error message repeats it: at most 100 characters.
pub(super) fn shortened(text: &str) -> String {
    text.chars().take(100).collect()
}

/// A closed set of words that requests pick from and answers use. `ALL` is
/// the order that error messages, `--help` and the OpenAPI document list them
/// in; `as_str` is how requests, JSON (serde's names, which the OpenAPI tests
/// hold equal) and tables spell them.
pub trait Vocabulary: Copy + 'static {
    const ALL: &'static [Self];

    /// The word, as requests and answers spell it.
    fn as_str(self) -> &'static str;

    /// Every word, in `ALL` order.
    fn names() -> Vec<&'static str> {
        Self::ALL.iter().map(|word| word.as_str()).collect()
    }

    /// The word `text` names; the error, under `key`, lists the words.
    fn parse(key: &'static str, text: &str) -> Result<Self, RequestError> {
        Self::ALL
            .iter()
            .copied()
            .find(|word| word.as_str() == text)
            .ok_or_else(|| {
                invalid(
                    key,
                    text,
                    format!("use one of {}", Self::names().join(", ")),
                )
            })
    }
}

/// The reports there are. Each is the API route `/api/v1/stats/<kind>` and
/// the command `beaconhouse report <kind>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportKind {
    Summary,
    Timeseries,
    Breakdown,
    Goals,
    Funnel,
    Filtered,
    Email,
    Campaigns,
}

impl Vocabulary for ReportKind {
    const ALL: &'static [ReportKind] = &[
        ReportKind::Summary,
        ReportKind::Timeseries,
        ReportKind::Breakdown,
        ReportKind::Goals,
        ReportKind::Funnel,
        ReportKind::Filtered,
        ReportKind::Email,
        ReportKind::Campaigns,
    ];

    fn as_str(self) -> &'static str {
        match self {
            ReportKind::Summary => "summary",
            ReportKind::Timeseries => "timeseries",
            ReportKind::Breakdown => "breakdown",
            ReportKind::Goals => "goals",
            ReportKind::Funnel => "funnel",
            ReportKind::Filtered => "filtered",
            ReportKind::Email => "email",
            ReportKind::Campaigns => "campaigns",
        }
    }
}

impl ReportKind {
    /// What the report gives, for `--help` and the OpenAPI document.
    pub fn description(self) -> &'static str {
        match self {
            ReportKind::Summary => {
                "Visitors, page views, visits, views per visit and bounce rate, with the previous period of the same length and the change."
            }
            ReportKind::Timeseries => {
                "Visitors and page views per hour, day, week (from Monday) or month, every bucket listed."
            }
            ReportKind::Breakdown => "Top groups of one dimension, with counts and share.",
            ReportKind::Goals => {
                "Each goal of the site: converting visitors, conversions and conversion rate (converting visitors over visitors), with the previous period of the same length and the change; conversion is within a UTC day, as visitor ids change daily."
            }
            ReportKind::Funnel => {
                "One funnel of the site: the visitors who reached each step in order within a UTC day, and the drop-off between steps."
            }
            ReportKind::Filtered => {
                "Hits the collector answered but did not count, by reason (bots by kind, referrer spam, data-centre networks, pages not of the site, unverifiable, malformed, rate-limited); Do-Not-Track and Global Privacy Control requests are counted nowhere."
            }
            ReportKind::Email => {
                "Opens of one email campaign: total, unique, proxied and direct, by day, by mail client, by country."
            }
            ReportKind::Campaigns => {
                "Every email campaign the caller may read, whatever the period, with its opens and unique opens in the period (withheld where small)."
            }
        }
    }
}

/// An event property's key, as `[[sites]] props` lists them: at most
/// [`MAX_KEY_CHARS`] ASCII characters ([`is_valid_key`]), held inline so a
/// [`Dimension`] stays a plain value.
pub type PropKey = ArrayString<MAX_KEY_CHARS>;

/// What a breakdown groups by, and what a filter tests. `entry_page` is the
/// first page of each visit (a breakdown only, never a filter); `name` is the
/// name of custom events (page views excluded); `goal` (a filter only) keeps
/// the visitors who reached a goal of the site that day, named by its
/// display name; `prop:<key>` is an event property's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    Path,
    EntryPage,
    ReferrerHost,
    UtmSource,
    UtmMedium,
    UtmCampaign,
    Country,
    Region,
    City,
    Browser,
    Os,
    Device,
    Name,
    Goal,
    Prop(PropKey),
}

impl Dimension {
    /// Every dimension but properties, in the order error messages,
    /// `--help` and the OpenAPI document list them.
    pub const ALL: &'static [Dimension] = &[
        Dimension::Path,
        Dimension::EntryPage,
        Dimension::ReferrerHost,
        Dimension::UtmSource,
        Dimension::UtmMedium,
        Dimension::UtmCampaign,
        Dimension::Country,
        Dimension::Region,
        Dimension::City,
        Dimension::Browser,
        Dimension::Os,
        Dimension::Device,
        Dimension::Name,
        Dimension::Goal,
    ];

    /// How `prop:<key>` begins.
    pub const PROP_PREFIX: &'static str = "prop:";

    /// The word of a dimension that is not a property: the name used in
    /// requests, in the `dimension` column of `daily_stats`, and (except
    /// `entry_page` and `goal`) as the column of `events`.
    pub fn word(self) -> Option<&'static str> {
        Some(match self {
            Dimension::Path => "path",
            Dimension::EntryPage => "entry_page",
            Dimension::ReferrerHost => "referrer_host",
            Dimension::UtmSource => "utm_source",
            Dimension::UtmMedium => "utm_medium",
            Dimension::UtmCampaign => "utm_campaign",
            Dimension::Country => "country",
            Dimension::Region => "region",
            Dimension::City => "city",
            Dimension::Browser => "browser",
            Dimension::Os => "os",
            Dimension::Device => "device",
            Dimension::Name => "name",
            Dimension::Goal => "goal",
            Dimension::Prop(_) => return None,
        })
    }

    /// The dimension as requests and answers spell it: its word, or
    /// `prop:<key>`.
    pub fn name(self) -> Cow<'static, str> {
        match (self, self.word()) {
            (_, Some(word)) => Cow::Borrowed(word),
            (Dimension::Prop(key), None) => Cow::Owned(format!("{}{key}", Dimension::PROP_PREFIX)),
            _ => Cow::Borrowed(""),
        }
    }

    /// Every word, then the form of a property: what error messages and
    /// `--help` list.
    pub fn names() -> Vec<&'static str> {
        Dimension::ALL
            .iter()
            .filter_map(|d| d.word())
            .chain(["prop:<key>"])
            .collect()
    }

    /// The JSON Schema pattern of `prop:<key>`.
    pub fn prop_pattern() -> String {
        format!(
            "^{}[A-Za-z0-9_.-]{{1,{MAX_KEY_CHARS}}}$",
            Dimension::PROP_PREFIX
        )
    }

    /// The words a breakdown may group by (all but `goal`, a filter only),
    /// then the form of a property.
    pub fn breakdown_names() -> Vec<&'static str> {
        Dimension::names()
            .into_iter()
            .filter(|name| *name != "goal")
            .collect()
    }

    /// The dimension `text` names; the error, under `key`, lists them.
    pub fn parse(key: &'static str, text: &str) -> Result<Dimension, RequestError> {
        if let Some(prop) = text.strip_prefix(Dimension::PROP_PREFIX) {
            return PropKey::from(prop)
                .ok()
                .filter(|prop| is_valid_key(prop))
                .map(Dimension::Prop)
                .ok_or_else(|| {
                    invalid(
                        key,
                        text,
                        format!(
                            "a property key is 1 to {MAX_KEY_CHARS} letters, digits, `_`, `-` or `.`, as `[[sites]] props` lists it, e.g. prop:plan"
                        ),
                    )
                });
        }
        Dimension::ALL
            .iter()
            .copied()
            .find(|d| d.word() == Some(text))
            .ok_or_else(|| {
                invalid(
                    key,
                    text,
                    format!("use one of {}", Dimension::names().join(", ")),
                )
            })
    }
}

/// As requests spell it: a word, or `prop:<key>`.
impl Serialize for Dimension {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.name())
    }
}

/// One of the words, or `prop:` and a key.
impl JsonSchema for Dimension {
    fn schema_name() -> Cow<'static, str> {
        "Dimension".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let words: Vec<&str> = Dimension::ALL.iter().filter_map(|d| d.word()).collect();
        schemars::json_schema!({
            "anyOf": [
                { "type": "string", "enum": words },
                {
                    "type": "string",
                    "pattern": Dimension::prop_pattern(),
                    "description": "An event property's value, by its key (`[[sites]] props`)."
                }
            ]
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FilterOp {
    Equals,
    NotEquals,
    Contains,
    Matches,
}

impl FilterOp {
    const ALL: [FilterOp; 4] = [
        FilterOp::Equals,
        FilterOp::NotEquals,
        FilterOp::Contains,
        FilterOp::Matches,
    ];

    /// How a filter writes the operator.
    pub fn token(self) -> &'static str {
        match self {
            FilterOp::Equals => "==",
            FilterOp::NotEquals => "!=",
            FilterOp::Contains => "~",
            FilterOp::Matches => "=~",
        }
    }
}

/// A wildcard pattern (`/blog/*`: `*` stands for any run of characters,
/// `/` included; everything else is itself) as a `LIKE` pattern.
pub fn like_pattern(wildcards: &str) -> String {
    let mut like = String::with_capacity(wildcards.len() + 4);
    for c in wildcards.chars() {
        match c {
            '*' => like.push('%'),
            '%' | '_' | '\\' => {
                like.push('\\');
                like.push(c);
            }
            c => like.push(c),
        }
    }
    like
}

/// `country==US`, `path!=/`, `referrer_host~google`, `path=~/blog/*`,
/// `prop:plan==monthly`, `goal==Book a tour`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Filter {
    pub dimension: Dimension,
    pub op: FilterOp,
    pub value: String,
}

impl Filter {
    pub const SYNTAX: &'static str =
        "dimension==value, dimension!=value, dimension~text or dimension=~pattern (* for any text)";

    pub fn parse(text: &str) -> Result<Filter, RequestError> {
        // The first operator splits: values may contain `==`, `!=` or `~`.
        let (name, op, value) = text
            .char_indices()
            .find_map(|(i, _)| {
                let rest = &text[i..];
                FilterOp::ALL
                    .into_iter()
                    .find(|op| rest.starts_with(op.token()))
                    .map(|op| (&text[..i], op, &rest[op.token().len()..]))
            })
            .ok_or_else(|| invalid("filter", text, format!("write {}", Filter::SYNTAX)))?;
        let dimension = Dimension::parse("filter", name.trim())?;
        if dimension == Dimension::EntryPage {
            return Err(invalid(
                "filter",
                text,
                "entry_page is a breakdown only; filter on path instead",
            ));
        }
        if dimension == Dimension::Goal && op != FilterOp::Equals {
            return Err(invalid(
                "filter",
                text,
                "a goal filter keeps the visitors who reached a goal: write goal==<its name>",
            ));
        }
        if value.chars().count() > MAX_FILTER_CHARS {
            return Err(invalid(
                "filter",
                text,
                format!("a filter value is at most {MAX_FILTER_CHARS} characters"),
            ));
        }
        Ok(Filter {
            dimension,
            op,
            value: value.to_string(),
        })
    }
}

/// The text [`Filter::parse`] reads back: `country==US`.
impl std::fmt::Display for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}{}{}",
            self.dimension.name(),
            self.op.token(),
            self.value
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Interval {
    Hour,
    Day,
    Week,
    Month,
}

impl Vocabulary for Interval {
    const ALL: &'static [Interval] = &[
        Interval::Hour,
        Interval::Day,
        Interval::Week,
        Interval::Month,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Interval::Hour => "hour",
            Interval::Day => "day",
            Interval::Week => "week",
            Interval::Month => "month",
        }
    }
}

/// A calendar day, as days since 1970-01-01.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Day(pub u16);

impl Day {
    /// `YYYY-MM-DD`, from 1970 to 2105 (`DateTime` ends early in 2106).
    pub fn parse(key: &'static str, text: &str) -> Result<Day, RequestError> {
        let bad = || invalid(key, text, "write a date as YYYY-MM-DD, e.g. 2026-11-01");
        let mut parts = text.splitn(3, '-');
        let mut number = |len: usize| {
            parts
                .next()
                .filter(|p| p.len() == len && p.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|p| p.parse::<u32>().ok())
                .ok_or_else(bad)
        };
        let (year, month, day) = (number(4)?, number(2)?, number(2)?);
        if year > 2105 {
            return Err(bad());
        }
        clock::day_from_civil(year, month, day)
            .map(Day)
            .ok_or_else(bad)
    }

    pub fn plus(self, days: i32) -> Option<Day> {
        u16::try_from(i32::from(self.0) + days).ok().map(Day)
    }

    /// Midnight of this day, as `toDateTime` reads it in a time zone.
    pub fn midnight(self) -> String {
        format!("{} 00:00:00", self)
    }
}

impl std::fmt::Display for Day {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&clock::iso_date(self.0))
    }
}

/// The days a report covers, both included, in a time zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    pub from: Day,
    pub to: Day,
    /// An IANA name; ClickHouse checks that it exists.
    pub time_zone: String,
}

impl Period {
    pub fn new(from: Day, to: Day, time_zone: &str) -> Result<Period, RequestError> {
        if to < from {
            return Err(invalid("to", &to.to_string(), "must not be before `from`"));
        }
        if u32::from(to.0 - from.0) >= MAX_DAYS {
            return Err(invalid(
                "to",
                &to.to_string(),
                format!("a report covers at most {MAX_DAYS} days"),
            ));
        }
        let time_zone = time_zone.trim();
        let plausible = !time_zone.is_empty()
            && time_zone.len() <= 64
            && time_zone
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/_+-".contains(&b));
        if !plausible {
            return Err(invalid(
                "tz",
                time_zone,
                "use an IANA time zone name such as UTC or America/Denver",
            ));
        }
        Ok(Period {
            from,
            to,
            time_zone: time_zone.to_string(),
        })
    }

    pub fn days(&self) -> u16 {
        self.to.0 - self.from.0 + 1
    }

    /// The period of the same length that ends the day before this one.
    pub fn previous(&self) -> Option<Period> {
        let days = i32::from(self.days());
        Some(Period {
            from: self.from.plus(-days)?,
            to: self.from.plus(-1)?,
            time_zone: self.time_zone.clone(),
        })
    }
}

/// A breakdown's row count, 1 to [`MAX_LIMIT`].
pub fn parse_limit(text: &str) -> Result<usize, RequestError> {
    text.parse::<usize>()
        .ok()
        .filter(|n| (1..=MAX_LIMIT).contains(n))
        .ok_or_else(|| invalid("limit", text, format!("must be 1 to {MAX_LIMIT}")))
}

/// How an answer is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
    /// The aligned tables, with notes, that `beaconhouse report` prints.
    Table,
}

impl Vocabulary for Format {
    const ALL: &'static [Format] = &[Format::Json, Format::Csv, Format::Table];

    fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Table => "table",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> Day {
        Day::parse("from", text).unwrap()
    }

    #[test]
    fn dates_parse_print_and_refuse_nonsense() {
        assert_eq!(day("2026-11-25").to_string(), "2026-11-25");
        assert_eq!(day("2024-02-29").to_string(), "2024-02-29");
        assert_eq!(day("1970-01-01"), Day(0));
        for bad in [
            "2026-02-30",
            "2025-02-29",
            "2026-13-01",
            "2026-1-01",
            "26-11-01",
            "2026/11/01",
            "",
            "1969-12-31",
            "2106-01-01",
            "2026-11-01x",
        ] {
            assert!(Day::parse("from", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn periods_and_their_previous_period() {
        let p = Period::new(day("2026-11-01"), day("2026-11-30"), "America/Denver").unwrap();
        assert_eq!(p.days(), 30);
        let prev = p.previous().unwrap();
        assert_eq!(
            (prev.from.to_string(), prev.to.to_string()),
            ("2026-10-02".to_string(), "2026-10-31".to_string())
        );
        assert!(Period::new(day("2026-11-02"), day("2026-11-01"), "UTC").is_err());
        assert!(Period::new(day("2020-01-01"), day("2026-01-01"), "UTC").is_err());
        for tz in ["", "Europe/Paris'; DROP TABLE events", "a b"] {
            assert!(Period::new(day("2026-11-01"), day("2026-11-01"), tz).is_err());
        }
        assert!(Period::new(day("2026-11-01"), day("2026-11-01"), "Etc/GMT+7").is_ok());
    }

    #[test]
    fn filters_parse() {
        assert_eq!(
            Filter::parse("country==US").unwrap(),
            Filter {
                dimension: Dimension::Country,
                op: FilterOp::Equals,
                value: "US".into()
            }
        );
        let f = Filter::parse("path!=/a==b").unwrap();
        assert_eq!((f.op, f.value.as_str()), (FilterOp::NotEquals, "/a==b"));
        assert_eq!(f.to_string(), "path!=/a==b", "prints as it parses");
        let f = Filter::parse("path!=/pricing").unwrap();
        assert_eq!((f.op, f.value.as_str()), (FilterOp::NotEquals, "/pricing"));
        let f = Filter::parse("referrer_host~google").unwrap();
        assert_eq!((f.op, f.value.as_str()), (FilterOp::Contains, "google"));
        assert_eq!(Filter::parse("utm_source==").unwrap().value, "");
        assert!(Filter::parse("country").is_err());
        assert!(Filter::parse("ip==1.2.3.4").is_err());
        assert!(Filter::parse("entry_page==/").is_err());
    }

    #[test]
    fn dimensions_intervals_and_limits() {
        for &d in Dimension::ALL {
            assert_eq!(Dimension::parse("by", &d.name()).unwrap(), d);
        }
        let error = Dimension::parse("by", "visitor_id")
            .unwrap_err()
            .to_string();
        assert!(error.contains("use one of path, entry_page"), "{error}");
        let plan = Dimension::parse("by", "prop:plan").unwrap();
        assert_eq!(plan.name(), "prop:plan");
        assert_eq!(plan.word(), None);
        for bad in [
            "prop:",
            "prop:a b",
            "prop:é",
            &format!("prop:{}", "k".repeat(65)),
        ] {
            assert!(Dimension::parse("by", bad).is_err(), "{bad}");
        }
        let f = Filter::parse("prop:plan==monthly").unwrap();
        assert_eq!((f.dimension, f.value.as_str()), (plan, "monthly"));
        let f = Filter::parse("path=~/blog/*").unwrap();
        assert_eq!((f.op, f.value.as_str()), (FilterOp::Matches, "/blog/*"));
        assert_eq!(f.to_string(), "path=~/blog/*");
        assert!(Filter::parse("goal==Book a tour").is_ok());
        assert!(
            Filter::parse("goal!=Book a tour").is_err(),
            "a goal is reached or not"
        );
        assert_eq!(like_pattern("/blog/*_100%\\"), "/blog/%\\_100\\%\\\\");
        assert_eq!(Interval::parse("interval", "week").unwrap(), Interval::Week);
        assert!(Interval::parse("interval", "minute").is_err());
        assert_eq!(parse_limit("10").unwrap(), 10);
        assert!(parse_limit("0").is_err() && parse_limit("1001").is_err());
    }
}
