//! Goals, funnels and event properties against a real clickhouse-server:
//! seeded visitor-days (a fixed pseudo-random walk through the site, with
//! properties on custom events) go in with SQL, the reports come back
//! through `beaconhouse report` and the stats API, and every figure is
//! checked against a brute-force count over the seeded rows
//! (`goal::Target::reached_by`, a greedy walk for funnels) as the release
//! step makes it (`common::released::Expect`).

use std::collections::{BTreeMap, BTreeSet};

use crate::common::released::{Expect, VIEWS_CAP};
use crate::common::{self, Beaconhouse, Collector};
use beaconhouse::goal::Target;
use serde_json::Value;

const SITE: &str = "optimumabq.com";
const TOKEN: &str = "marketing-token-0123456789abcdef0123456789";
const MIN_GROUP_SIZE: u64 = 3;

/// Keys written first belong to `SITE_TOML`'s `[[sites]]` table.
const CONFIG: &str = r#"props = ["plan"]

[[sites.goals]]
name = "Book a tour"
event = "book_tour"

[[sites.goals]]
name = "Thank-you page"
page = "/thank-you"

[[sites.goals]]
name = "Read the blog"
page = "/blog/*"

[[sites.funnels]]
name = "Tour booking"
steps = [{ page = "/pricing" }, { page = "/tour/*" }, { goal = "Book a tour" }]

[retention]
events_days = 0
email_opens_days = 0

[reporting]
min_group_size = 3

[[reporting.tokens]]
name = "marketing"
token = "marketing-token-0123456789abcdef0123456789"
sites = ["optimumabq.com"]
"#;

/// One seeded event.
#[derive(Debug, Clone)]
struct Event {
    ts: u32,
    name: &'static str,
    visitor: u64,
    path: &'static str,
    plan: Option<&'static str>,
}

/// Each visitor-day of Nov 9 (the previous period) and Nov 10, 2026 (UTC):
/// a walk of 1 to 8 steps through pages and events (for a third of them,
/// with the funnel's steps in order among them), one to five minutes
/// apart, so no two of a visitor's events share a second.
fn seeded() -> Vec<Event> {
    const STEPS: [(&str, &str); 9] = [
        ("pageview", "/"),
        ("pageview", "/pricing"),
        ("pageview", "/blog/2026/hello"),
        ("pageview", "/blog/"),
        ("pageview", "/tour/downtown"),
        ("pageview", "/thank-you"),
        ("book_tour", "/tour/downtown"),
        ("signup", "/pricing"),
        ("pageview", "/blog"),
    ];
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    };
    let mut events = Vec::new();
    for (day, visitors) in [(20_766u32, 260u64), (20_767, 340)] {
        for v in 0..visitors {
            let visitor = u64::from(day) * 1_000 + v + 1;
            let mut ts = day * 86_400 + 3_600 + next(70_000) as u32;
            // A third go through the funnel's steps, among other pages.
            let walk = 1 + next(8) as usize;
            let funnel = if next(3) == 0 { vec![1, 4, 6] } else { vec![] };
            for i in 0..walk + funnel.len() {
                let step = match funnel.get(i / 2) {
                    Some(&step) if i % 2 == 0 => step,
                    _ => next(STEPS.len() as u64) as usize,
                };
                let (name, path) = STEPS[step];
                let plan = (name != "pageview")
                    .then(|| ["monthly", "annual", "day-pass"][next(3) as usize])
                    .filter(|_| next(4) > 0);
                events.push(Event {
                    ts,
                    name,
                    visitor,
                    path,
                    plan,
                });
                ts += 60 + next(240) as u32;
            }
        }
    }
    events
}

fn insert(db: &str, events: &[Event]) {
    let rows: Vec<String> = events
        .iter()
        .map(|e| {
            let (keys, values) = match e.plan {
                Some(plan) => (r#"['plan']"#.to_string(), format!("['{plan}']")),
                None => ("[]".into(), "[]".into()),
            };
            format!(
                "('{SITE}', {}, '{}', {}, '{}', 'desktop', {keys}, {values})",
                e.ts, e.name, e.visitor, e.path
            )
        })
        .collect();
    common::clickhouse().query(
        db,
        &format!(
            "INSERT INTO events (site, ts, name, visitor_id, path, device, prop_keys, prop_values) VALUES {}",
            rows.join(", ")
        ),
    );
}

/// The events of one UTC day by visitor, in time order.
fn visitor_days(events: &[Event], day: u32) -> BTreeMap<u64, Vec<&Event>> {
    let mut by_visitor: BTreeMap<u64, Vec<&Event>> = BTreeMap::new();
    for e in events.iter().filter(|e| e.ts / 86_400 == day) {
        by_visitor.entry(e.visitor).or_default().push(e);
    }
    for list in by_visitor.values_mut() {
        list.sort_by_key(|e| e.ts);
    }
    by_visitor
}

/// The exact (people, count) of the events that `pick` picks: people with
/// one, and each one's events capped at the views cap.
fn exact(days: &BTreeMap<u64, Vec<&Event>>, pick: impl Fn(&Event) -> bool) -> (u64, u64) {
    days.values().fold((0, 0), |(people, count), list| {
        let n = list.iter().filter(|e| pick(e)).count() as u64;
        (people + u64::from(n > 0), count + n.min(VIEWS_CAP))
    })
}

/// The cells of a site report over one UTC day.
fn cells(day: &str, filters: &[&str]) -> Expect {
    Expect::site(
        SITE,
        &format!("{day} 00:00"),
        &format!("{} 00:00", next_day(day)),
        filters,
        MIN_GROUP_SIZE,
    )
}

fn next_day(day: &str) -> &'static str {
    match day {
        "2026-11-09" => "2026-11-10",
        "2026-11-10" => "2026-11-11",
        other => panic!("no day after {other} here"),
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The goals report's figures of one period, worked out from the seeded
/// events: visitors, then per goal (converting, conversions, rate).
fn expected_goals(events: &[Event], day: &str, utc_day: u32) -> Value {
    let days = visitor_days(events, utc_day);
    let everyone = exact(&days, |_| true);
    let visitors = cells(day, &[]).figure(
        ["all", "", "visitors", "pageviews"],
        (everyone.0, exact(&days, |e| e.name == "pageview").1),
        true,
    );
    let goals = [
        (
            Target::Event("book_tour".into()),
            "name==book_tour",
            "event_total",
        ),
        (Target::Page("/thank-you".into()), "path==/thank-you", ""),
        (Target::Page("/blog/*".into()), "path=~/blog/*", ""),
    ];
    let figures: Vec<Value> = goals
        .iter()
        .map(|(target, filter, dimension)| {
            let reached = exact(&days, |e| target.reached_by(e.name, e.path));
            let (converting, conversions) = cells(day, &[filter]).figure(
                [dimension, "", "visitors", "pageviews"],
                reached,
                false,
            );
            let rate = converting
                .zip(visitors.0)
                .map(|(c, all)| round2(100.0 * (c as f64 / all as f64).min(1.0)));
            serde_json::json!({
                "converting_visitors": converting,
                "conversions": conversions,
                "conversion_rate": rate,
            })
        })
        .collect();
    serde_json::json!({ "visitors": visitors.0, "goals": figures })
}

#[test]
fn goals_funnels_and_properties_are_the_seeded_counts_released() {
    let clickhouse = common::clickhouse();
    let db = clickhouse.fresh_database("conversions");
    common::migrate(clickhouse, &db);
    let events = seeded();
    insert(&db, &events);
    let config = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(config.path(), format!("{}{CONFIG}", common::SITE_TOML)).unwrap();
    let report = |args: &[&str]| -> Value {
        Beaconhouse::new()
            .config(config.path())
            .clickhouse(clickhouse, &db)
            .report_json(args)
    };
    let day = ["--site", SITE, "--from", "2026-11-10", "--to", "2026-11-10"];
    let with = |kind: &'static str, extra: &[&'static str]| {
        let mut args = vec![kind];
        args.extend(day);
        args.extend(extra);
        args
    };

    // Goals, this day and the one before, from `events` and then, for the
    // event and the exact page, from the rollup's filtered rows.
    for rolled_up in [false, true] {
        if rolled_up {
            Beaconhouse::new()
                .config(config.path())
                .clickhouse(clickhouse, &db)
                .arg("rollup")
                .run_ok();
        }
        let goals = report(&with("goals", &[]));
        let current = expected_goals(&events, "2026-11-10", 20_767);
        let previous = expected_goals(&events, "2026-11-09", 20_766);
        assert_eq!(
            goals["visitors"], current["visitors"],
            "rolled up: {rolled_up}"
        );
        assert_eq!(goals["previous_visitors"], previous["visitors"]);
        let names: Vec<&str> = goals["goals"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["Book a tour", "Thank-you page", "Read the blog"]);
        for (i, goal) in goals["goals"].as_array().unwrap().iter().enumerate() {
            assert_eq!(goal["current"], current["goals"][i], "{goal}");
            assert_eq!(goal["previous"], previous["goals"][i], "{goal}");
        }
        assert!(
            goals["notes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|n| n.as_str().unwrap().contains("same UTC day")),
            "the report says conversion is within a UTC day"
        );
    }

    // The rollup counted each goal of each day; a goal added to the
    // configuration later is counted for the days already rolled up, alone.
    assert_eq!(
        clickhouse.number(&db, "SELECT count() FROM daily_goals FINAL"),
        3 * 2
    );
    let more = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        more.path(),
        format!("{}{CONFIG}", common::SITE_TOML).replace(
            "\n[[sites.funnels]]",
            "\n[[sites.goals]]\nname = \"Pricing page\"\npage = \"/pricing\"\n\n[[sites.funnels]]",
        ),
    )
    .unwrap();
    let with_more = || {
        Beaconhouse::new()
            .config(more.path())
            .clickhouse(clickhouse, &db)
    };
    assert_eq!(
        with_more().arg("rollup").run_ok(),
        format!(
            "rolled up 0 day(s)\nreleased 0 day(s) to {db}_released.daily\ncounted 2 day(s) of goals added since those days were rolled up\n"
        )
    );
    let goals = with_more().report_json(&with("goals", &[]));
    let pricing = &goals["goals"][3];
    assert_eq!(pricing["name"], "Pricing page");
    let reached = exact(&visitor_days(&events, 20_767), |e| {
        Target::Page("/pricing".into()).reached_by(e.name, e.path)
    });
    let (converting, conversions) = cells("2026-11-10", &["path==/pricing"]).figure(
        ["", "", "visitors", "pageviews"],
        reached,
        false,
    );
    assert_eq!(
        (
            pricing["current"]["converting_visitors"].as_u64(),
            pricing["current"]["conversions"].as_u64()
        ),
        (converting, conversions)
    );

    // The funnel: per visitor-day, the longest run of steps reached in
    // order (greedy: the first event that reaches the next step).
    let steps = [
        Target::Page("/pricing".into()),
        Target::Page("/tour/*".into()),
        Target::Event("book_tour".into()),
    ];
    let days = visitor_days(&events, 20_767);
    let levels: Vec<usize> = days
        .values()
        .map(|list| {
            list.iter().fold(0, |level, e| match steps.get(level) {
                Some(step) if step.reached_by(e.name, e.path) => level + 1,
                _ => level,
            })
        })
        .collect();
    let funnel = report(&with("funnel", &["--funnel", "Tour booking"]));
    let mut path = String::new();
    for (i, step) in steps.iter().enumerate() {
        path.push_str(&step.definition());
        path.push('\n');
        let reached = levels.iter().filter(|&&l| l > i).count() as u64;
        let (visitors, _) = cells("2026-11-10", &[]).named(&path).figure(
            ["funnel_step", "", "visitors", "events"],
            (reached, 0),
            false,
        );
        assert!(reached > 10, "step {i} is reached by a crowd: {reached}");
        assert_eq!(funnel["steps"][i]["visitors"], serde_json::json!(visitors));
        assert_eq!(funnel["steps"][i]["reached_by"], step.definition());
    }

    // A property breakdown counts the custom events that carry it.
    let by_plan = report(&with("breakdown", &["--by", "prop:plan"]));
    assert_eq!(by_plan["dimension"], "prop:plan");
    assert_eq!(by_plan["count"], "events");
    let plans: BTreeSet<&str> = ["monthly", "annual", "day-pass"].into();
    for plan in plans {
        let reached = exact(&days, |e| e.name != "pageview" && e.plan == Some(plan));
        let (unique, count) = cells("2026-11-10", &[]).figure(
            ["prop:plan", plan, "visitors", "pageviews"],
            reached,
            false,
        );
        let row = by_plan["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["value"] == plan)
            .unwrap_or_else(|| panic!("{plan} in {by_plan}"));
        assert_eq!(
            (row["unique"].as_u64(), row["count"].as_u64()),
            (unique, count),
            "{plan}"
        );
    }

    // Filtered by a property, and by a goal: the pages of the visitors who
    // booked a tour that day.
    let monthly = report(&with("summary", &["--filter", "prop:plan==monthly"]));
    let reached = exact(&days, |e| e.plan == Some("monthly"));
    let expected = cells("2026-11-10", &["prop:plan==monthly"]).figure(
        ["all", "", "visitors", "pageviews"],
        (reached.0, 0),
        false,
    );
    assert_eq!(monthly["current"]["visitors"].as_u64(), expected.0);
    let booked = report(&with(
        "breakdown",
        &["--by", "path", "--filter", "goal==Book a tour"],
    ));
    assert_eq!(
        booked["filters"][0]["value"], "Book a tour",
        "shown as asked"
    );
    let tour = Target::Event("book_tour".into());
    let converted: BTreeMap<u64, Vec<&Event>> = days
        .iter()
        .filter(|(_, list)| list.iter().any(|e| tour.reached_by(e.name, e.path)))
        .map(|(v, list)| (*v, list.clone()))
        .collect();
    let pricing = exact(&converted, |e| e.name == "pageview" && e.path == "/pricing");
    let (unique, count) = cells("2026-11-10", &["goal==event:book_tour"]).figure(
        ["path", "/pricing", "visitors", "pageviews"],
        pricing,
        false,
    );
    let row = booked["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["value"] == "/pricing")
        .unwrap();
    assert_eq!(
        (row["unique"].as_u64(), row["count"].as_u64()),
        (unique, count)
    );

    // Hits not counted: the report lists every reason, each released.
    clickhouse.query(
        &db,
        "INSERT INTO filtered_hits (site, hour, reason, kind, hits) VALUES \
         ('optimumabq.com', toDateTime('2026-11-10 03:00:00'), 'bot', 'library', 40), \
         ('optimumabq.com', toDateTime('2026-11-10 03:00:00'), 'bot', 'library', 2), \
         ('optimumabq.com', toDateTime('2026-11-10 17:00:00'), 'bot', 'crawler', 25), \
         ('optimumabq.com', toDateTime('2026-11-10 17:00:00'), 'referrer_spam', '', 12), \
         ('optimumabq.com', toDateTime('2026-11-11 00:00:00'), 'bot', 'crawler', 1000), \
         ('elsewhere.example', toDateTime('2026-11-10 03:00:00'), 'bot', 'crawler', 1000), \
         ('', toDateTime('2026-11-10 03:00:00'), 'unknown_site', '', 1000)",
    );
    let filtered = report(&with("filtered", &[]));
    let cells = Expect::filtered(SITE, "2026-11-10 00:00", "2026-11-11 00:00");
    let exact = [
        ("bot", "crawler", 25),
        ("bot", "library", 42),
        ("bot", "headless", 0),
        ("referrer_spam", "", 12),
        ("rate_limited", "", 0),
    ];
    for (reason, kind, hits) in exact {
        let value = format!("{reason}:{kind}");
        let row = filtered["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["reason"] == reason && r["kind"] == kind)
            .unwrap_or_else(|| panic!("{value} in {filtered}"));
        assert_eq!(
            row["hits"].as_u64(),
            Some(cells.count(["reason", &value, "hits"], hits)),
            "{value}"
        );
    }
    assert_eq!(
        filtered["reasons"].as_array().unwrap().len(),
        11,
        "every reason, zeros too"
    );
    assert_eq!(
        filtered["total"].as_u64(),
        Some(cells.count(["reason", "", "hits"], 25 + 42 + 12))
    );

    // As staff read them (`cargo test -- --nocapture` prints them).
    for args in [
        with("goals", &[]),
        with("funnel", &["--funnel", "Tour booking"]),
        with("breakdown", &["--by", "prop:plan"]),
        with("filtered", &[]),
    ] {
        let table = Beaconhouse::new()
            .config(config.path())
            .clickhouse(clickhouse, &db)
            .arg("report")
            .args(&args)
            .run_ok();
        eprintln!("$ beaconhouse report {}\n{table}", args.join(" "));
    }

    // The stats API answers the same, and names what it does not know.
    let collector = Collector::start(clickhouse, &db, CONFIG);
    let api = |query: &str| {
        let response = collector.get(
            &format!("/api/v1/stats/{query}"),
            &[("Authorization", &format!("Bearer {TOKEN}"))],
        );
        (
            response.status,
            serde_json::from_slice::<Value>(&response.body).unwrap(),
        )
    };
    let (status, goals) = api("goals?site=optimumabq.com&from=2026-11-10&to=2026-11-10");
    assert_eq!(status, 200);
    assert_eq!(goals, report(&with("goals", &[])));
    let (status, funnel_api) =
        api("funnel?site=optimumabq.com&from=2026-11-10&to=2026-11-10&funnel=Tour+booking");
    assert_eq!((status, &funnel_api), (200, &funnel));
    for (query, says) in [
        (
            "funnel?site=optimumabq.com&from=2026-11-10&to=2026-11-10&funnel=Nope",
            "use one of: Tour booking",
        ),
        (
            "summary?site=optimumabq.com&from=2026-11-10&to=2026-11-10&filter=goal==Nope",
            "use one of: Book a tour, Thank-you page, Read the blog",
        ),
        (
            "breakdown?site=optimumabq.com&from=2026-11-10&to=2026-11-10&by=goal",
            "goal is a filter",
        ),
    ] {
        let (status, body) = api(query);
        assert_eq!(status, 400, "{query}: {body}");
        assert!(body.to_string().contains(says), "{query}: {body}");
    }
}
