//! Reports as text: aligned tables for people, CSV for spreadsheets, JSON for
//! programs. The API and the CLI print through here, so both say the same.
//!
//! Owns: the layout of each report as tables. Must never: compute a figure;
//! everything printed comes from the report value.

use super::answer::{
    AnyReport, Breakdown, Campaigns, EmailReport, FilteredTraffic, Funnel, Goals, Row, Summary,
    SummaryFigures, Timeseries,
};
use super::released::Released;
use super::vocabulary::{Filter, Format, Vocabulary};
use serde::Serialize;

/// A titled table of strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub title: String,
    pub columns: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
}

/// A report that can be printed.
pub trait Report: Serialize {
    fn tables(&self) -> Vec<Table>;
    fn notes(&self) -> &[String];
}

/// Renders `report`, released, in `format`.
pub fn render(report: &Released<impl Report>, format: Format) -> String {
    let report = report.report();
    match format {
        Format::Json => {
            let mut text = serde_json::to_string_pretty(report)
                .unwrap_or_else(|e| format!("{{\"error\": \"cannot encode the report: {e}\"}}"));
            text.push('\n');
            text
        }
        Format::Csv => csv(&report.tables()),
        Format::Table => {
            let mut out = String::new();
            for table in report.tables() {
                out.push_str(&aligned(&table));
                out.push('\n');
            }
            for note in report.notes() {
                out.push_str("note: ");
                out.push_str(note);
                out.push('\n');
            }
            out
        }
    }
}

fn aligned(table: &Table) -> String {
    let mut widths: Vec<usize> = table.columns.iter().map(|c| c.chars().count()).collect();
    for row in &table.rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| -> String {
        let mut text = String::new();
        for (i, (cell, width)) in cells.zip(&widths).enumerate() {
            let pad = width - cell.chars().count();
            // Text left, figures right, as a reader scans them.
            let numeric = i > 0 && cell.parse::<f64>().is_ok() || cell == "-";
            if i > 0 {
                text.push_str("  ");
            }
            if numeric {
                text.push_str(&" ".repeat(pad));
                text.push_str(cell);
            } else {
                text.push_str(cell);
                text.push_str(&" ".repeat(pad));
            }
        }
        text.trim_end().to_string() + "\n"
    };
    let mut out = format!("{}\n", table.title);
    out.push_str(&line(&mut table.columns.iter().copied()));
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    out.push_str(&line(&mut rule.iter().map(String::as_str)));
    for row in &table.rows {
        out.push_str(&line(&mut row.iter().map(String::as_str)));
    }
    out
}

/// One CSV document; with several tables, a leading `section` column names
/// the table of each row.
fn csv(tables: &[Table]) -> String {
    let sectioned = tables.len() > 1;
    let mut out = String::new();
    let mut header: Vec<&str> = Vec::new();
    if sectioned {
        header.push("section");
    }
    // Every table of one report shares its columns (email), or there is one.
    header.extend(
        tables
            .first()
            .map(|t| t.columns.clone())
            .unwrap_or_default(),
    );
    out.push_str(&csv_line(header.iter().copied()));
    for table in tables {
        for row in &table.rows {
            let section = sectioned.then_some(table.title.as_str());
            out.push_str(&csv_line(
                section.into_iter().chain(row.iter().map(String::as_str)),
            ));
        }
    }
    out
}

fn csv_line<'a>(cells: impl Iterator<Item = &'a str>) -> String {
    let quoted: Vec<String> = cells
        .map(neutralise_formula)
        .map(|cell| {
            if cell.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", cell.replace('"', "\"\""))
            } else {
                cell.to_string()
            }
        })
        .collect();
    quoted.join(",") + "\r\n"
}

/// A cell a spreadsheet would run as a formula (it starts with `=`, `+`, `-`,
/// `@`, a tab or a carriage return) gets a leading `'`, as OWASP recommends
/// against CSV injection: a path, campaign or event name is visitor input.
/// Numbers, negative ones included, are left as they are.
fn neutralise_formula(cell: &str) -> std::borrow::Cow<'_, str> {
    let formula = cell.len() > 1 && cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if formula && cell.parse::<f64>().is_err() {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

fn optional(value: Option<impl ToString>) -> String {
    value.map_or_else(|| "-".to_string(), |v| v.to_string())
}

fn row_cells(row: &Row) -> Vec<String> {
    vec![
        row.value.clone(),
        optional(row.unique),
        optional(row.count),
        optional(row.share.map(|share| format!("{share:.2}"))),
    ]
}

impl Report for Summary {
    fn tables(&self) -> Vec<Table> {
        let change = self.change.as_ref();
        let metric = |name: &str, pick: fn(&SummaryFigures) -> String, change: Option<String>| {
            let figure = |f: &Option<SummaryFigures>| f.as_ref().map_or_else(|| "-".into(), pick);
            vec![
                name.to_string(),
                figure(&self.current),
                figure(&self.previous),
                optional(change),
            ]
        };
        let percent = |v: Option<f64>| v.map(|v| format!("{v:+.2}%"));
        let rows = vec![
            metric(
                "visitors",
                |f| f.visitors.to_string(),
                percent(change.and_then(|c| c.visitors)),
            ),
            metric(
                "pageviews",
                |f| f.pageviews.to_string(),
                percent(change.and_then(|c| c.pageviews)),
            ),
            metric(
                "visits",
                |f| f.visits.to_string(),
                percent(change.and_then(|c| c.visits)),
            ),
            metric(
                "views_per_visit",
                |f| format!("{:.2}", f.views_per_visit),
                percent(change.and_then(|c| c.views_per_visit)),
            ),
            metric(
                "bounce_rate_%",
                |f| format!("{:.2}", f.bounce_rate),
                change
                    .and_then(|c| c.bounce_rate_points)
                    .map(|v| format!("{v:+.2} pts")),
            ),
        ];
        vec![Table {
            title: format!(
                "{}: {} to {} ({}), previous period {} to {}{}",
                self.site,
                self.period.from,
                self.period.to,
                self.period.time_zone,
                self.previous_period.from,
                self.previous_period.to,
                filters_label(&self.filters)
            ),
            columns: vec!["metric", "current", "previous", "change"],
            rows,
        }]
    }

    fn notes(&self) -> &[String] {
        &self.notes
    }
}

impl Report for Timeseries {
    fn tables(&self) -> Vec<Table> {
        vec![Table {
            title: format!(
                "{}: {} to {} ({}), by {}{}",
                self.site,
                self.period.from,
                self.period.to,
                self.period.time_zone,
                self.interval.as_str(),
                filters_label(&self.filters)
            ),
            columns: vec!["bucket", "visitors", "pageviews"],
            rows: self
                .points
                .iter()
                .map(|p| {
                    vec![
                        p.bucket.clone(),
                        optional(p.visitors),
                        optional(p.pageviews),
                    ]
                })
                .collect(),
        }]
    }

    fn notes(&self) -> &[String] {
        &self.notes
    }
}

impl Report for Breakdown {
    fn tables(&self) -> Vec<Table> {
        let mut rows: Vec<Vec<String>> = self.rows.iter().map(row_cells).collect();
        rows.push(row_cells(&self.total));
        vec![Table {
            title: format!(
                "{}: {} to {} ({}), by {}{}",
                self.site,
                self.period.from,
                self.period.to,
                self.period.time_zone,
                self.dimension.name(),
                filters_label(&self.filters)
            ),
            columns: vec![
                // A property's column is its values: the title names it.
                self.dimension.word().unwrap_or("value"),
                "visitors",
                self.count.as_str(),
                "share_%",
            ],
            rows,
        }]
    }

    fn notes(&self) -> &[String] {
        &self.notes
    }
}

impl Report for EmailReport {
    fn tables(&self) -> Vec<Table> {
        // Every table shares the columns (one CSV): `count` is opens in the
        // opens' rows and sections, clicks in the clicks'.
        let columns = vec!["value", "recipients", "count", "share_%"];
        let totals = vec![
            vec![
                "opens".into(),
                String::new(),
                optional(self.opens),
                String::new(),
            ],
            vec![
                "unique_opens".into(),
                optional(self.unique_opens),
                String::new(),
                String::new(),
            ],
            vec![
                "proxied_opens".into(),
                String::new(),
                optional(self.proxied_opens),
                String::new(),
            ],
            vec![
                "direct_opens".into(),
                optional(self.unique_direct_opens),
                optional(self.direct_opens),
                String::new(),
            ],
            vec![
                "clicks".into(),
                optional(self.unique_clicks),
                optional(self.clicks),
                String::new(),
            ],
            vec![
                "click_to_open_rate".into(),
                String::new(),
                String::new(),
                optional(self.click_to_open_rate.map(|rate| format!("{rate:.2}"))),
            ],
            vec![
                "scanner_clicks".into(),
                optional(self.unique_scanner_clicks),
                optional(self.scanner_clicks),
                String::new(),
            ],
        ];
        let section = |name: &str, rows: &[Row]| Table {
            title: name.to_string(),
            columns: columns.clone(),
            rows: rows.iter().map(row_cells).collect(),
        };
        vec![
            Table {
                title: format!(
                    "campaign {}: {} to {} ({})",
                    self.campaign, self.period.from, self.period.to, self.period.time_zone
                ),
                columns: columns.clone(),
                rows: totals,
            },
            section("by_day", &self.by_day),
            section("by_client", &self.by_client),
            section("by_country", &self.by_country),
            section("by_link", &self.by_link),
            section("by_signal", &self.by_signal),
        ]
    }

    fn notes(&self) -> &[String] {
        &self.notes
    }
}

impl Report for Campaigns {
    fn tables(&self) -> Vec<Table> {
        vec![Table {
            title: format!(
                "campaigns opened {} to {} ({})",
                self.period.from, self.period.to, self.period.time_zone
            ),
            columns: vec![
                "campaign",
                "unique_opens",
                "opens",
                "unique_clicks",
                "clicks",
            ],
            rows: self
                .campaigns
                .iter()
                .map(|c| {
                    vec![
                        c.campaign.clone(),
                        optional(c.unique_opens),
                        optional(c.opens),
                        optional(c.unique_clicks),
                        optional(c.clicks),
                    ]
                })
                .collect(),
        }]
    }

    fn notes(&self) -> &[String] {
        &self.notes
    }
}

impl Report for Goals {
    fn tables(&self) -> Vec<Table> {
        vec![Table {
            title: format!(
                "{}: {} to {} ({}), goals, previous period {} to {}{}; visitors {} (previous {})",
                self.site,
                self.period.from,
                self.period.to,
                self.period.time_zone,
                self.previous_period.from,
                self.previous_period.to,
                filters_label(&self.filters),
                optional(self.visitors),
                optional(self.previous_visitors),
            ),
            columns: vec![
                "goal",
                "converting_visitors",
                "conversions",
                "conversion_rate_%",
                "previous_converting",
                "previous_rate_%",
                "change_%",
            ],
            rows: self
                .goals
                .iter()
                .map(|g| {
                    vec![
                        g.name.clone(),
                        optional(g.current.converting_visitors),
                        optional(g.current.conversions),
                        optional(g.current.conversion_rate.map(|r| format!("{r:.2}"))),
                        optional(g.previous.converting_visitors),
                        optional(g.previous.conversion_rate.map(|r| format!("{r:.2}"))),
                        optional(g.change.map(|c| format!("{c:+.1}"))),
                    ]
                })
                .collect(),
        }]
    }

    fn notes(&self) -> &[String] {
        &self.notes
    }
}

impl Report for Funnel {
    fn tables(&self) -> Vec<Table> {
        vec![Table {
            title: format!(
                "{}: {} to {} ({}), funnel {}",
                self.site, self.period.from, self.period.to, self.period.time_zone, self.funnel
            ),
            columns: vec!["step", "reached_by", "visitors", "of_first_%", "drop_off_%"],
            rows: self
                .steps
                .iter()
                .map(|s| {
                    vec![
                        s.step.to_string(),
                        s.reached_by.clone(),
                        optional(s.visitors),
                        optional(s.of_first.map(|p| format!("{p:.2}"))),
                        optional(s.drop_off.map(|p| format!("{p:.2}"))),
                    ]
                })
                .collect(),
        }]
    }

    fn notes(&self) -> &[String] {
        &self.notes
    }
}

impl Report for FilteredTraffic {
    fn tables(&self) -> Vec<Table> {
        let mut rows: Vec<Vec<String>> = self
            .reasons
            .iter()
            .map(|r| vec![r.reason.clone(), r.kind.clone(), r.hits.to_string()])
            .collect();
        rows.push(vec![
            "(total)".into(),
            String::new(),
            self.total.to_string(),
        ]);
        vec![Table {
            title: format!(
                "{}: {} to {} ({}), hits not counted",
                self.site, self.period.from, self.period.to, self.period.time_zone
            ),
            columns: vec!["reason", "kind", "hits"],
            rows,
        }]
    }

    fn notes(&self) -> &[String] {
        &self.notes
    }
}

impl Report for AnyReport {
    fn tables(&self) -> Vec<Table> {
        match self {
            AnyReport::Summary(report) => report.tables(),
            AnyReport::Timeseries(report) => report.tables(),
            AnyReport::Breakdown(report) => report.tables(),
            AnyReport::Goals(report) => report.tables(),
            AnyReport::Funnel(report) => report.tables(),
            AnyReport::Filtered(report) => report.tables(),
            AnyReport::Email(report) => report.tables(),
            AnyReport::Campaigns(report) => report.tables(),
        }
    }

    fn notes(&self) -> &[String] {
        match self {
            AnyReport::Summary(report) => report.notes(),
            AnyReport::Timeseries(report) => report.notes(),
            AnyReport::Breakdown(report) => report.notes(),
            AnyReport::Goals(report) => report.notes(),
            AnyReport::Funnel(report) => report.notes(),
            AnyReport::Filtered(report) => report.notes(),
            AnyReport::Email(report) => report.notes(),
            AnyReport::Campaigns(report) => report.notes(),
        }
    }
}

fn filters_label(filters: &[Filter]) -> String {
    if filters.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = filters.iter().map(ToString::to_string).collect();
    format!(", where {}", parts.join(" and "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_text_left_and_figures_right() {
        let table = Table {
            title: "t".into(),
            columns: vec!["path", "visitors"],
            rows: vec![
                vec!["/".into(), "1234".into()],
                vec!["/pricing".into(), "5".into()],
            ],
        };
        assert_eq!(
            aligned(&table),
            "t\npath      visitors\n--------  --------\n/             1234\n/pricing         5\n"
        );
    }

    #[test]
    fn csv_cells_cannot_start_a_formula() {
        let cases: &[(&str, &str)] = &[
            (
                "=HYPERLINK(\"http://x\")",
                "\"'=HYPERLINK(\"\"http://x\"\")\"",
            ),
            ("+1+cmd", "'+1+cmd"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\r=x", "\"'\r=x\""),
            ("-12.5", "-12.5"),
            ("+3", "+3"),
            ("/pricing", "/pricing"),
            ("a=b", "a=b"),
        ];
        for (cell, expected) in cases {
            assert_eq!(
                csv_line([*cell].into_iter()),
                format!("{expected}\r\n"),
                "{cell:?}"
            );
        }
    }

    #[test]
    fn csv_quotes_what_needs_quoting_and_names_sections() {
        let a = Table {
            title: "by_client".into(),
            columns: vec!["value", "opens"],
            rows: vec![vec!["Mail, \"Apple\"".into(), "3".into()]],
        };
        assert_eq!(
            csv(std::slice::from_ref(&a)),
            "value,opens\r\n\"Mail, \"\"Apple\"\"\",3\r\n"
        );
        let b = Table {
            title: "by_country".into(),
            ..a.clone()
        };
        assert_eq!(
            csv(&[a, b]),
            "section,value,opens\r\nby_client,\"Mail, \"\"Apple\"\"\",3\r\nby_country,\"Mail, \"\"Apple\"\"\",3\r\n"
        );
    }
}
