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

from devtools import Browser


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--job", required=True)
    parser.add_argument("--screenshot")
    args = parser.parse_args()

    with Browser() as browser:
        page = browser.page()
        page.call("Page.navigate", url=args.url)
        page.wait_for("Page.loadEventFired")

        seen = {
            "title": page.evaluate("document.title"),
            "dead_rows_before": page.evaluate("document.querySelectorAll('tr.dead-job').length"),
            "job_listed_before": page.evaluate(f"[...document.querySelectorAll('tr.dead-job')].some(r => r.innerText.includes({json.dumps(args.job)}))"),
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
            seen["job_listed_after"] = page.evaluate(f"[...document.querySelectorAll('tr.dead-job')].some(r => r.innerText.includes({json.dumps(args.job)}))")
            seen["notice"] = page.evaluate("document.querySelector('.notice')?.textContent")
            seen["dead_rows_after"] = page.evaluate("document.querySelectorAll('tr.dead-job').length")
        print(json.dumps(seen))


if __name__ == "__main__":
    main()
