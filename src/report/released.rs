//! The release step of reports: how the exact per-day counts the statements
//! return become the figures staff see, and the type that proves a report
//! went through it.
//!
//! A figure is a sum of cells ([`crate::release::Cell`]): each UTC day the
//! window (or a time bucket) touches is one cell, whole or, at the edges of
//! a period in a time zone whose midnight is not UTC's, the part of the day
//! inside it ([`spans`]). Every cell of the window carries its own noise,
//! drawn from `reporting.noise_key` and the cell's identity (what is
//! counted, the site, the day and part, the dimension, value and metric,
//! the filters), zero counts included, so asking again, in another order,
//! through another surface or over an overlapping period gives the same
//! figure for the same cells. Each cell counts a person once (unique people)
//! or at most `views_cap` times (counts), so one visitor-day (or
//! recipient-campaign) changes a cell's exact count by at most that.
//!
//! A figure over people that exist only because of the data (a breakdown's
//! row, a filtered figure) is shown when its released people reach the
//! threshold of a sum over that many cells
//! (`Mechanism::threshold_of_sum`): over one person it shows with
//! probability at most δ, over nobody never, and whether it shows depends on
//! released figures only. Whole-site figures without filters (the site is
//! the operator's) are shown whatever their size.
//!
//! Owns: [`Released`] (only this module makes one), [`spans`], [`Releaser`].
//! Must never: show an exact count, or a figure whose noise a caller chose.

use serde::Serialize;

use super::answer::{AnyReport, Margins};
use super::sql::{DAY_SECONDS, DayRow};
use super::vocabulary::{Filter, FilterOp};
use crate::release::{Cell, Mechanism};

/// A report that went through the release step. Surfaces (the stats API,
/// the dashboard, the CLI, CSV) take nothing else; only this module makes
/// one.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Released<T>(T);

impl<T> Released<T> {
    pub(super) fn new(report: T) -> Released<T> {
        Released(report)
    }

    pub fn report(&self) -> &T {
        &self.0
    }
}

impl Released<AnyReport> {
    /// The same released report, without the campaigns `may_read` does not
    /// allow: a list of campaigns only loses rows, and nothing else of a
    /// released report can change.
    pub fn retain_readable(mut self, may_read: impl Fn(&str) -> bool) -> Released<AnyReport> {
        if let AnyReport::Campaigns(list) = &mut self.0 {
            list.retain_readable(may_read);
        }
        self
    }
}

/// The part of one UTC day a figure counts: the day's cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Days since 1970-01-01.
    pub day: u16,
    /// Seconds after midnight, `[from, to)`; `None` for the whole day.
    pub part: Option<(u32, u32)>,
}

/// The cells of the UTC instants `[start, end)`: one per UTC day it
/// touches, in order.
pub fn spans(start: u32, end: u32) -> Vec<Span> {
    let mut spans = Vec::new();
    let mut at = start;
    while at < end {
        let day = at / DAY_SECONDS;
        let midnight = day * DAY_SECONDS;
        let until = end.min(midnight + DAY_SECONDS);
        let part = (at, until) != (midnight, midnight + DAY_SECONDS);
        spans.push(Span {
            day: day as u16,
            part: part.then_some((at - midnight, until - midnight)),
        });
        at = until;
    }
    spans
}

/// How long after an hour ends its hits are taken to have arrived: the
/// spool ships within a second or two while ClickHouse answers.
pub const SETTLE_SECONDS: u32 = 120;

/// The end of what may be released at `now`: the start of the last UTC hour
/// that ended (and settled). A period that runs into the current hour ends
/// there: today's cell is the part of today up to that hour, a cell of its
/// own each hour, so a count that grows is never shown twice under the same
/// noise (the difference of two answers would be the exact number of hits
/// between them).
pub fn complete_until(now: u32) -> u32 {
    now.saturating_sub(SETTLE_SECONDS) / 3600 * 3600
}

/// The canonical text of a report's filters, part of every cell's identity:
/// the same filters in any order, and `~` filters in any letter case (they
/// match regardless of it), are the same cells.
pub fn canonical_filters(filters: &[Filter]) -> String {
    let mut texts: Vec<String> = filters
        .iter()
        .map(|f| {
            let value = match f.op {
                FilterOp::Contains => f.value.to_lowercase(),
                _ => f.value.clone(),
            };
            format!("{}{}{}", f.dimension.name(), f.op.token(), value)
        })
        .collect();
    texts.sort();
    texts.dedup();
    // Length-prefixed, so no two lists run into each other.
    texts.iter().map(|t| format!("{}:{t}", t.len())).collect()
}

/// What a figure's cells are called: the dimension and value counted, and
/// the metric of its people and of its count.
#[derive(Debug, Clone, Copy)]
pub struct Names<'a> {
    pub dimension: &'a str,
    pub value: &'a str,
    pub people: &'a str,
    pub count: &'a str,
}

/// A released group: people and count, and whether it may be shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Figure {
    pub people: u64,
    /// 0 when withheld: never computed.
    pub count: u64,
    pub shown: bool,
}

impl Figure {
    pub fn people(&self) -> Option<u64> {
        self.shown.then_some(self.people)
    }

    pub fn count(&self) -> Option<u64> {
        self.shown.then_some(self.count)
    }
}

/// The release step of one report: the mechanism, and what every cell of
/// the report shares (family, subject, filters).
pub struct Releaser<'a> {
    pub mechanism: &'a Mechanism,
    pub views_cap: u64,
    /// `daily` for site reports, `email` for opens.
    pub family: &'a str,
    /// The site or campaign.
    pub subject: &'a str,
    /// [`canonical_filters`].
    pub filters: &'a str,
}

impl Releaser<'_> {
    /// The released people and count of one group over `spans`, from its
    /// exact `days` (sorted by day, as [`super::sql::Aggregation::by_day`]
    /// returns them; a day without a row counts zero, and still carries its
    /// noise). `public` figures (the whole site, unfiltered) are shown
    /// whatever their size; the others when their people reach the
    /// threshold of a sum over `spans.len()` cells.
    pub fn group(&self, names: Names<'_>, spans: &[Span], days: &[DayRow], public: bool) -> Figure {
        let of_day = |day: u16| {
            days.binary_search_by_key(&day, |d| d.day_number)
                .ok()
                .map(|i| &days[i])
        };
        let people = self.sum(&names, names.people, spans, 1, |day| {
            of_day(day).map_or(0, |d| d.unique)
        });
        let shown = public || people >= self.mechanism.threshold_of_sum(spans.len());
        // A withheld group's count is never shown nor summed (`(other)` is
        // the total's rest), so its noise is not drawn: most groups of a
        // long tail are withheld.
        let count = if shown {
            self.sum(&names, names.count, spans, self.views_cap, |day| {
                of_day(day).map_or(0, |d| d.count)
            })
        } else {
            0
        };
        Figure {
            people,
            count,
            shown,
        }
    }

    /// A released count alone (visits, bounces), over `spans`, from exact
    /// `(day, count)` pairs sorted by day.
    pub fn count(&self, names: Names<'_>, spans: &[Span], days: &[(u16, u64)]) -> u64 {
        self.sum(&names, names.count, spans, self.views_cap, |day| {
            days.binary_search_by_key(&day, |d| d.0)
                .map_or(0, |i| days[i].1)
        })
    }

    /// The sum over `spans` of each cell's exact count (`exact` of its day)
    /// plus its noise, at least zero.
    fn sum(
        &self,
        names: &Names<'_>,
        metric: &str,
        spans: &[Span],
        sensitivity: u64,
        exact: impl Fn(u16) -> u64,
    ) -> u64 {
        let cell = |span: &Span| Cell {
            family: self.family,
            subject: self.subject,
            day: span.day,
            dimension: names.dimension,
            value: names.value,
            metric,
            span: span.part,
            filters: self.filters,
        };
        // The whole days share one series; a part of a day is a cell of
        // its own.
        let mut whole_days = None;
        let released: i64 = spans
            .iter()
            .map(|span| {
                let noise = match span.part {
                    None => whole_days
                        .get_or_insert_with(|| self.mechanism.noises(&cell(span), sensitivity))
                        .of_day(span.day),
                    Some(_) => self.mechanism.noise(&cell(span), sensitivity),
                };
                exact(span.day) as i64 + noise
            })
            .sum();
        released.max(0) as u64
    }

    /// The margins of figures summed over `cells` cells.
    pub fn margins(&self, cells: usize) -> Margins {
        Margins {
            people: self.mechanism.margin95_of_sum(1, cells),
            count: self.mechanism.margin95_of_sum(self.views_cap, cells),
        }
    }

    /// The threshold of figures summed over `cells` cells.
    pub fn threshold(&self, cells: usize) -> u64 {
        self.mechanism.threshold_of_sum(cells)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::release::NoiseKey;

    const NOV_1: u16 = 20_758;

    fn midnight(day: u16) -> u32 {
        u32::from(day) * DAY_SECONDS
    }

    #[test]
    fn a_window_is_cut_into_utc_days_and_parts_of_days() {
        // Denver, Nov 1-2 (MDT then MST): 06:00 UTC Nov 1 to 07:00 UTC Nov 3.
        let denver = spans(midnight(NOV_1) + 6 * 3600, midnight(NOV_1 + 2) + 7 * 3600);
        assert_eq!(
            denver,
            [
                Span {
                    day: NOV_1,
                    part: Some((6 * 3600, DAY_SECONDS))
                },
                Span {
                    day: NOV_1 + 1,
                    part: None
                },
                Span {
                    day: NOV_1 + 2,
                    part: Some((0, 7 * 3600))
                },
            ]
        );
        let utc = spans(midnight(NOV_1), midnight(NOV_1 + 2));
        assert_eq!(utc.iter().map(|s| s.part).collect::<Vec<_>>(), [None, None]);
        let hour = spans(midnight(NOV_1) + 3600, midnight(NOV_1) + 7200);
        assert_eq!(
            hour,
            [Span {
                day: NOV_1,
                part: Some((3600, 7200))
            }]
        );
        assert!(spans(5, 5).is_empty());
    }

    #[test]
    fn only_whole_settled_hours_are_released() {
        let hour = midnight(NOV_1) + 15 * 3600;
        assert_eq!(complete_until(hour + 119), hour - 3600);
        assert_eq!(complete_until(hour + 120), hour);
        assert_eq!(complete_until(hour + 3599), hour);
        // Today, asked at 15:30: the part of the day to 15:00 is its cell.
        let today = spans(midnight(NOV_1), complete_until(hour + 1800));
        assert_eq!(
            today,
            [Span {
                day: NOV_1,
                part: Some((0, 15 * 3600))
            }]
        );
    }

    #[test]
    fn filters_are_the_same_cells_in_any_order_and_case() {
        let parse = |texts: &[&str]| -> Vec<Filter> {
            texts.iter().map(|t| Filter::parse(t).unwrap()).collect()
        };
        let a = canonical_filters(&parse(&["country==US", "path~Blog"]));
        let b = canonical_filters(&parse(&["path~bLOG", "country==US"]));
        assert_eq!(a, b);
        assert_ne!(a, canonical_filters(&parse(&["country==us", "path~blog"])));
        assert_eq!(canonical_filters(&[]), "");
    }

    fn releaser<'a>(mechanism: &'a Mechanism, filters: &'a str) -> Releaser<'a> {
        Releaser {
            mechanism,
            views_cap: 10,
            family: "daily",
            subject: "optimumabq.com",
            filters,
        }
    }

    const PATH: Names<'static> = Names {
        dimension: "path",
        value: "/pricing",
        people: "visitors",
        count: "pageviews",
    };

    fn day(day_number: u16, unique: u64, count: u64) -> DayRow {
        DayRow {
            group_key: "/pricing".into(),
            day_number,
            unique,
            count,
        }
    }

    #[test]
    fn a_figure_is_its_cells_exact_counts_plus_each_cells_noise() {
        let mechanism = Mechanism::new(NoiseKey::new(&"k".repeat(32)), 1.0, 5);
        let r = releaser(&mechanism, "");
        let window = spans(midnight(NOV_1) + 6 * 3600, midnight(NOV_1 + 3) + 7 * 3600);
        // No row on Nov 2: zero, with its noise all the same.
        let days = [
            day(NOV_1, 40, 90),
            day(NOV_1 + 2, 60, 130),
            day(NOV_1 + 3, 5, 9),
        ];
        let figure = r.group(PATH, &window, &days, false);
        let noise = |span: &Span, metric, sensitivity| {
            mechanism.noise(
                &Cell {
                    family: "daily",
                    subject: "optimumabq.com",
                    day: span.day,
                    dimension: "path",
                    value: "/pricing",
                    metric,
                    span: span.part,
                    filters: "",
                },
                sensitivity,
            )
        };
        let people = 105 + window.iter().map(|s| noise(s, "visitors", 1)).sum::<i64>();
        let count = 229
            + window
                .iter()
                .map(|s| noise(s, "pageviews", 10))
                .sum::<i64>();
        assert_eq!(figure.people as i64, people.max(0));
        assert_eq!(figure.count as i64, count.max(0));
        assert_eq!(figure.shown, figure.people >= mechanism.threshold_of_sum(4));
        // The same cells, asked in another order of days: the same figure.
        let mut reversed = window.clone();
        reversed.reverse();
        assert_eq!(r.group(PATH, &reversed, &days, false), figure);
        // Other filters are other cells.
        let filtered = releaser(&mechanism, "12:country==US");
        let other = filtered.group(PATH, &window, &days, false);
        assert_ne!((other.people, other.count), (figure.people, figure.count));
    }

    #[test]
    fn one_person_and_nobody_look_alike() {
        let mechanism = Mechanism::new(NoiseKey::new("a fixed key for existence"), 1.0, 5);
        let window = spans(midnight(NOV_1), midnight(NOV_1 + 7));
        let mut shown = 0;
        for i in 0..20_000 {
            let value = format!("/p/{i}");
            let names = Names {
                value: &value,
                ..PATH
            };
            let r = releaser(&mechanism, "");
            let one = [day(NOV_1 + (i % 7) as u16, 1, 10)];
            shown += usize::from(r.group(names, &window, &one, false).shown);
        }
        assert_eq!(
            shown, 0,
            "a group of one shows with probability at most 1e-6"
        );
    }

    #[test]
    fn public_figures_show_whatever_their_size() {
        let mechanism = Mechanism::new(NoiseKey::new(&"k".repeat(32)), 1.0, 5);
        let r = releaser(&mechanism, "");
        let window = spans(midnight(NOV_1), midnight(NOV_1 + 1));
        assert!(r.group(PATH, &window, &[day(NOV_1, 1, 1)], true).shown);
    }
}
