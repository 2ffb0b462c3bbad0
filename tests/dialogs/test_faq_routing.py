"""Free text at the main menu: short replies get "not understood" and the menu, never an
unrelated FAQ answer; real questions are still answered."""

from __future__ import annotations

import pytest

from bot.engine import Engine
from bot.services.tickets import find_code
from storage.models import Village
from tests.helpers import Resident as Chat

NOT_UNDERSTOOD = {"id": "belum paham", "en": "did not understand"}
MENU_LABEL = {"id": "Tanya jawab bansos", "en": "Questions about aid"}


async def _at_menu(engine: Engine, locale: str) -> Chat:
    chat = Chat(engine)
    await chat.agree()
    if locale == "en":
        await chat.tap_label("Ganti bahasa")
        await chat.tap_label("English")
        await chat.say("menu")
    return chat


def _assert_not_understood(chat: Chat, locale: str, typed: str) -> None:
    assert NOT_UNDERSTOOD[locale] in chat.text(), (typed, chat.text())
    assert MENU_LABEL[locale] in [c.label for c in chat.choices()], typed


@pytest.mark.parametrize(
    ("locale", "replies"),
    [
        ("id", ["ok", "ya", "tidak", "Ani", "pak", "bu", "Hadi", "ok pak", "iya bu"]),
        ("en", ["ok", "no", "yes", "okay", "ya", "nope"]),
    ],
)
async def test_short_replies_at_the_menu_are_not_understood(
    engine: Engine, locale: str, replies: list[str]
) -> None:
    chat = await _at_menu(engine, locale)
    for typed in replies:
        await chat.say(typed)
        _assert_not_understood(chat, locale, typed)


@pytest.mark.parametrize(
    ("locale", "question", "answer"),
    [
        ("id", "ibu saya lansia, bisa dapat pkh?", "Apakah lansia dan penyandang disabilitas"),
        ("id", "ok pak, kartu kks saya hilang", "Kartu KKS saya hilang"),
        ("en", "ok, what is pkh", "What is PKH"),
    ],
)
async def test_real_questions_at_the_menu_are_still_answered(
    engine: Engine, locale: str, question: str, answer: str
) -> None:
    chat = await _at_menu(engine, locale)
    await chat.say(question)
    assert chat.text().startswith(answer), chat.text()


async def test_content_free_reply_in_the_faq_is_not_found_without_suggestions(
    engine: Engine,
) -> None:
    chat = await _at_menu(engine, "id")
    await chat.tap("menu:faq")
    await chat.say("ok")
    assert "belum ada jawaban" in chat.text()
    assert not [c for c in chat.choices() if c.id.startswith("faq:") and c.id != "faq:topics"]


async def test_a_follow_up_after_a_report_gets_no_unrelated_answer(engine: Engine) -> None:
    async with engine.runtime.db.transaction() as session:
        session.add(Village(code="3307992001", name="Sukamaju", kecamatan="Sukamaju"))
    chat = await _at_menu(engine, "id")
    await chat.tap("menu:report")
    await chat.tap("report:kind:potongan")
    await chat.tap("report:identity:named")
    await chat.tap("report:programme:BPNT")
    await chat.say("Sukamaju")
    await chat.tap("report:when:week")
    await chat.tap("report:subject:unknown")
    await chat.say("Ketua kelompok meminta potongan 50 ribu dari setiap penerima.")
    await chat.tap("report:evidence_next")
    await chat.tap("report:submit")
    assert find_code(chat.text()) is not None, chat.text()
    typed = "Tambahan: kejadiannya hari Senin pagi di balai desa."
    await chat.say(typed)
    _assert_not_understood(chat, "id", typed)
    assert "BLT" not in chat.text()
