//! User-agent classes: browser family, OS family and device category, and the
//! decision that a client is a bot.
//!
//! A client is a bot when woothee files it under `crawler`, when the `isbot`
//! crate's maintained pattern list (about a thousand crawlers, monitors, HTTP
//! libraries and headless browsers) matches, or when it sends no user agent at
//! all, which no browser does. Only the classes are kept; the user-agent string
//! itself is never stored.

use std::cell::RefCell;
use std::collections::HashMap;

use woothee::parser::Parser;

use super::{bounded, truncate_bytes};

/// Longest user agent looked at. Real ones are under 500 bytes; the rest of a
/// longer one cannot change its class and would only cost time.
const MAX_UA_BYTES: usize = 1024;
const MAX_NAME_CHARS: usize = 64;

/// The device category stored in `events.device` (an `Enum8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i8)]
pub enum Device {
    Desktop = 1,
    Mobile = 2,
    Tablet = 3,
    Other = 4,
}

impl Device {
    /// The Enum8 value ClickHouse stores.
    pub fn code(self) -> i8 {
        self as i8
    }

    /// A device guessed from the screen width a script reported, for clients
    /// whose user agent does not tell.
    pub fn from_screen_width(width: u32) -> Device {
        match width {
            0 => Device::Other,
            1..=575 => Device::Mobile,
            576..=991 => Device::Tablet,
            _ => Device::Desktop,
        }
    }
}

/// What is kept of a human visitor's user agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UaClass {
    /// e.g. `Chrome`, `Firefox`, `Safari`; empty when unknown.
    pub browser: String,
    /// e.g. `Windows 10`, `Mac OSX`, `Android`, `iPhone`; empty when unknown.
    pub os: String,
    pub device: Device,
}

/// User agents remembered per thread, and their classes.
const CACHE_ENTRIES: usize = 4096;

thread_local! {
    static CACHE: RefCell<HashMap<Box<str>, Option<UaClass>>> = RefCell::new(HashMap::new());
}

/// Classifies user agents. Build once: the bot pattern set compiles to one regex.
pub struct UaClassifier {
    parser: Parser,
    bots: isbot::Bots,
}

impl Default for UaClassifier {
    fn default() -> Self {
        UaClassifier {
            parser: Parser::new(),
            bots: isbot::Bots::default(),
        }
    }
}

impl UaClassifier {
    /// `None` when the client is a bot. Answers come from a per-thread cache
    /// when this thread has seen the user agent recently: real traffic repeats
    /// a few hundred user agents, and parsing one costs ~2 µs (see
    /// `benches/hot_path.rs`). Every classifier uses the same rules, so one
    /// cache serves them all.
    pub fn classify(&self, user_agent: &str) -> Option<UaClass> {
        let ua = truncate_bytes(user_agent.trim(), MAX_UA_BYTES);
        if let Some(known) = CACHE.with(|cache| cache.borrow().get(ua).cloned()) {
            return known;
        }
        let class = self.classify_uncached(ua);
        CACHE.with(|cache| {
            let mut cache = cache.borrow_mut();
            if cache.len() >= CACHE_ENTRIES {
                // A flood of distinct user agents: start over rather than grow.
                cache.clear();
            }
            cache.insert(ua.into(), class.clone());
        });
        class
    }

    fn classify_uncached(&self, ua: &str) -> Option<UaClass> {
        if ua.is_empty() || self.is_bot(ua) {
            return None;
        }
        let Some(parsed) = self.parser.parse(ua) else {
            return Some(UaClass {
                browser: String::new(),
                os: String::new(),
                device: Device::Other,
            });
        };
        if parsed.category == "crawler" {
            return None;
        }
        let device = match parsed.category {
            _ if parsed.os == "iPad" => Device::Tablet,
            // Android tablets are Android without the "Mobile" token.
            "smartphone" if parsed.os == "Android" && !ua.contains("Mobile") => Device::Tablet,
            "smartphone" | "mobilephone" => Device::Mobile,
            "pc" => Device::Desktop,
            _ => Device::Other,
        };
        Some(UaClass {
            browser: known(parsed.name),
            os: known(parsed.os),
            device,
        })
    }

    /// Bot check alone, for paths that classify nothing else.
    pub fn is_bot(&self, user_agent: &str) -> bool {
        let ua = truncate_bytes(user_agent.trim(), MAX_UA_BYTES);
        ua.is_empty() || self.bots.is_bot(ua)
    }
}

/// What kind of bot a client the classifier refused is, as the filtered
/// traffic counts show it: the words of its user agent, looked at once it
/// is known to be a bot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BotKind {
    /// No user agent at all.
    Anonymous,
    /// A browser driven by a program (`HeadlessChrome`, PhantomJS).
    Headless,
    /// An HTTP library or command-line tool (`curl`, `python-requests`).
    Library,
    /// An uptime or performance monitor.
    Monitor,
    /// Anything else: search and SEO crawlers, feed readers, previewers.
    Crawler,
}

impl BotKind {
    pub const ALL: [BotKind; 5] = [
        BotKind::Anonymous,
        BotKind::Headless,
        BotKind::Library,
        BotKind::Monitor,
        BotKind::Crawler,
    ];

    /// The word stored and shown.
    pub fn label(self) -> &'static str {
        match self {
            BotKind::Anonymous => "no_user_agent",
            BotKind::Headless => "headless",
            BotKind::Library => "library",
            BotKind::Monitor => "monitor",
            BotKind::Crawler => "crawler",
        }
    }

    /// The kind of a bot's user agent.
    pub fn of(user_agent: &str) -> BotKind {
        let ua = truncate_bytes(user_agent.trim(), MAX_UA_BYTES).to_ascii_lowercase();
        let has = |words: &[&str]| words.iter().any(|w| ua.contains(w));
        if ua.is_empty() {
            BotKind::Anonymous
        } else if has(&[
            "headless",
            "phantomjs",
            "puppeteer",
            "playwright",
            "selenium",
            "electron",
        ]) {
            BotKind::Headless
        } else if has(&[
            "monitor",
            "uptime",
            "pingdom",
            "statuscake",
            "site24x7",
            "newrelic",
            "datadog",
            "lighthouse",
            "gtmetrix",
        ]) {
            BotKind::Monitor
        } else if has(&[
            "curl/",
            "wget/",
            "python",
            "go-http-client",
            "java/",
            "okhttp",
            "axios",
            "node-fetch",
            "undici",
            "libwww",
            "httpclient",
            "guzzle",
            "ruby",
            "postman",
            "httpie",
            "aiohttp",
            "scrapy",
            "http.rb",
            "reqwest",
            "php/",
        ]) {
            BotKind::Library
        } else {
            BotKind::Crawler
        }
    }
}

fn known(value: &str) -> String {
    if value == woothee::woothee::VALUE_UNKNOWN {
        String::new()
    } else {
        bounded(value, MAX_NAME_CHARS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROME_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
    const FIREFOX_LINUX: &str =
        "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0";
    const SAFARI_IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1";
    const SAFARI_IPAD: &str = "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1";
    const CHROME_ANDROID_PHONE: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36";
    const CHROME_ANDROID_TABLET: &str = "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
    const SAFARI_MAC: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15";

    #[test]
    fn bots_by_kind() {
        let cases = [
            ("", BotKind::Anonymous),
            (
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36",
                BotKind::Headless,
            ),
            ("curl/8.5.0", BotKind::Library),
            ("python-requests/2.31.0", BotKind::Library),
            ("Go-http-client/2.0", BotKind::Library),
            (
                "Pingdom.com_bot_version_1.4_(http://www.pingdom.com/)",
                BotKind::Monitor,
            ),
            (
                "Mozilla/5.0 (compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
                BotKind::Monitor,
            ),
            (
                "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
                BotKind::Crawler,
            ),
            (
                "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
                BotKind::Crawler,
            ),
        ];
        let classifier = UaClassifier::default();
        for (ua, kind) in cases {
            assert!(classifier.is_bot(ua), "{ua:?} is a bot");
            assert_eq!(BotKind::of(ua), kind, "{ua:?}");
        }
    }

    #[test]
    fn browsers_and_devices() {
        let classifier = UaClassifier::default();
        let cases: &[(&str, &str, &str, Device)] = &[
            (CHROME_WINDOWS, "Chrome", "Windows 10", Device::Desktop),
            (FIREFOX_LINUX, "Firefox", "Linux", Device::Desktop),
            (SAFARI_MAC, "Safari", "Mac OSX", Device::Desktop),
            (SAFARI_IPHONE, "Safari", "iPhone", Device::Mobile),
            (SAFARI_IPAD, "Safari", "iPad", Device::Tablet),
            (CHROME_ANDROID_PHONE, "Chrome", "Android", Device::Mobile),
            (CHROME_ANDROID_TABLET, "Chrome", "Android", Device::Tablet),
        ];
        for (ua, browser, os, device) in cases {
            let class = classifier
                .classify(ua)
                .unwrap_or_else(|| panic!("{ua} is human"));
            assert_eq!(
                (class.browser.as_str(), class.os.as_str(), class.device),
                (*browser, *os, *device),
                "{ua}"
            );
        }
    }

    #[test]
    fn bots_are_recognised() {
        let classifier = UaClassifier::default();
        for ua in [
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
            "curl/8.4.0",
            "python-requests/2.31.0",
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36",
            "UptimeRobot/2.0",
            "",
            "   ",
        ] {
            assert_eq!(classifier.classify(ua), None, "{ua:?} is a bot");
        }
    }

    #[test]
    fn unusual_input_is_classified_without_panicking() {
        let classifier = UaClassifier::default();
        let huge = format!("Mozilla/5.0 {}", "x".repeat(1_000_000));
        let class = classifier.classify(&huge).unwrap();
        assert!(class.browser.len() <= MAX_NAME_CHARS);
        let unknown = classifier.classify("SomeNewDevice/1.0").unwrap();
        assert_eq!(unknown.device, Device::Other);
        assert!(classifier.classify(&"é".repeat(600)).is_some());
    }

    #[test]
    fn cached_answers_equal_fresh_ones_and_the_cache_stays_bounded() {
        let classifier = UaClassifier::default();
        for ua in [CHROME_WINDOWS, SAFARI_IPHONE, "curl/8.4.0", ""] {
            let fresh = classifier.classify_uncached(ua);
            assert_eq!(classifier.classify(ua), fresh);
            assert_eq!(classifier.classify(ua), fresh, "from the cache");
        }
        for i in 0..(CACHE_ENTRIES * 2) {
            classifier.classify(&format!("Agent/{i}"));
        }
        assert!(CACHE.with(|c| c.borrow().len()) <= CACHE_ENTRIES);
    }

    #[test]
    fn screen_width_buckets() {
        assert_eq!(Device::from_screen_width(375), Device::Mobile);
        assert_eq!(Device::from_screen_width(800), Device::Tablet);
        assert_eq!(Device::from_screen_width(1920), Device::Desktop);
        assert_eq!(Device::from_screen_width(0), Device::Other);
    }
}
