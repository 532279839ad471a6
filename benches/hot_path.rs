//! Micro-benchmarks for each step a hit goes through, cheapest first, plus the
//! whole `ingest` decision and the spool append in both sync modes.
//!
//!     cargo bench --bench hot_path
//!
//! Numbers vary with the machine; compare steps within one run.

use std::hint::black_box;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use beaconhouse::config::Config;
use beaconhouse::enrich::geo::{GeoLookup, Precision};
use beaconhouse::enrich::ua::UaClassifier;
use beaconhouse::enrich::url::{clean_page_url, referrer_host};
use beaconhouse::http::params::{EventBody, Query};
use beaconhouse::ingest::{Ingest, PageHit, RequestMeta};
use beaconhouse::privacy::hash::{Salt, visitor_id};
use beaconhouse::privacy::salt_rules::Salts;
use beaconhouse::privacy::{client_ip, consent};
use beaconhouse::row::row_binary::EncodedRows;
use beaconhouse::row::{EventRow, Record};
use beaconhouse::spool::{Spool, SpoolSettings, SyncMode};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

// The tests' fixture writers: this bench writes the city database only.
#[allow(dead_code)]
#[path = "../tests/it/common/geoip.rs"]
mod geoip;

const UAS: [&str; 6] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0",
];
const QUERY: &str = "site=optimumabq.com&url=https%3A%2F%2Foptimumabq.com%2Fpricing%3Futm_source%3Dnewsletter%26utm_medium%3Demail&ref=https%3A%2F%2Fwww.google.com%2Fsearch%3Fq%3Dcoworking&title=Pricing";
const BODY: &[u8] = br#"{"site":"optimumabq.com","url":"https://optimumabq.com/tour?utm_source=x","ref":"https://news.ycombinator.com/item?id=1","name":"pageview","w":1440}"#;
const CONFIG: &str = r#"
[[sites]]
id = "optimumabq.com"
hostnames = ["optimumabq.com", "www.optimumabq.com"]
[http]
trusted_proxies = ["127.0.0.1/32"]
rate_limit_per_second = 1000000
rate_limit_burst = 1000000
"#;

fn parsing(c: &mut Criterion) {
    c.bench_function("parse/pixel query", |b| {
        b.iter(|| {
            let query = Query::parse(black_box(QUERY));
            let [site, url, referrer, page] = query.first_values(["site", "url", "ref", "page"]);
            black_box((
                site.is_some(),
                url.map(|url| url.len()),
                referrer.map(|r| r.len()),
                page.is_some(),
            ))
        })
    });
    c.bench_function("parse/beacon json", |b| {
        b.iter(|| black_box(EventBody::parse(black_box(BODY)).unwrap().site.len()))
    });
    c.bench_function("enrich/clean page url", |b| {
        b.iter(|| black_box(clean_page_url(black_box("https://optimumabq.com/pricing?utm_source=newsletter&utm_medium=email&email=x%40y.z#f"))))
    });
    let own = vec![
        "optimumabq.com".to_string(),
        "www.optimumabq.com".to_string(),
    ];
    c.bench_function("enrich/referrer host", |b| {
        b.iter(|| {
            black_box(referrer_host(
                black_box("https://www.google.com/search?q=coworking"),
                &own,
            ))
        })
    });
}

fn privacy(c: &mut Criterion) {
    c.bench_function("privacy/consent", |b| {
        b.iter(|| black_box(consent::opts_out(black_box(Some(b"0")), black_box(None))))
    });
    let trusted = vec!["127.0.0.0/8".parse().unwrap()];
    let peer: IpAddr = "127.0.0.1".parse().unwrap();
    c.bench_function("privacy/client ip from x-forwarded-for", |b| {
        b.iter(|| {
            black_box(client_ip::resolve(
                peer,
                [black_box("203.0.113.7, 10.0.0.1")],
                &trusted,
            ))
        })
    });
    let salt = Salt([7; 32]);
    let client: IpAddr = "203.0.113.7".parse().unwrap();
    c.bench_function("privacy/visitor hash", |b| {
        b.iter(|| {
            black_box(visitor_id(
                &salt,
                "optimumabq.com",
                client,
                black_box(UAS[0]),
            ))
        })
    });
}

fn enrichment(c: &mut Criterion) {
    let classifier = UaClassifier::default();
    let mut i = 0;
    c.bench_function("enrich/user agent (woothee + bot list)", |b| {
        b.iter(|| {
            i = (i + 1) % UAS.len();
            black_box(classifier.classify(black_box(UAS[i])))
        })
    });
    c.bench_function("enrich/bot list alone", |b| {
        b.iter(|| black_box(classifier.is_bot(black_box(UAS[0]))))
    });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("city.mmdb");
    geoip::write_city_fixture(&path);
    let geo = GeoLookup::open(&path, Precision::City).unwrap();
    let address: IpAddr = "81.2.69.142".parse().unwrap();
    c.bench_function("enrich/geo lookup (city)", |b| {
        b.iter(|| black_box(geo.locate(black_box(address))))
    });
}

fn sample_row() -> Record {
    Record::Event(EventRow {
        site: "optimumabq.com".into(),
        ts: 1_795_600_000,
        name: "pageview".into(),
        visitor_id: 0x1234_5678_9abc_def0,
        path: "/pricing".into(),
        referrer_host: "google.com".into(),
        utm_source: "newsletter".into(),
        utm_medium: "email".into(),
        utm_campaign: "nov".into(),
        utm_term: String::new(),
        utm_content: String::new(),
        country: "US".into(),
        region: "US-NM".into(),
        city: "Albuquerque".into(),
        browser: "Chrome".into(),
        os: "Windows 10".into(),
        device: 1,
        event_id: 42,
        prop_keys: Vec::new(),
        prop_values: Vec::new(),
    })
}

fn whole_hit(c: &mut Criterion) {
    let config = Config::parse(CONFIG, Vec::new()).unwrap();
    let ingest = Ingest::new(
        &config,
        Arc::new(GeoLookup::disabled()),
        Salts::in_memory(Salt([1; 32])),
    );
    let mut i = 0u32;
    c.bench_function("ingest/page view decision and row", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            let forwarded = format!("203.0.{}.{}", (i >> 8) & 0xff, i & 0xff);
            let meta = RequestMeta {
                peer: Some("127.0.0.1".parse().unwrap()),
                forwarded_for: vec![forwarded.as_str()],
                user_agent: UAS[(i as usize) % UAS.len()],
                ..RequestMeta::default()
            };
            let hit = PageHit {
                site: "optimumabq.com",
                url: Some("https://optimumabq.com/pricing?utm_source=newsletter"),
                referrer: Some("https://www.google.com/"),
                ..PageHit::default()
            };
            black_box(ingest.page(&meta, &hit, 1_795_600_000).unwrap())
        })
    });
}

fn spool_append(c: &mut Criterion) {
    let row = sample_row();
    for (name, sync) in [
        ("interval", SyncMode::Interval),
        ("always", SyncMode::Always),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let (spool, mut reader) = Spool::open(SpoolSettings {
            dir: dir.path().to_path_buf(),
            max_bytes: 1 << 40,
            segment_bytes: 64 << 20,
            sync,
            fsync_interval: Duration::from_millis(5),
            dead_letter_max_bytes: 1 << 20,
        })
        .unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        c.bench_function(&format!("spool/append, sync = {name}"), |b| {
            b.iter_batched(
                || (),
                |()| {
                    let ticket = spool.append(&row).unwrap();
                    if sync == SyncMode::Always {
                        runtime.block_on(spool.wait_durable(ticket));
                    }
                },
                BatchSize::SmallInput,
            )
        });
        // Keep the spool from growing across benchmark runs.
        let read = reader
            .read(&mut EncodedRows::default(), usize::MAX)
            .unwrap();
        reader.acknowledge(read.end).unwrap();
        spool.close();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = parsing, privacy, enrichment, whole_hit, spool_append
}
criterion_main!(benches);
