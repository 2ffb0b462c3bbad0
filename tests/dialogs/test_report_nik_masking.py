"""A NIK typed into any free-text answer of a report is masked when it is captured: the
resident's summary, the stored report, the message log, the dashboard, the API and the CSV
export hold only its first and last four digits."""

from __future__ import annotations

import re

import httpx
from sqlmodel import SQLModel, select

from bot.engine import Engine
from bot.services.officer_auth import OfficerAuth
from bot.services.officers import OfficerService
from bot.services.reports import ReportFilter, ReportService, viewer_for
from bot.services.tickets import display_code, find_code
from bot.web.app import create_app
from storage.models import Officer, Report, Village
from storage.types import utcnow
from tests.dialogs.test_report_journey import officer_asks
from tests.helpers import Resident as Chat

LEKSONO = "3307992006"
PASSWORD = "kata-sandi-rahasia-1"
WHEN = "kemarin, saya Siti Nur Aminah NIK 3307994505809001"
SUBJECT = "Pak Joko NIK 3307991203759002"
STORY = "Tetangga saya NIK 3307 9912 0375 9002 mampu tapi dapat bantuan terus"
ANSWER = "Istrinya juga dapat, NIK 3307-9945-0580-9003, rumahnya bertingkat."
RAW = (
    "3307994505809001",
    "3307991203759002",
    "3307 9912 0375 9002",
    "3307-9945-0580-9003",
    "3307994505809003",
)
MASKED = ("3307********9001", "3307********9002", "3307********9003")
NOTICE = "Nomor NIK yang Anda tulis kami samarkan"


def _assert_no_raw_nik(text: str, where: str) -> None:
    for raw in RAW:
        assert raw not in text, (where, raw)


async def _office(engine: Engine) -> dict[str, str]:
    """An admin, the village officer and a viewer, each with an API token."""
    runtime = engine.runtime
    now = utcnow()
    tokens: dict[str, str] = {}
    async with runtime.db.transaction() as session:
        session.add(Village(code=LEKSONO, name="Leksono", kecamatan="Sukamaju"))
        await session.flush()
        officers = OfficerService(session, runtime.vault)
        auth = OfficerAuth(session, runtime.vault)
        for username, role, villages in (
            ("camat", "admin", []),
            ("darmo", "officer", [LEKSONO]),
            ("pengamat", "viewer", []),
        ):
            officer = await officers.add(username, role, villages, PASSWORD, now, username)
            tokens[username] = await auth.new_api_token(officer, now)
    return tokens


async def test_a_nik_in_every_free_text_field_is_masked_everywhere(engine: Engine) -> None:
    runtime = engine.runtime
    tokens = await _office(engine)
    chat = Chat(engine)
    await chat.agree()
    for choice in ("menu:report", "report:kind:oknum", "report:identity:named"):
        await chat.tap(choice)
    await chat.tap("report:programme:BPNT")
    await chat.say("Leksono")
    await chat.say(WHEN)
    assert NOTICE in chat.text()  # told once, kindly, before the next question
    assert "Siapa yang Anda laporkan?" in chat.text()
    await chat.say(SUBJECT)
    assert NOTICE not in chat.text()
    await chat.say(STORY)
    await chat.tap("report:evidence_next")
    summary = chat.text()
    assert "Tentang: Pak Joko NIK 3307********9002" in summary
    assert "Kapan: kemarin, saya Siti Nur Aminah NIK 3307********9001" in summary
    assert "Tetangga saya NIK 3307********9002 mampu" in summary
    _assert_no_raw_nik(summary, "summary")
    await chat.tap("report:submit")
    code = find_code(chat.text())
    assert code is not None

    # An officer asks; the resident answers through "Balas" with another NIK.
    pushed = await officer_asks(runtime, code, "Siapa lagi yang menerima?")
    await chat.tap(pushed.choices[0][0])
    await chat.say(ANSWER)
    assert NOTICE in chat.text() and "sudah ditambahkan" in chat.text()

    async with runtime.db.session() as session:
        stored = (await session.exec(select(Report))).one()
        assert (stored.happened, stored.subject) == (
            "kemarin, saya Siti Nur Aminah NIK 3307********9001",
            "Pak Joko NIK 3307********9002",
        )
        assert "3307********9002" in stored.description
        conn = await session.connection()
        for table in SQLModel.metadata.sorted_tables:
            dumped = repr((await conn.execute(table.select())).all())
            _assert_no_raw_nik(dumped, table.name)
        camat = (await session.exec(select(Officer).where(Officer.username == "camat"))).one()
        admin = await viewer_for(session, camat.id or 0)
        exported = await ReportService(session, runtime.settings, runtime.catalogs).export_csv(
            admin, ReportFilter(), utcnow()
        )
    assert "3307********9002" in exported
    _assert_no_raw_nik(exported, "csv export")

    transport = httpx.ASGITransport(app=create_app(runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        for username in ("camat", "darmo", "pengamat"):
            headers = {"Authorization": f"Bearer {tokens[username]}"}
            detail = await client.get(f"/api/v1/reports/{code}", headers=headers)
            assert detail.status_code == 200, detail.text
            _assert_no_raw_nik(detail.text, f"api as {username}")
            listed = await client.get("/api/v1/reports", headers=headers)
            _assert_no_raw_nik(listed.text, f"api list as {username}")
            client.cookies.clear()
            form = (await client.get("/login")).text
            csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', form)
            data = {"username": username, "password": PASSWORD}
            signed = await client.post("/login", data={**data, "csrf": csrf[1] if csrf else ""})
            assert signed.status_code == 303
            inbox = await client.get("/")
            _assert_no_raw_nik(inbox.text, f"inbox as {username}")
            page = await client.get(f"/reports/{stored.id}")
            assert page.status_code == 200 and display_code(code) in page.text
            _assert_no_raw_nik(page.text, f"report page as {username}")
            if username == "camat":
                shown = re.sub(r"\s+", " ", page.text)
                assert all(masked in shown for masked in MASKED), shown[:2000]
