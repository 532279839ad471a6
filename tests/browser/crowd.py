#!/usr/bin/env python3
"""Several people on the dashboard at once, in Chromium, against a running
collector with a busy day today: three dashboards signed in separately and
opened at the same moment load every panel with no console error, and a
period changed three times quickly ends with the last period's figures.

    python3 tests/browser/crowd.py --base http://127.0.0.1:PORT \
        --token TOKEN --token-name NAME --site optimumabq.com

Prints one line per check (PASS/FAIL name: detail) and exits 0 only if every
check passed. Uses the pieces of tests/browser/dashboard.py (same hooks, same
browser).
"""
import argparse
import sys
import urllib.parse

from playwright.sync_api import sync_playwright

from dashboard import (CHROMIUM, CHROMIUM_ARGS, Api, Results, Session, check_hosts_and_errors,
                       compare_summary, expect, expect_equal, query_of)

PEOPLE = 3
PANELS = ("summary", "chart", "pages", "sources", "locations", "devices", "events")


def open_at_once(sessions, path):
    """Every session navigates to `path` before any waits for its page."""
    marks = [len(s.requests) for s in sessions]
    for s in sessions:
        s.page.goto(s.args.base.rstrip("/") + path, wait_until="commit")
    for i, s in enumerate(sessions):
        s.wait_ready(f"dashboard {i + 1}")
    return marks


def every_panel_loaded(s, what):
    for panel in PANELS:
        box = s.page.locator(f'[data-panel="{panel}"]')
        expect(box.count() == 1, f"{what}: no {panel} panel")
        errors = box.locator(".panel-error").all_inner_texts()
        expect(not errors, f"{what}, {panel}: {' | '.join(errors)}")
    expect(s.page.locator('[data-panel="summary"] [data-figure="visitors"]').inner_text().strip() not in ("…", "—", ""),
           f"{what}: no visitors figure")


def refused(s):
    return [u for u, status in s.statuses if status >= 400]


def check_at_once(sessions, api, args, period):
    path = f"/dashboard/?site={urllib.parse.quote(args.site)}&period={period}"
    marks = open_at_once(sessions, path)
    asked = 0
    for i, (s, mark) in enumerate(zip(sessions, marks)):
        every_panel_loaded(s, f"dashboard {i + 1}")
        compare_summary(s, api, mark)
        asked += len([u for u in s.requests[mark:] if "/dashboard/api/stats/" in u])
    bad = [u for s in sessions for u in refused(s)]
    expect(not bad, f"refused: {bad[:3]}")
    return f"{PEOPLE} dashboards, {asked} reports, every panel loaded, summaries equal the API's"


def check_quick_period_changes(s, api, args):
    mark = len(s.requests)
    for period in ("7d", "30d", "today"):
        s.page.select_option("#period", period)
    s.wait_ready("the last of three quick period changes")
    expect_equal(query_of(s.page.url).get("period"), ["today"], "period in the URL")
    url = compare_summary(s, api, mark)
    q = query_of(url)
    expect_equal(q["from"], q["to"], "the last summary asked for one day")
    every_panel_loaded(s, "after three quick changes")
    return f"ends on today ({q['from'][0]}), figures equal the API's"


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for name in ("base", "token", "token-name", "site"):
        parser.add_argument("--" + name, required=True)
    args = parser.parse_args(argv)
    host = urllib.parse.urlsplit(args.base).netloc
    api = Api(args.base, args.token)
    results = Results()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        sessions = []
        try:
            for i in range(PEOPLE):
                s = Session(browser, args, host)
                s.statuses = []
                s.page.on("response", lambda r, s=s: s.statuses.append((r.url, r.status)))
                sessions.append(s)
                if not results.run(f"sign in {i + 1}", s.sign_in, args.token):
                    break
            else:
                results.run("1. three dashboards at once, last 30 days",
                            check_at_once, sessions, api, args, "30d")
                results.run("2. three dashboards at once, today",
                            check_at_once, sessions, api, args, "today")
                results.run("3. a period changed three times quickly",
                            check_quick_period_changes, sessions[0], api, args)
                results.run("4. no other host, no console errors", check_hosts_and_errors,
                            [u for s in sessions for u in s.requests], [e for s in sessions for e in s.errors], host)
        finally:
            for s in sessions:
                s.close()
            browser.close()
    print(f"{results.passed} passed, {results.failed} failed")
    return 0 if results.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
