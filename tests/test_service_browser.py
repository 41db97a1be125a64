"""The dashboard in a real headless browser (Debian's Chromium through selenium), against a set playing with the
API: the page reads at a glance what the set plays (tempo, key, bar, time left, phase and the next change, the
energy against the per-bar target over the arc, each command's outcome, the outputs), and its controls (buttons,
tempo, a proposed command confirmed with a click) land in the log. With the router alone it offers no steering.

``BERGAIN_DASHBOARD_SHOTS=DIR`` saves the screenshots of the set at its start, in its breakdown and at its end
(the ones in ``docs/``)."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import httpx
import pytest
import trio
from conftest import make_scenario
from service_harness import SCRIPTED, live_set

from bergain_actors.core import events as ev
from bergain_actors.core.log import read_all
from bergain_actors.service.app import Api
from bergain_actors.service.http import listen, serve_app
from bergain_actors.service.session import router_session

pytestmark = pytest.mark.timeout(300)

PATIENT = 60
"""Seconds a page may take to show what the set did (generous: CI is a loaded 2-core machine)."""


@pytest.fixture(scope="module")
def browser():
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver):
        pytest.skip("chromium/chromedriver are not installed (make test installs them: scripts/setup.sh)")
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must not look for drivers online
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1500,1420"):
        options.add_argument(flag)
    session = webdriver.Chrome(service=Service(driver), options=options)
    try:
        yield session
    finally:
        session.quit()


class Page:
    """The browser, driven from a worker thread (selenium blocks), so the set plays on meanwhile."""

    def __init__(self, browser) -> None:
        self.browser = browser

    async def run(self, fn, *args):
        return await trio.to_thread.run_sync(fn, *args)

    async def until(self, check, timeout: float = PATIENT):
        """Wait for ``check``; an element the dashboard re-rendered between finding and reading it is looked up
        again at the next poll."""
        from selenium.common.exceptions import StaleElementReferenceException
        from selenium.webdriver.support.ui import WebDriverWait

        wait = WebDriverWait(self.browser, timeout, 0.05, ignored_exceptions=(StaleElementReferenceException,))
        return await self.run(lambda: wait.until(lambda d: check()))

    def find(self, css: str):
        from selenium.webdriver.common.by import By

        return self.browser.find_element(By.CSS_SELECTOR, css)

    def all(self, css: str):
        from selenium.webdriver.common.by import By

        return self.browser.find_elements(By.CSS_SELECTOR, css)

    def text(self, css: str) -> str:
        return self.find(css).text

    async def click(self, css: str) -> None:
        await self.run(lambda: self.find(css).click())

    async def type(self, css: str, words: str, submit: str) -> None:
        def typing() -> None:
            field = self.find(css)
            field.clear()
            field.send_keys(words)
            self.find(submit).click()

        await self.run(typing)

    async def shot(self, name: str) -> None:
        folder = os.environ.get("BERGAIN_DASHBOARD_SHOTS")
        if folder:
            await self.run(self.browser.save_screenshot, str(Path(folder) / name))


async def test_the_dashboard_reads_at_a_glance_and_its_controls_land_in_the_log(browser, scenario_factory, tmp_path):
    scenario = scenario_factory(bpm=240, bars=64, router=SCRIPTED)
    page = Page(browser)
    async with live_set(scenario, tmp_path) as live, httpx.AsyncClient(base_url=live.url, timeout=60) as client:
        await page.run(browser.get, live.url + "/")
        await page.until(lambda: page.text("#status") == "live")
        assert live.http.session.stream.clients  # subscribed

        # a steer by a button, with its outcome (the Conductor's SteerActed) under "your commands"
        await live.bar(1)
        await page.click('button[data-command="energy +"]')
        await page.until(lambda: page.find("#send").get_attribute("data-status") == "202")
        await page.until(lambda: page.all('#commands .cmd[data-state="acted"]'))
        acted = next(e for e in live.of(ev.SteerActed) if e.intent.startswith("energy"))
        shown = await page.run(lambda: page.text('#commands .cmd[data-state="acted"] .answer'))
        assert shown == f"bar {acted.bar}: {acted.intent}: {acted.action}"

        # at a glance: the numbers the set itself reports
        await live.bar(acted.bar + 1)
        await page.until(lambda: int(page.find("#position").get_attribute("data-bar")) >= acted.bar + 1)
        health = (await client.get("/health")).json()["set"]
        glance = await page.run(
            lambda: {k: page.text(f"#{k}") for k in ("bpm", "key", "total", "left", "phase", "next", "device")}
        )
        assert glance["bpm"] == "240" and glance["key"] == health["key"] and glance["total"] == "of 64"
        assert re.fullmatch(r"\d+:\d\d", glance["left"]) and glance["phase"].lower() in {
            p["phase"] for p in health["phases"]
        }
        assert re.search(r"in \d+ bars$", glance["next"]), glance["next"]
        assert glance["device"] == health["device"] and health["device"]
        bands = await page.run(lambda: page.find("#arc").get_attribute("data-bands"))
        assert int(bands) == len(health["phases"]) == 6

        # the chart's target is the per-bar target the log holds (energy + moved it off the arc)
        played = live.of(ev.BarPlayed)[-1]
        await page.until(lambda: int(page.find("#arc").get_attribute("data-bar")) >= played.bar)
        bar, target = await page.run(
            lambda: (
                int(page.find("#arc").get_attribute("data-bar")),
                float(page.find("#arc").get_attribute("data-target")),
            )
        )
        plans = {e.plan.bar: e.plan for e in live.of(ev.BarPlanned)}
        assert target == round(plans[bar].target, 3)

        # the tempo control: a glide the page then shows
        await page.run(lambda: page.find("#tempo-value").clear())
        await page.type("#tempo-value", "250", "#tempo-go")
        await page.until(lambda: float(page.find("#bpm").get_attribute("data-bpm")) > 240)
        assert "set at 240" in await page.run(lambda: page.text("#glide"))

        # ask: the proposed command, confirmed with a click, is an ordinary command in the log
        await page.type("#question", "should we go darker?", "#ask-go")
        await page.until(lambda: page.all("#confirm"))
        proposed = await page.run(lambda: page.find("#confirm").get_attribute("data-command"))
        await page.click("#confirm")
        await page.until(lambda: page.text("#confirm") == "sent ✓")
        await page.until(lambda: any(c.text == "darker" for c in page.all("#commands .cmd .what")))

        # a clip into the set
        await page.type("#prompt", "2-bar acid bassline", "#clip-go")
        await page.until(lambda: "clip in" in page.text("#clip-reply"))
        await page.shot("dashboard-start.png")

        # the breakdown, then the end
        breakdown = next(p for p in health["phases"] if p["phase"] == "breakdown")
        await live.bar(breakdown["start"] + 1)
        await page.until(lambda: page.find("#phase").get_attribute("data-phase") == "breakdown")
        await page.shot("dashboard-breakdown.png")
        with trio.fail_after(120):
            await live.ended.wait()
        await page.until(lambda: page.text("#status").startswith("ended (complete)"))
        assert page.find('button[data-command="darker"]').get_attribute("disabled") is not None
        await page.shot("dashboard-end.png")
    logged = read_all(live.log_path)[1]
    commands = [e for e in logged if isinstance(e, ev.Steer) and e.source == "control"]
    assert [c.text for c in commands] == ["energy +", "tempo 250", proposed.removeprefix("steer ")]
    assert any(isinstance(e, ev.ClipAdded) for e in logged)


async def test_with_the_router_alone_the_page_offers_no_steering(browser, tmp_path):
    scenario = make_scenario(tmp_path, router=SCRIPTED)
    page = Page(browser)
    async with router_session(scenario) as session, trio.open_nursery() as nursery:
        port = await nursery.start(serve_app, Api(session).app, listen("127.0.0.1", 0))
        await page.run(browser.get, f"http://127.0.0.1:{port}/")
        await page.until(lambda: page.text("#status") == "live")
        await page.until(lambda: page.text("#total") == "no set playing")
        shown = await page.run(
            lambda: {s: page.find(s).is_displayed() for s in ("#steering", "#asking", "#clipping", "#providers")}
        )
        icon = await page.run(
            lambda: browser.execute_script(
                "return fetch('/favicon.ico').then(r => r.status + ' ' + r.headers.get('content-type'))"
            )
        )
        nursery.cancel_scope.cancel()
    assert shown == {"#steering": False, "#asking": True, "#clipping": True, "#providers": True}
    assert icon == "200 image/svg+xml"
