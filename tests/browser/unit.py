#!/usr/bin/env python3
"""Runs a JavaScript test module in Debian's Chromium, as the dashboard's
own modules run there: native ES modules, no build step, no Node.

    python3 tests/browser/unit.py tests/browser/dates.test.js

The module exports `tests`, an object of named functions that throw to fail
(they may be async). The repository is served to the page from a made-up
origin by Playwright itself, so the test module imports the code under test
by its relative path (and the tracker at /t.js, as served) and nothing
touches the network. Prints one line per
test (PASS/FAIL name: detail) and exits 0 only if there was a test and
every test passed.
"""
import mimetypes
import os
import sys
import urllib.parse

from playwright.sync_api import sync_playwright

from dashboard import CHROMIUM, CHROMIUM_ARGS

ROOT = os.path.realpath(os.path.join(os.path.dirname(__file__), "..", ".."))
ORIGIN = "http://unit.test"
# Zones with daylight saving time west and east of UTC, where the browser's
# local date at a day's UTC midnight is that day in one and the day before in
# the other: code that mixes local and UTC dates fails in one of them.
TIME_ZONES = ("America/Denver", "Europe/Berlin")
# Files the collector serves under another name: the tracker finds its
# collector from its own URL.
SERVED_AS = {"/t.js": "src/http/tracker.min.js"}

# Imports the module and runs its tests in order, each to its end.
RUN_TESTS = """async (path) => {
  const module = await import(path);
  const results = [];
  for (const [name, test] of Object.entries(module.tests || {})) {
    try {
      await test();
      results.push([name, null]);
    } catch (e) {
      results.push([name, String(e && e.message || e)]);
    }
  }
  return results;
}"""


def serve_repository(route):
    """Answers the page's requests with files of the repository, and only
    those; `/` is an empty page to run the tests in."""
    path = urllib.parse.urlsplit(route.request.url).path
    if path == "/":
        route.fulfill(status=200, body="<!doctype html><title>unit tests</title>", content_type="text/html")
        return
    file = os.path.realpath(os.path.join(ROOT, SERVED_AS.get(path, path.lstrip("/"))))
    if not file.startswith(ROOT + os.sep) or not os.path.isfile(file):
        route.fulfill(status=404, body="not in the repository")
        return
    kind = "text/javascript" if file.endswith(".js") else mimetypes.guess_type(file)[0]
    with open(file, "rb") as f:
        route.fulfill(status=200, body=f.read(), content_type=kind or "application/octet-stream")


def main(argv):
    if len(argv) != 1:
        sys.exit(__doc__)
    module = "/" + os.path.relpath(os.path.realpath(argv[0]), ROOT)
    errors = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        results = []
        for zone in TIME_ZONES:
            page = browser.new_page(timezone_id=zone)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.route(ORIGIN + "/**", serve_repository)
            page.route(lambda url: not url.startswith(ORIGIN + "/"), lambda route: route.abort())
            page.goto(ORIGIN + "/")
            results += [(f"{name} ({zone})", error) for name, error in page.evaluate(RUN_TESTS, module)]
            page.close()
        browser.close()
    failed = 0
    for name, error in results:
        print(f"PASS {name}" if error is None else f"FAIL {name}: {error}", flush=True)
        failed += error is not None
    for error in errors:
        print(f"FAIL uncaught: {error}")
    print(f"{len(results) - failed} passed, {failed + len(errors)} failed in {module}")
    return 0 if results and not failed and not errors else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
