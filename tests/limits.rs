//! The collector's bounds against careless or hostile callers, on the real
//! binary and a real clickhouse-server: query strings with too many or
//! repeated parameters.

mod common;

use common::{Collector, enc};
use serde_json::Value;

const TOKEN: &str = "limits-token-0123456789abcdef0123456789ab";

const READER_TOML: &str = r#"
[[reporting.tokens]]
name = "staff"
token = "limits-token-0123456789abcdef0123456789ab"
sites = ["*"]
campaigns = ["*"]
"#;

/// A collector that writes to a database of its own.
fn collector(extra_toml: &str) -> Collector {
    let clickhouse = common::clickhouse();
    let database = clickhouse.fresh_database("limits");
    common::migrate(clickhouse, &database);
    Collector::start(
        clickhouse,
        &database,
        &format!("{READER_TOML}\n{extra_toml}"),
    )
}

fn bearer() -> (&'static str, String) {
    ("Authorization", format!("Bearer {TOKEN}"))
}

/// The `error` of a JSON refusal.
fn error_of(body: &[u8]) -> String {
    let value: Value = serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(body)));
    value["error"].as_str().unwrap_or_default().to_string()
}

#[test]
fn too_many_or_repeated_parameters_are_refused_by_the_stats_api_and_pixels_still_answer() {
    let c = collector("");
    let (name, value) = bearer();
    let auth = [(name, value.as_str())];
    let period = "site=optimumabq.com&from=2026-11-01&to=2026-11-30";
    let ok = c.get(&format!("/api/v1/stats/summary?{period}"), &auth);
    assert_eq!(ok.status, 200, "{}", String::from_utf8_lossy(&ok.body));

    // 33 parameters: before, the 33rd and later were dropped without a word.
    let padding: String = (0..30).map(|i| format!("&x{i}=1")).collect();
    for prefix in ["/api/v1/stats", "/dashboard/api/stats"] {
        let over = c.get(&format!("{prefix}/summary?{period}{padding}"), &auth);
        assert_eq!(over.status, 400, "{prefix}");
        assert_eq!(
            error_of(&over.body),
            "the query string has more than 32 parameters; a report takes each of its parameters once (`filter` up to 3 times)"
        );
        let repeated = c.get(
            &format!("{prefix}/summary?{period}&site=elsewhere.example"),
            &auth,
        );
        assert_eq!(repeated.status, 400, "{prefix}");
        assert_eq!(
            error_of(&repeated.body),
            "`site` is given more than once; give it once"
        );
    }

    // A pixel with as many parameters still answers its GIF.
    let url = enc("https://optimumabq.com/pricing");
    let pixel = c.get(
        &format!("/p.gif?site=optimumabq.com&url={url}{padding}{padding}"),
        &[("User-Agent", common::FIREFOX)],
    );
    assert_eq!(pixel.status, 200);
    assert_eq!(pixel.header("content-type"), Some("image/gif"));
    c.settled();
}
