"""The dashboard in real headless Chromium (Debian's), driven by Playwright: a resident
files a report in the web chat, an officer signs in, finds it, takes it, replies and
closes it, and the resident reads the reply and the closing in their chat."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator

import pytest
from sqlmodel import select

from bot.runtime import build_runtime
from bot.settings import Settings
from storage.db import Database
from storage.models import Resident
from tests.conftest import CHROMIUM, empty_tables
from tests.web.test_browser import ARTIFACTS, serve
from tests.web.test_dashboard import PASSWORD, seed_office

pytestmark = pytest.mark.browser
XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'


async def _fresh_office(settings: Settings) -> None:
    runtime = build_runtime(settings)
    try:
        await empty_tables(runtime.db)
        await seed_office(runtime)
    finally:
        await runtime.db.dispose()


@pytest.fixture
def office_server(settings: Settings) -> Iterator[str]:
    """The seeded office, on emptied tables, behind a live server."""
    asyncio.run(_fresh_office(settings))
    yield from serve(settings)


async def _name_the_resident(settings: Settings, name: str) -> None:
    db = Database(settings.database_url)
    try:
        async with db.transaction() as session:
            for resident in (await session.exec(select(Resident))).all():
                if resident.display_name is None:
                    resident.display_name = name
                    session.add(resident)
    finally:
        await db.dispose()


def test_a_report_from_the_web_chat_handled_in_the_dashboard(
    office_server: str, settings: Settings
) -> None:
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        resident = browser.new_context(viewport={"width": 412, "height": 860}).new_page()
        resident.goto(office_server + "/chat")
        box = resident.locator("#text")
        live = "button:not([disabled])"

        def say(text: str) -> None:
            box.fill(text)
            box.press("Enter")

        say("halo")
        for label in ("Setuju", "Lapor masalah", "Potongan/pungli", "Dengan nama", "PKH"):
            resident.locator(live, has_text=label).first.click()
        say("Leksono")
        resident.locator(live, has_text="Hari ini").first.click()
        say("Agen e-warong Sumber Rejeki")
        say("Ketua kelompok memotong 50 ribu dari setiap penerima PKH. " + XSS)
        resident.locator(live, has_text="Lanjut").first.click()
        resident.locator(live, has_text="Kirim laporan").first.click()
        filed = resident.locator(".msg.out", has_text="Kode laporan Anda").last
        expect(filed).to_be_visible()
        match = re.search(r"[0-9A-Z]{4}-[0-9A-Z]{4}", filed.inner_text())
        assert match, filed.inner_text()
        code = match.group(0)
        # A hostile display name too (in a thread: Playwright's loop runs in this one).
        worker = threading.Thread(target=asyncio.run, args=(_name_the_resident(settings, XSS),))
        worker.start()
        worker.join()

        officer = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        officer.goto(office_server + "/")
        expect(officer).to_have_url(office_server + "/login")
        officer.screenshot(path=str(ARTIFACTS / "dashboard-login.png"))
        officer.fill("input[name=username]", "darmo")
        officer.fill("input[name=password]", PASSWORD)
        officer.click("button[type=submit]")
        expect(officer.locator("h1")).to_have_text("Laporan warga")
        rows = officer.locator("table.reports tbody tr")
        expect(rows).to_have_count(2)  # the new one and the seeded one, Leksono only
        officer.screenshot(path=str(ARTIFACTS / "dashboard-inbox.png"), full_page=True)
        officer.locator("table.reports a", has_text=code).click()
        officer.wait_for_url("**/reports/*")
        expect(officer.locator(".story")).to_contain_text(XSS)  # shown as text
        expect(officer.locator("dl.reporter")).to_contain_text(XSS)
        officer.locator("form[action$='/assign'] button", has_text="Ambil").click()
        expect(officer.locator(".notice")).to_contain_text("Tersimpan")
        officer.fill("form[action$='/reply'] textarea", "Terima kasih, Bu. Kami cek hari ini.")
        officer.locator("form[action$='/reply'] button").click()
        expect(officer.locator(".deliveries")).to_contain_text("Kami cek hari ini")

        resident.reload()
        expect(resident.locator(".msg.out").last).to_contain_text(
            "Kami cek hari ini", timeout=15000
        )

        for status, message in (
            ("diverifikasi", "Sudah kami cek ke lapangan."),
            ("ditindaklanjuti", ""),
            ("selesai", "Uang potongan sudah dikembalikan."),
        ):
            officer.select_option("form[action$='/status'] select", status)
            officer.fill("form[action$='/status'] textarea", message)
            officer.locator("form[action$='/status'] button").click()
            expect(officer.locator(".notice")).to_contain_text("Tersimpan")
        expect(officer.locator("h1 .badge").first).to_have_text("selesai")
        officer.screenshot(path=str(ARTIFACTS / "dashboard-report.png"), full_page=True)
        assert officer.evaluate("window.__xss") is None
        officer.goto(office_server + "/monitoring")
        expect(officer.locator("svg").first).to_be_visible()
        officer.screenshot(path=str(ARTIFACTS / "dashboard-monitoring.png"), full_page=True)

        resident.reload()
        expect(
            resident.locator(".msg.out", has_text="Uang potongan sudah dikembalikan")
        ).to_have_count(1, timeout=15000)
        expect(resident.locator(".msg.out").last).to_contain_text("puas")  # the rating question
        resident.screenshot(path=str(ARTIFACTS / "dashboard-resident.png"), full_page=True)
        assert resident.evaluate("window.__xss") is None
        browser.close()


async def _run_broadcast_clock(settings: Settings) -> None:
    from bot.workers.broadcasts import run_once

    runtime = build_runtime(settings)
    try:
        await run_once(runtime)
    finally:
        await runtime.db.dispose()


def test_a_schedule_broadcast_reaches_a_subscribed_resident(
    office_server: str, settings: Settings
) -> None:
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        resident = browser.new_context(viewport={"width": 412, "height": 860}).new_page()
        resident.goto(office_server + "/chat")
        box = resident.locator("#text")
        live = "button:not([disabled])"
        box.fill("halo")
        box.press("Enter")
        for label in ("Setuju", "Jadwal penyaluran"):
            resident.locator(live, has_text=label).first.click()
        box.fill("leksno")  # a typo
        box.press("Enter")
        expect(resident.locator(".msg.out").last).to_contain_text("kabari")
        resident.locator(live, has_text="Ya, semua bantuan").first.click()
        expect(resident.locator(".msg.out", has_text="kami akan mengabari")).to_have_count(1)

        officer = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        officer.goto(office_server + "/login")
        officer.fill("input[name=username]", "darmo")
        officer.fill("input[name=password]", PASSWORD)
        officer.click("button[type=submit]")
        officer.goto(office_server + "/schedules/new")
        officer.select_option("select[name=programme]", "BPNT")
        officer.fill("input[name=phase]", "Tahap 1 2027")
        officer.fill("input[name=day]", "2030-01-15")
        officer.fill("input[name=place]", "Balai Desa Leksono <b>")
        officer.fill("input[name=bring]", "KTP, KK, kartu KKS")
        officer.locator("input[name=village]").first.check()
        officer.locator("form.schedule-form button[type=submit]").click()
        expect(officer.locator(".notice")).to_contain_text("tersimpan")
        officer.screenshot(path=str(ARTIFACTS / "dashboard-schedules.png"), full_page=True)
        officer.goto(office_server + "/broadcasts")
        officer.locator("input[name=village]").first.check()
        officer.locator("input[name=programme][value=BPNT]").check()
        officer.locator("button[value=preview]").click()
        expect(officer.locator("#preview h3")).to_contain_text("Akan diterima 1 chat")
        expect(officer.locator("#preview")).to_contain_text("Balai Desa Leksono <b>")
        officer.screenshot(path=str(ARTIFACTS / "dashboard-broadcast-preview.png"), full_page=True)
        officer.locator("button[value=send]").click()
        officer.wait_for_url("**/broadcasts/*")
        worker = threading.Thread(target=asyncio.run, args=(_run_broadcast_clock(settings),))
        worker.start()
        worker.join()
        officer.reload()
        expect(officer.locator(".counts-grid")).to_be_visible()
        officer.screenshot(path=str(ARTIFACTS / "dashboard-broadcast.png"), full_page=True)

        resident.reload()
        expect(resident.locator(".msg.out", has_text="Kabar penyaluran bantuan")).to_have_count(
            1, timeout=15000
        )
        expect(resident.locator(".msg.out", has_text="Balai Desa Leksono <b>")).to_have_count(1)
        resident.screenshot(path=str(ARTIFACTS / "webchat-broadcast.png"), full_page=True)
        assert officer.evaluate("window.__xss") is None
        browser.close()
