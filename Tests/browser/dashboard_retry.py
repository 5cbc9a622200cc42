#!/usr/bin/env python3
"""Drives headless Chromium through the Ferry dashboard as a person would.

Opens the dashboard, checks that the dead job JOB_ID is listed, presses its Retry button, and
checks that the page reloaded without it. Prints one JSON object with what it saw; saves a
screenshot of the page before the click to --screenshot.

    dashboard_retry.py --url http://127.0.0.1:7480/ --job JOB_ID --screenshot out.png
"""
import argparse
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import websocket


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Page:
    """A Chrome DevTools Protocol session on one page."""

    def __init__(self, ws_url):
        self.ws = websocket.create_connection(ws_url, timeout=20)
        self.next_id = 0

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def wait_for(self, event, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            message = json.loads(self.ws.recv())
            if message.get("method") == event:
                return message
        raise TimeoutError(event)

    def evaluate(self, expression):
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--job", required=True)
    parser.add_argument("--screenshot")
    args = parser.parse_args()

    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if not browser:
        sys.exit("no Chromium found; ops/setup installs the Debian package chromium")
    port = free_port()
    profile = tempfile.mkdtemp(prefix="ferry-chromium-")
    process = subprocess.Popen(
        [browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         f"--remote-debugging-port={port}", f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        targets = None
        for _ in range(100):
            try:
                targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=1))
                if any(t.get("type") == "page" for t in targets):
                    break
            except OSError:
                pass
            time.sleep(0.1)
        target = next(t for t in targets if t.get("type") == "page")
        page = Page(target["webSocketDebuggerUrl"])
        page.call("Page.enable")
        page.call("Page.navigate", url=args.url)
        page.wait_for("Page.loadEventFired")

        seen = {
            "title": page.evaluate("document.title"),
            "dead_rows_before": page.evaluate("document.querySelectorAll('tr.dead-job').length"),
            "job_listed_before": page.evaluate(f"document.body.innerText.includes({json.dumps(args.job)})"),
        }
        if args.screenshot:
            shot = page.call("Page.captureScreenshot", format="png")
            with open(args.screenshot, "wb") as f:
                f.write(base64.b64decode(shot["data"]))
        selector = f'form[action="/ui/dead/{args.job}/retry"] button'
        seen["button_found"] = page.evaluate(f"document.querySelector({json.dumps(selector)}) !== null")
        if seen["button_found"]:
            page.evaluate(f"document.querySelector({json.dumps(selector)}).click()")
            page.wait_for("Page.loadEventFired")
            seen["url_after"] = page.evaluate("location.href")
            seen["job_listed_after"] = page.evaluate(f"document.body.innerText.includes({json.dumps(args.job)})")
            seen["dead_rows_after"] = page.evaluate("document.querySelectorAll('tr.dead-job').length")
        print(json.dumps(seen))
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    main()
