//! The tracker visitors download as `/t.js` (`src/http/tracker.min.js`)
//! against its readable source (`src/http/tracker.js`): made from it by the
//! pinned terser of `tools/tracker` (Node; `tests/run.sh` installs it), kept
//! under 1.5 KiB (and 1 KiB compressed), and, in Debian's Chromium, sending
//! what `/api/event` reads (page views, custom events with properties,
//! outbound links, downloads, 404s) and nothing under Do-Not-Track or Global
//! Privacy Control, nor from a developer's own machine
//! (`tests/browser/tracker.test.js`).

use crate::common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn served() -> Vec<u8> {
    std::fs::read(Path::new(ROOT).join("src/http/tracker.min.js")).unwrap()
}

#[test]
fn the_served_tracker_is_its_readable_source_minified() {
    let tools = Path::new(ROOT).join("tools/tracker");
    assert!(
        tools.join("node_modules/terser").is_dir(),
        "tools/tracker has no terser: run `npm ci --prefix tools/tracker` (tests/run.sh does)"
    );
    let made = Command::new(common::tool("node", "nodejs"))
        .arg(tools.join("minify.mjs"))
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    assert!(
        made.stdout == served(),
        "src/http/tracker.min.js is not src/http/tracker.js minified: run `npm run --prefix tools/tracker build` and commit both\nmade:   {}\nserved: {}",
        String::from_utf8_lossy(&made.stdout),
        String::from_utf8_lossy(&served())
    );
}

/// What every visitor downloads on every page: under 1.5 KiB as served,
/// and under 1 KiB for the many browsers sent it compressed.
#[test]
fn the_served_tracker_stays_under_1_5_kib_and_1_kib_compressed() {
    let served = served();
    assert!(
        served.len() < 1536,
        "t.js is {} bytes, past 1.5 KiB",
        served.len()
    );
    let mut gzip = Command::new(common::tool("gzip", "gzip"))
        .args(["-9", "-n", "-c"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    gzip.stdin.take().unwrap().write_all(&served).unwrap();
    let compressed = gzip.wait_with_output().unwrap();
    assert!(compressed.status.success());
    assert!(
        compressed.stdout.len() < 1024,
        "t.js is {} bytes compressed",
        compressed.stdout.len()
    );
}

#[test]
fn the_served_tracker_sends_what_the_collector_reads_and_respects_opt_outs_in_chromium() {
    common::javascript_tests("tests/browser/tracker.test.js");
}
