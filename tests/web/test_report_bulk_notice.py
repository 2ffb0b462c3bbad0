"""The inbox's notice after a bulk change names skipped reports by their ticket codes, and
never gives away the code of a report the officer may not see."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlmodel import select

from bot.runtime import Runtime
from bot.services.tickets import display_code
from bot.web.app import create_app
from storage.models import Officer, Report
from tests.web.test_dashboard import Office, seed_office


@pytest.fixture
async def office(runtime: Runtime) -> AsyncIterator[Office]:
    leksono, sukamaju = await seed_office(runtime)
    async with runtime.db.session() as session:
        ids = {o.username: o.id or 0 for o in (await session.exec(select(Officer))).all()}
    transport = httpx.ASGITransport(app=create_app(runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield Office(runtime, client, leksono, sukamaju, ids)


async def _codes(office: Office) -> tuple[str, str]:
    async with office.runtime.db.session() as session:
        leksono = await session.get(Report, office.leksono_report)
        sukamaju = await session.get(Report, office.sukamaju_report)
    assert leksono is not None and sukamaju is not None
    return display_code(leksono.code), display_code(sukamaju.code)


async def test_skipped_reports_are_named_by_their_codes(office: Office) -> None:
    leksono, sukamaju = await _codes(office)
    await office.sign_in("darmo")  # Leksono only
    csrf = await office.csrf()
    chosen = [str(office.leksono_report), str(office.sukamaju_report)]
    done = await office.client.post(
        "/reports/bulk",
        data={"csrf": csrf, "action": "status", "status": "selesai", "report": chosen},
    )
    assert done.status_code == 303
    notice = (await office.client.get(done.headers["location"])).text
    assert f"tidak bisa diubah begitu: {leksono}." in notice  # baru cannot go to selesai
    assert "Dilewati karena tidak ditemukan: 1 laporan." in notice
    assert sukamaju not in notice
    assert f"#{office.leksono_report}" not in notice and f"#{office.sukamaju_report}" not in notice


async def test_a_crafted_notice_link_reveals_no_code(office: Office) -> None:
    leksono, sukamaju = await _codes(office)
    await office.sign_in("darmo")
    both = f"{office.leksono_report},{office.sukamaju_report}"
    page = await office.client.get(f"/?done=dash.bulk.skipped.transition&skipped_transition={both}")
    assert page.status_code == 200
    assert f"tidak bisa diubah begitu: {leksono}, 1 laporan lain." in page.text
    assert sukamaju not in page.text
    for bad in ("abc", "1,,2", ",".join(["1"] * 31), "99999999999", "4294967296", "0"):
        page = await office.client.get(f"/?done=dash.bulk.skipped.reason&skipped_reason={bad}")
        assert page.status_code == 200 and "Dilewati" not in page.text, bad


async def test_the_notice_speaks_english_to_an_english_reader(office: Office) -> None:
    leksono, _ = await _codes(office)
    await office.sign_in("camat")
    both = f"{office.leksono_report},{office.sukamaju_report},999999"
    page = await office.client.get(
        f"/?lang=en&done=dash.bulk.done&count=1&done=dash.bulk.skipped.not_allowed"
        f"&skipped_not_allowed={both}"
    )
    assert "1 reports updated." in page.text
    assert f"cannot handle these reports: {leksono}, " in page.text
    assert "1 other reports." in page.text
