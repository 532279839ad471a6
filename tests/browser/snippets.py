#!/usr/bin/env python3
"""Loads a site's pages in Chromium and reports what the browser sent the
collector: the page-side half of tests/it/snippets.rs, which writes the pages
(the README's snippets in them) and reads what ClickHouse stored.

    python3 tests/browser/snippets.py SPEC.json

SPEC.json: {"javascript": bool, "user_agent": str, "site_host": str,
"collector_origin": "http://host:port", "visit": [path],
"pages": {path: {"html": str, "referrer_policy": str or null}},
"actions": [{"eval": script} or {"click": selector}]}.

Serves the pages on loopback at http://<site_host>:<a free port>, maps both
hosts to loopback in Chromium, and treats the site's and the collector's
origins as secure, as https would be (so the browser sends Sec-Fetch-Site).
Loads each page of "visit" in turn in one browser context and waits for the
network to go quiet; then, on the last page, does each of "actions" in turn
(a click does not wait for the navigation it starts), the network quiet
after each. Prints one JSON object: {"site": the site's origin,
"requests": [{"page", "method", "url", "referer", "sec_fetch_site"}]}, every
request to the collector.
Needs Python Playwright and Debian's /usr/bin/chromium (it never downloads a
browser).
"""
import http.server
import json
import sys
import threading
import urllib.parse

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
TIMEOUT_MS = 30_000


def serve(pages):
    """The site: each page with its Referrer-Policy, 404 for anything else."""

    class Site(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            page = pages.get(self.path)
            if page is None:
                self.send_error(404)
                return
            body = page["html"].encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            if page.get("referrer_policy"):
                self.send_header("Referrer-Policy", page["referrer_policy"])
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main():
    with open(sys.argv[1], encoding="utf-8") as file:
        spec = json.load(file)
    server = serve(spec["pages"])
    site = f"http://{spec['site_host']}:{server.server_address[1]}"
    collector = spec["collector_origin"]
    hosts = [spec["site_host"], urllib.parse.urlsplit(collector).hostname]
    args = [*CHROMIUM_ARGS,
            "--host-resolver-rules=" + ", ".join(f"MAP {host} 127.0.0.1" for host in hosts),
            f"--unsafely-treat-insecure-origin-as-secure={site},{collector}"]
    seen = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
        context = browser.new_context(java_script_enabled=spec["javascript"],
                                      user_agent=spec["user_agent"])
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        current = [None]
        page.on("request", lambda request: seen.append((current[0], request))
                if request.url.startswith(collector + "/") else None)
        for path in spec["visit"]:
            current[0] = path
            page.goto(site + path)
            page.wait_for_load_state("networkidle")
        for action in spec.get("actions", []):
            if "eval" in action:
                page.evaluate(action["eval"])
            else:
                page.click(action["click"], no_wait_after=True)
            page.wait_for_load_state("networkidle")
            # A beacon is sent after the handler returns: let it leave.
            page.wait_for_timeout(300)
        requests = []
        for path, request in seen:
            headers = request.all_headers()
            requests.append({"page": path, "method": request.method, "url": request.url,
                             "referer": headers.get("referer"),
                             "sec_fetch_site": headers.get("sec-fetch-site")})
        browser.close()
    server.shutdown()
    print(json.dumps({"site": site, "requests": requests}))


if __name__ == "__main__":
    main()
