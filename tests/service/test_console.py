"""The console in a real headless Chromium (Debian's, driven by Playwright) against a real
uvicorn server: sign in, claim, decide by keyboard, the next item opens, roles, forged posts.

`make test` installs Debian's chromium when it is missing; without it these tests fail.
"""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect, sync_playwright
from redis import Redis

from service.app import create_app
from service.domain import Role
from service.keys import KeyStore
from service.settings import Settings
from tests.service.conftest import MISINFORMATION, SPAM, video

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert CHROMIUM.exists(), (
        "no /usr/bin/chromium: `make test` installs it (apt-get install chromium)"
    )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield launched
        launched.close()


class Server:
    def __init__(self, settings: Settings) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.app = create_app(settings)
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the server did not start")

    def key(self, name: str, *roles: Role) -> str:
        store: KeyStore = self.app.state.keys
        _, plaintext = store.create(name, roles, ["en"], dt.datetime.now(dt.UTC))
        return plaintext

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def server(settings: Settings, redis: Redis) -> Iterator[Server]:
    running = Server(settings.model_copy(update={"console_secure_cookie": False}))
    yield running
    running.stop()


def sign_in(page: Page, base: str, key: str) -> None:
    page.goto(f"{base}/console/login")
    page.fill("#key", key)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/login" not in url)


def test_a_moderator_works_the_queue_by_keyboard(server: Server, browser: Browser) -> None:
    uploader = {"Authorization": f"Bearer {server.key('pipeline', Role.UPLOADER)}"}
    for video_id in ("c1", "c2"):
        body = video(video_id, **MISINFORMATION)
        assert (
            httpx.post(f"{server.base}/v1/videos/score", json=body, headers=uploader).json()[
                "action"
            ]
            == "review"
        )
    page = browser.new_page()
    sign_in(page, server.base, server.key("amna", Role.MODERATOR))
    expect(page.locator("#queues")).to_contain_text("review:en:normal")
    expect(page.locator("#queues td.n").first).to_have_text("2")

    page.goto(f"{server.base}/console/review")
    page.locator("button:has-text('Next item')").press("Enter")
    expect(page.locator("h1")).to_have_text(MISINFORMATION["title"])
    expect(page.locator("mark")).to_contain_text("garlic water")  # the evidence window
    first = page.url
    page.keyboard.press("4")  # the fourth label: misinformation
    page.keyboard.press("r")  # remove; the next item opens
    page.wait_for_url(lambda url: url != first and "/console/review/" in url)
    expect(page.locator("h1")).to_have_text(MISINFORMATION["title"])
    page.keyboard.press("a")  # approve
    expect(page.locator("main")).to_contain_text("Nothing waits for you")
    page.reload()  # POST, redirect, GET: a reload sends nothing again
    expect(page.locator("main")).to_contain_text("Nothing waits for you")

    statuses = {
        video_id: httpx.get(f"{server.base}/v1/videos/{video_id}", headers=uploader).json()
        for video_id in ("c1", "c2")
    }
    assert sorted(v["status"] for v in statuses.values()) == ["live", "removed"]
    removed = next(v for v in statuses.values() if v["status"] == "removed")
    assert removed["reviews"][0]["decided_label"] == "misinformation"
    assert removed["reviews"][0]["decided_by"].startswith("amna#")


def test_roles_and_forged_posts(server: Server, browser: Browser) -> None:
    page = browser.new_page()
    sign_in(page, server.base, server.key("amna", Role.MODERATOR))
    page.goto(f"{server.base}/console/report")
    expect(page.locator("main")).to_contain_text("needs the role analyst")
    forged = page.request.post(f"{server.base}/console/review/next", form={"csrf": "forged"})
    assert forged.status == 403
    assert "did not come from your console session" in forged.text()
    page.click("button:has-text('Sign out')")
    page.wait_for_url(lambda url: url.endswith("/console/login"))
    other = browser.new_page()
    other.goto(f"{server.base}/console/review")
    assert other.url.endswith("/console/login")


def test_an_analyst_sees_the_report_with_its_charts(server: Server, browser: Browser) -> None:
    page = browser.new_page()
    sign_in(page, server.base, server.key("sana", Role.ANALYST))
    page.wait_for_url(lambda url: url.endswith("/console/report"))
    expect(page.locator("svg")).to_have_count(3)
    expect(page.locator("h1").last).to_contain_text("Community Guidelines enforcement")
    with page.expect_download() as download:
        page.click("text=Download CSV")
    assert download.value.suggested_filename == "enforcement.csv"


def test_a_wrong_key_does_not_sign_in(server: Server, browser: Browser) -> None:
    page = browser.new_page()
    page.goto(f"{server.base}/console/login")
    page.fill("#key", "mz_aaaaaaaa_" + "x" * 43)
    page.keyboard.press("Enter")
    expect(page.locator("[role=alert]")).to_have_text("That key is not valid.")


def test_an_appeals_reviewer_restores_from_the_console(server: Server, browser: Browser) -> None:
    from tests.service.conftest import SPAM

    uploader = {"Authorization": f"Bearer {server.key('pipeline', Role.UPLOADER)}"}
    httpx.post(f"{server.base}/v1/videos/score", json=video("ap1", **SPAM), headers=uploader)
    appeal = httpx.post(
        f"{server.base}/v1/videos/ap1/appeals", json={"statement": "my shop"}, headers=uploader
    )
    assert appeal.status_code == 201
    page = browser.new_page()
    sign_in(page, server.base, server.key("bilal", Role.APPEALS_REVIEWER))
    page.goto(f"{server.base}/console/appeals")
    page.locator("button:has-text('Next appeal')").press("Enter")
    expect(page.locator("#statement")).to_have_text("my shop")
    expect(page.locator("#removal")).to_contain_text("model:1.0.2")
    page.keyboard.press("r")  # restore
    expect(page.locator("main")).to_contain_text("No appeal waits for you")
    state = httpx.get(f"{server.base}/v1/videos/ap1", headers=uploader).json()
    assert (state["status"], state["visibility"]) == ("restored", "public")


def test_an_expired_sign_in_form_is_shown_again(server: Server, browser: Browser) -> None:
    page = browser.new_page()
    page.goto(f"{server.base}/console/login")
    page.context.clear_cookies()  # the session behind the form is gone
    page.fill("#key", server.key("amna", Role.MODERATOR))
    page.keyboard.press("Enter")
    expect(page.locator("[role=alert]")).to_contain_text("expired")


def test_an_incomplete_form_gets_a_page_not_json(server: Server) -> None:
    response = httpx.post(f"{server.base}/console/review/next", data={})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("text/html")
    api = httpx.post(f"{server.base}/v1/videos/score", json={})
    assert api.headers["content-type"] == "application/problem+json"  # the API is unchanged


def test_a_moderator_audits_the_models_decisions(
    settings: Settings, redis: Redis, browser: Browser
) -> None:
    running = Server(
        settings.model_copy(update={"console_secure_cookie": False, "audit_share": 1.0})
    )
    try:
        uploader = {"Authorization": f"Bearer {running.key('pipeline', Role.UPLOADER)}"}
        for video_id, fields in (("u1", SPAM), ("u2", {})):
            httpx.post(
                f"{running.base}/v1/videos/score", json=video(video_id, **fields), headers=uploader
            )
        page = browser.new_page()
        sign_in(page, running.base, running.key("sana", Role.MODERATOR))
        page.click("a:has-text('Audits')")
        expect(page.locator("#audits")).to_contain_text("No audit was decided")
        page.locator("button:has-text('Next audit')").press("Enter")
        expect(page.locator("#audited")).to_contain_text("removed")  # the oldest: the spam
        expect(page.locator("#audited")).to_contain_text("spam")
        first = page.url
        page.keyboard.press("o")  # overturn: restore it
        page.wait_for_url(lambda url: url != first and "/console/audits/" in url)
        expect(page.locator("#audited")).to_contain_text("allowed")
        page.keyboard.press("c")  # confirm
        expect(page.locator("main")).to_contain_text("No audit waits for you")
        page.goto(f"{running.base}/console/audits")
        expect(page.locator("#audits")).to_contain_text("automated removals confirmed")
        expect(page.locator("#audits")).to_contain_text("0 / 1")
        restored = httpx.get(f"{running.base}/v1/videos/u1", headers=uploader).json()
        assert restored["status"] == "restored"
    finally:
        running.stop()


def test_an_urdu_notice_is_laid_out_right_to_left(server: Server, browser: Browser) -> None:
    uploader = {"Authorization": f"Bearer {server.key('pipeline', Role.UPLOADER)}"}
    for video_id, language in (("n1", "en"), ("n2", "ur")):
        body = video(video_id, **SPAM, language=language)
        httpx.post(f"{server.base}/v1/videos/score", json=body, headers=uploader)
    page = browser.new_page()
    sign_in(page, server.base, server.key("amna", Role.MODERATOR))
    page.goto(f"{server.base}/console/creators/creator-1")
    expect(page.locator("#standing")).to_contain_text("2 active strikes")
    urdu = page.locator("article.notice[lang=ur]")
    english = page.locator("article.notice[lang=en]")
    expect(urdu).to_contain_text("اسپیم اور جعلی مقبولیت")
    expect(english).to_contain_text("Spam and fake engagement")
    # where the headline's text actually sits: against the right edge in Urdu, the left in
    # English (the browser's layout, not just the attribute)
    measure = """(article) => {
        const text = article.querySelector("p strong").firstChild;
        const range = document.createRange();
        range.selectNodeContents(text);
        const words = range.getBoundingClientRect();
        const box = article.getBoundingClientRect();
        return {direction: getComputedStyle(article).direction,
                left: words.left - box.left, right: box.right - words.right};
    }"""
    rtl = urdu.evaluate(measure)
    ltr = english.evaluate(measure)
    assert rtl["direction"] == "rtl"
    assert ltr["direction"] == "ltr"
    assert rtl["right"] < 40 < rtl["left"]
    assert ltr["left"] < 40 < ltr["right"]
