"""Whole resident journeys through the engine, with no channel library involved."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, func, select

from bot.engine import Engine
from storage.models import Conversation, MessageLog, Resident
from tests.helpers import Resident as Chat


async def _conversation(engine: Engine) -> Conversation:
    async with engine.runtime.db.session() as session:
        return (await session.exec(select(Conversation))).one()


async def _update_conversation(engine: Engine, **changes: object) -> None:
    async with engine.runtime.db.transaction() as session:
        conversation = (await session.exec(select(Conversation))).one()
        for name, value in changes.items():
            setattr(conversation, name, value)
        session.add(conversation)


async def test_first_message_shows_welcome_with_consent_and_scam_shield(engine: Engine) -> None:
    chat = Chat(engine)
    await chat.say("halo")
    text = chat.text()
    assert "GRATIS" in text and "OTP" in text
    assert "24 bulan" in text and "NIK tidak pernah ditampilkan utuh" in text
    assert [c.label for c in chat.choices()] == [
        "Setuju",
        "Baca selengkapnya",
        "Tidak setuju",
        "Bahasa / Language",
    ]


async def test_welcome_language_menu_faq_scam(engine: Engine) -> None:
    chat = Chat(engine)
    await chat.say("halo")
    await chat.tap_label("Baca selengkapnya")
    assert "Hak Anda (UU 27/2022)" in chat.text()
    await chat.tap_label("Setuju")
    assert "Persetujuan Anda sudah kami catat" in chat.text()
    assert "Tanya jawab bansos" in [c.label for c in chat.choices()]

    await chat.tap_label("Ganti bahasa")
    await chat.tap_label("English")
    assert chat.locale == "en"
    assert "we will now use English" in chat.text()
    assert "Questions about aid" in [c.label for c in chat.choices()]

    await chat.tap_label("Questions about aid")
    await chat.say("what is PKH")
    assert "Programme" in chat.text() or "PKH" in chat.text()

    await chat.say("menu")
    await chat.tap_label("Beware of scams")
    assert "FREE" in chat.text() and "OTP" in chat.text()

    await chat.say("bahasa")
    await chat.tap_label("Bahasa Indonesia")
    assert chat.locale == "id"
    async with engine.runtime.db.session() as session:
        resident = (await session.exec(select(Resident))).one()
    assert resident.locale == "id" and resident.consent_at is not None


async def test_menu_is_not_reachable_before_consent(engine: Engine) -> None:
    chat = Chat(engine)
    await chat.say("halo")
    await chat.tap_label("Tidak setuju")
    assert "kami hormati pilihan Anda" in chat.text()
    for attempt in ("menu", "apa itu pkh", "cek status"):
        await chat.say(attempt)
        assert "Setuju" in [c.label for c in chat.choices()], attempt
        assert "Tanya jawab bansos" not in [c.label for c in chat.choices()]
    await chat.tap("menu:faq")  # an old menu button cannot skip consent either
    assert "Setuju" in [c.label for c in chat.choices()]
    await chat.say("setuju")  # typing the label works like tapping it
    assert "Tanya jawab bansos" in [c.label for c in chat.choices()]


async def test_language_before_consent_returns_to_welcome(engine: Engine) -> None:
    chat = Chat(engine)
    await chat.say("halo")
    await chat.tap_label("Bahasa / Language")
    await chat.say("english")
    assert chat.locale == "en"
    assert "Do you agree?" in chat.text()
    await chat.tap_label("I agree")
    assert "How can we help?" in chat.text()


async def test_typed_numbers_select_choices(engine: Engine) -> None:
    chat = Chat(engine)
    await chat.say("halo")
    await chat.say("1")  # Setuju
    await chat.say("8")  # Waspada penipuan
    assert "Waspada penipuan bansos" in chat.text()
    await chat.say("99")  # no such choice: understood as text, not as a crash
    assert "belum paham" in chat.text()


async def test_free_text_with_typos_lands(engine: Engine) -> None:
    chat = Chat(engine)
    await chat.agree()
    await chat.say("berapa biaya pendaftaran bansos?")
    assert "GRATIS" in chat.text()
    await chat.say("cek stauts")
    assert "16 angka NIK" in chat.text()
    await chat.say("jadwal bansos")
    assert "Desa atau kelurahan Anda apa?" in chat.text()
    await chat.say("daftar pelatiahn")
    assert "pelatihan" in chat.text().lower()
    await chat.say("lapor pungli")
    assert "Apa yang ingin Anda laporkan?" in chat.text()


async def test_link_gets_scam_warning(engine: Engine) -> None:
    chat = Chat(engine)
    await chat.agree()
    await chat.say("Selamat anda dapat BLT 3 juta, klik bit.ly/bansos-cair")
    assert "Hati-hati dengan tautan" in chat.text()
    assert "Tanya jawab bansos" in [c.label for c in chat.choices()]


async def test_faq_retrieval_suggestions_and_not_found(engine: Engine) -> None:
    chat = Chat(engine)
    await chat.agree()
    await chat.tap("menu:faq")
    await chat.say("ibu saya lansia, bisa dapat pkh?")
    assert chat.text().startswith("Apakah lansia dan penyandang disabilitas bisa ikut PKH?")
    await chat.tap_label("Pertanyaan lain")
    await chat.say("zxqv plorg")
    assert "belum ada jawaban" in chat.text()
    assert "0286-000000" in chat.text()


async def test_global_words_work_mid_dialog(engine: Engine) -> None:
    chat = Chat(engine)
    await chat.agree()
    await chat.tap("menu:privacy")
    await chat.tap_label("Tarik persetujuan")
    await chat.say("bantuan")
    assert "Ketik MENU" in chat.text()
    assert [c.label for c in chat.choices()] == ["Ya, tarik", "Kembali ke menu"]
    await chat.say("BATAL")
    assert "dibatalkan" in chat.text()
    assert (await _conversation(engine)).dialog == "menu"
    await chat.tap("menu:faq")
    await chat.say("/menu")
    assert (await _conversation(engine)).dialog == "menu"
    await chat.say("cancel")
    assert (await _conversation(engine)).dialog == "menu"


async def test_withdrawing_consent_returns_to_welcome(engine: Engine) -> None:
    chat = Chat(engine)
    await chat.agree()
    await chat.tap("menu:privacy")
    await chat.tap_label("Tarik persetujuan")
    await chat.tap_label("Ya, tarik")
    assert "sudah ditarik" in chat.text()
    assert "Setuju" in [c.label for c in chat.choices()]
    async with engine.runtime.db.session() as session:
        resident = (await session.exec(select(Resident))).one()
    assert resident.consent_version is None and resident.consent_declined_at is not None


async def test_stale_button_gets_polite_answer_and_fresh_menu(engine: Engine) -> None:
    chat = Chat(engine)
    await chat.agree()
    await chat.tap("faq:pkh")  # a button from a message long gone
    assert "sudah tidak berlaku" in chat.text()
    assert "Tanya jawab bansos" in [c.label for c in chat.choices()]
    await chat.tap("welcome:agree")  # the welcome's buttons are stale once answered
    assert "sudah tidak berlaku" in chat.text()
    await chat.tap("menu:scam")  # an old main-menu button still means what it says
    assert "Waspada penipuan" in chat.text()


async def test_idle_conversation_starts_fresh_and_says_so(engine: Engine) -> None:
    chat = Chat(engine)
    await chat.agree()
    await chat.tap("menu:faq")
    idle_since = (await _conversation(engine)).last_activity_at - timedelta(minutes=31)
    await _update_conversation(engine, last_activity_at=idle_since)
    await chat.say("1")
    assert "sudah ditutup karena lama tidak ada balasan" in chat.text()
    assert (await _conversation(engine)).dialog == "menu"


async def test_dialog_that_no_longer_exists(engine: Engine) -> None:
    chat = Chat(engine)
    await chat.agree()
    await _update_conversation(engine, dialog="survey_2024", step="q3")
    await chat.say("jawaban saya")
    assert "tidak bisa dilanjutkan" in chat.text()
    assert (await _conversation(engine)).dialog == "menu"


async def test_bad_input_gets_clear_answers(engine: Engine) -> None:
    chat = Chat(engine)
    await chat.agree()
    await chat.say("")
    assert "Pesannya kosong" in chat.text()
    await chat.say(" \u200b\u200d\ufeff ")
    assert "Pesannya kosong" in chat.text()
    await chat.say("a" * 10_000)
    assert "terlalu panjang (10000 huruf)" in chat.text()
    await chat.say("🙏🙏😭")
    assert "belum paham" in chat.text()
    await chat.say("\u202eأين المساعدة\u202c")
    assert "belum paham" in chat.text()
    await chat.say("m\u200benu")  # a zero-width space inside a global word
    assert "Apa yang bisa kami bantu" in chat.text()
    async with engine.runtime.db.session() as session:
        logged = (
            await session.exec(select(func.count()).where(col(MessageLog.direction) == "in"))
        ).one()
    assert logged == 8  # halo, agree and the six above: every message is on record


async def test_a_nik_typed_anywhere_is_masked_in_the_message_log(engine: Engine) -> None:
    chat = Chat(engine)
    await chat.agree()
    await chat.say("NIK saya 3307 0157 0845 0001, tolong dicek")
    await chat.say("kk: 3307.01.2005.10.0023")
    async with engine.runtime.db.session() as session:
        texts = [row.text or "" for row in (await session.exec(select(MessageLog))).all()]
    blob = "\n".join(texts)
    assert "3307********0001" in blob
    assert "3307********0023" in blob
    assert "0845" not in blob and "2005" not in blob


async def test_duplicate_platform_update_has_no_second_effect(engine: Engine) -> None:
    chat = Chat(engine)
    await chat.agree()
    first = await chat.say("2", platform_id="upd-77")
    again = await chat.say("2", platform_id="upd-77")
    assert first and again == []
    conversation = await _conversation(engine)
    assert conversation.step_count == 3
