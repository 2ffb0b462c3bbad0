"""Who asked for a deduction: the potongan report asks it (optional), and the clusters page
groups the agents residents name, spellings merged."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlmodel import col, select

from bot.engine import Engine
from bot.runtime import Runtime
from bot.services.tickets import find_code
from bot.web.app import create_app
from storage.models import Report
from tests.helpers import Resident as Chat
from tests.web.test_dashboard import Office, seed_office

STORY = "Agen meminta potongan 20 ribu dari setiap penerima saat pencairan di e-warong."
SPELLINGS = (
    "e-warong Sumber Rejeki",
    "E-Warong Sumber Rezeki",
    "ewarong sumber rejeki",
    "Agen e-warong Sumber Rejeki",
)


@pytest.fixture
async def office(runtime: Runtime) -> AsyncIterator[Office]:
    leksono, sukamaju = await seed_office(runtime)
    transport = httpx.ASGITransport(app=create_app(runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield Office(runtime, client, leksono, sukamaju)


async def _potongan(engine: Engine, sender: str, who: str | None) -> str:
    """One resident's potongan report; `who` is typed, or None taps "Tidak tahu"."""
    chat = Chat(engine, sender)
    await chat.agree()
    await chat.tap("menu:report")
    await chat.tap("report:kind:potongan")
    await chat.tap("report:identity:named")
    await chat.tap("report:programme:BPNT")
    await chat.say("Leksono")
    await chat.tap("report:when:week")
    assert "Siapa yang meminta potongan?" in chat.text()
    labels = [choice.label for choice in chat.choices()]
    assert labels == ["Tidak tahu", "Kembali ke menu"], labels
    if who is None:
        await chat.tap_label("Tidak tahu")
    else:
        await chat.say(who)
    assert "Ceritakan apa yang terjadi" in chat.text()
    await chat.say(STORY)
    await chat.tap("report:evidence_next")
    summary = chat.text()
    assert ("Tentang:" in summary) is (who is not None)
    await chat.tap("report:submit")
    code = find_code(chat.text())
    assert code is not None, chat.text()
    return code


async def test_named_agents_are_grouped_on_the_clusters_page(
    engine: Engine, office: Office
) -> None:
    for n, who in enumerate(SPELLINGS):
        await _potongan(engine, f"warga-{n}", who)
    unknown = await _potongan(engine, "warga-tidak-tahu", None)
    async with office.runtime.db.session() as session:
        subjects = {
            r.code: r.subject
            for r in (await session.exec(select(Report).order_by(col(Report.id)))).all()
        }
    assert subjects[unknown] == ""
    assert sorted(s for s in subjects.values() if s) == sorted(SPELLINGS)
    await office.sign_in("camat")
    page = await office.client.get("/clusters")
    assert page.status_code == 200
    card = page.text.split("<h2>Per pihak yang dilaporkan")[1]
    flagged = card.split("<details>")[0]  # the card's flagged groups come first
    assert "e-warong Sumber Rejeki" in flagged and "menonjol" in flagged
    exported = await office.client.get("/monitoring/clusters.csv")
    subject_rows = [row.split(",") for row in exported.text.splitlines() if row[:7] == "subject"]
    assert [row[2:5] for row in subject_rows] == [["e-warong Sumber Rejeki", "4", "ya"]]


async def test_a_nik_typed_as_the_subject_is_masked(engine: Engine, office: Office) -> None:
    chat = Chat(engine, "warga-nik")
    await chat.agree()
    for choice in ("menu:report", "report:kind:potongan", "report:identity:named"):
        await chat.tap(choice)
    await chat.tap("report:programme:PKH")
    await chat.say("Leksono")
    await chat.tap("report:when:today")
    await chat.say("Ketua kelompok 3307991234567890")
    assert "kami samarkan" in chat.text()
    await chat.say(STORY)
    await chat.tap("report:evidence_next")
    assert "3307991234567890" not in chat.text()
    await chat.tap("report:submit")
    async with office.runtime.db.session() as session:
        subjects = (await session.exec(select(Report.subject))).all()
    assert all("3307991234567890" not in s for s in subjects)
    assert any(s.startswith("Ketua kelompok 3307") for s in subjects)


async def test_the_subject_is_asked_in_english_too(engine: Engine, office: Office) -> None:
    chat = Chat(engine, "warga-en")
    await chat.agree()
    await chat.tap("menu:language")
    await chat.tap_label("English")
    for choice in ("menu:report", "report:kind:potongan", "report:identity:named"):
        await chat.tap(choice)
    await chat.tap("report:programme:PKH")
    await chat.say("Leksono")
    await chat.tap("report:when:today")
    assert "Who asked for the deduction?" in chat.text()
    assert "I don't know" in [choice.label for choice in chat.choices()]


async def test_a_deduction_naming_an_officer_is_for_admins_only(
    engine: Engine, office: Office
) -> None:
    code = await _potongan(engine, "warga-darmo", "Pak Darmo yang minta")
    async with office.runtime.db.session() as session:
        report = (await session.exec(select(Report).where(Report.code == code))).one()
    assert report.accused_officer_id is not None
    await office.sign_in("darmo")
    assert f'/reports/{report.id}"' not in (await office.client.get("/")).text
    assert (await office.client.get(f"/reports/{report.id}")).status_code == 404
    await office.sign_in("camat")
    assert f'/reports/{report.id}"' in (await office.client.get("/")).text
