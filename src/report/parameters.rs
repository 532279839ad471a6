//! The parameters a report request may carry, as one table: each one's name,
//! the kinds that take it, whether it is required, what it means, an example,
//! its default and the words it may be.
//!
//! Owns: which parameters each report kind takes. The parser
//! ([`super::request::ReportRequest::from_pairs`]), the CLI's flags and the
//! OpenAPI document all read this table, so none of them lists a parameter
//! again.
//! Must never: parse or check a value; `request` does that.

use super::vocabulary::{
    Dimension, Format, Interval, MAX_LIMIT, ReportKind, RequestError, Vocabulary,
};

/// One parameter of a report request.
#[derive(Debug)]
pub struct Parameter {
    /// The query parameter, and the CLI flag `--<name>`.
    pub name: &'static str,
    /// The kinds of report that take it; any other refuses it.
    pub kinds: &'static [ReportKind],
    pub required: bool,
    /// Whether it may be given more than once (filters combine).
    pub repeatable: bool,
    pub values: Values,
    /// What the parser uses when the parameter is not given.
    pub default: Option<&'static str>,
    /// A value to show, and to suggest when a required one is missing.
    pub example: &'static str,
    pub description: &'static str,
}

/// What a parameter's value may be.
#[derive(Debug)]
pub enum Values {
    /// Free text: a site or campaign id, a time zone, a filter.
    Text,
    /// A day, `YYYY-MM-DD`.
    Date,
    /// One of the words of a [`Vocabulary`], listed by its `names`.
    OneOf(fn() -> Vec<&'static str>),
    /// One of these words, or `prop:<key>` (the last of the list).
    Dimension(fn() -> Vec<&'static str>),
    /// A whole number from `min` to `max`.
    Count { min: usize, max: usize },
}

impl Parameter {
    pub fn is_taken_by(&self, kind: ReportKind) -> bool {
        self.kinds.contains(&kind)
    }

    pub fn missing(&self) -> RequestError {
        RequestError::Missing {
            name: self.name,
            example: self.example,
        }
    }
}

const SITE_KINDS: &[ReportKind] = &[
    ReportKind::Summary,
    ReportKind::Timeseries,
    ReportKind::Breakdown,
    ReportKind::Goals,
    ReportKind::Funnel,
    ReportKind::Filtered,
];
const FILTERED_KINDS: &[ReportKind] = &[
    ReportKind::Summary,
    ReportKind::Timeseries,
    ReportKind::Breakdown,
    ReportKind::Goals,
];
const EVERY_KIND: &[ReportKind] = ReportKind::ALL;

pub const SITE: Parameter = Parameter {
    name: "site",
    kinds: SITE_KINDS,
    required: true,
    repeatable: false,
    values: Values::Text,
    default: None,
    example: "optimumabq.com",
    description: "A configured site id.",
};

pub const CAMPAIGN: Parameter = Parameter {
    name: "campaign",
    kinds: &[ReportKind::Email],
    required: true,
    repeatable: false,
    values: Values::Text,
    default: None,
    example: "nov-newsletter",
    description: "Campaign id, the `c` of `/o.gif`.",
};

pub const FROM: Parameter = Parameter {
    name: "from",
    kinds: EVERY_KIND,
    required: true,
    repeatable: false,
    values: Values::Date,
    default: None,
    example: "2026-11-01",
    description: "First day of the period, YYYY-MM-DD, in `tz`.",
};

pub const TO: Parameter = Parameter {
    name: "to",
    kinds: EVERY_KIND,
    required: true,
    repeatable: false,
    values: Values::Date,
    default: None,
    example: "2026-11-30",
    // `descriptions_state_the_limits_they_name` checks the 732.
    description: "Last day of the period (included), YYYY-MM-DD, in `tz`; a report covers at most 732 days.",
};

pub const TZ: Parameter = Parameter {
    name: "tz",
    kinds: EVERY_KIND,
    required: false,
    repeatable: false,
    values: Values::Text,
    default: Some("UTC"),
    example: "America/Denver",
    description: "IANA time zone for day boundaries and buckets; a site report without it uses the site's configured `time_zone`.",
};

pub const FUNNEL: Parameter = Parameter {
    name: "funnel",
    kinds: &[ReportKind::Funnel],
    required: true,
    repeatable: false,
    values: Values::Text,
    default: None,
    example: "Tour booking",
    description: "The name of one of the site's funnels (`[[sites.funnels]]`).",
};

pub const FILTER: Parameter = Parameter {
    name: "filter",
    kinds: FILTERED_KINDS,
    required: false,
    repeatable: true,
    values: Values::Text,
    default: None,
    example: "country==US",
    description: "`dimension==value`, `dimension!=value`, `dimension~text` (contains, case-insensitive) or `dimension=~pattern` (`*` stands for any text, e.g. `path=~/blog/*`); repeat to combine (all must hold; at most 3, none twice). Any dimension but `entry_page`, `prop:<key>` for an event property, and `goal==<name>` for the visitors who reached one of the site's goals that UTC day; a value is at most 200 characters. A filtered hourly series covers at most 7 days.",
};

pub const INTERVAL: Parameter = Parameter {
    name: "interval",
    kinds: &[ReportKind::Timeseries],
    required: false,
    repeatable: false,
    values: Values::OneOf(Interval::names),
    default: Some("day"),
    example: "week",
    description: "Bucket size; weeks start on Monday. An hourly series covers at most 31 days.",
};

pub const BY: Parameter = Parameter {
    name: "by",
    kinds: &[ReportKind::Breakdown],
    required: true,
    repeatable: false,
    values: Values::Dimension(Dimension::breakdown_names),
    default: None,
    example: "path",
    description: "What to group by: a dimension, or `prop:<key>` for an event property's values (`[[sites]] props`).",
};

pub const LIMIT: Parameter = Parameter {
    name: "limit",
    kinds: &[ReportKind::Breakdown, ReportKind::Email],
    required: false,
    repeatable: false,
    values: Values::Count {
        min: 1,
        max: MAX_LIMIT,
    },
    default: Some("10"),
    example: "20",
    description: "Most rows (per group, in email reports) before `(other)`.",
};

pub const FORMAT: Parameter = Parameter {
    name: "format",
    kinds: EVERY_KIND,
    required: false,
    repeatable: false,
    values: Values::OneOf(Format::names),
    // The caller's: the API answers JSON (CSV for `Accept: text/csv`), the
    // CLI prints a table.
    default: None,
    example: "csv",
    description: "How the answer is written. Without it, the API answers JSON (CSV when the request has `Accept: text/csv`) and `beaconhouse report` prints a table.",
};

/// Every parameter, in the order errors, `--help` and the OpenAPI document
/// list them.
pub const ALL: [&Parameter; 11] = [
    &SITE, &CAMPAIGN, &FUNNEL, &FROM, &TO, &TZ, &FILTER, &INTERVAL, &BY, &LIMIT, &FORMAT,
];

/// The parameters a kind of report takes, in table order.
pub fn taken_by(kind: ReportKind) -> impl Iterator<Item = &'static Parameter> {
    ALL.into_iter().filter(move |p| p.is_taken_by(kind))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::request::ReportRequest;
    use crate::report::vocabulary::MAX_DAYS;

    /// The pairs of a request of `kind` with every parameter it takes, or
    /// only the required ones, set to its example.
    fn example_pairs(kind: ReportKind, all: bool) -> Vec<(&'static str, &'static str)> {
        taken_by(kind)
            .filter(|p| all || p.required)
            .map(|p| (p.name, p.example))
            .collect()
    }

    #[test]
    fn examples_and_defaults_parse_for_every_kind() {
        for &kind in ReportKind::ALL {
            for all in [true, false] {
                let pairs = example_pairs(kind, all);
                let parsed = ReportRequest::from_pairs(kind, pairs.clone(), Format::Json);
                assert!(parsed.is_ok(), "{kind:?} {pairs:?}: {parsed:?}");
            }
        }
    }

    #[test]
    fn required_parameters_are_the_ones_reported_missing() {
        for &kind in ReportKind::ALL {
            for required in taken_by(kind).filter(|p| p.required) {
                let pairs: Vec<_> = example_pairs(kind, true)
                    .into_iter()
                    .filter(|(name, _)| *name != required.name)
                    .collect();
                assert_eq!(
                    ReportRequest::from_pairs(kind, pairs, Format::Json),
                    Err(required.missing()),
                    "{kind:?}"
                );
            }
        }
    }

    #[test]
    fn names_are_unique_and_every_parameter_is_taken_by_some_kind() {
        for (i, parameter) in ALL.iter().enumerate() {
            assert!(
                ALL[..i].iter().all(|p| p.name != parameter.name),
                "{}",
                parameter.name
            );
            assert!(!parameter.kinds.is_empty(), "{}", parameter.name);
        }
    }

    #[test]
    fn descriptions_state_the_limits_they_name() {
        assert!(TO.description.contains(&format!("at most {MAX_DAYS} days")));
    }
}
