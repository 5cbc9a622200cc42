#!/usr/bin/env python3
"""A page on another origin attacks the Ferry admin endpoint from headless Chromium.

Serves an attacker's page on its own port and opens it. The page tries what a malicious site
could: a no-cors POST with a text/plain JSON body to enqueue a job, a body-less no-cors POST to
pause a queue, a cross-site form post to the dashboard's pause button, a CORS read of the stats,
and framing the dashboard. Prints one JSON object with what the page could observe; the caller
checks in Redis that nothing happened.

    cross_site.py --admin http://127.0.0.1:7480
"""
import argparse
import http.server
import json
import threading

from devtools import Browser, free_port

PAGE = """<!doctype html><html><body>
<form id="f" method="post" action="ADMIN/ui/queues/default/pause" target="sink"></form>
<iframe name="sink"></iframe>
<iframe id="framed" src="ADMIN/"></iframe>
<script>
window.results = {};
async function attack() {
  const admin = "ADMIN";
  try {
    await fetch(admin + "/api/v1/jobs", {method: "POST", mode: "no-cors", headers: {"Content-Type": "text/plain"},
      body: JSON.stringify({type: "ferry.noop", args: {from: "evil"}})});
    results.enqueue = "sent";
  } catch (e) { results.enqueue = "error: " + e; }
  try {
    await fetch(admin + "/api/v1/queues/default/pause", {method: "POST", mode: "no-cors"});
    results.pause = "sent";
  } catch (e) { results.pause = "error: " + e; }
  try {
    const response = await fetch(admin + "/api/v1/stats");
    results.read = "read " + response.status + " " + (await response.text()).slice(0, 40);
  } catch (e) { results.read = "blocked"; }
  document.getElementById("f").submit();
  results.form = "submitted";
  await new Promise(resolve => setTimeout(resolve, 1500));
  try {
    results.framed = document.getElementById("framed").contentDocument ? "readable" : "opaque";
  } catch (e) { results.framed = "opaque"; }
  results.done = true;
}
attack();
</script></body></html>"""


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--admin", required=True)
    args = parser.parse_args()
    page_html = PAGE.replace("ADMIN", args.admin).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page_html)))
            self.end_headers()
            self.wfile.write(page_html)

        def log_message(self, *arguments):
            pass

    port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with Browser() as browser:
            page = browser.page()
            # "localhost" is another origin than the admin's 127.0.0.1, as another site would be.
            page.call("Page.navigate", url=f"http://localhost:{port}/")
            page.wait_for("Page.loadEventFired")
            results = page.evaluate(
                "new Promise(resolve => { const wait = () => window.results && window.results.done ? resolve(window.results)"
                " : setTimeout(wait, 100); wait(); })", await_promise=True)
            print(json.dumps(results))
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
