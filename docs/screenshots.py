"""Takes the console screenshots in docs/ (README), in Debian's Chromium through Playwright.

    .venv/bin/python docs/screenshots.py

Starts the app on a scratch SQLite file and the embedded Redis, scores the demo videos,
appeals one removal, then photographs each page at 1280x800.
"""

from __future__ import annotations

import datetime as dt
import socket
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn
from playwright.sync_api import sync_playwright

from service.app import create_app
from service.domain import Role
from service.serve import DEMO_VIDEOS
from service.settings import Settings

DOCS = Path(__file__).resolve().parent


def main() -> None:
    state = Path(tempfile.mkdtemp(prefix="mizan-shots-"))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    app = create_app(Settings(state_dir=state, console_secure_cookie=False))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    while True:
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    now = dt.datetime.now(dt.UTC)
    _, key = app.state.keys.create(
        "amna", [Role.UPLOADER, Role.MODERATOR, Role.APPEALS_REVIEWER, Role.ANALYST], [], now
    )
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base, headers=headers) as client:
        for video in DEMO_VIDEOS:
            client.post("/v1/videos/score", json={**video, "uploaded_at": now.isoformat()})
        appeal = client.post(
            "/v1/videos/demo-giveaway/appeals", json={"statement": "It is my own shop."}
        )
        appeal.raise_for_status()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(f"{base}/console/login")
        page.screenshot(path=str(DOCS / "console-sign-in.png"))
        page.fill("#key", key)
        page.keyboard.press("Enter")
        page.wait_for_url(f"{base}/console")
        page.screenshot(path=str(DOCS / "console-queues.png"))
        page.goto(f"{base}/console/review")
        page.click("button:has-text('Next item')")
        page.wait_for_selector("#decide")
        page.screenshot(path=str(DOCS / "console-review.png"))
        page.goto(f"{base}/console/appeals")
        page.click("button:has-text('Next appeal')")
        page.wait_for_selector("#statement")
        page.screenshot(path=str(DOCS / "console-appeal.png"))
        page.goto(f"{base}/console/report?period={now.year}Q{(now.month - 1) // 3 + 1}")
        page.screenshot(path=str(DOCS / "console-report.png"), full_page=True)
        browser.close()
    server.should_exit = True
    thread.join(10)


if __name__ == "__main__":
    main()
