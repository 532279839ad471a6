//! The README's page snippets in Debian's Chromium, JavaScript off and on,
//! against the real binary and a real ClickHouse.
//!
//! Each snippet is copied from `README.md` (the `html` block after its
//! `<!-- snippet: NAME ... -->` marker), its collector address replaced by
//! the test collector's, into pages at two or three paths of
//! `optimumabq.com`. `tests/browser/snippets.py` serves the pages, maps the
//! hosts to loopback, treats both origins as secure (as https would be: the
//! browser then sends `Sec-Fetch-Site`), loads them in a fresh browser and
//! reports what the browser sent the collector. What a load stored is what
//! the `events` table gained. The tests take turns: one Chromium at a time.

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::{Mutex, MutexGuard};

use serde_json::{Value, json};

use crate::common::{self, CHROME, ClickHouse, Collector, enc};

const README: &str = include_str!("../../README.md");
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser/snippets.py");
/// Where the README's snippets send hits.
const README_COLLECTOR: &str = "https://stats.optimumabq.com";
/// What the server-rendered snippet's template fills in.
const PAGE_PATH: &str = "{{ page_path }}";
const SITE_HOST: &str = "optimumabq.com";
/// The collector on a subdomain of the site, as the README advises.
const SAME_SITE: &str = "stats.optimumabq.com";
/// The collector on another site.
const OTHER_SITE: &str = "stats.elsewhere.example";
/// What the every-page pixel carries so that the whole `Referer` is sent,
/// and said to be.
const WHOLE_REFERER: [&str; 2] = [
    " referrerpolicy=\"no-referrer-when-downgrade\"",
    "&page=referrer",
];

static CHROMIUM: Mutex<()> = Mutex::new(());

fn one_browser_at_a_time() -> MutexGuard<'static, ()> {
    CHROMIUM.lock().unwrap_or_else(|e| e.into_inner())
}

/// The README's snippet `name`, as written there.
fn readme_snippet(name: &str) -> &'static str {
    let marker = format!("<!-- snippet: {name} ");
    let (_, after) = README
        .split_once(&marker)
        .unwrap_or_else(|| panic!("README.md marks the snippet with {marker}...-->"));
    after
        .split_once("-->\n```html\n")
        .and_then(|(_, block)| block.split_once("\n```"))
        .map(|(snippet, _)| snippet)
        .unwrap_or_else(|| panic!("an ```html block follows {marker}...--> in README.md"))
}

/// The HTML a snippet puts in a page at `path`.
type Snippet = dyn Fn(&str) -> String;

/// The README's snippet `name`, sending to `collector` and, where it names
/// its page, naming `path`.
fn snippet(name: &'static str, collector: String) -> Box<Snippet> {
    let text = readme_snippet(name);
    assert!(text.contains(README_COLLECTOR), "{name}: {text}");
    let text = text.replace(README_COLLECTOR, &collector);
    Box::new(move |path| text.replace(PAGE_PATH, &enc(path)))
}

/// The every-page snippet without what makes its `Referer` whole: the pixel
/// this README showed before, and what a page gets whose own policy must hold.
fn without_whole_referer(collector: String) -> Box<Snippet> {
    let text = readme_snippet("every-page");
    for piece in WHOLE_REFERER {
        assert!(text.contains(piece), "every-page: {text}");
    }
    let text = WHOLE_REFERER
        .iter()
        .fold(text.replace(README_COLLECTOR, &collector), |text, piece| {
            text.replace(piece, "")
        });
    Box::new(move |_| text.clone())
}

fn html(path: &str, snippet: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{path}</title></head>\n<body><h1>{path}</h1>\n{snippet}\n</body></html>\n"
    )
}

/// A site loaded in a browser: what it sent, and what was stored.
struct Load<'a> {
    what: &'a str,
    javascript: bool,
    collector_host: &'a str,
    snippet: &'a Snippet,
    /// The pages' own `Referrer-Policy` header.
    referrer_policy: Option<&'a str>,
    visit: &'a [&'a str],
    /// What the visitor then does on the last page, in order:
    /// `{"eval": script}` or `{"click": selector}` (`snippets.py`).
    actions: &'a [Value],
}

/// What the browser sent the collector for a load's pages.
#[derive(Debug)]
struct Loaded {
    /// The site's origin, `http://optimumabq.com:<port>`.
    site: String,
    sent: Vec<Sent>,
}

impl Loaded {
    /// Whether every hit's `Referer` was `referer(site, page)`.
    fn referers(&self, referer: Referer) -> bool {
        self.sent
            .iter()
            .all(|s| s.referer == referer(&self.site, &s.page))
    }

    fn all_sec_fetch_site(&self, value: &str) -> bool {
        self.sent
            .iter()
            .all(|s| s.sec_fetch_site.as_deref() == Some(value))
    }
}

/// What the browser sent the collector for one page.
#[derive(Debug)]
struct Sent {
    page: String,
    method: String,
    url: String,
    referer: Option<String>,
    sec_fetch_site: Option<String>,
}

struct Site {
    clickhouse: &'static ClickHouse,
    database: String,
    collector: Collector,
    dir: tempfile::TempDir,
    /// `(path, name)` counts of `events` after the last load.
    stored: BTreeMap<(String, String), u64>,
}

fn start(prefix: &str) -> Site {
    start_with(prefix, "")
}

/// As [`start`], the collector's configuration ending with `extra_toml`.
fn start_with(prefix: &str, extra_toml: &str) -> Site {
    let clickhouse = common::clickhouse();
    let database = clickhouse.fresh_database(prefix);
    common::migrate(clickhouse, &database);
    let collector = Collector::start(clickhouse, &database, extra_toml);
    Site {
        clickhouse,
        database,
        collector,
        dir: tempfile::tempdir().unwrap(),
        stored: BTreeMap::new(),
    }
}

impl Site {
    /// The collector's origin under `host`.
    fn collector_at(&self, host: &str) -> String {
        let port = self.collector.base.rsplit(':').next().unwrap();
        format!("http://{host}:{port}")
    }

    /// Loads the pages, waits until the collector has stored or dropped
    /// every hit, and returns what the browser sent and the rows the load
    /// added, as `(path, name) -> count`.
    fn load(&mut self, load: &Load<'_>) -> (Loaded, BTreeMap<(String, String), u64>) {
        let pages: serde_json::Map<String, Value> = load
            .visit
            .iter()
            .map(|path| {
                let page = json!({
                    "html": html(path, &(load.snippet)(path)),
                    "referrer_policy": load.referrer_policy,
                });
                (path.to_string(), page)
            })
            .collect();
        let spec = json!({
            "javascript": load.javascript,
            "user_agent": CHROME,
            "site_host": SITE_HOST,
            "collector_origin": self.collector_at(load.collector_host),
            "pages": pages,
            "visit": load.visit,
            "actions": load.actions,
        });
        let file = self.dir.path().join("spec.json");
        std::fs::write(&file, spec.to_string()).unwrap();
        let run = Command::new("python3")
            .arg(SCRIPT)
            .arg(&file)
            .output()
            .expect("python3 runs (tests/run.sh installs Python Playwright and Debian's chromium)");
        let stdout = String::from_utf8_lossy(&run.stdout);
        assert!(
            run.status.success(),
            "{}: the browser did not load the pages:\n{stdout}\n{}",
            load.what,
            String::from_utf8_lossy(&run.stderr)
        );
        let report: Value = serde_json::from_str(&stdout).unwrap();
        let sent: Vec<Sent> = report["requests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| Sent {
                page: r["page"].as_str().unwrap().into(),
                method: r["method"].as_str().unwrap().into(),
                url: r["url"].as_str().unwrap().into(),
                referer: r["referer"].as_str().map(Into::into),
                sec_fetch_site: r["sec_fetch_site"].as_str().map(Into::into),
            })
            .collect();
        let loaded = Loaded {
            site: report["site"].as_str().unwrap().into(),
            sent,
        };
        let counters = self.collector.settled();
        assert_eq!(counters.dropped(), 0, "{}: {}", load.what, counters.text());
        let now = self.rows();
        let added: BTreeMap<_, _> = now
            .iter()
            .filter_map(|(key, count)| {
                let before = self.stored.get(key).copied().unwrap_or(0);
                (*count > before).then(|| (key.clone(), count - before))
            })
            .collect();
        self.stored = now;
        println!("{} ({}):", load.what, javascript(load.javascript));
        for s in &loaded.sent {
            println!(
                "  {} sent {} {}  Referer: {}  Sec-Fetch-Site: {}",
                s.page,
                s.method,
                s.url,
                s.referer.as_deref().unwrap_or("(none)"),
                s.sec_fetch_site.as_deref().unwrap_or("(none)")
            );
        }
        for ((path, name), count) in &added {
            println!("  stored: path {path:?}, name {name:?}, count {count}");
        }
        (loaded, added)
    }

    fn rows(&self) -> BTreeMap<(String, String), u64> {
        self.clickhouse
            .query(
                &self.database,
                "SELECT path, name, count() FROM events GROUP BY path, name FORMAT TSV",
            )
            .lines()
            .map(|line| {
                let fields: Vec<&str> = line.split('\t').collect();
                (
                    (fields[0].to_string(), fields[1].to_string()),
                    fields[2].parse().unwrap(),
                )
            })
            .collect()
    }

    /// Loads the pages and checks that each load sent one hit (the pixel
    /// with JavaScript off, the tracker's beacon with it on) and that the
    /// rows stored are one page view on each of `paths`.
    fn expect(&mut self, load: &Load<'_>, paths: &[&str]) -> Loaded {
        let (loaded, added) = self.load(load);
        let sent = &loaded.sent;
        let pixels = sent.iter().filter(|s| s.url.contains("/p.gif?")).count();
        let beacons = sent
            .iter()
            .filter(|s| s.url.ends_with("/api/event"))
            .count();
        let (want_pixels, want_beacons) = if load.javascript {
            (0, load.visit.len())
        } else {
            (load.visit.len(), 0)
        };
        assert_eq!(
            (pixels, beacons),
            (want_pixels, want_beacons),
            "{}: (pixels, beacons) sent: {sent:#?}",
            load.what
        );
        let mut want = BTreeMap::new();
        for path in paths {
            *want
                .entry((path.to_string(), "pageview".to_string()))
                .or_insert(0) += 1;
        }
        assert_eq!(added, want, "{}: {sent:#?}", load.what);
        loaded
    }
}

/// The `Referer` a page at a path of a site's origin sends.
type Referer = fn(&str, &str) -> Option<String>;

/// The `Referer` of a page sent whole, cut to its origin, or not at all.
fn whole(site: &str, page: &str) -> Option<String> {
    Some(format!("{site}{page}"))
}

fn origin(site: &str, _page: &str) -> Option<String> {
    Some(format!("{site}/"))
}

fn none(_site: &str, _page: &str) -> Option<String> {
    None
}

fn javascript(on: bool) -> &'static str {
    if on {
        "JavaScript on"
    } else {
        "JavaScript off"
    }
}

#[test]
fn the_readme_snippets_record_each_page_once_with_javascript_off_and_on() {
    let _turn = one_browser_at_a_time();
    let mut site = start("snippets");
    let every_page = snippet("every-page", site.collector_at(SAME_SITE));
    let server_rendered = snippet("server-rendered", site.collector_at(SAME_SITE));
    for javascript in [false, true] {
        let loaded = site.expect(
            &Load {
                what: "every-page",
                javascript,
                collector_host: SAME_SITE,
                snippet: &every_page,
                referrer_policy: None,
                visit: &["/", "/pricing/", "/about/"],
                actions: &[],
            },
            &["/", "/pricing/", "/about/"],
        );
        if !javascript {
            assert!(
                loaded.referers(whole) && loaded.all_sec_fetch_site("same-site"),
                "the whole page URL, same-site: {loaded:#?}"
            );
        }
        site.expect(
            &Load {
                what: "server-rendered",
                javascript,
                collector_host: SAME_SITE,
                snippet: &server_rendered,
                referrer_policy: None,
                visit: &["/pricing/", "/about/"],
                actions: &[],
            },
            &["/pricing/", "/about/"],
        );
    }
}

#[test]
fn the_pixels_record_the_page_on_pages_whose_own_policy_is_no_referrer_or_same_origin() {
    let _turn = one_browser_at_a_time();
    let mut site = start("snippets_policy");
    let every_page = snippet("every-page", site.collector_at(SAME_SITE));
    let server_rendered = snippet("server-rendered", site.collector_at(SAME_SITE));
    let policy_holds = without_whole_referer(site.collector_at(SAME_SITE));
    let visit = &["/pricing/", "/about/"];
    for policy in ["no-referrer", "same-origin"] {
        let cases: [(&str, &Snippet, &[&str], Referer); 3] = [
            // The attribute overrides the page's policy for the pixel alone.
            ("every-page", &every_page, visit, whole),
            ("server-rendered", &server_rendered, visit, none),
            // Without it the page's policy holds: no Referer, no page.
            (
                "every-page without referrerpolicy and page=referrer",
                &policy_holds,
                &["(unknown)", "(unknown)"],
                none,
            ),
        ];
        for (what, snippet, stored, referer) in cases {
            let loaded = site.expect(
                &Load {
                    what: &format!("{what}, on pages served with Referrer-Policy: {policy}"),
                    javascript: false,
                    collector_host: SAME_SITE,
                    snippet,
                    referrer_policy: Some(policy),
                    visit,
                    actions: &[],
                },
                stored,
            );
            assert!(loaded.referers(referer), "{loaded:#?}");
        }
    }
}

#[test]
fn an_origin_alone_is_an_unknown_page_unless_the_pixel_asked_for_the_whole_url() {
    let _turn = one_browser_at_a_time();
    let mut site = start("snippets_origin");
    let visit = &["/", "/pricing/", "/about/"];
    // The pixel this README showed before: the browser's default policy
    // sends the origin from every page.
    let loaded = site.expect(
        &Load {
            what: "every-page without referrerpolicy and page=referrer",
            javascript: false,
            collector_host: SAME_SITE,
            snippet: &without_whole_referer(site.collector_at(SAME_SITE)),
            referrer_policy: None,
            visit,
            actions: &[],
        },
        &["(unknown)", "(unknown)", "(unknown)"],
    );
    assert!(loaded.referers(origin), "the origin alone: {loaded:#?}");
    // A collector on another site: Chromium sends the whole URL, as asked,
    // but says the request is cross-site, where Safari would have sent the
    // origin alone; so the origin is not taken for the home page.
    let loaded = site.expect(
        &Load {
            what: "every-page, the collector on another site",
            javascript: false,
            collector_host: OTHER_SITE,
            snippet: &snippet("every-page", site.collector_at(OTHER_SITE)),
            referrer_policy: None,
            visit,
            actions: &[],
        },
        &["(unknown)", "/pricing/", "/about/"],
    );
    assert!(
        loaded.referers(whole) && loaded.all_sec_fetch_site("cross-site"),
        "{loaded:#?}"
    );
}

/// The tracker on a page that routes by fragment: a page view on load, on
/// `pushState` (once for the same URL) and on a hash change, a custom event
/// with properties (an allowed key kept, another dropped), a download and
/// an outbound link followed; the rows are what the visitor did, and no
/// query, token or address reached them.
#[test]
fn the_tracker_records_navigation_events_downloads_and_outbound_links() {
    let _turn = one_browser_at_a_time();
    // Keys written first belong to `SITE_TOML`'s `[[sites]]` table.
    let mut site = start_with("snippets_tracker", "props = [\"plan\"]\n");
    let collector = site.collector_at(SAME_SITE);
    let page = move |_: &str| {
        format!(
            "<script defer src=\"{collector}/t.js\" data-site=\"optimumabq.com\" data-hash></script>\n\
             <a id=\"menu\" href=\"/files/fall-menu.pdf?token=abc123\" download>Menu</a>\n\
             <a id=\"map\" href=\"https://maps.example.net/place/optimum?from=carol\" target=\"_blank\">Map</a>"
        )
    };
    let actions = [
        json!({"eval": "history.pushState({}, '', '/app/step-2')"}),
        json!({"eval": "history.pushState({}, '', '/app/step-2')"}),
        json!({"eval": "location.hash = '#/settings?tab=carol'"}),
        json!({"eval": "beaconhouse('book_tour', {plan: 'monthly', email: 'carol@example.com'})"}),
        json!({"click": "#menu"}),
        json!({"click": "#map"}),
    ];
    let (loaded, _) = site.load(&Load {
        what: "the tracker, navigating",
        javascript: true,
        collector_host: SAME_SITE,
        snippet: &page,
        referrer_policy: None,
        visit: &["/app"],
        actions: &actions,
    });
    let beacons = loaded
        .sent
        .iter()
        .filter(|s| s.method == "POST" && s.url.ends_with("/api/event"))
        .count();
    assert_eq!(beacons, 6, "one beacon each: {:#?}", loaded.sent);
    let rows = site.clickhouse.query(
        &site.database,
        "SELECT name, path, arrayStringConcat(arrayMap((k, v) -> concat(k, '=', v), prop_keys, prop_values), ' ') FROM events ORDER BY ts, name FORMAT TSV",
    );
    let mut rows: Vec<&str> = rows.lines().collect();
    // Several hits share a second: compare the rows as a set.
    rows.sort_unstable();
    assert_eq!(
        rows,
        [
            "book_tour\t/app/step-2#/settings\tplan=monthly",
            "download\t/app/step-2#/settings\tfile=/files/fall-menu.pdf",
            "outbound\t/app/step-2#/settings\thost=maps.example.net",
            "pageview\t/app\t",
            "pageview\t/app/step-2\t",
            "pageview\t/app/step-2#/settings\t",
        ]
    );
    let everything = site
        .clickhouse
        .query(&site.database, "SELECT * FROM events FORMAT TSV");
    for never in [
        "carol",
        "abc123",
        "token",
        "tab=",
        "place/optimum",
        "127.0.0.1",
    ] {
        assert!(!everything.contains(never), "{never} was stored");
    }
}
