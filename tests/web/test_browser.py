"""The web chat in real headless Chromium (Debian's), driven by Playwright."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from bot.runtime import build_runtime
from bot.settings import Settings
from bot.web.app import create_app
from tests.conftest import CHROMIUM

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def live_server(settings: Settings) -> Iterator[str]:
    yield from serve(settings)


def serve(settings: Settings) -> Iterator[str]:
    """The app under uvicorn on a free port, in a thread, for the browser."""
    port = _free_port()
    app = create_app(build_runtime(settings))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "test server did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_web_chat_in_chromium(live_server: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 412, "height": 860})
        page.goto(live_server + "/chat")
        box = page.locator("#text")
        box.fill("halo")
        box.press("Enter")
        live = "button:not([disabled])"
        page.locator(live, has_text="Setuju").first.click()
        page.locator(live, has_text="Tanya jawab bansos").click()
        box.fill("ibu saya lansia dapat pkh?")
        box.press("Enter")
        expect(page.locator(".msg.out").last).to_contain_text("Apakah lansia")

        payload = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'
        box.fill(payload)
        box.press("Enter")
        expect(page.locator(".msg.in").last).to_have_text(payload)
        page.locator(live, has_text="Kembali ke menu").click()
        page.locator(live, has_text="Waspada penipuan").click()
        expect(page.locator(".msg.out").last).to_contain_text("Apa yang bisa kami bantu")
        expect(page.locator(".msg.out").nth(-2)).to_contain_text("GRATIS")
        assert page.evaluate("window.__xss") is None
        page.screenshot(path=str(ARTIFACTS / "webchat.png"), full_page=True)

        page.reload()  # the conversation comes back from the server, not from the browser
        expect(page.locator(".msg.in").first).to_have_text("halo")
        assert page.evaluate("window.__xss") is None
        browser.close()
