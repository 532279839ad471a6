"""Times the dashboard in Debian's Chromium: from navigation start to the
first frame painted after every panel is rendered (`body[data-state=ready]`),
read in the page itself, over a 30-day window of the report benchmark's
data; and weighs the page's files as served, gzip -9 compressed.

The time is the page's own clock (`performance.now()`, zero at navigation
start), taken two animation frames after the state turns ready, so the
rendered panels have been painted. Playwright's own wait for the selector
polls and adds some 300 ms on this machine, which is the harness, not the
page; the wall time it sees is printed next to it.

    python3 benches/dashboard_render.py BASE TOKEN RUNS FROM TO

Run by benches/report.sh after its report timings; prints Markdown.
"""

import gzip
import re
import statistics
import sys
import time
import urllib.request

from playwright.sync_api import sync_playwright

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Headless Chromium names itself HeadlessChrome; the dashboard does not care,
# but an ordinary agent keeps the run like a person's.
USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/156.0.0.0 Safari/537.36"
)


def weigh(base):
    """The page and every file it loads (its script is modules, each named in
    the page)."""
    page = urllib.request.urlopen(base + "/dashboard", timeout=30).read().decode()
    assets = ["/dashboard", "/dashboard/app.css"] + sorted(set(re.findall(r'"(/dashboard/[a-z]+\.js)"', page)))
    rows = []
    for path in assets:
        body = urllib.request.urlopen(base + path, timeout=30).read()
        rows.append((path, len(body), len(gzip.compress(body, 9))))
    return rows


# Records, in the page, when the first frame after `data-state=ready` is
# painted. Injected by the browser driver, not subject to the page's CSP.
PAINTED_AFTER_READY = """
new MutationObserver(() => {
  if (document.body && document.body.dataset.state === 'ready' && !window.__painted) {
    window.__painted = -1;
    requestAnimationFrame(() => requestAnimationFrame(() => { window.__painted = performance.now(); }));
  }
}).observe(document, {attributes: true, subtree: true, attributeFilter: ['data-state']});
"""


def time_view(page, url, runs):
    """Median and max milliseconds from navigation start to the frame painted
    after ready (the page's clock), and the harness's wall time, after a
    warm-up; the number of requests one load makes; and how many loads
    ended in the error state (a report refused or timed out), left out of
    the times. Times are None when every load failed."""
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    painted, walls, failed = [], [], 0
    for run in range(runs + 1):
        requests.clear()
        start = time.perf_counter()
        page.goto(url)
        page.wait_for_selector(
            'body[data-state="ready"], body[data-state="error"]', state="attached", timeout=120_000
        )
        if page.evaluate("document.body.dataset.state") == "error":
            failed += run > 0
            continue
        while page.evaluate("window.__painted || 0") <= 0:
            time.sleep(0.005)
        wall = (time.perf_counter() - start) * 1000
        if run > 0:
            painted.append(page.evaluate("window.__painted"))
            walls.append(wall)
    if not painted:
        return None, None, None, len(requests), failed
    return statistics.median(painted), max(painted), statistics.median(walls), len(requests), failed


def main():
    base, token, runs, start, end = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
    site = "optimumabq.com"
    views = [
        ("30-day overview", f"/dashboard?site={site}&period=custom&from={start}&to={end}"),
        (
            "30-day overview, filtered country==US (`daily_filtered`, edges from `events`)",
            f"/dashboard?site={site}&period=custom&from={start}&to={end}&filter=country%3D%3DUS",
        ),
        (
            # A second filter that matches every hit: every report from `events`,
            # as filtered views were answered before `daily_filtered`.
            "the same, forced onto `events` (before)",
            f"/dashboard?site={site}&period=custom&from={start}&to={end}&filter=country%3D%3DUS&filter=city!%3DNowhere",
        ),
    ]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        context = browser.new_context(user_agent=USER_AGENT, viewport={"width": 1440, "height": 900})
        page = context.new_page()
        page.add_init_script(PAINTED_AFTER_READY)
        page.goto(base + "/dashboard")
        page.wait_for_selector('body[data-state="signed-out"], body[data-state="ready"]', state="attached")
        answer = page.evaluate(
            """async (token) => (await fetch('/dashboard/session', {method: 'POST',
                 headers: {'Content-Type': 'application/json'}, body: JSON.stringify({token})})).status""",
            token,
        )
        if answer != 204:
            sys.exit(f"sign-in failed: {answer}")
        print("| dashboard view (Chromium, 1440 px) | rendered and painted, median ms | max ms | harness wall, median ms | requests per load | loads that ended in an error |")
        print("|---|---:|---:|---:|---:|---:|")
        for name, path in views:
            median, worst, wall, requests, failed = time_view(page, base + path, runs)
            shown = "| - | - | -" if median is None else f"| {median:.0f} | {worst:.0f} | {wall:.0f}"
            print(f"| {name} {shown} | {requests} | {failed} of {runs} |")
        browser.close()
    print()
    print("| file | bytes | gzip -9 bytes |")
    print("|---|---:|---:|")
    rows = weigh(base)
    for path, raw, compressed in rows:
        print(f"| `{path}` | {raw} | {compressed} |")
    print(f"| together | {sum(r[1] for r in rows)} | {sum(r[2] for r in rows)} |")


if __name__ == "__main__":
    main()
