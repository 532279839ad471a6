//! What a report asks for: one [`ReportRequest`], parsed by
//! [`ReportRequest::from_pairs`] from the key/value pairs that the API's query
//! string and the CLI's flags both become, and the words it is made of
//! (report kinds, dimensions, filters, intervals, dates, time zones).
//!
//! Owns: every rule about what a valid request is, as pure functions; which
//! parameters each kind takes is read from [`super::parameters`].
//! Must never: let a name from a request reach SQL; dimensions map to fixed
//! column names here, and values are bound as parameters by `report::sql`.

use schemars::JsonSchema;
use serde::Serialize;

use super::output::Format;
use super::parameters::{self, Parameter};
use crate::clock;

/// Longest range one report may cover, in days.
pub const MAX_DAYS: u32 = 732;
/// Most rows a breakdown may list before `(other)`.
pub const MAX_LIMIT: usize = 1000;
/// Longest hourly series, in days: 744 buckets at most, against 17.5k for
/// the longest period (what a chart can show, and what filling the buckets
/// costs).
pub const MAX_HOURLY_DAYS: u16 = 31;
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

fn invalid(key: &'static str, value: &str, problem: impl Into<String>) -> RequestError {
    RequestError::Invalid {
        key,
        value: shortened(value),
        problem: problem.into(),
    }
}

/// Request text as an error message repeats it: at most 100 characters.
fn shortened(text: &str) -> String {
    text.chars().take(100).collect()
}

/// A closed set of words that requests pick from and answers use. `ALL` is
/// the order that error messages, `--help` and the OpenAPI document list them
/// in; `as_str` is how requests, JSON (serde's names, which the OpenAPI tests
/// hold equal) and tables spell them.
pub trait Choice: Copy + 'static {
    const ALL: &'static [Self];

    /// The word, as requests and answers spell it.
    fn as_str(self) -> &'static str;

    /// Every word, in `ALL` order.
    fn names() -> Vec<&'static str> {
        Self::ALL.iter().map(|choice| choice.as_str()).collect()
    }

    /// The choice `text` names; the error, under `key`, lists the words.
    fn parse(key: &'static str, text: &str) -> Result<Self, RequestError> {
        Self::ALL
            .iter()
            .copied()
            .find(|choice| choice.as_str() == text)
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
    Email,
    Campaigns,
}

impl Choice for ReportKind {
    const ALL: &'static [ReportKind] = &[
        ReportKind::Summary,
        ReportKind::Timeseries,
        ReportKind::Breakdown,
        ReportKind::Email,
        ReportKind::Campaigns,
    ];

    fn as_str(self) -> &'static str {
        match self {
            ReportKind::Summary => "summary",
            ReportKind::Timeseries => "timeseries",
            ReportKind::Breakdown => "breakdown",
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
            ReportKind::Email => {
                "Opens of one email campaign: total, unique, proxied and direct, by day, by mail client, by country."
            }
            ReportKind::Campaigns => {
                "The email campaigns opened in the period that the caller may read, with their opens and unique opens."
            }
        }
    }
}

/// One report, as the API and the CLI ask for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRequest {
    pub details: Details,
    pub period: Period,
    pub format: Format,
}

/// What each kind of report asks for besides its period and format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Details {
    Summary {
        site: String,
        filters: Vec<Filter>,
    },
    Timeseries {
        site: String,
        interval: Interval,
        filters: Vec<Filter>,
    },
    Breakdown {
        site: String,
        dimension: Dimension,
        filters: Vec<Filter>,
        limit: usize,
    },
    Email {
        campaign: String,
        limit: usize,
    },
    Campaigns,
}

/// Most filters one report may combine. Each filter narrows a figure towards
/// one person; three cover what staff ask (e.g. source, page, country).
pub const MAX_FILTERS: usize = 3;
/// Longest filtered hourly series, in days: hour by hour, a narrow filter
/// traces when one small group came, so a filtered hourly series covers a
/// week at most (a daily one covers the usual range).
pub const MAX_FILTERED_HOURLY_DAYS: u16 = 7;

/// Refuses the requests that cost nothing to refuse and mostly serve
/// differencing: too many filters, the same filter twice, long filtered
/// hourly series.
fn refuse_differencing(
    filters: &[Filter],
    interval: Option<Interval>,
    period: &Period,
) -> Result<(), RequestError> {
    let refuse = |value: String, problem: String| RequestError::Invalid {
        key: "filter",
        value,
        problem,
    };
    if filters.len() > MAX_FILTERS {
        return Err(refuse(
            format!("{} filters", filters.len()),
            format!("combine at most {MAX_FILTERS} filters in one report"),
        ));
    }
    for (i, filter) in filters.iter().enumerate() {
        if filters[..i].contains(filter) {
            return Err(refuse(
                filter.value.clone(),
                "the same filter is given twice; give it once".into(),
            ));
        }
    }
    if !filters.is_empty()
        && interval == Some(Interval::Hour)
        && period.days() > MAX_FILTERED_HOURLY_DAYS
    {
        return Err(refuse(
            format!("{} days by hour", period.days()),
            format!(
                "a filtered hourly series covers at most {MAX_FILTERED_HOURLY_DAYS} days; use interval=day, or a shorter period"
            ),
        ));
    }
    Ok(())
}

/// Whose figures a report shows: what the caller checks access against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject<'a> {
    Site(&'a str),
    Campaign(&'a str),
    /// Every campaign: the answer lists only those the caller may read.
    Campaigns,
}

impl ReportRequest {
    /// Parses a request of `kind` from `(name, value)` pairs, in order.
    /// Refuses a parameter the kind does not take and a repeated one (only
    /// `filter` may repeat), names the first missing one, and fills in the
    /// defaults of [`parameters::ALL`]; `format` defaults to
    /// `default_format`, which is the caller's to choose.
    pub fn from_pairs<'a>(
        kind: ReportKind,
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
        default_format: Format,
    ) -> Result<ReportRequest, RequestError> {
        use parameters::{BY, CAMPAIGN, FILTER, FORMAT, FROM, INTERVAL, LIMIT, SITE, TO, TZ};
        let given = Given::collect(kind, pairs)?;
        let period = Period::new(
            Day::parse(FROM.name, given.value(&FROM)?)?,
            Day::parse(TO.name, given.value(&TO)?)?,
            given.value(&TZ)?,
        )?;
        let filters = |interval: Option<Interval>| -> Result<Vec<Filter>, RequestError> {
            let filters: Vec<Filter> = given
                .values(&FILTER)
                .map(Filter::parse)
                .collect::<Result<_, _>>()?;
            refuse_differencing(&filters, interval, &period)?;
            Ok(filters)
        };
        let limit = || parse_limit(given.value(&LIMIT)?);
        let details = match kind {
            ReportKind::Summary => Details::Summary {
                site: given.value(&SITE)?.to_string(),
                filters: filters(None)?,
            },
            ReportKind::Timeseries => {
                let interval = Interval::parse(INTERVAL.name, given.value(&INTERVAL)?)?;
                if interval == Interval::Hour && period.days() > MAX_HOURLY_DAYS {
                    return Err(invalid(
                        INTERVAL.name,
                        interval.as_str(),
                        format!(
                            "an hourly series covers at most {MAX_HOURLY_DAYS} days, and {} to {} is {} days; use interval=day, or a shorter period",
                            period.from,
                            period.to,
                            period.days()
                        ),
                    ));
                }
                Details::Timeseries {
                    site: given.value(&SITE)?.to_string(),
                    interval,
                    filters: filters(Some(interval))?,
                }
            }
            ReportKind::Breakdown => Details::Breakdown {
                site: given.value(&SITE)?.to_string(),
                dimension: Dimension::parse(BY.name, given.value(&BY)?)?,
                filters: filters(None)?,
                limit: limit()?,
            },
            ReportKind::Email => Details::Email {
                campaign: given.value(&CAMPAIGN)?.to_string(),
                limit: limit()?,
            },
            ReportKind::Campaigns => Details::Campaigns,
        };
        let format = match given.values(&FORMAT).next() {
            Some(text) => Format::parse(FORMAT.name, text)?,
            None => default_format,
        };
        Ok(ReportRequest {
            details,
            period,
            format,
        })
    }

    pub fn subject(&self) -> Subject<'_> {
        match &self.details {
            Details::Summary { site, .. }
            | Details::Timeseries { site, .. }
            | Details::Breakdown { site, .. } => Subject::Site(site),
            Details::Email { campaign, .. } => Subject::Campaign(campaign),
            Details::Campaigns => Subject::Campaigns,
        }
    }
}

/// The pairs of a request, with `tz` set to the site's own time zone when a
/// request names a site and no `tz`: a site's reports are in its time zone
/// unless asked otherwise, on every surface.
pub fn with_site_time_zone<'a>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    time_zone_of: impl Fn(&str) -> Option<&'a str>,
) -> Vec<(&'a str, &'a str)> {
    let mut pairs: Vec<_> = pairs.into_iter().collect();
    let names = |name: &str| pairs.iter().any(|(n, _)| *n == name);
    if !names(parameters::TZ.name) {
        let site = pairs.iter().find(|(n, _)| *n == parameters::SITE.name);
        if let Some(zone) = site.and_then(|(_, site)| time_zone_of(site)) {
            pairs.push((parameters::TZ.name, zone));
        }
    }
    pairs
}

/// The pairs of one request, each checked against the parameter table.
struct Given<'a> {
    pairs: Vec<(&'static str, &'a str)>,
}

impl<'a> Given<'a> {
    fn collect(
        kind: ReportKind,
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Given<'a>, RequestError> {
        let mut given = Given { pairs: Vec::new() };
        for (name, value) in pairs {
            let parameter = parameters::taken_by(kind)
                .find(|p| p.name == name)
                .ok_or_else(|| RequestError::Unknown {
                    name: shortened(name),
                    kind: kind.as_str(),
                    takes: parameters::taken_by(kind)
                        .map(|p| p.name)
                        .collect::<Vec<_>>()
                        .join(", "),
                })?;
            if !parameter.repeatable && given.values(parameter).next().is_some() {
                return Err(RequestError::Repeated(parameter.name));
            }
            given.pairs.push((parameter.name, value));
        }
        match parameters::taken_by(kind).find(|p| p.required && given.values(p).next().is_none()) {
            Some(missing) => Err(missing.missing()),
            None => Ok(given),
        }
    }

    /// Every value given for `parameter`, in order.
    fn values<'g>(&'g self, parameter: &'g Parameter) -> impl Iterator<Item = &'a str> + 'g {
        self.pairs
            .iter()
            .filter(move |(name, _)| *name == parameter.name)
            .map(|(_, value)| *value)
    }

    /// The value given for `parameter`, or its default.
    fn value(&self, parameter: &Parameter) -> Result<&'a str, RequestError> {
        self.values(parameter)
            .next()
            .or(parameter.default)
            .ok_or_else(|| parameter.missing())
    }
}

/// What a breakdown groups by, and what a filter tests. `entry_page` is the
/// first page of each visit (a breakdown only, never a filter); `name` is the
/// name of custom events (page views excluded).
// No doc comments on variants: JSON Schema would turn each into a `oneOf`
// branch instead of one `enum` in `ALL` order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
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
}

impl Choice for Dimension {
    const ALL: &'static [Dimension] = &[
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
    ];

    /// The name used in requests, in the `dimension` column of `daily_stats`,
    /// and (except `entry_page`) as the column of `events`.
    fn as_str(self) -> &'static str {
        match self {
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
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FilterOp {
    Equals,
    NotEquals,
    Contains,
}

impl FilterOp {
    const ALL: [FilterOp; 3] = [FilterOp::Equals, FilterOp::NotEquals, FilterOp::Contains];

    /// How a filter writes the operator.
    fn token(self) -> &'static str {
        match self {
            FilterOp::Equals => "==",
            FilterOp::NotEquals => "!=",
            FilterOp::Contains => "~",
        }
    }
}

/// `country==US`, `path!=/`, `referrer_host~google`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Filter {
    pub dimension: Dimension,
    pub op: FilterOp,
    pub value: String,
}

impl Filter {
    pub const SYNTAX: &'static str = "dimension==value, dimension!=value or dimension~text";

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
            self.dimension.as_str(),
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

impl Choice for Interval {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_site_report_defaults_to_the_site_time_zone_and_an_explicit_tz_wins() {
        let zones = |site: &str| (site == "optimumabq.com").then_some("America/Denver");
        let site = [("site", "optimumabq.com"), ("from", "2026-11-01")];
        assert_eq!(
            with_site_time_zone(site, zones),
            vec![
                ("site", "optimumabq.com"),
                ("from", "2026-11-01"),
                ("tz", "America/Denver")
            ]
        );
        let explicit = [("tz", "UTC"), ("site", "optimumabq.com")];
        assert_eq!(with_site_time_zone(explicit, zones), explicit.to_vec());
        for unknown in [
            &[("site", "elsewhere.example")][..],
            &[("campaign", "nov-newsletter")][..],
        ] {
            assert_eq!(
                with_site_time_zone(unknown.to_vec(), zones),
                unknown.to_vec()
            );
        }
    }

    #[test]
    fn the_parameters_state_the_limits() {
        let description = parameters::FILTER.description;
        for limit in [
            format!("at most {MAX_FILTERS}"),
            format!("at most {MAX_FILTERED_HOURLY_DAYS} days"),
            format!("at most {MAX_FILTER_CHARS} characters"),
        ] {
            assert!(description.contains(&limit), "{description}");
        }
        let description = parameters::INTERVAL.description;
        assert!(
            description.contains(&format!("at most {MAX_HOURLY_DAYS} days")),
            "{description}"
        );
    }

    #[test]
    fn long_hourly_series_and_long_filter_values_are_refused_with_the_limit() {
        let series = |to: &str, interval: &str| {
            let pairs = [
                ("site", "a"),
                ("from", "2026-11-01"),
                ("to", to),
                ("interval", interval),
            ];
            request(ReportKind::Timeseries, &pairs)
        };
        assert!(series("2026-12-01", "hour").is_ok(), "31 days");
        let error = series("2026-12-02", "hour").unwrap_err().to_string();
        assert_eq!(
            error,
            "`interval` is \"hour\": an hourly series covers at most 31 days, and 2026-11-01 to 2026-12-02 is 32 days; use interval=day, or a shorter period"
        );
        assert!(series("2028-10-31", "day").is_ok());
        let longest = format!("path~{}", "é".repeat(MAX_FILTER_CHARS));
        assert!(Filter::parse(&longest).is_ok(), "characters, not bytes");
        let error = Filter::parse(&format!("{longest}x"))
            .unwrap_err()
            .to_string();
        assert!(
            error.ends_with(": a filter value is at most 200 characters"),
            "{error}"
        );
    }

    #[test]
    fn cheap_differencing_is_refused() {
        let period = |days: i32| {
            let from = Day::parse("from", "2026-11-01").unwrap();
            Period::new(from, from.plus(days - 1).unwrap(), "UTC").unwrap()
        };
        let filters = |texts: &[&str]| -> Vec<Filter> {
            texts.iter().map(|t| Filter::parse(t).unwrap()).collect()
        };
        let one = filters(&["path==/a"]);
        assert!(refuse_differencing(&one, Some(Interval::Hour), &period(7)).is_ok());
        assert!(refuse_differencing(&one, Some(Interval::Hour), &period(8)).is_err());
        assert!(refuse_differencing(&one, Some(Interval::Day), &period(700)).is_ok());
        assert!(refuse_differencing(&[], Some(Interval::Hour), &period(60)).is_ok());
        let four = filters(&["path==/a", "country==US", "browser==Firefox", "os==Linux"]);
        assert!(refuse_differencing(&four, None, &period(1)).is_err());
        let twice = filters(&["path==/a", "path==/a"]);
        assert!(refuse_differencing(&twice, None, &period(1)).is_err());
        let both_ways = filters(&["path==/a", "path!=/a"]);
        assert!(refuse_differencing(&both_ways, None, &period(1)).is_ok());
    }

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

    fn request(kind: ReportKind, pairs: &[(&str, &str)]) -> Result<ReportRequest, RequestError> {
        ReportRequest::from_pairs(kind, pairs.iter().copied(), Format::Json)
    }

    const PERIOD: [(&str, &str); 2] = [("from", "2026-11-01"), ("to", "2026-11-30")];

    #[test]
    fn requests_parse_from_pairs_with_defaults() {
        let pairs = [("site", "optimumabq.com"), PERIOD[0], PERIOD[1]];
        let summary = request(ReportKind::Summary, &pairs).unwrap();
        assert_eq!(summary.subject(), Subject::Site("optimumabq.com"));
        assert_eq!(summary.period.time_zone, "UTC");
        assert_eq!(summary.period.days(), 30);
        assert_eq!(summary.format, Format::Json);
        let breakdown = request(
            ReportKind::Breakdown,
            &[
                ("filter", "path~blog"),
                ("by", "path"),
                ("site", "optimumabq.com"),
                PERIOD[0],
                PERIOD[1],
                ("filter", "country==US"),
                ("format", "table"),
                ("tz", "America/Denver"),
            ],
        )
        .unwrap();
        assert_eq!(
            breakdown.details,
            Details::Breakdown {
                site: "optimumabq.com".into(),
                dimension: Dimension::Path,
                filters: vec![
                    Filter::parse("path~blog").unwrap(),
                    Filter::parse("country==US").unwrap()
                ],
                limit: 10,
            }
        );
        assert_eq!(breakdown.format, Format::Table);
        assert_eq!(breakdown.period.time_zone, "America/Denver");
        let timeseries = request(ReportKind::Timeseries, &pairs).unwrap();
        assert!(matches!(
            timeseries.details,
            Details::Timeseries {
                interval: Interval::Day,
                ..
            }
        ));
        let email = ReportRequest::from_pairs(
            ReportKind::Email,
            [("campaign", "nov-newsletter"), PERIOD[0], PERIOD[1]],
            Format::Csv,
        )
        .unwrap();
        assert_eq!(email.subject(), Subject::Campaign("nov-newsletter"));
        assert_eq!(email.format, Format::Csv);
    }

    #[test]
    fn unknown_repeated_missing_and_bad_parameters_are_refused_by_name() {
        let error = request(
            ReportKind::Summary,
            &[("site", "a"), PERIOD[0], PERIOD[1], ("by", "path")],
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown parameter `by`; the summary report takes site, from, to, tz, filter, format; remove it or check its spelling"
        );
        assert_eq!(
            request(
                ReportKind::Summary,
                &[("site", "a"), ("site", "b"), PERIOD[0], PERIOD[1]]
            ),
            Err(RequestError::Repeated("site"))
        );
        assert_eq!(
            request(ReportKind::Email, &[PERIOD[0], PERIOD[1]])
                .unwrap_err()
                .to_string(),
            "`campaign` is missing; add it (e.g. campaign=nov-newsletter)"
        );
        let error = request(
            ReportKind::Summary,
            &[("site", "a"), PERIOD[0], PERIOD[1], ("format", "xml")],
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("use one of json, csv, table"),
            "{error}"
        );
    }

    #[test]
    fn dimensions_intervals_and_limits() {
        for &d in Dimension::ALL {
            assert_eq!(Dimension::parse("by", d.as_str()).unwrap(), d);
        }
        let error = Dimension::parse("by", "visitor_id")
            .unwrap_err()
            .to_string();
        assert!(error.contains("use one of path, entry_page"), "{error}");
        assert_eq!(Interval::parse("interval", "week").unwrap(), Interval::Week);
        assert!(Interval::parse("interval", "minute").is_err());
        assert_eq!(parse_limit("10").unwrap(), 10);
        assert!(parse_limit("0").is_err() && parse_limit("1001").is_err());
    }
}
