//! What `beaconhouse audit` looks for, as rules over plain data: the checks
//! it runs ([`Check`]); the shapes of personal data that no stored text may
//! take ([`Shape`]: an IP address, an e-mail address, a token), as RE2
//! patterns that ClickHouse 18.16 and current releases read alike; which
//! columns hold text ([`text_column`]), which of them hold secrets by design
//! ([`secret_by_design`]), which tables hold rows of their own
//! ([`holds_rows`]) and the date column their recent rows are found by
//! ([`window_column`]); which stored salts have outlived the promise
//! ([`overdue_salts`]); the day retention is judged by ([`retention_day`]);
//! and which metric series speak of Do-Not-Track or Global Privacy Control
//! ([`consent_series`]).
//!
//! Owns: these rules, as pure functions, table-tested. Sampling ClickHouse
//! with them is `store::audit_probe`'s job; running the checks and saying
//! what to do is `audit`'s.
//! Must never: do I/O, or keep, return or log a value it judged (a value
//! shaped like personal data may be the personal data itself).

use super::salt_rules;
use crate::clock;

/// The checks of `beaconhouse audit`. A fixed enum: their labels are the
/// `check` label of `beaconhouse_audit_findings` in `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// No text column of any table holds something shaped like an IP
    /// address, an e-mail address or a token (sampled).
    PersonalData,
    /// No visitor salt is stored past the day the promise destroys it.
    Salts,
    /// No month is kept past its `[retention]` period.
    Retention,
    /// The spool's files and directories and the configuration file's
    /// secrets are the collector's alone.
    Files,
    /// The staff SQL user is refused every raw table.
    StaffSql,
    /// No metric series speaks of Do-Not-Track or Global Privacy Control.
    Metrics,
}

impl Check {
    pub const ALL: [Check; 6] = [
        Check::PersonalData,
        Check::Salts,
        Check::Retention,
        Check::Files,
        Check::StaffSql,
        Check::Metrics,
    ];

    /// The checks `serve` runs daily: the cheap ones. Sampling every text
    /// column is left to `beaconhouse audit`, and the staff check to an
    /// operator who names the staff user.
    pub const DAILY: [Check; 4] = [Check::Files, Check::Salts, Check::Retention, Check::Metrics];

    /// Its name in the audit's output and its label in `/metrics`.
    pub fn label(self) -> &'static str {
        match self {
            Check::PersonalData => "personal_data",
            Check::Salts => "salts",
            Check::Retention => "retention",
            Check::Files => "files",
            Check::StaffSql => "staff_sql",
            Check::Metrics => "metrics",
        }
    }
}

/// A shape of personal data that no stored text may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Ipv4,
    Ipv6,
    Email,
    /// A long hex or base64-like run that mixes letters and digits, as
    /// `enrich::scrub` stores as `:token`, or a UUID (`:uuid`).
    Token,
}

impl Shape {
    pub const ALL: [Shape; 4] = [Shape::Ipv4, Shape::Ipv6, Shape::Email, Shape::Token];

    /// What a value of this shape is, for people.
    pub fn describe(self) -> &'static str {
        match self {
            Shape::Ipv4 => "an IPv4 address",
            Shape::Ipv6 => "an IPv6 address",
            Shape::Email => "an e-mail address",
            Shape::Token => "a token or UUID",
        }
    }
}

/// Four numbers of 0 to 255 joined by dots, not inside a longer dotted run
/// of digits and not right after a letter (`v1.2.3.4` is a version). The
/// patterns hold no `?`, which the ClickHouse client reads as a placeholder.
pub const IPV4: &str = "(^|[^0-9A-Za-z.])(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])([.](25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])){3}($|[^0-9.]|[.]($|[^0-9]))";

/// Eight groups of up to four hex digits, or fewer around one `::` with at
/// least one group, not inside a longer run of letters, digits and colons
/// (`12:30:45` is a time, `std::fmt` a path).
pub const IPV6: &str = "(^|[^0-9A-Za-z:])(([0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}|[0-9A-Fa-f]{1,4}(:[0-9A-Fa-f]{1,4}){0,6}::([0-9A-Fa-f]{1,4}(:[0-9A-Fa-f]{1,4}){0,6}){0,1}|::[0-9A-Fa-f]{1,4}(:[0-9A-Fa-f]{1,4}){0,6})($|[^0-9A-Za-z:])";

/// A local part, `@`, and a domain that ends in a dot and two letters or
/// more.
pub const EMAIL: &str = "[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+([.][A-Za-z0-9-]+)*[.][A-Za-z]{2,}";

/// A UUID, in any case.
pub const UUID: &str =
    "[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}";

/// A run of letters and digits long enough to be a token of
/// [`TOKEN_HEX_LENGTH`] hex digits; what is found is then judged run by run.
pub const TOKEN_RUN: &str = "[A-Za-z0-9]{16,}";
/// A run that is all hex digits.
pub const HEX_RUN: &str = "^[0-9A-Fa-f]+$";
pub const DIGIT: &str = "[0-9]";
pub const LETTER: &str = "[A-Za-z]";
/// A run that mixes letters and digits is a token from this length on, as
/// `enrich::scrub` judges one ...
pub const TOKEN_LENGTH: usize = 20;
/// ... or from this length when it is all hex digits.
pub const TOKEN_HEX_LENGTH: usize = 16;

/// How a column holds text, if it does: one per row or an array of them,
/// each perhaps NULL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextColumn {
    pub array: bool,
    pub nullable: bool,
}

/// How a column of the ClickHouse type `type_name` holds text: `String`,
/// wrapped in `Nullable`, `LowCardinality` or `Array` of them; `None` for
/// any other type (numbers, dates, `FixedString`, maps).
pub fn text_column(type_name: &str) -> Option<TextColumn> {
    let (array, inner) = match unwrap_type(type_name, "Array") {
        Some(inner) => (true, inner),
        None => (false, type_name),
    };
    let inner = unwrap_type(inner, "LowCardinality").unwrap_or(inner);
    let (nullable, inner) = match unwrap_type(inner, "Nullable") {
        Some(inner) => (true, inner),
        None => (false, inner),
    };
    (inner == "String").then_some(TextColumn { array, nullable })
}

/// `T` of `Wrapper(T)`.
fn unwrap_type<'a>(type_name: &'a str, wrapper: &str) -> Option<&'a str> {
    type_name
        .strip_prefix(wrapper)?
        .strip_prefix('(')?
        .strip_suffix(')')
}

/// Columns that hold a secret by design, which the salts check covers and
/// which look like tokens because they are: the visitor salts and the
/// recipient key.
pub fn secret_by_design(table: &str, column: &str) -> bool {
    matches!(
        (table, column),
        ("visitor_salts", "salt") | ("recipient_keys", "key")
    )
}

/// Whether a table of the engine `engine` holds rows of its own: the
/// `MergeTree` and `Log` families and `Memory`. Views, `Distributed` tables
/// (on a cluster, the node's `_local` tables are sampled instead) and
/// tables over other sources hold none.
pub fn holds_rows(engine: &str) -> bool {
    engine.ends_with("MergeTree") || engine.ends_with("Log") || engine == "Memory"
}

/// Of a table's columns `(name, type, in the partition key)`, in table
/// order, the date or time column of its partition key: a sample of recent
/// rows reads only recent partitions. `None`: the table is not partitioned
/// by date, and its sample is bounded by rows alone.
pub fn window_column<'a>(
    columns: impl IntoIterator<Item = (&'a str, &'a str, bool)>,
) -> Option<&'a str> {
    columns
        .into_iter()
        .find(|(_, type_name, in_partition_key)| {
            *in_partition_key
                && (matches!(*type_name, "Date" | "Date32") || type_name.starts_with("DateTime"))
        })
        .map(|(name, _, _)| name)
}

/// How long after an expired salt's last day it may still be stored: the
/// salt keeper of a running collector destroys it within a minute of
/// midnight; an hour leaves room for a collector that is restarting.
pub const SALT_GRACE_SECONDS: u32 = 3600;

/// Of the days whose visitor salts are stored, those that
/// `salt_rules::expired` has destroyed for longer than
/// [`SALT_GRACE_SECONDS`] when it is `now` (UTC seconds).
pub fn overdue_salts(stored_days: &[u16], now: u32) -> Vec<u16> {
    salt_rules::expired(
        stored_days,
        clock::day_of(now.saturating_sub(SALT_GRACE_SECONDS)),
    )
}

/// The day the retention check judges by when it is `today`: yesterday. A
/// running collector drops an expired month within a day (at start, then
/// daily), so only a month that `retention_rule` let go before yesterday
/// is overdue.
pub fn retention_day(today: u16) -> u16 {
    today.saturating_sub(1)
}

/// Words that, in a series' name or labels, speak of an opted-out request.
const CONSENT_WORDS: [&str; 9] = [
    "dnt",
    "gpc",
    "do_not_track",
    "donottrack",
    "do-not-track",
    "consent",
    "opt_out",
    "optout",
    "opted_out",
];

/// The series (name and labels, as written) of a Prometheus text
/// exposition whose name or labels speak of Do-Not-Track, Global Privacy
/// Control or consent: an opted-out request must be counted nowhere. Each
/// once, in order; comments (`# HELP`) are not series.
pub fn consent_series(exposition: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for line in exposition.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        // The value, and a timestamp if any, follow the last `}` or the name.
        let series = match line.rfind('}') {
            Some(end) => &line[..=end],
            None => line.split_whitespace().next().unwrap_or_default(),
        };
        let lower = series.to_ascii_lowercase();
        if CONSENT_WORDS.iter().any(|word| lower.contains(word))
            && !found.iter().any(|f| f == series)
        {
            found.push(series.to_string());
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enrich::scrub;
    use regex::Regex;

    fn matches(pattern: &str, text: &str) -> bool {
        Regex::new(pattern).unwrap().is_match(text)
    }

    /// The token rule as `store::audit_probe` writes it in SQL: a UUID, or
    /// a run of [`TOKEN_RUN`] that mixes letters and digits and is long
    /// enough, or all hex and long enough.
    fn token(text: &str) -> bool {
        let run = Regex::new(TOKEN_RUN).unwrap();
        matches(UUID, text)
            || run.find_iter(text).any(|found| {
                let run = found.as_str();
                (run.len() >= TOKEN_LENGTH || matches(HEX_RUN, run))
                    && matches(DIGIT, run)
                    && matches(LETTER, run)
            })
    }

    fn shapes(text: &str) -> Vec<Shape> {
        Shape::ALL
            .into_iter()
            .filter(|shape| match shape {
                Shape::Ipv4 => matches(IPV4, text),
                Shape::Ipv6 => matches(IPV6, text),
                Shape::Email => matches(EMAIL, text),
                Shape::Token => token(text),
            })
            .collect()
    }

    #[test]
    fn personal_data_is_found_in_any_text() {
        use Shape::*;
        let cases: &[(&str, &[Shape])] = &[
            ("203.0.113.9", &[Ipv4]),
            ("/from/203.0.113.9/x", &[Ipv4]),
            ("ip=10.0.0.1&x", &[Ipv4]),
            ("1.2.3.4.nip.io", &[Ipv4]),
            ("the address 192.168.1.254.", &[Ipv4]),
            ("2001:db8:85a3:8d3:1319:8a2e:370:7348", &[Ipv6]),
            ("2001:db8::1", &[Ipv6]),
            ("[fe80::1]:8080", &[Ipv6]),
            ("::1", &[Ipv6]),
            ("fe80::", &[Ipv6]),
            ("::ffff:198.51.100.7", &[Ipv4, Ipv6]),
            ("carol@example.com", &[Email]),
            ("/u/bob.smith+tag@mail.example.org/reset", &[Email]),
            ("@alice@mastodon.social", &[Email]),
            ("/t/9f86d081884c7d659a2feaa0c55ad015", &[Token]),
            ("deadbeef0deadbeef", &[Token]),
            ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig", &[Token]),
            ("Zm9vYmFyYmF6cXV4cXV1eDEyMw", &[Token]),
            ("signup-3f2a9c1e-7b4d-4e8a-9c0f-1234567890ab", &[Token]),
        ];
        for (text, expected) in cases {
            assert_eq!(shapes(text), *expected, "{text}");
        }
    }

    #[test]
    fn what_beaconhouse_stores_takes_no_shape() {
        let stored = [
            "",
            "/",
            "/pricing",
            "/blog/2026/11/coworking-in-albuquerque",
            "/u/:email/reset",
            "/t/:token",
            "/reset/:uuid/done",
            "/orders/:id",
            "(unknown)",
            "(other)",
            "optimumabq.com",
            "www.google.com",
            "xn--80ak6aa92e.com",
            "l.facebook.com",
            "US",
            "US-NM",
            "Albuquerque",
            "Chrome",
            "Mobile Safari",
            "Windows 10",
            "Mac OSX",
            "desktop",
            "pageview",
            "book_tour",
            "spring-2026",
            "banner_300x250_v2",
            "0013_old_hour_rows.sql",
            "Apple Mail",
            "token",
            "link",
            "marketing",
            // Looks close, is not: versions, times, paths, runs too short.
            "/downloads/v1.2.3.4/setup.exe",
            "/changelog/1.2.3",
            "10.1.2.3.4",
            "256.1.1.1",
            "12:30:45",
            "/docs/std::fmt",
            "a :: b",
            "c@t.",
            "@carol",
            "deadbeefdeadbeef",
            "coworking-space-in-downtown-albuquerque",
            "abcdefghijklmnopqrstuvwxyz",
        ];
        for text in stored {
            assert_eq!(shapes(text), [], "{text}");
        }
    }

    #[test]
    fn whatever_scrub_stores_as_a_token_is_a_token_here() {
        let segments = [
            "9f86d081884c7d659a2feaa0c55ad015",
            "deadbeefdeadbeef",
            "deadbeef0deadbeef",
            "Zm9vYmFyYmF6cXV4cXV1eDEyMw",
            "3f2a9c1e-7b4d-4e8a-9c0f-1234567890ab",
            "A1B2C3D4E5F6",
            "coworking-in-albuquerque",
            "abc123",
            "x0123456789abcdefghij",
            "0123456789abcdef",
        ];
        for segment in segments {
            let scrubbed = scrub::value(segment);
            assert_eq!(
                token(segment),
                scrubbed == ":token" || scrubbed == ":uuid",
                "{segment} is stored as {scrubbed}"
            );
        }
    }

    #[test]
    fn the_patterns_have_no_placeholder() {
        for pattern in [IPV4, IPV6, EMAIL, UUID, TOKEN_RUN, HEX_RUN, DIGIT, LETTER] {
            assert!(!pattern.contains('?'), "{pattern}");
            Regex::new(pattern).unwrap();
        }
        assert!(TOKEN_RUN.contains(&TOKEN_HEX_LENGTH.to_string()));
    }

    #[test]
    fn text_columns_are_strings_however_wrapped() {
        let plain = TextColumn {
            array: false,
            nullable: false,
        };
        let cases = [
            ("String", Some(plain)),
            ("LowCardinality(String)", Some(plain)),
            (
                "Nullable(String)",
                Some(TextColumn {
                    nullable: true,
                    ..plain
                }),
            ),
            (
                "LowCardinality(Nullable(String))",
                Some(TextColumn {
                    nullable: true,
                    ..plain
                }),
            ),
            (
                "Array(String)",
                Some(TextColumn {
                    array: true,
                    ..plain
                }),
            ),
            (
                "Array(LowCardinality(Nullable(String)))",
                Some(TextColumn {
                    array: true,
                    nullable: true,
                }),
            ),
            ("FixedString(16)", None),
            ("UInt64", None),
            ("DateTime('UTC')", None),
            ("Map(String, String)", None),
            ("Array(UInt8)", None),
            ("Stringy", None),
        ];
        for (type_name, expected) in cases {
            assert_eq!(text_column(type_name), expected, "{type_name}");
        }
    }

    #[test]
    fn which_tables_and_columns_are_sampled_and_by_what_date() {
        assert!(holds_rows("MergeTree"));
        assert!(holds_rows("ReplicatedReplacingMergeTree"));
        assert!(holds_rows("TinyLog") && holds_rows("Memory"));
        for engine in ["View", "MaterializedView", "Distributed", "Merge", "Null"] {
            assert!(!holds_rows(engine), "{engine}");
        }
        assert!(secret_by_design("visitor_salts", "salt"));
        assert!(secret_by_design("recipient_keys", "key"));
        assert!(!secret_by_design("events", "salt"));

        let events = [
            ("site", "String", false),
            ("ts", "DateTime('UTC')", true),
            ("path", "String", false),
        ];
        assert_eq!(window_column(events), Some("ts"));
        let daily = [("day", "Date", true), ("computed_at", "DateTime", false)];
        assert_eq!(window_column(daily), Some("day"));
        let keys = [("key", "String", false), ("created_at", "DateTime", false)];
        assert_eq!(window_column(keys), None);
        assert_eq!(window_column([("n", "UInt32", true)]), None);
    }

    #[test]
    fn salts_are_overdue_an_hour_after_the_keeper_destroys_them() {
        // 2026-11-25 00:30 and 01:30 UTC.
        let day = clock::day_from_civil(2026, 11, 25).unwrap();
        let midnight = u32::from(day) * 86_400;
        let stored = [day - 5, day - 2, day - 1, day, day + 1];
        assert_eq!(overdue_salts(&stored, midnight + 1800), [day - 5]);
        assert_eq!(overdue_salts(&stored, midnight + 5400), [day - 5, day - 2]);
        assert_eq!(overdue_salts(&[], midnight), Vec::<u16>::new());
        assert_eq!(retention_day(day), day - 1);
        assert_eq!(retention_day(0), 0);
    }

    #[test]
    fn series_that_speak_of_consent_are_named_once() {
        let exposition = "\
# HELP beaconhouse_hits_dropped_total Hits answered but not stored, by reason (DNT is counted nowhere).
# TYPE beaconhouse_hits_dropped_total counter
beaconhouse_hits_dropped_total{reason=\"bot\"} 2
beaconhouse_hits_dropped_total{reason=\"dnt\"} 3
beaconhouse_hits_dropped_total{reason=\"dnt\"} 3 1700000000
beaconhouse_opted_out_total 1
beaconhouse_requests_total{header=\"Sec-GPC\"} 4
beaconhouse_rows_stored_total 5
";
        assert_eq!(
            consent_series(exposition),
            [
                "beaconhouse_hits_dropped_total{reason=\"dnt\"}",
                "beaconhouse_opted_out_total",
                "beaconhouse_requests_total{header=\"Sec-GPC\"}",
            ]
        );
        assert_eq!(consent_series(""), Vec::<String>::new());
    }

    #[test]
    fn labels_are_fixed_and_the_daily_checks_are_the_cheap_ones() {
        let labels: Vec<&str> = Check::ALL.iter().map(|c| c.label()).collect();
        assert_eq!(
            labels,
            [
                "personal_data",
                "salts",
                "retention",
                "files",
                "staff_sql",
                "metrics"
            ]
        );
        assert!(!Check::DAILY.contains(&Check::PersonalData));
        assert!(!Check::DAILY.contains(&Check::StaffSql));
    }
}
