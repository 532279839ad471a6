//! The stats API's OpenAPI 3.1 document, generated from the code it
//! describes: routes from the report kinds, parameters from
//! `report::parameters`, the answers' and the errors' JSON Schemas from their
//! Rust types (`schemars`, JSON Schema 2020-12 as OpenAPI 3.1 uses).
//!
//! Owns: the document's layout. Built once, on first request.
//! Must never: describe a route, parameter or field by hand, so the document
//! cannot drift from what the API does.

use std::sync::OnceLock;

use schemars::Schema;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

use super::stats::{self, ErrorBody};
use crate::report::AnyReport;
use crate::report::parameters::{self, Parameter, Values};
use crate::report::vocabulary::{Dimension, ReportKind, Vocabulary};

/// Where the document is served.
pub const PATH: &str = "/api/v1/openapi.json";

/// Registers [`PATH`]. Kept here, not in `stats`, so `stats` does not import
/// the document that describes it.
pub fn routes(config: &mut actix_web::web::ServiceConfig) {
    config.route(PATH, actix_web::web::get().to(serve));
}

async fn serve() -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok()
        .content_type("application/json")
        .body(document())
}

/// The document, as JSON text.
pub fn document() -> &'static str {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let mut text = serde_json::to_string_pretty(&build()).unwrap_or_else(|e| {
            format!("{{\"error\": \"cannot encode the OpenAPI document: {e}\"}}")
        });
        text.push('\n');
        text
    })
}

fn build() -> Value {
    let mut generator = SchemaSettings::draft2020_12()
        .for_serialize()
        .with(|settings| settings.definitions_path = "/components/schemas".into())
        .into_generator();
    let error = generator.subschema_for::<ErrorBody>();
    let mut paths = Map::new();
    for &kind in ReportKind::ALL {
        let answer = AnyReport::schema_of(kind, &mut generator);
        paths.insert(
            stats::route(kind),
            json!({ "get": operation(kind, &answer, &error) }),
        );
    }
    paths.insert(
        PATH.into(),
        json!({ "get": {
            "summary": "This document.",
            "responses": { "200": {
                "description": "OpenAPI 3.1",
                "content": { "application/json": { "schema": { "type": "object" } } }
            } }
        } }),
    );
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "beaconhouse stats API",
            "version": "1",
            "description": "Aggregate-only reports. Every figure passes through the release step: it carries deliberate noise (discrete Laplace, the same every time the same figure is asked; `margins` gives the range that holds 95% of it), counts are capped per visitor and day, and a figure over people (a breakdown's row, any filtered figure, every email figure) is withheld (null) when its released count of people is under the threshold, so a group of one person and no group look alike. Groups not shown fold into `(other)`, always listed. Visitors are counted once per day: visitor ids change every UTC day."
        },
        "paths": paths,
        "components": {
            "securitySchemes": { "bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "A token from `[[reporting.tokens]]` in the configuration."
            } },
            "schemas": generator.take_definitions(true)
        }
    })
}

fn operation(kind: ReportKind, answer: &Schema, error: &Schema) -> Value {
    let refusal = |description: &str| {
        json!({
            "description": description,
            "content": { "application/json": { "schema": error } }
        })
    };
    let text = json!({ "schema": { "type": "string" } });
    let mut responses = json!({
        "200": {
            "description": "The report; CSV or the CLI's table with `format` or `Accept: text/csv`.",
            "content": {
                "application/json": { "schema": answer },
                "text/csv": text,
                "text/plain": text
            }
        },
        "400": refusal("A parameter is missing, unknown, repeated or invalid; `error` says which and what to send."),
        "401": refusal("No valid `Authorization: Bearer` token."),
        "403": refusal("The token may not read this site or campaign."),
        "429": refusal("Too many failed sign-ins from this address: no token from it is checked until `Retry-After` seconds have passed."),
        "503": refusal("ClickHouse could not answer, or no report slot (`reporting.max_concurrent`) freed within `reporting.queue_timeout_ms`: then `Retry-After` says when to try again.")
    });
    if parameters::SITE.is_taken_by(kind) {
        responses["404"] = refusal("The site is not configured.");
    }
    json!({
        "summary": kind.description(),
        "parameters": parameters::taken_by(kind).map(parameter).collect::<Vec<_>>(),
        "security": [{ "bearer": [] }],
        "responses": responses
    })
}

fn parameter(parameter: &Parameter) -> Value {
    // Counts are integers in the document; the table keeps every value as
    // the text a query string carries.
    let typed = |text: &str| match parameter.values {
        Values::Count { .. } => text
            .parse::<u64>()
            .map_or_else(|_| json!(text), |n| json!(n)),
        _ => json!(text),
    };
    let mut schema = match parameter.values {
        Values::Text => json!({ "type": "string" }),
        Values::Date => json!({ "type": "string", "format": "date" }),
        Values::OneOf(names) => json!({ "type": "string", "enum": names() }),
        Values::Dimension(names) => {
            let mut words = names();
            words.retain(|word| !word.starts_with(Dimension::PROP_PREFIX));
            json!({ "anyOf": [
                { "type": "string", "enum": words },
                { "type": "string", "pattern": Dimension::prop_pattern() },
            ] })
        }
        Values::Count { min, max } => json!({ "type": "integer", "minimum": min, "maximum": max }),
    };
    if let Some(default) = parameter.default {
        schema["default"] = typed(default);
    }
    let mut example = typed(parameter.example);
    let mut described = json!({
        "name": parameter.name,
        "in": "query",
        "description": parameter.description,
        "required": parameter.required,
    });
    if parameter.repeatable {
        schema = json!({ "type": "array", "items": schema });
        example = json!([example]);
        described["style"] = json!("form");
        described["explode"] = json!(true);
    }
    described["schema"] = schema;
    described["example"] = example;
    described
}

#[cfg(test)]
mod tests {
    use schemars::JsonSchema;

    use super::*;
    use crate::http::stats::Refusal;
    use crate::report::answer::{
        Breakdown, CampaignRow, Campaigns, Counted, EmailReport, FilteredReason, FilteredTraffic,
        Funnel, FunnelStep, GoalFigures, GoalRow, Goals, Margins, PeriodLabel, Point, Row, Summary,
        SummaryChange, SummaryFigures, Timeseries,
    };
    use crate::report::request::ReportRequest;
    use crate::report::vocabulary::{Filter, Format, Interval, RequestError};

    fn doc() -> Value {
        serde_json::from_str(document()).unwrap()
    }

    fn report_operation(doc: &Value, kind: ReportKind) -> &Value {
        &doc["paths"][stats::route(kind)]["get"]
    }

    /// The names of an operation's parameters, in order.
    fn parameter_names(operation: &Value) -> Vec<String> {
        operation["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_string())
            .collect()
    }

    fn strings(value: &Value) -> Vec<&str> {
        value
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect()
    }

    #[test]
    fn the_routes_are_the_report_kinds_and_this_document() {
        let doc = doc();
        let mut listed: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
        listed.sort();
        let mut expected: Vec<String> = ReportKind::ALL.iter().map(|&k| stats::route(k)).collect();
        expected.push(PATH.to_string());
        expected.sort();
        assert_eq!(listed, expected.iter().collect::<Vec<_>>());
    }

    #[test]
    fn each_route_documents_every_refusal_a_report_request_can_get() {
        let refusals = [
            Refusal::BadRequest(String::new()),
            Refusal::Unauthorized(String::new()),
            Refusal::Forbidden(String::new()),
            Refusal::Unavailable(String::new()),
            Refusal::Busy(String::new()),
            Refusal::Throttled {
                message: String::new(),
                retry_after: 1,
            },
        ];
        let doc = doc();
        for kind in ReportKind::ALL {
            let responses = &doc["paths"][stats::route(*kind)]["get"]["responses"];
            for refusal in &refusals {
                let status = refusal.status().as_u16().to_string();
                assert!(responses.get(&status).is_some(), "{kind:?}: {status}");
            }
        }
    }

    #[test]
    fn each_route_lists_exactly_the_parameters_the_parser_accepts() {
        let doc = doc();
        let mut candidates: Vec<String> =
            parameters::ALL.iter().map(|p| p.name.to_string()).collect();
        for &kind in ReportKind::ALL {
            candidates.extend(parameter_names(report_operation(&doc, kind)));
        }
        candidates.extend(["bogus".to_string(), "Site".to_string()]);
        candidates.sort();
        candidates.dedup();
        for &kind in ReportKind::ALL {
            let accepted: Vec<String> = candidates
                .iter()
                .filter(|name| {
                    let parsed =
                        ReportRequest::from_pairs(kind, [(name.as_str(), "x")], Format::Json);
                    !matches!(parsed, Err(RequestError::Unknown { .. }))
                })
                .cloned()
                .collect();
            let mut listed = parameter_names(report_operation(&doc, kind));
            listed.sort();
            assert_eq!(listed, accepted, "{kind:?}");
        }
    }

    #[test]
    fn the_enums_in_the_document_are_the_choices_in_order() {
        let doc = doc();
        let schemas = &doc["components"]["schemas"];
        let words = |names: Vec<&'static str>| -> Vec<String> {
            names
                .into_iter()
                .filter(|name| !name.starts_with(Dimension::PROP_PREFIX))
                .map(String::from)
                .collect()
        };
        let any_of = |schema: &Value| -> (Vec<String>, String) {
            (
                strings(&schema["anyOf"][0]["enum"])
                    .into_iter()
                    .map(String::from)
                    .collect(),
                schema["anyOf"][1]["pattern"].as_str().unwrap().to_string(),
            )
        };
        assert_eq!(
            any_of(&schemas["Dimension"]),
            (words(Dimension::names()), Dimension::prop_pattern())
        );
        assert_eq!(strings(&schemas["Interval"]["enum"]), Interval::names());
        assert_eq!(strings(&schemas["Counted"]["enum"]), Counted::names());
        let parameter_enum = |kind: ReportKind, name: &str| -> Vec<String> {
            report_operation(&doc, kind)["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["name"] == name)
                .map(|p| {
                    strings(&p["schema"]["enum"])
                        .into_iter()
                        .map(String::from)
                        .collect()
                })
                .unwrap()
        };
        let by = report_operation(&doc, ReportKind::Breakdown)["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "by")
            .unwrap()["schema"]
            .clone();
        assert_eq!(
            any_of(&by),
            (
                words(Dimension::breakdown_names()),
                Dimension::prop_pattern()
            )
        );
        assert_eq!(
            parameter_enum(ReportKind::Timeseries, "interval"),
            Interval::names()
        );
        for &kind in ReportKind::ALL {
            assert_eq!(parameter_enum(kind, "format"), Format::names());
        }
    }

    fn period() -> PeriodLabel {
        PeriodLabel {
            from: "2026-11-01".into(),
            to: "2026-11-30".into(),
            time_zone: "America/Denver".into(),
        }
    }

    fn row(value: &str, unique: Option<u64>) -> Row {
        Row {
            value: value.into(),
            unique,
            count: Some(12),
            share: unique.map(|_| 40.0),
        }
    }

    /// A real value of each report type, with the kind that answers with
    /// it and its type's schema name.
    fn reports() -> Vec<(ReportKind, AnyReport, String)> {
        fn name<T: JsonSchema>(_: &T) -> String {
            T::schema_name().into_owned()
        }
        let filters = vec![Filter::parse("country==US").unwrap()];
        let figures = SummaryFigures {
            visitors: 7,
            pageviews: 11,
            visits: 8,
            views_per_visit: 1.38,
            bounce_rate: 62.5,
        };
        let summary = Summary {
            site: "optimumabq.com".into(),
            period: period(),
            previous_period: period(),
            filters: filters.clone(),
            current: Some(figures.clone()),
            previous: Some(figures),
            change: Some(SummaryChange {
                visitors: Some(0.0),
                pageviews: None,
                visits: Some(-12.5),
                views_per_visit: Some(3.0),
                bounce_rate_points: Some(1.5),
            }),
            margins: Margins {
                people: 4,
                count: 40,
            },
            notes: vec!["a note".into()],
        };
        let timeseries = Timeseries {
            site: "optimumabq.com".into(),
            period: period(),
            interval: Interval::Day,
            filters: filters.clone(),
            points: vec![Point {
                bucket: "2026-11-01".into(),
                visitors: Some(3),
                pageviews: None,
            }],
            margins: Margins {
                people: 4,
                count: 40,
            },
            notes: vec![],
        };
        let breakdown = Breakdown {
            site: "optimumabq.com".into(),
            period: period(),
            dimension: Dimension::Path,
            filters,
            count: Counted::Pageviews,
            total: row("(total)", Some(30)),
            rows: vec![row("/", Some(12)), row("(other)", None)],
            margins: Margins {
                people: 4,
                count: 40,
            },
            notes: vec![],
        };
        let figures = |people| GoalFigures {
            converting_visitors: people,
            conversions: people.map(|p| p * 2),
            conversion_rate: people.map(|p| p as f64 / 3.0),
        };
        let goals = Goals {
            site: "optimumabq.com".into(),
            period: period(),
            previous_period: period(),
            filters: vec![],
            visitors: Some(30),
            previous_visitors: None,
            goals: vec![GoalRow {
                name: "Book a tour".into(),
                reached_by: "event:book_tour".into(),
                current: figures(Some(12)),
                previous: figures(None),
                change: None,
                rate_change_points: Some(-1.5),
            }],
            margins: Margins {
                people: 4,
                count: 40,
            },
            notes: vec![],
        };
        let funnel = Funnel {
            site: "optimumabq.com".into(),
            funnel: "Tour booking".into(),
            period: period(),
            steps: vec![FunnelStep {
                step: 1,
                reached_by: "page:/pricing".into(),
                visitors: Some(20),
                of_first: Some(100.0),
                drop_off: None,
            }],
            margins: Margins {
                people: 4,
                count: 40,
            },
            notes: vec![],
        };
        let filtered = FilteredTraffic {
            site: "optimumabq.com".into(),
            period: period(),
            total: 40,
            reasons: vec![FilteredReason {
                reason: "bot".into(),
                kind: "crawler".into(),
                hits: 31,
            }],
            margins: Margins {
                people: 4,
                count: 40,
            },
            notes: vec![],
        };
        let email = EmailReport {
            campaign: "nov-newsletter".into(),
            period: period(),
            opens: Some(7),
            unique_opens: Some(6),
            proxied_opens: Some(4),
            direct_opens: Some(3),
            unique_direct_opens: None,
            clicks: Some(5),
            unique_clicks: Some(4),
            click_to_open_rate: None,
            scanner_clicks: None,
            unique_scanner_clicks: None,
            by_day: vec![row("2026-11-01", Some(3))],
            by_client: vec![row("Gmail", Some(3))],
            by_country: vec![row("US", Some(3))],
            by_link: vec![row("optimumabq.com/tour", Some(3))],
            by_signal: vec![row("burst", None)],
            margins: Margins {
                people: 4,
                count: 40,
            },
            notes: vec![],
        };
        let campaigns = Campaigns {
            period: period(),
            campaigns: vec![CampaignRow {
                campaign: "nov-newsletter".into(),
                opens: Some(7),
                unique_opens: None,
                clicks: Some(5),
                unique_clicks: None,
            }],
            margins: Margins {
                people: 4,
                count: 40,
            },
            notes: vec![],
        };
        vec![
            (
                ReportKind::Summary,
                name(&summary),
                AnyReport::Summary(summary),
            ),
            (
                ReportKind::Timeseries,
                name(&timeseries),
                AnyReport::Timeseries(timeseries),
            ),
            (
                ReportKind::Breakdown,
                name(&breakdown),
                AnyReport::Breakdown(breakdown),
            ),
            (ReportKind::Goals, name(&goals), AnyReport::Goals(goals)),
            (ReportKind::Funnel, name(&funnel), AnyReport::Funnel(funnel)),
            (
                ReportKind::Filtered,
                name(&filtered),
                AnyReport::Filtered(filtered),
            ),
            (ReportKind::Email, name(&email), AnyReport::Email(email)),
            (
                ReportKind::Campaigns,
                name(&campaigns),
                AnyReport::Campaigns(campaigns),
            ),
        ]
        .into_iter()
        .map(|(kind, name, report)| (kind, report, name))
        .collect()
    }

    #[test]
    fn each_answer_is_its_report_type_with_the_fields_it_renders() {
        let doc = doc();
        let reports = reports();
        assert_eq!(
            reports.iter().map(|(kind, ..)| *kind).collect::<Vec<_>>(),
            ReportKind::ALL,
            "a sample of every kind"
        );
        for (kind, report, type_name) in reports {
            let answer = &report_operation(&doc, kind)["responses"]["200"]["content"]["application/json"]
                ["schema"];
            assert_eq!(
                answer["$ref"],
                format!("#/components/schemas/{type_name}"),
                "{kind:?}"
            );
            let schema = &doc["components"]["schemas"][&type_name];
            let rendered: Value = serde_json::to_value(&report).unwrap();
            let mut fields: Vec<&String> = rendered.as_object().unwrap().keys().collect();
            let mut properties: Vec<&String> =
                schema["properties"].as_object().unwrap().keys().collect();
            fields.sort();
            properties.sort();
            assert_eq!(fields, properties, "{type_name}");
            let mut required = strings(&schema["required"]);
            required.sort();
            assert_eq!(
                fields.iter().map(|f| f.as_str()).collect::<Vec<_>>(),
                required,
                "{type_name}: every field is always there"
            );
        }
    }

    #[test]
    fn every_reference_points_at_a_component_schema() {
        fn references<'v>(value: &'v Value, found: &mut Vec<&'v str>) {
            match value {
                Value::Object(map) => {
                    if let Some(Value::String(target)) = map.get("$ref") {
                        found.push(target);
                    }
                    map.values().for_each(|v| references(v, found));
                }
                Value::Array(items) => items.iter().for_each(|v| references(v, found)),
                _ => {}
            }
        }
        let doc = doc();
        let mut found = Vec::new();
        references(&doc, &mut found);
        assert!(found.len() > 10);
        for target in found {
            let name = target
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("{target}"));
            assert!(doc["components"]["schemas"][name].is_object(), "{target}");
        }
        assert_eq!(doc["openapi"], "3.1.0");
    }
}
