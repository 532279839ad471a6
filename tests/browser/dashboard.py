#!/usr/bin/env python3
"""Drives the dashboard in Chromium against a running collector and checks
what it shows against the stats API.

    python3 tests/browser/dashboard.py --base http://127.0.0.1:PORT \
        --token TOKEN --token-name NAME --site optimumabq.com --campaign 2026-11-newsletter \
        --small-filter country==FR --share-link URL --expired-share-link URL \
        --out DIR

Prints one line per check (PASS/FAIL name: detail) and exits 0 only if every
check passed. Needs Python Playwright and Debian's /usr/bin/chromium (it never
downloads a browser). Every scenario runs in a fresh browser context.

Hooks it relies on (kept stable by the dashboard's modules): body[data-state]
(signed-out|loading|ready|error), [data-panel], [data-figure], [data-row]
with data-value and [data-cell="unique"|"count"], [data-filter], a[data-csv],
the tab buttons' data-tab, #props-select, the goals' rows [data-goal] and the
funnel's steps [data-step] with their [data-cell]s, #funnel-select, the
filtered traffic's rows [data-reason] (`reason:kind`) with [data-cell="hits"],
its [data-cell="total"] and the reasons with none [data-none], and the GeoIP
database's credit [data-attribution].
"""
import argparse
import datetime as dt
import json
import math
import os
import sys
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
from zoneinfo import ZoneInfo

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
USER_AGENT = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/131.0.0.0 Safari/537.36")
WIDTHS = (1440, 375)
TIMEOUT_MS = 30_000
SITE_FIGURES = ["visitors", "pageviews", "visits", "views_per_visit", "bounce_rate"]
EMAIL_FIGURES = ["opens", "unique_opens", "proxied_opens", "direct_opens"]
CLICK_FIGURES = ["clicks", "unique_clicks", "click_to_open_rate", "scanner_clicks", "unique_scanner_clicks"]
PANEL_TABS = {
    "pages": ["path", "entry_page"],
    "sources": ["referrer_host", "utm_source", "utm_medium", "utm_campaign"],
    "locations": ["country", "region", "city"],
    "devices": ["browser", "os", "device"],
    "events": ["name"],
}
PROXIED_TEXT = "Proxied opens were fetched by a mail provider"
SCANNER_TEXT = "A mail scanner's"
STATS_PREFIX = "/dashboard/api/stats/"


class CheckFailed(Exception):
    pass


def expect(condition, message):
    if not condition:
        raise CheckFailed(message)


def expect_equal(actual, expected, what):
    if actual != expected:
        raise CheckFailed(f"{what}: the page has {actual!r}, expected {expected!r}")


# --------------------------------------------------------------- results
def clear_of_the_hour_edge():
    """Waits out hh:00:45 to hh:02:30 UTC. Reports end at the last whole
    hour that ended two minutes ago, so at hh:02 every period's end moves: a
    check that saw the page's answer before it and asks the API after would
    compare two different periods. A check takes well under 75 s."""
    into_hour = time.time() % 3600
    if 45 <= into_hour < 150:
        time.sleep(150 - into_hour)


class Results:
    def __init__(self):
        self.failed = 0
        self.passed = 0

    def record(self, name, error=None, detail=""):
        if error is None:
            self.passed += 1
            print(f"PASS {name}" + (f": {detail}" if detail else ""), flush=True)
        else:
            self.failed += 1
            print(f"FAIL {name}: {error}", flush=True)

    def run(self, name, function, *args):
        """Runs one check; a CheckFailed or any other exception fails it."""
        clear_of_the_hour_edge()
        try:
            detail = function(*args)
        except CheckFailed as e:
            self.record(name, str(e))
            return False
        except Exception as e:  # a timeout or a broken page is a failure too
            self.record(name, f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
            traceback.print_exc(file=sys.stderr)
            return False
        self.record(name, detail=detail or "")
        return True


# ------------------------------------------------------------------- API
class Api:
    """The public stats API, with the bearer token."""

    def __init__(self, base, token):
        self.base = base.rstrip("/")
        self.token = token

    def get(self, kind, query, raw=False):
        url = f"{self.base}/api/v1/stats/{kind}?{query}"
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {self.token}"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                body = response.read()
        except urllib.error.HTTPError as e:
            raise CheckFailed(f"API {kind}?{query} answered {e.code}: {e.read()[:300]!r}")
        return body if raw else json.loads(body)

    def same_as(self, page_url, raw=False):
        """The API's answer to the request the page made to /dashboard/api/stats/."""
        parts = urllib.parse.urlsplit(page_url)
        expect(parts.path.startswith(STATS_PREFIX), f"not a stats request: {page_url}")
        return self.get(parts.path[len(STATS_PREFIX):], parts.query, raw)


def query_of(url):
    return urllib.parse.parse_qs(urllib.parse.urlsplit(url).query, keep_blank_values=True)


def shown(n):
    """A number as the page writes it: toLocaleString('en-US'), '—' when withheld."""
    if n is None:
        return "—"
    if isinstance(n, float) and not n.is_integer():
        return f"{n:,.3f}".rstrip("0").rstrip(".")
    return f"{int(n):,}"


def round1(n):
    """Math.round(n * 10) / 10 || 0, as the page rounds a percentage."""
    return math.floor(n * 10 + 0.5) / 10 or 0.0


def percent(n):
    """A percentage as the page writes it: one decimal, '—' when withheld."""
    return "—" if n is None else f"{round1(n):,.1f}%"


def signed(n):
    """dom.js's signed(n, 1): a sign (− is U+2212, ± for none), at most one decimal."""
    text = f"{abs(n):,.1f}".removesuffix(".0")
    return ("+" if n > 0 else "\u2212" if n < 0 else "±") + text


def today_in(time_zone):
    return dt.datetime.now(ZoneInfo(time_zone)).date()


# --------------------------------------------------------------- browser
class Session:
    """One browser context and page, recording requests and errors."""

    def __init__(self, browser, args, host, width=WIDTHS[0]):
        self.args = args
        self.context = browser.new_context(viewport={"width": width, "height": 900},
                                           user_agent=USER_AGENT, accept_downloads=True)
        self.context.set_default_timeout(TIMEOUT_MS)
        self.page = self.context.new_page()
        self.requests = []
        self.errors = []
        self.recording_errors = False
        self.overflow = []
        self.host = host
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self._error(f"uncaught exception: {e}"))

    def _console(self, message):
        if message.type == "error":
            self._error(f"console error: {message.text}")

    def _error(self, text):
        if self.recording_errors:
            self.errors.append(text)

    def close(self):
        self.context.close()

    def goto(self, path_or_url):
        url = path_or_url if "://" in path_or_url else self.args.base.rstrip("/") + path_or_url
        self.page.goto(url)

    def state(self):
        return self.page.evaluate("() => document.body.dataset.state")

    def wait_settled(self):
        self.page.wait_for_function(
            "() => ['ready', 'error', 'signed-out'].includes(document.body.dataset.state)")
        return self.state()

    def wait_ready(self, what="the view"):
        state = self.wait_settled()
        if state != "ready":
            errors = self.page.locator(".panel-error, .fatal, #signin-error").all_inner_texts()
            raise CheckFailed(f"{what} ended in state {state!r}: {' | '.join(t.strip() for t in errors if t.strip())}")

    def sign_in(self, token):
        self.goto("/dashboard")
        self.page.wait_for_function("() => document.body.dataset.state === 'signed-out'")
        self.page.fill("#token-name", self.args.token_name)
        self.page.fill("#token", token)
        self.page.click("#signin-button")
        self.wait_ready("sign-in")
        self.recording_errors = True

    def stats_requests(self, kind, since=0):
        return [u for u in self.requests[since:]
                if urllib.parse.urlsplit(u).path == STATS_PREFIX + kind]

    def last_request(self, kind, since=0, **params):
        for url in reversed(self.stats_requests(kind, since)):
            q = query_of(url)
            if "csv" in q.get("format", []):
                continue
            if all(q.get(k, [None])[0] == v for k, v in params.items()):
                return url
        raise CheckFailed(f"the page made no {kind} request with {params or 'these parameters'}")

    def me(self):
        return self.context.request.get(self.args.base.rstrip("/") + "/dashboard/api/me").json()

    def figure(self, name):
        return self.page.locator(f'[data-figure="{name}"]').first.inner_text().strip()

    def rows(self, panel):
        return self.page.eval_on_selector_all(
            f'[data-panel="{panel}"] [data-row]',
            """rows => rows.map(r => [r.dataset.value,
                 r.querySelector('[data-cell="unique"]').textContent.trim(),
                 r.querySelector('[data-cell="count"]').textContent.trim()])""")

    def select_tab(self, panel, dim):
        tab = self.page.locator(f'[data-panel="{panel}"] [data-tab="{dim}"]')
        if tab.count() and tab.get_attribute("aria-selected") != "true":
            tab.click()
        self.wait_ready(f"the {panel} panel's {dim} tab")

    def screenshot(self, name):
        """Full-page PNGs at every width; notes a page wider than the window."""
        for width in WIDTHS:
            self.page.set_viewport_size({"width": width, "height": 900})
            self.page.wait_for_timeout(150)  # the chart redraws on resize
            path = os.path.join(self.args.out, f"{name}-{width}.png")
            self.page.screenshot(path=path, full_page=True)
            scroll = self.page.evaluate("() => document.documentElement.scrollWidth")
            if scroll > width:
                self.overflow.append(f"{name} at {width}px is {scroll}px wide")
        self.page.set_viewport_size({"width": WIDTHS[0], "height": 900})
        self.page.wait_for_timeout(150)


# ---------------------------------------------------------------- checks
def rows_from_api(report):
    return [[r["value"], shown(r["unique"]), shown(r["count"])] for r in report["rows"]]


def compare_summary(s, api, since=0):
    url = s.last_request("summary", since)
    report = api.same_as(url)
    for name in SITE_FIGURES:
        expected = shown(report["current"][name]) if report["current"] else "—"
        expect_equal(s.figure(name), expected, f"figure {name}")
    # Said once, in plain words: figures are rounded by design, and by how much.
    margins = report["margins"]
    rounding = s.page.inner_text("#rounding")
    expect(f"within {shown(margins['people'])} visitors and {shown(margins['count'])} page views" in rounding,
           f"the rounding note does not give the API's margins {margins}: {rounding!r}")
    return url


def compare_panel(s, api, panel, dim, since=0):
    url = s.last_request("breakdown", since, by=dim, limit="10")
    expect_equal(s.rows(panel), rows_from_api(api.same_as(url)), f"panel {panel}, tab {dim}")


def check_sign_in(s, args):
    s.goto("/dashboard")
    s.page.wait_for_function("() => document.body.dataset.state === 'signed-out'")
    s.page.fill("#token-name", args.token_name)
    s.page.fill("#token", args.token + "-wrong")
    s.page.click("#signin-button")
    s.page.wait_for_function(
        "() => document.body.dataset.state === 'signed-out' && document.querySelector('#signin-error').textContent.trim() !== ''")
    message = s.page.inner_text("#signin-error").strip()
    expect(s.page.is_visible("#signin-error"), "the error message is not visible")
    expect(s.page.is_visible("#token"), "the sign-in form went away after a wrong token")
    s.screenshot("sign-in")
    s.page.fill("#token", args.token)
    s.page.click("#signin-button")
    s.wait_ready("sign-in with the right token")
    s.recording_errors = True
    expect(s.page.locator('[data-panel="summary"]').is_visible(), "no summary after signing in")
    return f"wrong token refused ({message!r}), right token accepted"


def check_default_view(s, api, args):
    """The default view is the last 30 days in the site's zone; figures and
    every panel tab equal the API's."""
    me = s.me()
    site = next(x for x in me["sites"] if x["id"] == args.site)
    params = query_of(s.page.url)
    expect_equal(params.get("period"), ["30d"], "period in the URL")
    url = compare_summary(s, api)
    q = query_of(url)
    today = today_in(site["time_zone"])
    expected = {"site": [args.site], "from": [str(today - dt.timedelta(days=29))], "to": [str(today)],
                "tz": [site["time_zone"]]}
    for key, value in expected.items():
        expect_equal(q.get(key), value, f"summary request parameter {key}")
    tabs = 0
    for panel, dims in PANEL_TABS.items():
        for dim in dims:
            s.select_tab(panel, dim)
            compare_panel(s, api, panel, dim)
            tabs += 1
        s.select_tab(panel, dims[0])
    s.screenshot("overview")
    return f"5 figures and {tabs} panel tabs equal the API's ({q['from'][0]} to {q['to'][0]}, {q['tz'][0]})"


def check_filter_by_click(s, api, args):
    before = [s.figure(n) for n in SITE_FIGURES]
    s.select_tab("locations", "country")
    rows = s.page.locator('[data-panel="locations"] [data-row] button')
    expect(rows.count() > 0, "no clickable country row")
    row = s.page.locator('[data-panel="locations"] [data-row]').filter(has=s.page.locator("button")).first
    value = row.get_attribute("data-value")
    wanted = "country==" + ("" if value == "(none)" else value)
    mark = len(s.requests)
    row.locator("button").click()
    s.wait_ready("the filtered view")
    expect(s.page.locator(f'[data-filter="{wanted}"]').count() == 1, f"no chip [data-filter={wanted!r}]")
    expect_equal(query_of(s.page.url).get("filter"), [wanted], "filter in the URL")
    for kind in ("summary", "timeseries"):
        expect(any(query_of(u).get("filter") == [wanted] for u in s.stats_requests(kind, mark)),
               f"{kind} was not fetched again with the filter")
    for panel in PANEL_TABS:
        fetched = [u for u in s.stats_requests("breakdown", mark) if query_of(u).get("filter") == [wanted]]
        dims = {query_of(u)["by"][0] for u in fetched}
        expect(dims & set(PANEL_TABS[panel]), f"panel {panel} was not fetched again with the filter")
    compare_summary(s, api, mark)
    compare_panel(s, api, "pages", "path", mark)
    drilled = s.page.get_attribute('[data-panel="locations"] [data-tab="region"]', "aria-selected")
    expect_equal(drilled, "true", "locations panel switched to regions")
    compare_panel(s, api, "locations", "region", mark)
    s.screenshot("overview-filtered")
    chip = s.page.locator(f'[data-filter="{wanted}"] button')
    expect(bool(chip.get_attribute("aria-label")), "the chip's remove button has no label")
    mark = len(s.requests)
    chip.click()
    s.wait_ready("the view without the filter")
    expect(s.page.locator("[data-filter]").count() == 0, "the chip is still there")
    expect("filter" not in query_of(s.page.url), "the URL still has a filter")
    compare_summary(s, api, mark)
    expect_equal([s.figure(n) for n in SITE_FIGURES], before, "figures after removing the filter")
    return f"{wanted}: chip, URL, 7 reports refetched with it; removed again"


def chart_points(s):
    return s.page.locator('[data-panel="chart"] table tbody tr').count()


def check_period_change(s, api, args):
    mark = len(s.requests)
    s.page.select_option("#period", "7d")
    s.wait_ready("the last 7 days")
    expect_equal(query_of(s.page.url).get("period"), ["7d"], "period in the URL")
    url = s.last_request("timeseries", mark)
    q = query_of(url)
    expect_equal(q.get("interval"), ["day"], "interval for 7 days")
    expect_equal((dt.date.fromisoformat(q["to"][0]) - dt.date.fromisoformat(q["from"][0])).days, 6,
                 "days in the last 7 days")
    points = len(api.same_as(url)["points"])
    expect_equal(chart_points(s), points, "chart points")
    expect(s.page.locator('[data-panel="chart"] svg path.line, [data-panel="chart"] svg circle.dot').count() > 0,
           "the chart has no line")
    compare_summary(s, api, mark)
    s.page.go_back()
    s.wait_ready("Back to 30 days")
    expect_equal(query_of(s.page.url).get("period"), ["30d"], "period after Back")
    expect_equal(s.page.input_value("#period"), "30d", "period picker after Back")
    return f"7 days: {points} points, as the API; Back restores 30 days"


def check_csv_download(s, api, args):
    link = s.page.locator('[data-panel="pages"] a[data-csv]')
    href = link.get_attribute("href")
    q = query_of(href)
    expect_equal(q.get("format"), ["csv"], "format of the CSV link")
    with s.page.expect_download() as info:
        link.click()
    download = info.value
    with open(download.path(), "rb") as f:
        got = f.read()
    expected = api.same_as(urllib.parse.urljoin(args.base, href), raw=True)
    expect(got == expected, f"the download ({len(got)} bytes) differs from the API's CSV ({len(expected)} bytes)")
    chart_href = s.page.get_attribute('[data-panel="chart"] a[data-csv]', "href")
    expect(chart_href and "format=csv" in chart_href, "the chart has no CSV link")
    return f"{download.suggested_filename}: {len(got)} bytes, same as the API"


def check_campaign(s, api, args):
    s.page.click("#nav-campaigns")
    s.wait_ready("the campaigns list")
    expect(s.page.locator('[data-panel="campaigns"]').is_visible(), "no campaigns panel")
    expect_equal(query_of(s.page.url).get("view"), ["campaigns"], "view in the URL")
    s.screenshot("campaigns")
    listed = api.same_as(s.last_request("campaigns"))
    row = next(c for c in listed["campaigns"] if c["campaign"] == args.campaign)
    cells = s.page.eval_on_selector(
        f'[data-panel="campaigns"] [data-row][data-value="{args.campaign}"]',
        """row => ['count', 'unique', 'clicks', 'unique_clicks'].map(
             key => row.querySelector(`[data-cell="${key}"]`).textContent.trim())""")
    expect_equal(cells, [shown(row["opens"]), shown(row["unique_opens"]), shown(row["clicks"]),
                         shown(row["unique_clicks"])], "the campaign's row in the list")
    expect(row["clicks"] is not None, "the API withholds the campaign's clicks; seed more clickers")
    link = s.page.locator(f'[data-panel="campaigns"] [data-row][data-value="{args.campaign}"] a')
    expect(link.count() == 1, f"campaign {args.campaign} is not listed")
    link.click()
    s.wait_ready("the campaign page")
    expect_equal(query_of(s.page.url).get("campaign"), [args.campaign], "campaign in the URL")
    report = api.same_as(s.last_request("email", campaign=args.campaign))
    for name in EMAIL_FIGURES + CLICK_FIGURES:
        expect_equal(s.figure(name), shown(report[name]), f"figure {name}")
    expect(report["opens"] is not None, "the API withholds the campaign's opens; seed more recipients")
    for name in ("clicks", "click_to_open_rate", "scanner_clicks"):
        expect(report[name] is not None, f"the API withholds the campaign's {name}; seed more recipients")
    text = s.page.inner_text('[data-panel="campaign"]')
    expect(PROXIED_TEXT in text, "the proxied explanation is missing")
    expect(SCANNER_TEXT in text, "the scanner explanation is missing")
    for panel, key in (("clients", "by_client"), ("countries", "by_country"), ("links", "by_link"),
                       ("signals", "by_signal")):
        expect_equal(s.rows(panel), rows_from_api({"rows": report[key]}), f"panel {panel}")
    expect(any(r["value"] == "burst" and r["unique"] is not None for r in report["by_signal"]),
           f"the scanner's burst is not shown: {report['by_signal']}")
    expect_equal(chart_points(s), len(report["by_day"]), "days in the opens chart")
    expect_credit(s, "countries")
    s.screenshot("campaign")
    return (f"opens {report['opens']}, unique {report['unique_opens']}, clicks {report['clicks']}, "
            f"scanner clicks {report['scanner_clicks']}, as the API")


def check_email_links(s, args):
    """A reader clicks an email link in Chromium: through /l to its
    destination (the dashboard, on a host email.link_hosts allows). Then,
    from the same browser's network stack, a scanner's doings: three links
    of one recipient within a second, and another's honeypot and a link
    seconds later. tests/it/dashboard.rs reads what the reports make of
    each (a person's click; burst; honeypot and near_honeypot)."""
    base = args.base.rstrip("/")

    def link(rid, path=None):
        query = f"c={urllib.parse.quote(args.campaign)}&rid={rid}"
        if path is None:
            return f"{base}/l?{query}&h=1"
        return f"{base}/l?{query}&u={urllib.parse.quote(base + path, safe='')}"

    # A message as a webmail shows it, on a page of its own.
    s.page.goto("about:blank")
    s.page.set_content(
        f'<p>Our November newsletter: <a id="tour" href="{link("chromium-reader", "/dashboard/")}">see the dashboard</a>'
        f'<a id="honeypot" href="{link("chromium-scanner-2")}" hidden aria-hidden="true" tabindex="-1"></a></p>')
    expect(not s.page.is_visible("#honeypot"), "the honeypot link shows")
    with s.page.expect_navigation():
        s.page.click("#tour")
    expect(s.page.url.startswith(base + "/dashboard/"), f"the click landed on {s.page.url}")
    s.wait_settled()
    # A scanner: every link of the message, within a second; then another's
    # honeypot, which no reader sees, and a link seconds after it.
    # As the browser itself would send them (a scanner posing as one).
    as_browser = {"User-Agent": USER_AGENT}
    answers = [s.context.request.get(link("chromium-scanner", path), headers=as_browser, max_redirects=0).status
               for path in ("/dashboard/a", "/dashboard/b", "/dashboard/c")]
    expect_equal(answers, [302, 302, 302], "the scanner's links redirect")
    honeypot = s.context.request.get(link("chromium-scanner-2"), headers=as_browser, max_redirects=0)
    expect_equal(honeypot.status, 200, "the honeypot answers a blank page")
    expect("location" not in honeypot.headers, "the honeypot redirects")
    after = s.context.request.get(link("chromium-scanner-2", "/dashboard/after-honeypot"), headers=as_browser,
                                  max_redirects=0)
    expect_equal(after.status, 302, "a link after the honeypot")
    return "the reader's click landed on the dashboard; a burst and a honeypot sent"


def check_small_filter(s, api, args):
    mark = len(s.requests)
    path = "/dashboard?" + urllib.parse.urlencode(
        [("site", args.site), ("period", "30d"), ("filter", args.small_filter)])
    s.goto(path)
    s.wait_ready("the small filter")
    report = api.same_as(s.last_request("summary", mark))
    expect(report["current"] is None, "the API does not withhold the small filter; nothing to check")
    for name in SITE_FIGURES:
        expect_equal(s.figure(name), "—", f"withheld figure {name}")
    text = s.page.inner_text('[data-panel="summary"]')
    # No number: the threshold depends on the period, and how small a
    # withheld figure was is not said.
    expect("too few visitors to show" in text, "no 'too few visitors to show' next to the withheld figures")
    return "all five figures read — with 'too few visitors to show'"


def check_shared_link(browser, args, host, results_errors, overflow):
    s = Session(browser, args, host)
    try:
        s.recording_errors = True
        s.goto(args.share_link)
        s.wait_ready("the shared link")
        expect("#share=" not in s.page.url, "the grant is still in the URL")
        expect(s.page.locator('[data-panel="summary"]').is_visible(), "no summary in the shared view")
        expect(not s.page.is_visible("#nav-campaigns"), "the shared view offers campaigns")
        expect(s.page.locator('[data-panel="campaigns"], [data-panel="campaign"]').count() == 0,
               "the shared view shows campaigns")
        expect_equal(s.page.inner_text("#signout").strip(), "Leave shared view", "sign-out button")
        expect(not any("/stats/campaigns" in u or "/stats/email" in u for u in s.requests),
               "the shared view asked for campaigns")
        s.screenshot("shared")
        results_errors.extend(s.errors)
        overflow.extend(s.overflow)
        shared_site = query_of(s.page.url).get("site", ["?"])[0]
    finally:
        s.close()
    expired = Session(browser, args, host)
    try:
        expired.goto(args.expired_share_link)
        expired.page.wait_for_function("() => document.body.dataset.state === 'signed-out'")
        message = expired.page.inner_text("#signin-error").strip()
        expect(message, "the expired link is refused without a message")
        expect("#share=" not in expired.page.url, "the expired grant is still in the URL")
    finally:
        expired.close()
    return f"shared view of {shared_site} without campaigns; expired link: {message!r}"


def check_share_asks_first(s, args):
    """Signed in with a token, a #share= link asks before it replaces the
    session: staying keeps it, opening shows the shared view."""
    def open_link():
        s.page.goto("about:blank")
        s.goto(args.share_link)
        s.page.locator("#share-dialog").wait_for(state="visible")
        text = s.page.inner_text("#share-dialog").strip()
        expect("signed in as" in text, f"the question does not say who is signed in: {text!r}")
        return text

    text = open_link()
    s.screenshot("share-ask")
    s.page.click("#share-stay")
    s.wait_ready("staying signed in")
    expect("#share=" not in s.page.url, "the grant is still in the URL after staying")
    expect_equal(s.page.inner_text("#signout").strip(), "Sign out", "still signed in with the token")
    expect(s.page.is_visible("#nav-campaigns"), "the token's campaigns went away")
    open_link()
    s.page.click("#share-open")
    s.wait_ready("the shared link, opened")
    expect_equal(s.page.inner_text("#signout").strip(), "Leave shared view", "the shared view")
    return f"asked ({text[:60]!r}...); stayed, then opened the shared view"


def check_hosts_and_errors(sessions_requests, errors, host):
    foreign = sorted({urllib.parse.urlsplit(u).netloc for u in sessions_requests
                      if urllib.parse.urlsplit(u).scheme in ("http", "https", "ws", "wss")
                      and urllib.parse.urlsplit(u).netloc != host})
    expect(not foreign, f"requests left for {foreign}")
    other = [u for u in sessions_requests if urllib.parse.urlsplit(u).scheme not in ("http", "https", "data")]
    expect(not other, f"unexpected requests: {other[:3]}")
    expect(not errors, "; ".join(errors[:5]))
    return f"{len(sessions_requests)} requests, all to {host}; no console errors"


def site_of(s, args):
    return next(x for x in s.me()["sites"] if x["id"] == args.site)


def goal_rows(s):
    return s.page.eval_on_selector_all(
        '[data-panel="goals"] [data-goal]',
        """rows => rows.map(r => [r.dataset.goal].concat(
             ['converting_visitors', 'conversions', 'conversion_rate', 'change', 'rate_change_points'].map(k => {
               const cell = r.querySelector('[data-cell="' + k + '"]');
               return cell ? cell.textContent.trim() : null;
             })))""")


def goal_rows_from_api(report):
    rows = []
    for goal in report["goals"]:
        now = goal["current"]
        if goal["change"] is not None:
            change = signed(round1(goal["change"])) + "%"
        else:
            change = "—" if now["converting_visitors"] is None else "no comparison"
        points = goal["rate_change_points"]
        if points is not None:
            points = round1(points)
            points = signed(points) + (" point" if abs(points) == 1 else " points")
        rows.append([goal["name"], shown(now["converting_visitors"]), shown(now["conversions"]),
                     percent(now["conversion_rate"]), change, points])
    return rows


def compare_goals(s, api, since=0):
    url = s.last_request("goals", since)
    report = api.same_as(url)
    expect_equal(goal_rows(s), goal_rows_from_api(report), "the goals panel")
    return report


def check_goals(s, api, args):
    """The goals panel equals the goals report, its withheld figures read as
    elsewhere, with the note that conversion is within a UTC day; over 7
    days, with the change against the 7 days before."""
    site = site_of(s, args)
    expect(len(site["goals"]) >= 2, f"/dashboard/api/me lists goals {site['goals']}")
    report = compare_goals(s, api)
    expect_equal([g["name"] for g in report["goals"]], site["goals"], "goals listed by /dashboard/api/me")
    shown_goals = [g["name"] for g in report["goals"] if g["current"]["converting_visitors"] is not None]
    withheld = [g["name"] for g in report["goals"] if g["current"]["converting_visitors"] is None]
    expect(shown_goals and withheld, f"the seed needs goals shown and withheld: {shown_goals} / {withheld}")
    text = s.page.inner_text('[data-panel="goals"]')
    expect("within one UTC day" in text, "the goals panel does not say conversion is within a UTC day")
    expect("too few visitors to show" in text, "withheld goals are not said to be withheld")
    if report["visitors"] is not None:
        expect(f"{shown(report['visitors'])} visitors" in text, "the rate's base is not given")
    mark = len(s.requests)
    s.page.select_option("#period", "7d")
    s.wait_ready("the last 7 days")
    report = compare_goals(s, api, mark)
    changes = [g["name"] for g in report["goals"] if g["change"] is not None]
    expect(changes, "no goal has a change over 7 days; the seed needs the 7 days before")
    s.page.locator('[data-panel="goals"]').screenshot(path=os.path.join(args.out, "goals.png"))
    s.page.go_back()
    s.wait_ready("Back to 30 days")
    return f"{len(shown_goals)} goals shown, {len(withheld)} withheld; over 7 days, changes for {changes}"


def check_goal_filter(s, api, args):
    """A click on a goal adds goal==<name>: its chip, the URL, every panel
    asked again with it and equal to the API's; the funnel takes no filter
    and says so; the chip removes it."""
    report = api.same_as(s.last_request("goals"))
    name = next(g["name"] for g in report["goals"] if g["current"]["converting_visitors"] is not None)
    wanted = "goal==" + name
    mark = len(s.requests)
    s.page.locator(f'[data-panel="goals"] [data-goal="{name}"] button').click()
    s.wait_ready("the view filtered by a goal")
    chip = s.page.locator(f'[data-filter="{wanted}"]')
    expect(chip.count() == 1, f"no chip [data-filter={wanted!r}]")
    expect(f"reached goal {name}" in chip.inner_text(), f"the chip reads {chip.inner_text()!r}")
    expect_equal(query_of(s.page.url).get("filter"), [wanted], "filter in the URL")
    for kind in ("summary", "timeseries", "goals"):
        expect(any(query_of(u).get("filter") == [wanted] for u in s.stats_requests(kind, mark)),
               f"{kind} was not fetched again with the filter")
    for panel in list(PANEL_TABS) + ["props"]:
        fetched = [u for u in s.stats_requests("breakdown", mark) if query_of(u).get("filter") == [wanted]]
        dims = {query_of(u)["by"][0] for u in fetched}
        expect(dims & set(PANEL_TABS.get(panel, [])) or (panel == "props" and any(d.startswith("prop:") for d in dims)),
               f"panel {panel} was not fetched again with the filter")
    expect(all("filter" not in query_of(u) for u in s.stats_requests("funnel", mark)), "the funnel was asked with a filter")
    expect("Filters do not apply to funnels" in s.page.inner_text('[data-panel="funnel"]'),
           "the funnel does not say filters do not apply to it")
    expect(s.stats_requests("filtered", mark), "filtered traffic was not asked again")
    expect(all("filter" not in query_of(u) for u in s.stats_requests("filtered", mark)),
           "filtered traffic was asked with a filter")
    expect("Filters do not apply here" in s.page.inner_text('[data-panel="filtered"]'),
           "filtered traffic does not say filters do not apply to it")
    summary = api.same_as(compare_summary(s, api, mark))
    expect(summary["current"] is not None, f"the API withholds the visitors who reached {name!r}; seed more")
    compare_panel(s, api, "pages", "path", mark)
    compare_panel(s, api, "sources", "referrer_host", mark)
    compare_goals(s, api, mark)
    s.screenshot("overview-goal")
    mark = len(s.requests)
    s.page.locator(f'[data-filter="{wanted}"] button').click()
    s.wait_ready("the view without the goal filter")
    expect(s.page.locator("[data-filter]").count() == 0, "the chip is still there")
    expect("filter" not in query_of(s.page.url), "the URL still has a filter")
    compare_summary(s, api, mark)
    return f"{wanted}: chip, URL, summary, chart, panels and goals asked again with it and equal to the API's; removed"


def check_props(s, api, args):
    """The properties panel offers the site's keys and equals the breakdown
    by each; a click on a value adds prop:<key>==<value>."""
    site = site_of(s, args)
    keys = site["props"]
    expect(len(keys) >= 2, f"/dashboard/api/me lists property keys {keys}")
    offered = s.page.eval_on_selector_all("#props-select option", "os => os.map(o => o.textContent)")
    expect_equal(offered, keys, "property keys offered")
    details = []
    for key in reversed(keys):
        dim = "prop:" + key
        if s.page.input_value("#props-select") != dim:
            s.page.select_option("#props-select", dim)
        s.wait_ready(f"the breakdown by {dim}")
        url = s.last_request("breakdown", by=dim, limit="10")
        report = api.same_as(url)
        expect_equal(report["count"], "events", f"what the breakdown by {dim} counts")
        expect_equal(s.rows("props"), rows_from_api(report), f"the properties panel by {dim}")
        details.append(f"{dim}: {len(report['rows'])} rows")
    s.page.locator('[data-panel="props"]').screenshot(path=os.path.join(args.out, "props.png"))
    none = s.page.locator('[data-panel="props"] [data-row][data-value="(none)"] button')
    expect(none.count() == 0, "(none) of a property is offered as a filter")
    row = s.page.locator('[data-panel="props"] [data-row]').filter(has=s.page.locator("button")).first
    wanted = f"prop:{keys[0]}==" + row.get_attribute("data-value")
    mark = len(s.requests)
    row.locator("button").click()
    s.wait_ready("the view filtered by a property")
    expect(s.page.locator(f'[data-filter="{wanted}"]').count() == 1, f"no chip [data-filter={wanted!r}]")
    expect_equal(query_of(s.page.url).get("filter"), [wanted], "filter in the URL")
    compare_summary(s, api, mark)
    compare_panel(s, api, "props", "prop:" + keys[0], mark)
    return "; ".join(details) + f"; {wanted} filters the view"


def funnel_steps(s):
    return s.page.eval_on_selector_all(
        '[data-panel="funnel"] [data-step]',
        """steps => steps.map(li => {
             const cell = (k) => { const c = li.querySelector('[data-cell="' + k + '"]'); return c ? c.textContent.trim() : null; };
             const bar = li.querySelector('.step-bar');
             return [Number(li.dataset.step), li.dataset.value, cell('visitors'), cell('of_first'), cell('drop_off'),
                     bar ? parseFloat(bar.style.width) : null, bar ? bar.getBoundingClientRect().width : null,
                     li.querySelector('.step-track').getBoundingClientRect().width];
           })""")


def check_funnel(s, api, args):
    """Each of the site's funnels: its steps' figures equal the funnel
    report's, each bar as long as its visitors, withheld steps without one."""
    site = site_of(s, args)
    funnels = site["funnels"]
    expect(len(funnels) >= 2, f"/dashboard/api/me lists funnels {funnels}")
    offered = s.page.eval_on_selector_all("#funnel-select option", "os => os.map(o => o.textContent)")
    expect_equal(offered, funnels, "funnels offered")
    details, withheld_seen, shot = [], False, False
    for name in funnels:
        if s.page.input_value("#funnel-select") != name:
            s.page.select_option("#funnel-select", name)
        s.wait_ready(f"the funnel {name}")
        url = s.last_request("funnel", funnel=name)
        expect("filter" not in query_of(url), "the funnel was asked with a filter")
        report = api.same_as(url)
        steps = funnel_steps(s)
        expect_equal(len(steps), len(report["steps"]), f"steps of {name}")
        most = max([st["visitors"] or 0 for st in report["steps"]] + [0])
        for page, step in zip(steps, report["steps"]):
            number, reached_by, visitors, of_first, drop_off, width, bar_px, track_px = page
            what = f"{name}, step {step['step']}"
            expect_equal([number, reached_by], [step["step"], step["reached_by"]], what)
            share = None if step["step"] == 1 or step["of_first"] is None else percent(step["of_first"])
            expect_equal([visitors, of_first], [shown(step["visitors"]), share], what)
            expect_equal(drop_off, None if step["step"] == 1 else percent(step["drop_off"]), f"{what}, drop-off")
            if step["visitors"] is None:
                withheld_seen = True
                expect(width is None, f"{what} is withheld but has a bar")
                text = s.page.inner_text(f'[data-panel="funnel"] [data-step="{step["step"]}"]')
                expect("too few visitors to show" in text, f"{what} is withheld without saying so: {text!r}")
            else:
                expected = 100 * step["visitors"] / most if most else 0
                expect(width is not None and abs(width - expected) < 0.01, f"{what}: bar {width}%, expected {expected:.3f}%")
                expect(abs(bar_px - track_px * expected / 100) <= 1.5,
                       f"{what}: the bar is {bar_px}px of {track_px}px, expected {expected:.1f}%")
        if not shot and all(st["visitors"] is not None for st in report["steps"]):
            s.page.locator('[data-panel="funnel"]').screenshot(path=os.path.join(args.out, "funnel.png"))
            shot = True
        details.append(f"{name}: " + " → ".join(shown(st["visitors"]) for st in report["steps"]))
    expect(withheld_seen, "no funnel step is withheld; the seed needs one")
    expect(shot, "no funnel has every step shown; the seed needs one")
    return "; ".join(details)


# Plain words the page must use for some reasons (`reason:kind`).
FILTERED_WORDS = {
    "bot:library": "Bots: HTTP libraries and scripts",
    "bot:headless": "Bots: headless browsers",
    "referrer_spam:": "Referrer spam",
    "datacenter:": "From data-centre networks",
    "unknown_site:": "Copied snippet or other host",
    "unverified:": "Could not show it came from the site",
    "invalid:": "Malformed",
    "rate_limited:": "Over the rate limit",
}


def filtered_rows(s):
    return s.page.eval_on_selector_all(
        '[data-panel="filtered"] [data-reason]',
        """rows => rows.map(r => [r.dataset.reason, r.querySelector('th').textContent.trim(),
                                r.querySelector('[data-cell="hits"]').textContent.trim()])""")


def check_filtered(s, api, args):
    """The filtered traffic panel equals the filtered report: its total,
    each reason with hits in the report's order and in plain words, every
    reason with none named below; asked without filters; it says that
    Do-Not-Track and Global Privacy Control requests are counted nowhere and
    how much noise the counts carry."""
    url = s.last_request("filtered")
    q = query_of(url)
    expect("filter" not in q, f"filtered traffic was asked with a filter: {url}")
    expect_equal(q.get("site"), [args.site], "the filtered report's site")
    report = api.same_as(url)
    expect_equal(s.page.inner_text('[data-panel="filtered"] [data-cell="total"]').strip(), shown(report["total"]),
                 "hits not counted")
    key = lambda r: f"{r['reason']}:{r['kind']}"
    rows = filtered_rows(s)
    expect_equal([[k, hits] for k, _, hits in rows],
                 [[key(r), shown(r["hits"])] for r in report["reasons"] if r["hits"] > 0], "reasons with hits")
    none = s.page.eval_on_selector_all('[data-panel="filtered"] [data-none]', "xs => xs.map(x => x.dataset.none)")
    expect_equal(none, [key(r) for r in report["reasons"] if r["hits"] == 0], "reasons with none")
    expect_equal(len(report["reasons"]), 11, "reasons the report lists")
    words = dict((k, label) for k, label, _ in rows)
    words.update(zip(none, s.page.eval_on_selector_all('[data-panel="filtered"] [data-none]',
                                                       "xs => xs.map(x => x.textContent.trim())")))
    for k, label in words.items():
        expect(label and label != k and "_" not in label, f"{k} reads {label!r}, not in plain words")
        if k in FILTERED_WORDS:
            expect_equal(label, FILTERED_WORDS[k], f"the words for {k}")
    seeded = [key(r) for r in report["reasons"] if r["hits"] > 0]
    expect({"bot:crawler", "bot:library", "referrer_spam:"} <= set(seeded),
           f"the seeded reasons are not all shown: {seeded}")
    text = s.page.inner_text('[data-panel="filtered"]')
    expect("Do-Not-Track or Global Privacy Control" in text and "counted nowhere" in text,
           "the panel does not say that opted-out requests are counted nowhere")
    margin = report["margins"]["count"]
    expect("noise" in text and f"within {shown(margin)} hits" in text,
           f"the panel does not give the noise of its counts ({margin}): {text!r}")
    panel = s.page.locator('[data-panel="filtered"]')
    panel.scroll_into_view_if_needed()
    panel.screenshot(path=os.path.join(args.out, "filtered.png"))
    return f"total {report['total']}; {len(rows)} reasons with hits, {len(none)} with none, as the API"


def expect_credit(s, panel):
    """The GeoIP database's credit under `panel`, as /dashboard/api/me gives it."""
    credit = s.me()["locations_attribution"]
    expect(credit, "/dashboard/api/me gives no credit for the test's DB-IP database")
    link = s.page.locator(f'[data-panel="{panel}"] [data-attribution] a')
    expect_equal(link.count(), 1, f"credit links under {panel}")
    expect(link.is_visible(), f"the credit under {panel} is not visible")
    expect_equal(link.inner_text().strip(), credit["text"], f"the credit under {panel}")
    expect_equal(link.get_attribute("href"), credit["href"], f"the credit's link under {panel}")
    expect("noreferrer" in (link.get_attribute("rel") or ""), "the credit's link sends a referrer")
    return credit


def check_credit(s, args):
    """The locations panel (and its "See all") carries the GeoIP database's
    credit, as its licence asks; no other panel does."""
    credit = expect_credit(s, "locations")
    expect_equal(s.page.locator("[data-attribution]").count(), 1, "credits on the overview")
    s.page.locator('[data-panel="locations"] [data-see-all]').click()
    s.wait_ready("See all locations")
    in_dialog = s.page.locator("#all-dialog [data-attribution] a")
    expect(in_dialog.count() == 1 and in_dialog.inner_text().strip() == credit["text"],
           "See all locations does not carry the credit")
    s.page.click("#dialog-close")
    return f"{credit['text']!r} linking {credit['href']}"


# ------------------------------------------------------------------ main
def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for name in ("base", "token", "token-name", "site", "campaign", "small-filter", "share-link", "expired-share-link",
                 "out"):
        parser.add_argument("--" + name, required=True)
    return parser.parse_args(argv)


def main(argv):
    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    host = urllib.parse.urlsplit(args.base).netloc
    api = Api(args.base, args.token)
    results = Results()
    all_requests, errors, overflow = [], [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)

        def scenario(checks, signed_in=True):
            """Runs `checks` in order in one fresh context (each goes on from
            where the one before left the page)."""
            s = Session(browser, args, host)
            try:
                if signed_in and not results.run("sign in", s.sign_in, args.token):
                    for name, _ in checks:
                        results.record(name, "not run: sign-in failed")
                    return
                for name, check in checks:
                    results.run(name, check, s)
            finally:
                all_requests.extend(s.requests)
                errors.extend(s.errors)
                overflow.extend(s.overflow)
                s.close()

        scenario([("1. sign-in refused, then accepted", lambda s: check_sign_in(s, args))], signed_in=False)
        scenario([
            ("2. figures and panels equal the API", lambda s: check_default_view(s, api, args)),
            ("4. period change redraws the chart", lambda s: check_period_change(s, api, args)),
            ("5. CSV download equals the API's CSV", lambda s: check_csv_download(s, api, args)),
        ])
        scenario([("3. clicking a row filters everything", lambda s: check_filter_by_click(s, api, args))])
        scenario([("6. campaign page equals the email report", lambda s: check_campaign(s, api, args))])
        scenario([("7. small filter is withheld", lambda s: check_small_filter(s, api, args))])
        scenario([
            ("11. the funnel's bars equal the funnel report", lambda s: check_funnel(s, api, args)),
            ("12. the properties panel equals the breakdown by property", lambda s: check_props(s, api, args)),
        ])
        scenario([
            ("13. the goals panel equals the goals report", lambda s: check_goals(s, api, args)),
            ("14. clicking a goal filters everything by it", lambda s: check_goal_filter(s, api, args)),
        ])
        scenario([
            ("15. filtered traffic equals the filtered report", lambda s: check_filtered(s, api, args)),
            ("16. the locations panel credits the GeoIP database", lambda s: check_credit(s, args)),
        ])
        scenario([("17. an email link clicked in Chromium goes through the collector",
                   lambda s: check_email_links(s, args))])
        results.run("8. shared link opens, expired one is refused",
                    check_shared_link, browser, args, host, errors, overflow)
        scenario([("8b. a shared link asks before it replaces a staff session",
                   lambda s: check_share_asks_first(s, args))])
        results.run("9. no other host, no console errors",
                    check_hosts_and_errors, all_requests, errors, host)
        shots = sorted(f for f in os.listdir(args.out) if f.endswith(".png"))
        results.run("10. screenshots at 375 and 1440 px", lambda: check_screenshots(args.out, shots, overflow))
        browser.close()
    print(f"{results.passed} passed, {results.failed} failed")
    return 0 if results.failed == 0 else 1


def check_screenshots(out, shots, overflow):
    wanted = [f"{name}-{w}.png" for name in ("overview", "overview-filtered", "overview-goal", "campaigns", "campaign",
                                             "sign-in", "shared", "share-ask")
              for w in WIDTHS] + ["goals.png", "funnel.png", "props.png", "filtered.png"]
    missing = [w for w in wanted if w not in shots]
    expect(not missing, f"missing {missing}")
    expect(not overflow, "wider than the window: " + "; ".join(overflow))
    return f"{len(wanted)} PNGs in {out}, none wider than its window"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
