//! The figures the release step makes of exact counts, worked out with the
//! library's own mechanism and the tests' noise key (`common::NOISE_KEY`),
//! so a test can state the exact figure it worked out by hand and check the
//! released one a surface shows: a figure is the exact count plus the noise
//! of each cell of its window (released::spans), at least zero, withheld
//! under the threshold of a sum over that many cells. The noise does not
//! depend on the count, so only the total of the exact counts matters.

use beaconhouse::release::{Mechanism, NoiseKey};
use beaconhouse::report::released::{self, Names, Releaser, Span};
use beaconhouse::report::sql::DayRow;
use serde_json::{Value, json};

use super::NOISE_KEY;

/// What one visitor-day adds to a cell's count at most, by default.
pub const VIEWS_CAP: u64 = 10;

/// The cells of one report: its family, subject, filters and window.
pub struct Expect {
    mechanism: Mechanism,
    family: &'static str,
    subject: String,
    filters: String,
    spans: Vec<Span>,
}

/// `2026-11-01 06:00` (UTC) as seconds since 1970.
pub fn instant(text: &str) -> u32 {
    let (date, time) = text.split_once(' ').unwrap_or((text, "00:00"));
    let numbers: Vec<u32> = date.split('-').map(|n| n.parse().unwrap()).collect();
    let day = beaconhouse::clock::day_from_civil(numbers[0], numbers[1], numbers[2]).unwrap();
    let (hours, minutes) = time.split_once(':').unwrap();
    u32::from(day) * 86_400
        + hours.parse::<u32>().unwrap() * 3600
        + minutes.parse::<u32>().unwrap() * 60
}

impl Expect {
    /// A site report over the UTC instants `[from, to)` (`2026-11-01 06:00`),
    /// with `filters` as the request writes them, under `min_group_size`
    /// and ε = 1 (the defaults the tests run with).
    pub fn site(site: &str, from: &str, to: &str, filters: &[&str], min_group_size: u64) -> Expect {
        let filters: Vec<_> = filters
            .iter()
            .map(|f| beaconhouse::report::vocabulary::Filter::parse(f).unwrap())
            .collect();
        Expect {
            mechanism: Mechanism::new(NoiseKey::new(NOISE_KEY), 1.0, min_group_size),
            family: "daily",
            subject: site.into(),
            filters: released::canonical_filters(&filters),
            spans: released::spans(instant(from), instant(to)),
        }
    }

    /// An email report (or the campaigns list) of `campaign` over `[from, to)`.
    pub fn email(campaign: &str, from: &str, to: &str, min_group_size: u64) -> Expect {
        Expect {
            family: "email",
            subject: campaign.into(),
            filters: String::new(),
            ..Expect::site("", from, to, &[], min_group_size)
        }
    }

    /// The cells of the hits of `site` not counted over `[from, to)`.
    pub fn filtered(site: &str, from: &str, to: &str) -> Expect {
        Expect {
            family: "filtered",
            ..Expect::site(site, from, to, &[], 1)
        }
    }

    /// The same cells under the filters text `filters` as the engine names
    /// them where they are not a request's filters (a funnel's steps).
    pub fn named(self, filters: &str) -> Expect {
        Expect {
            filters: filters.into(),
            ..self
        }
    }

    /// The same report over `[from, to)` instead: a time bucket of it.
    pub fn over(&self, from: &str, to: &str) -> Expect {
        Expect {
            mechanism: self.mechanism.clone(),
            family: self.family,
            subject: self.subject.clone(),
            filters: self.filters.clone(),
            spans: released::spans(instant(from), instant(to)),
        }
    }

    fn releaser(&self) -> Releaser<'_> {
        Releaser {
            mechanism: &self.mechanism,
            views_cap: VIEWS_CAP,
            family: self.family,
            subject: &self.subject,
            filters: &self.filters,
        }
    }

    /// The released people and count of a figure of `exact` people and
    /// count, each `None` when withheld; `public` for whole-site figures
    /// without filters, shown whatever their size.
    pub fn figure(
        &self,
        names: [&str; 4],
        exact: (u64, u64),
        public: bool,
    ) -> (Option<u64>, Option<u64>) {
        let [dimension, value, people, count] = names;
        let names = Names {
            dimension,
            value,
            people,
            count,
        };
        let day = [DayRow {
            group_key: value.into(),
            day_number: self.spans[0].day,
            unique: exact.0,
            count: exact.1,
        }];
        let figure = self.releaser().group(names, &self.spans, &day, public);
        (figure.people(), figure.count())
    }

    /// A released count alone (visits, bounces) of `exact`.
    pub fn count(&self, names: [&str; 3], exact: u64) -> u64 {
        let [dimension, value, count] = names;
        let names = Names {
            dimension,
            value,
            people: "",
            count,
        };
        self.releaser()
            .count(names, &self.spans, &[(self.spans[0].day, exact)])
    }

    /// The exact count behind a released one that was not clamped at zero:
    /// the released figure less its cells' noise.
    pub fn exact(&self, names: [&str; 3], released: u64, sensitivity: u64) -> i64 {
        let [dimension, value, metric] = names;
        let noise: i64 = self
            .spans
            .iter()
            .map(|span| {
                self.mechanism.noise(
                    &beaconhouse::release::Cell {
                        family: self.family,
                        subject: &self.subject,
                        day: span.day,
                        dimension,
                        value,
                        metric,
                        span: span.part,
                        filters: &self.filters,
                    },
                    sensitivity,
                )
            })
            .sum();
        released as i64 - noise
    }

    /// The `current` (or `previous`) figures of a summary of these exact
    /// counts: released, with the rates worked out from the released ones.
    pub fn summary(&self, visitors: u64, pageviews: u64, visits: u64, bounces: u64) -> Value {
        let (released_visitors, released_pageviews) = self.figure(
            ["all", "", "visitors", "pageviews"],
            (visitors, pageviews),
            self.filters.is_empty(),
        );
        let (Some(visitors), Some(pageviews)) = (released_visitors, released_pageviews) else {
            return Value::Null;
        };
        let visits = self.count(["all", "", "visits"], visits);
        let bounces = self.count(["all", "", "bounces"], bounces);
        let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let round2 = |x: f64| (x * 100.0).round() / 100.0;
        json!({
            "visitors": visitors,
            "pageviews": pageviews,
            "visits": visits,
            "views_per_visit": round2(ratio(pageviews, visits)),
            "bounce_rate": round2(100.0 * ratio(bounces, visits).min(1.0)),
        })
    }

    /// The smallest released count of people shown over these cells.
    pub fn threshold(&self) -> u64 {
        self.mechanism.threshold_of_sum(self.spans.len())
    }
}
