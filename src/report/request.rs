//! What a report asks for: one [`ReportRequest`], parsed by
//! [`ReportRequest::from_pairs`] from the key/value pairs that the API's query
//! string and the CLI's flags both become, and the words it is made of
//! (report kinds, dimensions, filters, intervals, dates, time zones).
//!
//! Owns: every rule about what a valid request is, as pure functions; which
//! parameters each kind takes is read from [`super::parameters`].
//! Must never: let a name from a request reach SQL; dimensions map to fixed
//! column names here, and values are bound as parameters by `report::sql`.

use super::parameters::{self, Parameter};
use super::vocabulary::{
    Day, Dimension, Filter, Format, Interval, Period, ReportKind, RequestError, Vocabulary,
    invalid, parse_limit, shortened,
};

/// Longest hourly series, in days: 744 buckets at most, against 17.5k for
/// the longest period (what a chart can show, and what filling the buckets
/// costs).
pub const MAX_HOURLY_DAYS: u16 = 31;

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
    Goals {
        site: String,
        filters: Vec<Filter>,
    },
    Funnel {
        site: String,
        funnel: String,
    },
    Filtered {
        site: String,
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
        use parameters::{
            BY, CAMPAIGN, FILTER, FORMAT, FROM, FUNNEL, INTERVAL, LIMIT, SITE, TO, TZ,
        };
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
                dimension: match Dimension::parse(BY.name, given.value(&BY)?)? {
                    Dimension::Goal => {
                        return Err(invalid(
                            BY.name,
                            "goal",
                            "goal is a filter (goal==<name>); the goals report lists every goal",
                        ));
                    }
                    dimension => dimension,
                },
                filters: filters(None)?,
                limit: limit()?,
            },
            ReportKind::Goals => Details::Goals {
                site: given.value(&SITE)?.to_string(),
                filters: filters(None)?,
            },
            ReportKind::Funnel => Details::Funnel {
                site: given.value(&SITE)?.to_string(),
                funnel: given.value(&FUNNEL)?.trim().to_string(),
            },
            ReportKind::Filtered => Details::Filtered {
                site: given.value(&SITE)?.to_string(),
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
            | Details::Breakdown { site, .. }
            | Details::Goals { site, .. }
            | Details::Funnel { site, .. }
            | Details::Filtered { site } => Subject::Site(site),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::vocabulary::MAX_FILTER_CHARS;

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
}
