"""How the engine reads typed numbers, old buttons, STOP mid-journey and long pauses, and
what it writes to the message log: the cases residents met while trying the bot."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from bot.engine import Engine
from bot.handlers.render import RenderedChoice, RenderedMessage, as_numbered_text
from storage.models import Conversation
from tests.dialogs.test_report_journey import villages
from tests.helpers import Resident as Chat

__all__ = ["villages"]

NIK = "3307994505809001"


async def _conversation(engine: Engine) -> Conversation:
    async with engine.runtime.db.session() as session:
        return (await session.exec(select(Conversation))).one()


async def _idle_for(engine: Engine, minutes: int) -> None:
    async with engine.runtime.db.transaction() as session:
        conversation = (await session.exec(select(Conversation))).one()
        conversation.last_activity_at -= timedelta(minutes=minutes)
        session.add(conversation)


async def _open_a_report(chat: Chat) -> None:
    await chat.agree()
    await chat.tap_label("Lapor masalah")
    await chat.tap_label("Potongan")


async def test_a_typed_number_picks_from_the_list_shown_last(engine: Engine) -> None:
    chat = Chat(engine)
    await chat.agree()
    await chat.tap_label("Pelatihan saya")
    # "no trainings yet" comes with its own two buttons, then the main menu below it
    assert len(chat.last) >= 2 and "belum terdaftar" in chat.text()
    menu = chat.last[-1]
    assert menu.numbered and not chat.last[0].numbered  # numbers shown where they pick
    third = menu.choices[2].label
    assert third == "Cek laporan saya"
    await chat.say("3")
    assert (await _conversation(engine)).dialog == "track"
    # the earlier message's buttons still work when tapped
    await chat.say("menu")
    await chat.tap_label("Pelatihan saya")
    await chat.tap(chat.last[0].choices[0].id)  # "Daftar pelatihan"
    assert "belum ada pelatihan yang membuka pendaftaran" in chat.text()


async def test_an_old_button_in_the_middle_of_a_report_keeps_the_draft(engine: Engine) -> None:
    chat = Chat(engine)
    await _open_a_report(chat)
    before = await _conversation(engine)
    await chat.tap("report:kind:bantuan_belum")  # a button from the question already answered
    assert "masih tersimpan" in chat.text()
    assert "Kembali ke menu" in [c.label for c in chat.choices()]
    after = await _conversation(engine)
    assert (after.dialog, after.step, after.data) == (before.dialog, before.step, before.data)
    await chat.tap(chat.choices()[0].id)  # and the journey goes on from where it was
    assert (await _conversation(engine)).step != before.step


async def test_leaving_a_report_for_the_menu_says_the_draft_was_not_kept(
    engine: Engine,
) -> None:
    chat = Chat(engine)
    await _open_a_report(chat)
    await chat.say("menu")
    assert "belum dikirim, jadi tidak disimpan" in chat.text()
    await _open_a_report(chat)
    await chat.tap("nav:menu")
    assert "belum dikirim, jadi tidak disimpan" in chat.text()
    await chat.say("menu")  # nothing being filled in at the menu
    assert "tidak disimpan" not in chat.text()


async def test_an_old_button_at_the_menu_shows_the_menu(engine: Engine) -> None:
    chat = Chat(engine)
    await chat.agree()
    await chat.tap("report:kind:potongan")
    assert "Ini menu terbaru" in chat.text()
    assert (await _conversation(engine)).dialog == "menu"


async def test_stop_in_the_middle_of_a_report_says_the_draft_was_not_kept(
    engine: Engine,
) -> None:
    chat = Chat(engine)
    await _open_a_report(chat)
    await chat.say("stop")
    assert "belum dikirim, jadi tidak disimpan" in chat.text()
    assert (await _conversation(engine)).dialog == "menu"
    await chat.say("stop")  # at the menu there is no draft to speak of
    assert "tidak disimpan" not in chat.text()


async def test_a_number_after_a_long_pause_shows_the_menu_instead_of_guessing(
    engine: Engine,
) -> None:
    chat = Chat(engine)
    await _open_a_report(chat)
    await _idle_for(engine, 31)
    await chat.say("2")
    assert "sudah ditutup karena lama tidak ada balasan" in chat.text()
    assert "belum paham" not in chat.text()
    assert "Cek status bansos" in [c.label for c in chat.choices()]
    await chat.say("2")  # now the number means the menu's second item
    assert (await _conversation(engine)).dialog == "report"


async def test_words_after_a_long_pause_are_still_understood(engine: Engine) -> None:
    chat = Chat(engine)
    await _open_a_report(chat)
    await _idle_for(engine, 31)
    await chat.say("cek status bansos")
    assert "sudah ditutup" in chat.text()
    assert (await _conversation(engine)).dialog == "status"


async def test_words_typed_at_the_privacy_notice_are_answered(engine: Engine) -> None:
    chat = Chat(engine)
    await chat.agree()
    await chat.tap("menu:privacy")
    await chat.say("hapus data saya")  # what the bot itself tells residents to type
    assert "Tarik persetujuan" in [c.label for c in chat.choices()]
    assert (await _conversation(engine)).dialog == "privacy"
    await chat.say("apa itu pkh")
    assert "Program Keluarga Harapan" in chat.text()


async def test_a_number_typed_at_a_question_is_the_answer_not_the_way_back(
    engine: Engine, villages: None
) -> None:
    """No channel but the console shows numbers on buttons: "5" at "Kapan?" means the 5th,
    and must not pick "Kembali ke menu" and drop the report."""
    chat = Chat(engine)
    await chat.agree()
    await chat.tap_label("Lapor masalah")
    await chat.tap("report:kind:belum_terima")
    await chat.tap("report:identity:named")
    await chat.tap("report:programme:BPNT")
    await chat.say("Leksono")
    assert "Kapan" in chat.text()
    when_choices = [c for c in chat.choices() if c.id != "nav:menu"]
    await chat.say(str(len(when_choices) + 1))  # where "Kembali ke menu" sits in the list
    assert (await _conversation(engine)).dialog == "report"
    assert "Apa yang bisa kami bantu" not in chat.text()


def test_lists_number_what_a_typed_number_can_pick() -> None:
    message = RenderedMessage(
        "Pilih:",
        (
            RenderedChoice("a", "Satu"),
            RenderedChoice("b", "Dua"),
            RenderedChoice("nav:menu", "Kembali ke menu"),
        ),
    )
    assert as_numbered_text(message).splitlines()[-3:] == [
        "1. Satu",
        "2. Dua",
        "- Kembali ke menu",
    ]


async def test_mulai_after_only_looking_at_a_schedule_warns_of_no_lost_draft(
    engine: Engine,
) -> None:
    chat = Chat(engine)
    await chat.agree()
    await chat.tap("menu:schedule")
    await chat.tap(chat.choices()[0].id)  # a village: the schedule is shown
    await chat.say("MULAI")
    assert "tidak disimpan" not in chat.text()
