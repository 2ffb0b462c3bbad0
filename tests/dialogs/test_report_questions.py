"""Every question of "Lapor masalah" and of "Balas" offers the way back to the menu and keeps
the draft when an answer is refused; proposals and objections are asked what fits them."""

from __future__ import annotations

import pytest
from sqlmodel import func, select

from bot.engine import Engine
from bot.runtime import Runtime
from bot.services.tickets import find_code
from storage.models import Report, ReportEvent, Village
from tests.dialogs.test_report_journey import _report, officer_asks
from tests.helpers import Resident as Chat

STORY = "Ketua kelompok meminta potongan 50 ribu dari setiap penerima di balai desa."
MENU = "nav:menu"


@pytest.fixture
async def villages(runtime: Runtime) -> None:
    async with runtime.db.transaction() as session:
        session.add(Village(code="3307992006", name="Leksono", kecamatan="Sukamaju"))


def _offers_menu(chat: Chat) -> bool:
    return MENU in [choice.id for choice in chat.choices()]


async def _reports(engine: Engine) -> int:
    async with engine.runtime.db.session() as session:
        return (await session.exec(select(func.count()).select_from(Report))).one()


async def test_every_question_and_every_refusal_offers_the_menu(
    engine: Engine, villages: None
) -> None:
    chat = Chat(engine)
    await chat.agree()
    await chat.tap("menu:report")
    assert _offers_menu(chat)  # kind
    await chat.tap("report:kind:oknum")
    assert _offers_menu(chat)  # identity
    await chat.tap("report:identity:named")
    assert "Bantuan apa yang bermasalah?" in chat.text() and _offers_menu(chat)
    await chat.tap("report:programme:BPNT")
    assert _offers_menu(chat)  # village
    await chat.say("Leksono")
    assert "Kapan kejadiannya?" in chat.text() and _offers_menu(chat)
    await chat.say("x" * 81)
    assert "paling banyak 80 huruf" in chat.text() and _offers_menu(chat)
    await chat.tap("report:when:week")
    assert "Siapa yang Anda laporkan?" in chat.text() and _offers_menu(chat)
    await chat.say("Pak Slamet " * 30)
    assert "Mohon tulis lebih singkat (329 huruf, paling banyak 300)" in chat.text()
    assert "Siapa yang Anda laporkan?" in chat.text() and _offers_menu(chat)
    await chat.say("Agen e-warong Pak Slamet")
    assert _offers_menu(chat)  # story
    await chat.say("dipotong")
    assert "terlalu singkat (8 huruf)" in chat.text() and _offers_menu(chat)
    await chat.say(STORY)
    assert "Ada bukti?" in chat.text() and _offers_menu(chat)
    await chat.say("tidak punya foto")
    assert "Untuk bukti, kirim foto" in chat.text() and _offers_menu(chat)
    await chat.tap("report:evidence_next")
    summary = chat.text()
    assert "Kapan: Minggu ini" in summary and "Tentang: Agen e-warong Pak Slamet" in summary
    assert STORY in summary  # nothing refused on the way was lost


async def _at_duplicate_question(chat: Chat) -> None:
    for _ in range(2):
        await chat.tap("menu:report")
        for choice in ("report:kind:potongan", "report:identity:named", "report:programme:BPNT"):
            await chat.tap(choice)
        await chat.say("Leksono")
        await chat.tap("report:when:today")
        await chat.tap("report:subject:unknown")
        await chat.say(STORY)
        await chat.tap("report:evidence_next")
        await chat.tap("report:submit")


async def test_the_duplicate_question_is_asked_again_instead_of_dropping_the_draft(
    engine: Engine, villages: None
) -> None:
    chat = Chat(engine)
    await chat.agree()
    await _at_duplicate_question(chat)
    assert "mirip laporan Anda" in chat.text() and _offers_menu(chat)
    await chat.say("sebentar, saya pikir dulu")
    assert "mirip laporan Anda" in chat.text()
    ids = [choice.id for choice in chat.choices()]
    assert ids == ["report:duplicate_add", "report:duplicate_new", MENU]
    await chat.tap("report:duplicate_new")
    assert find_code(chat.text()) is not None and "Laporan diterima" in chat.text()
    assert await _reports(engine) == 2


async def test_the_menu_from_the_duplicate_question_files_nothing(
    engine: Engine, villages: None
) -> None:
    chat = Chat(engine)
    await chat.agree()
    await _at_duplicate_question(chat)
    await chat.tap(MENU)
    assert "Apa yang bisa kami bantu?" in chat.text()
    assert await _reports(engine) == 1


@pytest.mark.parametrize(
    ("kind", "who", "why"),
    [
        ("usul", "Siapa yang diusulkan?", "Mengapa keluarga ini perlu dibantu?"),
        ("sanggah", "Siapa penerima yang menurut Anda", "Mengapa menurut Anda penerima ini"),
    ],
)
async def test_proposals_and_objections_skip_when_and_ask_their_own_story(
    engine: Engine, villages: None, kind: str, who: str, why: str
) -> None:
    chat = Chat(engine)
    await chat.agree()
    for choice in ("menu:report", f"report:kind:{kind}", "report:identity:named"):
        await chat.tap(choice)
    await chat.tap("report:programme:PKH")
    await chat.say("Leksono")
    assert "Kapan kejadiannya?" not in chat.text()
    assert who in chat.text() and _offers_menu(chat)
    await chat.say("Ibu Warsini, RT 003 RW 001")
    assert why in chat.text() and "siapa, berapa, di mana" not in chat.text()
    assert _offers_menu(chat)
    await chat.say("Janda, tiga anak sekolah, rumah bilik bambu, bekerja sebagai buruh tani.")
    await chat.tap("report:evidence_next")
    assert "Kapan:" not in chat.text() and "Tentang: Ibu Warsini" in chat.text()
    await chat.tap("report:submit")
    assert "Laporan diterima" in chat.text()
    async with engine.runtime.db.session() as session:
        report = (await session.exec(select(Report))).one()
    assert (report.kind, report.happened) == (kind, "")


async def test_an_english_proposal_gets_the_english_story_prompt(
    engine: Engine, villages: None
) -> None:
    chat = Chat(engine)
    await chat.agree()
    await chat.say("bahasa")
    await chat.tap_label("English")
    for choice in ("menu:report", "report:kind:usul", "report:identity:named"):
        await chat.tap(choice)
    await chat.tap("report:programme:PKH")
    await chat.say("Leksono")
    assert "Who are you proposing?" in chat.text()
    await chat.say("Ibu Warsini, RT 003 RW 001")
    assert "Why does this family need aid?" in chat.text()


async def test_a_story_too_long_for_one_message_keeps_the_draft(
    engine: Engine, villages: None
) -> None:
    chat = Chat(engine)
    await chat.agree()
    for choice in ("menu:report", "report:kind:potongan", "report:identity:named"):
        await chat.tap(choice)
    await chat.tap("report:programme:BPNT")
    await chat.say("Leksono")
    await chat.say("Senin pagi")
    await chat.say("Ketua kelompok")
    await chat.say("potongan " * 600)  # over the engine's limit for one message
    assert "terlalu panjang (5399 huruf)" in chat.text() and _offers_menu(chat)
    await chat.say(STORY)
    assert "Ada bukti?" in chat.text()
    await chat.tap("report:evidence_next")
    assert "Kapan: Senin pagi" in chat.text() and "Desa: Leksono" in chat.text()


async def _answering(engine: Engine, chat: Chat) -> str:
    """A filed report, an officer's question, and the resident tapping "Balas"."""
    await chat.agree()
    code = await _report(chat, "penyaluran", story=STORY, village="Leksono")
    pushed = await officer_asks(engine.runtime, code, "Jam berapa antreannya dimulai?")
    await chat.tap(pushed.choices[0][0])
    assert "Tulis balasan" in chat.text() and _offers_menu(chat)
    return code


async def _resident_events(engine: Engine) -> list[str]:
    async with engine.runtime.db.session() as session:
        statement = select(ReportEvent.public_message).where(ReportEvent.actor == "resident")
        return [message for message in (await session.exec(statement)).all() if message]


async def test_a_reply_through_balas_needs_a_real_answer(engine: Engine, villages: None) -> None:
    chat = Chat(engine)
    code = await _answering(engine, chat)
    await chat.say("ok")
    assert "belum menjawab pertanyaan petugas" in chat.text()
    assert [choice.id for choice in chat.choices()] == ["track:skip", MENU]
    assert await _resident_events(engine) == []
    await chat.say("Ya.")
    assert "belum menjawab pertanyaan petugas" in chat.text()
    await chat.say("06.00")  # a short answer to the officer's question is enough
    assert f"sudah ditambahkan ke laporan {code[:4]}-{code[4:]}" in chat.text()
    assert await _resident_events(engine) == ["06.00"]
