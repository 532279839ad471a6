//! Fuzzing on stable Rust: property-based targets (proptest) for every parser
//! that reads what a client, a proxy or the disk sends. Each draws arbitrary
//! input (bytes, any characters) and near-valid input (real values with
//! pieces inserted, cut or repeated), and checks that nothing panics, that
//! what should round-trip does (query strings, beacon bodies, spool frames
//! and records, filters, dates), that cleaning is a fixed point, and the
//! privacy rules that are cheap to state (a stored path holds no query and no
//! e-mail address; a client cannot choose its own address).
//!
//! `cargo test` runs a short pass: proptest's 256 cases a target (or
//! `PROPTEST_CASES`). `benches/fuzz.sh` runs every target for `FUZZ_SECONDS`
//! each and prints its executions and findings. A failure is shrunk to a
//! minimal input and its seed saved in `proptest-regressions/fuzz.txt`,
//! which every later run replays first; seed corpora are in `tests/fuzz/`.

use std::cell::Cell;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use beaconhouse::enrich::scrub::{self, PathPattern};
use beaconhouse::enrich::ua::UaClassifier;
use beaconhouse::enrich::url::{
    MAX_HOST_CHARS, MAX_PATH_CHARS, MAX_UTM_CHARS, PageUrl, UNKNOWN_PAGE, clean_page_url,
    referrer_host,
};
use beaconhouse::http::params::{EventBody, Query};
use beaconhouse::privacy::client_ip;
use beaconhouse::report::request::{Details, MAX_FILTERS, ReportRequest, with_site_time_zone};
use beaconhouse::report::vocabulary::{
    Day, Dimension, Filter, FilterOp, Format, MAX_DAYS, MAX_LIMIT, ReportKind, Vocabulary,
};
use beaconhouse::row::row_binary::EncodedRows;
use beaconhouse::row::{ClickRow, EventRow, OpenRow, Record};
use beaconhouse::spool::frame::{self, Scan};
use ipnet::IpNet;
use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseResult, TestRunner};

// ---------------------------------------------------------------------------
// The harness

/// Where failing seeds are kept (relative to the package: cargo runs tests there).
const REGRESSIONS: &str = "proptest-regressions/fuzz.txt";

/// Runs `property` on inputs drawn from `strategy` and prints how many ran.
/// Without `FUZZ_SECONDS`, one proptest run (256 cases, or `PROPTEST_CASES`);
/// with it, runs of fresh random cases until that many seconds have passed.
/// A failure, shrunk, fails the test.
fn fuzz<S: Strategy>(name: &str, strategy: S, property: impl Fn(S::Value) -> TestCaseResult) {
    let budget = std::env::var("FUZZ_SECONDS").ok().map(|seconds| {
        Duration::from_secs_f64(
            seconds
                .parse()
                .expect("FUZZ_SECONDS is a number of seconds"),
        )
    });
    let executions = Cell::new(0u64);
    let counted = |value| {
        executions.set(executions.get() + 1);
        property(value)
    };
    let started = Instant::now();
    let failure = loop {
        let mut runner = TestRunner::new(Config {
            failure_persistence: Some(Box::new(FileFailurePersistence::Direct(REGRESSIONS))),
            ..Config::default()
        });
        match runner.run(&strategy, counted) {
            Err(failure) => break Some(failure),
            Ok(()) if budget.is_some_and(|budget| started.elapsed() < budget) => continue,
            Ok(()) => break None,
        }
    };
    // benches/fuzz.sh reads this line.
    eprintln!(
        "fuzz {name}: {} executions, {} findings, {:.1} s",
        executions.get(),
        u8::from(failure.is_some()),
        started.elapsed().as_secs_f64()
    );
    if let Some(failure) = failure {
        panic!("{name}: {failure}");
    }
}

// ---------------------------------------------------------------------------
// Input: arbitrary and near-valid

/// Any text: any characters (controls and non-characters included), or
/// arbitrary bytes read as a server reads them (invalid UTF-8 as U+FFFD).
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(any::<char>(), 0..80).prop_map(String::from_iter),
        prop::collection::vec(any::<u8>(), 0..80)
            .prop_map(|bytes| String::from_utf8_lossy(&bytes).into_owned()),
        "\\PC{0,40}",
    ]
}

/// Pieces that some parser here treats specially.
const SHARP: &[&str] = &[
    "%",
    "%2F",
    "%2f",
    "%3F",
    "%23",
    "%40",
    "%00",
    "%FF",
    "%E2%82",
    "%2E%2E",
    "?",
    "#",
    "&",
    "=",
    "@",
    "/",
    "//",
    "\\",
    ";",
    ":",
    "[",
    "]",
    ".",
    "..",
    " ",
    "\t",
    "\n",
    "\0",
    "\u{7f}",
    "é",
    "\u{202e}",
    "\u{fffd}",
    "+",
    ",",
    "==",
    "!=",
    "~",
    "-",
    "::",
    "::ffff:",
    "www.",
    "a@b.co",
    "utm_source=",
    "0",
    "9999999",
    "x",
];

/// One edit of a near-valid input.
#[derive(Debug, Clone)]
enum Edit {
    Insert(Index, String),
    Delete(Index, usize),
    Repeat(Index, usize),
    Truncate(Index),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        3 => (any::<Index>(), select(SHARP)).prop_map(|(at, piece)| Edit::Insert(at, piece.into())),
        1 => (any::<Index>(), any::<char>()).prop_map(|(at, c)| Edit::Insert(at, c.into())),
        2 => (any::<Index>(), 1..8usize).prop_map(|(at, n)| Edit::Delete(at, n)),
        1 => (any::<Index>(), 1..12usize).prop_map(|(at, n)| Edit::Repeat(at, n)),
        1 => any::<Index>().prop_map(Edit::Truncate),
    ]
}

/// The byte offset of the `at`-th character boundary of `text`.
fn boundary(text: &str, at: &Index) -> usize {
    let boundaries: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain([text.len()])
        .collect();
    boundaries[at.index(boundaries.len())]
}

impl Edit {
    fn apply(&self, text: &mut String) {
        match self {
            Edit::Insert(at, piece) => text.insert_str(boundary(text, at), piece),
            Edit::Delete(at, n) => {
                let start = boundary(text, at);
                let end = text[start..]
                    .char_indices()
                    .nth(*n)
                    .map_or(text.len(), |(i, _)| start + i);
                text.replace_range(start..end, "");
            }
            Edit::Repeat(at, n) => {
                let start = boundary(text, at);
                let piece: String = text[start..].chars().take(*n).collect();
                text.insert_str(start, &piece);
            }
            Edit::Truncate(at) => text.truncate(boundary(text, at)),
        }
    }
}

/// A seed with up to four edits.
fn near(seeds: Vec<String>) -> impl Strategy<Value = String> {
    (select(seeds), prop::collection::vec(edit(), 0..4)).prop_map(|(mut text, edits)| {
        for edit in &edits {
            edit.apply(&mut text);
        }
        text
    })
}

fn seeds(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// The non-comment lines of a seed file in `tests/fuzz/`.
fn seed_file(text: &str) -> Vec<String> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(str::to_string)
        .collect()
}

// ---------------------------------------------------------------------------
// http::params: query strings and the beacon body

const QUERY_SEEDS: &[&str] = &[
    "site=optimumabq.com&url=https%3A%2F%2Foptimumabq.com%2Fpricing%3Futm_source%3Dnews&ref=https%3A%2F%2Fwww.google.com%2F",
    "c=2026-11-newsletter&rid=8f14e45fceea167a5a36dedd4bea2543",
    "site=a.com&url=/x&site=b.com&bad=%E0%A4%A&x",
    "from=2026-11-01&to=2026-11-30&tz=America%2FDenver&filter=country%3D%3DUS&filter=path~blog&by=path&limit=10&format=csv",
    "a=1&&b=&=c&%zz=%&+=+",
];

#[test]
fn query_string_arbitrary() {
    let input = prop_oneof![text(), near(seeds(QUERY_SEEDS))];
    fuzz("query_string_arbitrary", input, |query| {
        let parsed = Query::parse(&query);
        let pairs: Vec<_> = parsed.pairs().collect();
        prop_assert!(pairs.len() <= 32);
        for (name, _) in &pairs {
            let first = pairs
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone());
            prop_assert_eq!(parsed.get(name), first);
        }
        // The lazy decoder reads exactly what `form_urlencoded` reads.
        let reference: Vec<_> = form_urlencoded::parse(query.as_bytes()).take(32).collect();
        prop_assert_eq!(pairs, reference);
        prop_assert_eq!(
            parsed.truncated(),
            form_urlencoded::parse(query.as_bytes()).nth(32).is_some()
        );
        Ok(())
    });
}

#[test]
fn query_string_round_trip() {
    let pairs = prop::collection::vec((text(), text()), 0..40);
    fuzz("query_string_round_trip", pairs, |pairs| {
        let query = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&pairs)
            .finish();
        let parsed = Query::parse(&query);
        let read: Vec<_> = parsed.pairs().collect();
        let read: Vec<(&str, &str)> = read.iter().map(|(n, v)| (n.as_ref(), v.as_ref())).collect();
        let sent: Vec<(&str, &str)> = pairs
            .iter()
            .take(32)
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        prop_assert_eq!(read, sent);
        Ok(())
    });
}

#[test]
fn beacon_body_arbitrary_bytes() {
    let valid = r#"{"site":"optimumabq.com","url":"https://optimumabq.com/p?utm_source=x","ref":null,"name":"book_tour","w":390}"#;
    let input = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..200),
        near(seeds(&[
            valid,
            "{}",
            "[]",
            r#"{"site":1e999}"#,
            r#"{"site":"\ud800"}"#
        ]))
        .prop_map(String::into_bytes),
        (0..200usize).prop_map(|depth| "[".repeat(depth * 10).into_bytes()),
    ];
    fuzz("beacon_body_arbitrary_bytes", input, |body| {
        if let Ok(event) = EventBody::parse(&body) {
            prop_assert!(event.w.is_none_or(f64::is_finite));
        }
        Ok(())
    });
}

#[test]
fn beacon_body_round_trip() {
    let fields = (
        text(),
        proptest::option::of(text()),
        proptest::option::of(text()),
        proptest::option::of(text()),
        proptest::option::of(0..100_000u32),
        prop::collection::btree_map("x_[a-z]{1,6}", text(), 0..3),
    );
    fuzz(
        "beacon_body_round_trip",
        fields,
        |(site, url, referrer, name, w, extra)| {
            let mut body = serde_json::json!({
                "site": site, "url": url, "ref": referrer, "name": name, "w": w,
            });
            for (key, value) in extra {
                body[key] = value.into();
            }
            let event = EventBody::parse(&serde_json::to_vec(&body).unwrap())
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(
                (event.site, event.url, event.referrer, event.name, event.w),
                (site, url, referrer, name, w.map(f64::from))
            );
            Ok(())
        },
    );
}

// ---------------------------------------------------------------------------
// enrich::url and enrich::scrub: what is kept of a page URL and a referrer

const URL_SEEDS: &[&str] = &[
    "https://optimumabq.com/pricing?utm_source=news&utm_medium=email&utm_campaign=nov&utm_term=desk&utm_content=hero",
    "https://WWW.OptimumABQ.com/pricing/?email=a%40b.com&token=s3cret#team",
    "/members/bob@example.com/reset?token=abc#x",
    "/@alice@mastodon.social/with_replies",
    "https://www.optimumabq.com/blog/2026/11/coworking;jsessionid=A1B2C3D4E5F6?utm_campaign=nov",
    "https://a.com/reset/3f2a9c1e-7b4d-4e8a-9c0f-1234567890ab?utm_content=carol%40example.com",
    "http://[2001:db8::1]:8080/p?q=1",
    "https://user:pass@a.com/orders/1234567",
    "https://BÜCHER.de/caf%C3%A9/%FF",
    "https://a.com/a%2Fb/%3Fq=secret/%23frag/x%40y.com",
    "https://a.com/%2e%2e/./x/..",
    "/search%3Fq%3Dmy%20name",
    "https://a.com/t/9f86d081884c7d659a2feaa0c55ad015",
    "android-app://com.google.android.gm/",
    "https://news.ycombinator.com/item?id=1",
];

const PATTERNS: &[&str] = &["/members/:id", "/teams/:team/people/:person", "/u/:user"];

fn patterns() -> Vec<PathPattern> {
    PATTERNS
        .iter()
        .map(|p| PathPattern::parse(p).unwrap())
        .collect()
}

fn url_input() -> impl Strategy<Value = String> {
    prop_oneof![1 => text(), 4 => near(seeds(URL_SEEDS))]
}

/// `local@domain.tld` somewhere in `text`, by a rule written apart from
/// `scrub`'s own: a run of address characters, `@`, then a dotted domain
/// whose last label has two or more letters.
fn looks_like_email(text: &str) -> bool {
    let local_char = |c: char| c.is_ascii_alphanumeric() || "._%+-".contains(c);
    let domain_char = |c: char| c.is_ascii_alphanumeric() || ".-".contains(c);
    text.match_indices('@').any(|(at, _)| {
        let local = text[..at]
            .chars()
            .rev()
            .take_while(|c| local_char(*c))
            .count();
        let domain: String = text[at + 1..]
            .chars()
            .take_while(|c| domain_char(*c))
            .collect();
        let domain = domain.trim_end_matches(['.', '-']);
        let tld = domain.rsplit('.').next().unwrap_or("");
        local > 0
            && domain.contains('.')
            && tld.len() >= 2
            && tld.chars().all(|c| c.is_ascii_alphabetic())
    })
}

fn no_control_chars(text: &str) -> bool {
    !text.chars().any(char::is_control)
}

#[test]
fn page_url_cleaning() {
    let patterns = patterns();
    fuzz("page_url_cleaning", url_input(), |raw| {
        let Some(page) = clean_page_url(&raw) else {
            return Ok(());
        };
        prop_assert!(page.path.starts_with('/'), "{:?}", page.path);
        prop_assert!(page.path.chars().count() <= MAX_PATH_CHARS);
        prop_assert!(page.host.chars().count() <= MAX_HOST_CHARS);
        prop_assert_eq!(&page.host, &page.host.to_lowercase());
        for value in utm_values(&page) {
            prop_assert!(value.chars().count() <= MAX_UTM_CHARS);
            prop_assert!(
                no_control_chars(value) && !looks_like_email(value),
                "{value:?}"
            );
        }
        prop_assert!(no_control_chars(&page.path) && no_control_chars(&page.host));
        // What ingest stores.
        let stored = scrub::path(&page.path, &patterns);
        prop_assert!(
            stored.starts_with('/'),
            "{stored:?} could be taken for {UNKNOWN_PAGE:?}"
        );
        prop_assert!(
            !stored.contains(['?', '#']),
            "a query or fragment in {stored:?}"
        );
        for segment in stored.split('/') {
            prop_assert!(!looks_like_email(segment), "{segment:?} in {stored:?}");
        }
        prop_assert_eq!(
            scrub::path(&stored, &patterns),
            stored.clone(),
            "not a fixed point"
        );
        Ok(())
    });
}

fn utm_values(page: &PageUrl) -> [&str; 5] {
    let utm = &page.utm;
    [
        &utm.source,
        &utm.medium,
        &utm.campaign,
        &utm.term,
        &utm.content,
    ]
    .map(String::as_str)
}

/// A cleaned page URL written back as a URL: what cleaning it again reads.
fn as_url(page: &PageUrl) -> String {
    // Everything the URL parser would read as structure, and `%` itself.
    const PATH: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
        .add(b' ')
        .add(b'"')
        .add(b'#')
        .add(b'%')
        .add(b'<')
        .add(b'>')
        .add(b'?')
        .add(b'\\')
        .add(b'^')
        .add(b'`')
        .add(b'{')
        .add(b'|')
        .add(b'}');
    let mut path = percent_encoding::utf8_percent_encode(&page.path, PATH).to_string();
    if page.host.is_empty() && path.starts_with("//") {
        // `//x` would be a host: the second slash is a path character here.
        path.replace_range(1..2, "%2F");
    }
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(
            [
                "utm_source",
                "utm_medium",
                "utm_campaign",
                "utm_term",
                "utm_content",
            ]
            .into_iter()
            .zip(utm_values(page))
            .filter(|(_, value)| !value.is_empty()),
        )
        .finish();
    let origin = if page.host.is_empty() {
        String::new()
    } else {
        format!("https://{}", page.host)
    };
    format!("{origin}{path}?{query}")
}

/// `.` and `..` segments, which the URL parser resolves: a path holds them
/// only when they came in as `%2F..%2F`, and then cleaning it again resolves
/// them.
fn has_dot_segment(path: &str) -> bool {
    path.split('/')
        .any(|segment| segment == "." || segment == "..")
}

#[test]
fn page_url_cleaning_is_a_fixed_point() {
    fuzz("page_url_cleaning_is_a_fixed_point", url_input(), |raw| {
        let Some(page) = clean_page_url(&raw) else {
            return Ok(());
        };
        if has_dot_segment(&page.path) {
            return Ok(());
        }
        let again = as_url(&page);
        prop_assert_eq!(clean_page_url(&again), Some(page), "cleaning {:?}", again);
        Ok(())
    });
}

#[test]
fn scrubbing_values() {
    fuzz("scrubbing_values", url_input(), |value| {
        let scrubbed = scrub::value(&value);
        prop_assert_eq!(
            scrub::value(&scrubbed),
            scrubbed.clone(),
            "not a fixed point"
        );
        prop_assert!(scrubbed == value || scrubbed.starts_with(':'));
        prop_assert!(!looks_like_email(&scrubbed), "{scrubbed:?}");
        Ok(())
    });
}

#[test]
fn referrer_cleaning() {
    let own = [
        "optimumabq.com".to_string(),
        "www.optimumabq.com".to_string(),
    ];
    let input = prop_oneof![
        url_input(),
        near(seeds(&[
            "https://optimumabq.com/about",
            "https://WWW.OptimumABQ.com./",
            "https://alice:secret@www.google.com:443/search?q=coworking",
            "https://www.www.example.org/"
        ])),
    ];
    fuzz("referrer_cleaning", input, |raw| {
        let host = referrer_host(&raw, &own);
        prop_assert!(host.chars().count() <= MAX_HOST_CHARS);
        prop_assert_eq!(&host, &host.to_lowercase());
        prop_assert!(
            !host.contains(['/', '?', '#', '@']) && no_control_chars(&host),
            "{host:?} holds more than a host"
        );
        prop_assert!(!own.contains(&host) && host != "www.optimumabq.com");
        Ok(())
    });
}

// ---------------------------------------------------------------------------
// privacy::client_ip: the X-Forwarded-For walk

/// One entry of an `X-Forwarded-For` chain as a proxy may write it.
#[derive(Debug, Clone)]
enum Hop {
    Address {
        address: IpAddr,
        port: Option<u16>,
        spaces: (usize, usize),
    },
    /// `unknown`, `_hidden` (RFC 7239's obfuscated names) and the like: no
    /// digit, colon or dot, so never an address.
    Garbage(String),
}

impl Hop {
    fn render(&self) -> String {
        match self {
            Hop::Address {
                address,
                port,
                spaces: (before, after),
            } => {
                let address = match (address, port) {
                    (IpAddr::V4(v4), Some(port)) => format!("{v4}:{port}"),
                    (IpAddr::V6(v6), Some(port)) => format!("[{v6}]:{port}"),
                    (address, None) => address.to_string(),
                };
                format!("{}{address}{}", " ".repeat(*before), " ".repeat(*after))
            }
            Hop::Garbage(text) => text.clone(),
        }
    }
}

fn address() -> impl Strategy<Value = IpAddr> {
    let known = select(
        [
            "127.0.0.1",
            "127.5.5.5",
            "10.0.0.2",
            "10.9.9.9",
            "203.0.113.7",
            "198.51.100.9",
            "192.0.2.1",
            "::1",
            "2001:db8::5",
            "fd00::1",
            "::ffff:10.0.0.3",
            "::ffff:203.0.113.9",
            "::ffff:127.0.0.1",
        ]
        .map(|a| a.parse::<IpAddr>().unwrap())
        .to_vec(),
    );
    prop_oneof![
        4 => known,
        1 => any::<Ipv4Addr>().prop_map(IpAddr::V4),
        1 => any::<Ipv6Addr>().prop_map(IpAddr::V6),
    ]
}

fn hop() -> impl Strategy<Value = Hop> {
    prop_oneof![
        5 => (address(), proptest::option::of(any::<u16>()), (0..2usize, 0..2usize))
            .prop_map(|(address, port, spaces)| Hop::Address { address, port, spaces }),
        1 => "[g-zG-Z_ ]{0,10}".prop_map(Hop::Garbage),
    ]
}

fn trusted_networks() -> impl Strategy<Value = Vec<IpNet>> {
    select(vec![
        vec![],
        vec!["127.0.0.0/8"],
        vec!["127.0.0.0/8", "10.0.0.0/8", "::1/128"],
        vec!["10.0.0.0/8", "fd00::/8"],
        vec!["0.0.0.0/0", "::/0"],
    ])
    .prop_map(|nets| nets.iter().map(|n| n.parse().unwrap()).collect())
}

/// `::ffff:192.0.2.1` is 192.0.2.1.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// The chain as header values: every hop joined by `,`, cut into separate
/// `X-Forwarded-For` headers where `splits` says.
fn headers(hops: &[Hop], splits: &[bool]) -> Vec<String> {
    let mut values = vec![String::new()];
    for (i, hop) in hops.iter().enumerate() {
        let current = values.last_mut().unwrap();
        if !current.is_empty() || i > 0 {
            if splits.get(i).copied().unwrap_or(false) {
                values.push(String::new());
            } else {
                current.push(',');
            }
        }
        values.last_mut().unwrap().push_str(&hop.render());
    }
    values
}

/// The walk, over hops whose addresses are known: from the nearest hop
/// outwards, the first address that is not a trusted proxy is the client;
/// an unreadable hop ends what can be believed.
fn model(peer: IpAddr, hops: &[Hop], trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |a: IpAddr| trusted.iter().any(|net| net.contains(&a));
    let mut client = canonical(peer);
    if !is_trusted(client) {
        return client;
    }
    for hop in hops.iter().rev() {
        match hop {
            Hop::Address { address, .. } => {
                client = canonical(*address);
                if !is_trusted(client) {
                    break;
                }
            }
            Hop::Garbage(_) => break,
        }
    }
    client
}

#[test]
fn forwarded_for_arbitrary() {
    let input = (
        address(),
        prop::collection::vec(
            prop_oneof![
                text(),
                near(seeds(&[
                    "203.0.113.7, 10.0.0.2",
                    "[2001:db8::5]:443",
                    "::ffff:1.2.3.4:80"
                ]))
            ],
            0..4,
        ),
        trusted_networks(),
    );
    fuzz(
        "forwarded_for_arbitrary",
        input,
        |(peer, values, trusted)| {
            let client = client_ip::resolve(peer, values.iter().map(String::as_str), &trusted);
            let is_trusted = |a: IpAddr| trusted.iter().any(|net| net.contains(&a));
            if !is_trusted(canonical(peer)) {
                prop_assert_eq!(
                    client,
                    canonical(peer),
                    "the header of an untrusted peer was read"
                );
            }
            Ok(())
        },
    );
}

#[test]
fn forwarded_for_walk() {
    let input = (
        address(),
        prop::collection::vec(hop(), 0..6),
        prop::collection::vec(any::<bool>(), 0..6),
        trusted_networks(),
        text(),
    );
    fuzz(
        "forwarded_for_walk",
        input,
        |(peer, hops, splits, trusted, forged)| {
            let values = headers(&hops, &splits);
            let client = client_ip::resolve(peer, values.iter().map(String::as_str), &trusted);
            prop_assert_eq!(client, model(peer, &hops, &trusted), "headers {:?}", values);
            // Whatever a client writes before the hops the proxies appended
            // cannot change the answer once those hops name an outside address.
            let is_trusted = |a: IpAddr| trusted.iter().any(|net| net.contains(&a));
            let reaches_outside = hops
                .iter()
                .rev()
                .map_while(|hop| match hop {
                    Hop::Address { address, .. } => Some(canonical(*address)),
                    Hop::Garbage(_) => None,
                })
                .any(|a| !is_trusted(a));
            if reaches_outside {
                let spoofed: Vec<&str> = [forged.as_str()]
                    .into_iter()
                    .chain(values.iter().map(String::as_str))
                    .collect();
                prop_assert_eq!(
                    client_ip::resolve(peer, spoofed, &trusted),
                    client,
                    "forged {:?}",
                    forged
                );
            }
            Ok(())
        },
    );
}

// ---------------------------------------------------------------------------
// enrich::ua: user-agent classes and bots

fn browsers() -> Vec<String> {
    seed_file(include_str!("../fuzz/browsers.txt"))
}

fn bots() -> Vec<String> {
    seed_file(include_str!("../fuzz/bots.txt"))
}

/// Tokens that make any user agent a bot's.
const BOT_TOKENS: &[&str] = &["Googlebot/2.1", "bingbot/2.0", "HeadlessChrome/120.0.0.0"];

#[test]
fn user_agent_classes() {
    let classifier = UaClassifier::default();
    let input = prop_oneof![
        1 => text(),
        3 => near(browsers()),
        1 => near(bots()),
        1 => (select(browsers()), select(BOT_TOKENS)).prop_map(|(ua, bot)| format!("{ua} {bot}")),
    ];
    fuzz("user_agent_classes", input, |ua| {
        let class = classifier.classify(&ua);
        prop_assert_eq!(
            classifier.classify(&format!(" {ua}\t")),
            class.clone(),
            "padding changed the class"
        );
        if classifier.is_bot(&ua) || (ua.len() < 1000 && BOT_TOKENS.iter().any(|t| ua.contains(t)))
        {
            prop_assert_eq!(class, None);
        } else if let Some(class) = class {
            for name in [&class.browser, &class.os] {
                prop_assert!(
                    name.chars().count() <= 64 && no_control_chars(name),
                    "{name:?}"
                );
                prop_assert_eq!(name.trim(), name.as_str());
            }
        }
        Ok(())
    });
}

#[test]
fn user_agent_seed_bots_are_bots() {
    let classifier = UaClassifier::default();
    for ua in bots() {
        assert_eq!(classifier.classify(&ua), None, "{ua}");
    }
}

// ---------------------------------------------------------------------------
// spool::frame and the spooled record

/// Reads a buffer as a closed segment is read: every frame, skipping damage.
/// Fails if a step makes no progress.
fn read_segment(mut buf: &[u8]) -> Result<(Vec<Vec<u8>>, usize), TestCaseError> {
    let (mut payloads, mut damaged) = (Vec::new(), 0);
    while !buf.is_empty() {
        let step = match frame::scan(buf) {
            Scan::Frame { payload, next } => {
                prop_assert_eq!(next, frame::HEADER_BYTES + payload.len());
                payloads.push(payload.to_vec());
                next
            }
            Scan::Damaged { resume } => {
                damaged += 1;
                resume
            }
            Scan::Incomplete => {
                damaged += 1;
                frame::skip_damaged(buf)
            }
        };
        prop_assert!(
            (1..=buf.len()).contains(&step),
            "step {} of {}",
            step,
            buf.len()
        );
        buf = &buf[step..];
    }
    Ok((payloads, damaged))
}

fn encode_all(payloads: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for payload in payloads {
        frame::encode(payload, &mut out);
    }
    out
}

fn payloads() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let payload = prop_oneof![
        8 => prop::collection::vec(any::<u8>(), 0..64),
        // Payloads holding the magic, where a resync may land.
        2 => prop::collection::vec(prop_oneof![any::<u8>(), Just(b'B'), Just(b'H'), Just(b'R'), Just(b'1')], 0..64)
            .prop_map(|mut p| { p.extend_from_slice(&frame::MAGIC); p }),
        // Up to the largest payload a frame may hold.
        1 => (prop::collection::vec(any::<u8>(), 0..16), 0..=frame::MAX_PAYLOAD_BYTES)
            .prop_map(|(mut p, len)| { p.resize(len, b'B'); p }),
    ];
    prop::collection::vec(payload, 0..6)
}

#[test]
fn spool_frames_arbitrary_bytes() {
    let input = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300),
        (
            payloads(),
            any::<Index>(),
            prop::collection::vec(any::<u8>(), 0..16)
        )
            .prop_map(|(payloads, at, garbage)| {
                let mut buf = encode_all(&payloads);
                let at = at.index(buf.len() + 1);
                buf.splice(at..at, garbage);
                buf
            }),
    ];
    fuzz("spool_frames_arbitrary_bytes", input, |buf| {
        read_segment(&buf)?;
        if let Scan::Incomplete = frame::scan(&buf) {
            prop_assert!(buf.len() < frame::HEADER_BYTES + frame::MAX_PAYLOAD_BYTES);
        }
        Ok(())
    });
}

#[test]
fn spool_frames_round_trip_and_damage() {
    let input = (payloads(), any::<Index>(), 1..=255u8, any::<Index>());
    fuzz(
        "spool_frames_round_trip_and_damage",
        input,
        |(payloads, flip_at, flip, cut_at)| {
            let buf = encode_all(&payloads);
            prop_assert_eq!(read_segment(&buf)?, (payloads.clone(), 0));
            if buf.is_empty() {
                return Ok(());
            }
            // A changed byte costs the frame it is in, and no other.
            let at = flip_at.index(buf.len());
            let mut damaged = buf.clone();
            damaged[at] ^= flip;
            let mut hit = 0;
            let mut start = 0;
            for (i, p) in payloads.iter().enumerate() {
                if at < start + frame::HEADER_BYTES + p.len() {
                    hit = i;
                    break;
                }
                start += frame::HEADER_BYTES + p.len();
            }
            let mut expected = payloads.clone();
            expected.remove(hit);
            let (read, lost) = read_segment(&damaged)?;
            prop_assert_eq!(read, expected, "byte {} of frame {}", at, hit);
            prop_assert!(lost >= 1);
            // A torn tail costs the frame it cuts, and no other.
            let cut = cut_at.index(buf.len());
            let mut whole = 0;
            let mut end = 0;
            for p in &payloads {
                end += frame::HEADER_BYTES + p.len();
                if end > cut {
                    break;
                }
                whole += 1;
            }
            let (read, _) = read_segment(&buf[..cut])?;
            prop_assert_eq!(read, payloads[..whole].to_vec());
            Ok(())
        },
    );
}

fn short_text() -> impl Strategy<Value = String> {
    prop_oneof![text(), Just(String::new())]
}

fn record() -> impl Strategy<Value = Record> {
    // The text columns of an event, taken in the order they are written below.
    let texts = prop::array::uniform14(short_text());
    let props = prop::collection::vec((short_text(), short_text()), 0..3);
    let event = (
        texts,
        any::<u32>(),
        any::<u64>(),
        any::<i8>(),
        any::<u64>(),
        props,
    )
        .prop_map(|(texts, ts, visitor_id, device, event_id, props)| {
            let mut texts = texts.into_iter();
            let mut text = || texts.next().unwrap();
            Record::Event(EventRow {
                site: text(),
                ts,
                name: text(),
                visitor_id,
                path: text(),
                referrer_host: text(),
                utm_source: text(),
                utm_medium: text(),
                utm_campaign: text(),
                utm_term: text(),
                utm_content: text(),
                country: text(),
                region: text(),
                city: text(),
                browser: text(),
                os: text(),
                device,
                event_id,
                prop_keys: props.iter().map(|(k, _)| k.clone()).collect(),
                prop_values: props.into_iter().map(|(_, v)| v).collect(),
            })
        });
    let open = (
        short_text(),
        any::<u32>(),
        any::<u64>(),
        any::<u8>(),
        short_text(),
        short_text(),
        any::<u64>(),
    )
        .prop_map(
            |(campaign, ts, recipient_id, proxied, country, client, open_id)| {
                Record::Open(OpenRow {
                    campaign,
                    ts,
                    recipient_id,
                    proxied,
                    country,
                    client,
                    open_id,
                })
            },
        );
    let click = (
        prop::array::uniform3(short_text()),
        any::<u32>(),
        any::<u64>(),
        any::<u8>(),
        any::<u8>(),
        any::<u64>(),
    )
        .prop_map(
            |([campaign, link_host, link_path], ts, recipient_id, scanner, honeypot, click_id)| {
                Record::Click(ClickRow {
                    campaign,
                    ts,
                    recipient_id,
                    link_host,
                    link_path,
                    scanner,
                    honeypot,
                    click_id,
                })
            },
        );
    prop_oneof![event, open, click]
}

/// A record's spool payload: its table's tag and its `RowBinary` row.
fn spooled(record: &Record) -> Vec<u8> {
    let mut payload = vec![0; frame::MAX_PAYLOAD_BYTES];
    let length = record
        .encode_spooled(&mut payload)
        .expect("a generated record fits a frame");
    payload.truncate(length);
    payload
}

#[test]
fn spool_records_round_trip() {
    fuzz("spool_records_round_trip", record(), |record| {
        let mut buf = Vec::new();
        frame::encode(&spooled(&record), &mut buf);
        let Scan::Frame { payload, next } = frame::scan(&buf) else {
            return Err(TestCaseError::fail("the frame did not read back"));
        };
        prop_assert_eq!(next, buf.len());
        let mut rows = EncodedRows::default();
        prop_assert_eq!(rows.push_spooled(payload), Ok(()));
        prop_assert_eq!(rows.decode_all(), Some(vec![record]));
        Ok(())
    });
}

#[test]
fn spool_records_arbitrary_payloads() {
    let input = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..200),
        (record(), any::<Index>(), any::<u8>()).prop_map(|(record, at, byte)| {
            let mut bytes = spooled(&record);
            let at = at.index(bytes.len());
            bytes[at] = byte;
            bytes
        }),
    ];
    fuzz("spool_records_arbitrary_payloads", input, |payload| {
        let mut rows = EncodedRows::default();
        if rows.push_spooled(&payload).is_ok() {
            // Whatever is let in is one whole row, which reads back and
            // spools again as itself.
            let records = rows.decode_all();
            prop_assert_eq!(records.as_ref().map(Vec::len), Some(1));
            let record = &records.unwrap_or_default()[0];
            let mut again = EncodedRows::default();
            prop_assert_eq!(again.push_spooled(&spooled(record)), Ok(()));
            prop_assert_eq!(again.decode_all(), Some(vec![record.clone()]));
        } else {
            prop_assert!(rows.is_empty());
        }
        Ok(())
    });
}

// ---------------------------------------------------------------------------
// report::request: report requests and filters

/// Every dimension a filter may test with any operator (a property among
/// them); `goal` takes `==` alone.
fn filterable() -> impl Strategy<Value = Dimension> {
    select(
        Dimension::ALL
            .iter()
            .copied()
            .filter(|d| !matches!(d, Dimension::EntryPage | Dimension::Goal))
            .chain([Dimension::parse("by", "prop:plan").unwrap()])
            .collect::<Vec<_>>(),
    )
}

fn filter_text() -> impl Strategy<Value = String> {
    let dimensions: Vec<String> = Dimension::ALL
        .iter()
        .map(|d| d.name().into_owned())
        .chain(["prop:plan".to_string(), "prop:".to_string()])
        .collect();
    prop_oneof![
        text(),
        (
            select(dimensions),
            select(vec!["==", "!=", "~", "=~", "=", "!", " == "]),
            text()
        )
            .prop_map(|(d, op, value)| format!("{d}{op}{value}")),
        near(seeds(&[
            "country==US",
            "path!=/a==b",
            "referrer_host~google",
            "entry_page==/",
            "utm_source=="
        ])),
    ]
}

#[test]
fn report_filter_parsing() {
    fuzz("report_filter_parsing", filter_text(), |text| {
        if let Ok(filter) = Filter::parse(&text) {
            prop_assert_ne!(filter.dimension, Dimension::EntryPage);
            prop_assert!(filter.value.len() <= 1000);
            prop_assert_eq!(Filter::parse(&filter.to_string()), Ok(filter));
        }
        Ok(())
    });
}

#[test]
fn report_filter_round_trip() {
    let op = select(vec![
        FilterOp::Equals,
        FilterOp::NotEquals,
        FilterOp::Contains,
        FilterOp::Matches,
    ]);
    let value = || {
        prop_oneof![
            text(),
            near(seeds(&["==", "!=", "~", "=~", "/a==b", " US ", ""]))
        ]
    };
    let input = prop_oneof![
        (filterable(), op, value()),
        (Just(Dimension::Goal), Just(FilterOp::Equals), value()),
    ]
    .prop_map(|(dimension, op, value)| Filter {
        dimension,
        op,
        value,
    });
    fuzz("report_filter_round_trip", input, |filter| {
        let parsed = Filter::parse(&filter.to_string());
        if filter.value.len() > 1000 {
            prop_assert!(parsed.is_err());
        } else {
            prop_assert_eq!(parsed, Ok(filter));
        }
        Ok(())
    });
}

#[test]
fn report_dates_round_trip() {
    let last = Day::parse("to", "2105-12-31").unwrap().0;
    let seeds = seeds(&["2026-11-01", "2024-02-29", "1970-01-01", "2105-12-31"]);
    // Ok: a day that must print and read back; Err: text that may be a date.
    let input = prop_oneof![
        (0..=last).prop_map(Ok),
        text().prop_map(Err),
        near(seeds).prop_map(Err)
    ];
    fuzz("report_dates_round_trip", input, |input| {
        match input {
            Ok(day) => prop_assert_eq!(Day::parse("from", &Day(day).to_string()), Ok(Day(day))),
            Err(text) => {
                if let Ok(day) = Day::parse("from", &text) {
                    prop_assert_eq!(day.to_string(), text, "only YYYY-MM-DD reads");
                }
            }
        }
        Ok(())
    });
}

/// Near-valid `(name, value)` pairs of a report request.
fn request_pairs() -> impl Strategy<Value = Vec<(String, String)>> {
    let pair = prop_oneof![
        (
            Just("site"),
            prop_oneof![Just("optimumabq.com".to_string()), text()]
        ),
        (
            Just("campaign"),
            prop_oneof![Just("nov-newsletter".to_string()), text()]
        ),
        (
            Just("from"),
            near(seeds(&["2026-11-01", "1970-01-01", "2024-02-29"]))
        ),
        (
            Just("to"),
            near(seeds(&["2026-11-30", "2028-12-01", "2105-12-31"]))
        ),
        (
            Just("tz"),
            near(seeds(&["UTC", "America/Denver", "Etc/GMT+7"]))
        ),
        (Just("filter"), filter_text()),
        (Just("by"), near(seeds(&["path", "entry_page", "country"]))),
        (
            Just("interval"),
            near(seeds(&["hour", "day", "week", "month"]))
        ),
        (Just("limit"), near(seeds(&["10", "1000", "0"]))),
        (Just("format"), near(seeds(&["json", "csv", "table"]))),
        (select(vec!["", "ip", "SITE", "site ", "by"]), text()),
    ]
    .prop_map(|(name, value)| (name.to_string(), value));
    prop::collection::vec(pair, 0..12)
}

#[test]
fn report_requests() {
    let kind = select(ReportKind::ALL.to_vec());
    fuzz(
        "report_requests",
        (kind, request_pairs()),
        |(kind, pairs)| {
            let pairs = pairs.iter().map(|(n, v)| (n.as_str(), v.as_str()));
            let pairs = with_site_time_zone(pairs, |_| Some("America/Denver"));
            let Ok(request) = ReportRequest::from_pairs(kind, pairs, Format::Json) else {
                return Ok(());
            };
            let period = &request.period;
            prop_assert!(period.from <= period.to && u32::from(period.days()) <= MAX_DAYS);
            prop_assert!(!period.time_zone.is_empty() && period.time_zone.len() <= 64);
            let (filters, limit) = match &request.details {
                Details::Summary { filters, .. }
                | Details::Timeseries { filters, .. }
                | Details::Goals { filters, .. } => (&filters[..], None),
                Details::Funnel { .. } | Details::Filtered { .. } => (&[][..], None),
                Details::Breakdown { filters, limit, .. } => (&filters[..], Some(*limit)),
                Details::Email { limit, .. } => (&[][..], Some(*limit)),
                Details::Campaigns => (&[][..], None),
            };
            prop_assert!(filters.len() <= MAX_FILTERS);
            for (i, filter) in filters.iter().enumerate() {
                prop_assert!(!filters[..i].contains(filter), "{filter} twice");
            }
            prop_assert!(limit.is_none_or(|limit| (1..=MAX_LIMIT).contains(&limit)));
            Ok(())
        },
    );
}

#[test]
fn report_query_strings() {
    let kind = select(ReportKind::ALL.to_vec());
    let query = prop_oneof![
        text(),
        near(seeds(QUERY_SEEDS)),
        request_pairs().prop_map(|pairs| {
            form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs)
                .finish()
        }),
    ];
    fuzz("report_query_strings", (kind, query), |(kind, query)| {
        let query = Query::parse(&query);
        let pairs: Vec<_> = query.pairs().collect();
        let pairs = pairs.iter().map(|(n, v)| (n.as_ref(), v.as_ref()));
        let _ = ReportRequest::from_pairs(kind, pairs, Format::Json);
        Ok(())
    });
}
