#!/usr/bin/env python3
"""Walks the Ferry dashboard in headless Chromium as an admin would, and screenshots each page.

Follows every link of the navigation; opens the first dead job's page; filters the dead list by
TYPE; asks to retry all it selects, reads the count on the confirmation page and confirms;
checks the keyboard reaches the navigation, that the dead list renders with scripts disabled,
and takes the overview at phone width and in dark mode. Prints one JSON object with what it saw.

    dashboard_walk.py --url http://127.0.0.1:7480 --type ferry.record --clear QUEUE --shots DIR
"""
import argparse
import base64
import json
import os

from devtools import Browser


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--type", required=True)
    parser.add_argument("--shots", required=True)
    parser.add_argument("--clear", required=True, help="a queue with waiting jobs to clear")
    args = parser.parse_args()
    os.makedirs(args.shots, exist_ok=True)
    seen = {"pages": {}}

    with Browser() as browser:
        page = browser.page()
        page.call("Emulation.setDeviceMetricsOverride", width=1280, height=900, deviceScaleFactor=1, mobile=False)

        def load(url):
            page.call("Page.navigate", url=url)
            page.wait_for("Page.loadEventFired")

        def shot(name, full=True):
            options = {"format": "png"}
            if full:
                metrics = page.call("Page.getLayoutMetrics")["cssContentSize"]
                options["clip"] = {"x": 0, "y": 0, "width": metrics["width"], "height": min(metrics["height"], 2400), "scale": 1}
                options["captureBeyondViewport"] = True
            data = page.call("Page.captureScreenshot", **options)["data"]
            with open(os.path.join(args.shots, name + ".png"), "wb") as f:
                f.write(base64.b64decode(data))

        def click(selector):
            page.evaluate(f"document.querySelector({json.dumps(selector)}).click()")
            page.wait_for("Page.loadEventFired")

        load(args.url + "/?live=0")
        links = page.evaluate("[...document.querySelectorAll('nav a')].map(a => [a.textContent, a.getAttribute('href')])")
        for text, href in links:
            load(args.url + href + ("?live=0" if href == "/" else ""))
            name = "overview" if href == "/" else href.strip("/")
            seen["pages"][name] = {
                "h1": page.evaluate("document.querySelector('h1').textContent"),
                "current": page.evaluate("document.querySelector('nav a[aria-current=page]')?.getAttribute('href')"),
                "times_local": page.evaluate("[...document.querySelectorAll('time')].every(t => !t.textContent.endsWith('UTC') && t.title.length > 0)"),
            }
            shot(name)

        # A dead job's page.
        load(args.url + "/dead")
        click("tr.dead-job a")
        seen["job"] = {
            "url": page.evaluate("location.pathname"),
            "state": page.evaluate("document.querySelector('dd b')?.textContent"),
            "has_arguments": page.evaluate("[...document.querySelectorAll('h2')].some(h => h.textContent == 'Arguments')"),
            "command": page.evaluate("document.querySelector('pre.command')?.textContent"),
            "retry_button": page.evaluate("[...document.querySelectorAll('form button')].some(b => b.textContent == 'Retry')"),
            "failed_attempts": page.evaluate("document.querySelectorAll('tr.attempt').length"),
        }
        shot("job")

        # Find that job again by its id, from the search in every page's header.
        job_id = seen["job"]["url"].split("/")[-1]
        load(args.url + "/?live=0")
        page.evaluate(f"document.querySelector('form.find input').value = {json.dumps(job_id)}")
        page.evaluate("document.querySelector('form.find').requestSubmit()")
        page.wait_for("Page.loadEventFired")
        seen["found_url"] = page.evaluate("location.pathname")

        # Filter the dead list by type, ask to retry all, confirm.
        load(args.url + "/dead")
        seen["dead_rows_before"] = page.evaluate("document.querySelectorAll('tr.dead-job').length")
        page.evaluate(f"document.querySelector('input[name=type]').value = {json.dumps(args.type)}")
        page.evaluate("document.querySelector('form.filters').requestSubmit()")
        page.wait_for("Page.loadEventFired")
        seen["filtered_rows"] = page.evaluate("document.querySelectorAll('tr.dead-job').length")
        seen["filtered_url"] = page.evaluate("location.search")
        shot("dead-filtered")
        click("a[href*='/dead/bulk'][href*='action=retry']")
        seen["confirmation"] = page.evaluate("document.querySelector('main p').textContent")
        shot("confirm")
        click("main form button")
        seen["after_url"] = page.evaluate("location.pathname + location.search")
        seen["notice"] = page.evaluate("document.querySelector('.notice')?.textContent")
        seen["rows_after"] = page.evaluate("document.querySelectorAll('tr.dead-job').length")

        # The keyboard reaches the navigation first.
        page.call("Input.dispatchKeyEvent", type="keyDown", key="Tab", code="Tab", windowsVirtualKeyCode=9)
        page.call("Input.dispatchKeyEvent", type="keyUp", key="Tab", code="Tab", windowsVirtualKeyCode=9)
        seen["first_tab"] = page.evaluate("document.activeElement.closest('nav') !== null ? document.activeElement.textContent : document.activeElement.tagName")

        # Phone width, dark mode.
        page.call("Emulation.setDeviceMetricsOverride", width=390, height=844, deviceScaleFactor=1, mobile=True)
        load(args.url + "/?live=0")
        seen["phone_overflow"] = page.evaluate("document.documentElement.scrollWidth > window.innerWidth + 1")
        shot("overview-phone")
        page.call("Emulation.setDeviceMetricsOverride", width=1280, height=900, deviceScaleFactor=1, mobile=False)
        page.call("Emulation.setEmulatedMedia", features=[{"name": "prefers-color-scheme", "value": "dark"}])
        load(args.url + "/?live=0")
        seen["dark_background"] = page.evaluate("getComputedStyle(document.body).backgroundColor")
        shot("overview-dark")
        page.call("Emulation.setEmulatedMedia", features=[{"name": "prefers-color-scheme", "value": "light"}])

        # Live refresh on the overview, off with ?live=0.
        load(args.url + "/")
        seen["live_refresh"] = page.evaluate("document.querySelector('meta[http-equiv=refresh]')?.content")
        load(args.url + "/?live=0")
        seen["stopped_refresh"] = page.evaluate("document.querySelector('meta[http-equiv=refresh]') === null")

        # Retry from a job's own page: the browser stays on it and is told what happened.
        load(args.url + "/dead")
        click("tr.dead-job a")
        click("form[action$='/retry'] button")
        seen["job_retry"] = {
            "path": page.evaluate("location.pathname"),
            "notice": page.evaluate("document.querySelector('.notice')?.textContent"),
        }

        # Run a schedule entry now: back on the schedules, told which job it enqueued.
        load(args.url + "/schedules")
        click("form[action^='/ui/schedules/'] button")
        seen["schedule_run"] = {
            "path": page.evaluate("location.pathname"),
            "notice": page.evaluate("document.querySelector('.notice')?.textContent"),
        }

        # Clear a queue from its page, through the confirmation that says what goes.
        load(args.url + "/queues/" + args.clear)
        click("a[href$='/clear']")
        seen["clear_confirmation"] = page.evaluate("document.querySelector('main p').textContent")
        click("main form button")
        seen["cleared"] = {
            "path": page.evaluate("location.pathname"),
            "notice": page.evaluate("document.querySelector('.notice')?.textContent"),
        }

        # A batch's page, from the batches.
        load(args.url + "/batches")
        click("tr.batch a")
        seen["batch_h1"] = page.evaluate("document.querySelector('h1').textContent")

        # Scripts off: the pages are server-rendered.
        page.call("Emulation.setScriptExecutionDisabled", value=True)
        load(args.url + "/dead")
        seen["no_script_h1"] = page.evaluate("document.querySelector('h1')?.textContent")
        page.call("Emulation.setScriptExecutionDisabled", value=False)
    print(json.dumps(seen))


if __name__ == "__main__":
    main()
