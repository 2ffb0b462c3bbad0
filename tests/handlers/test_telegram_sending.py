"""Telegram sending details: a long reply resumed after a rate limit, menus edited in place
only when the tapped message is the chat's newest, and the phone step's way back."""

from __future__ import annotations

import pytest
from sqlmodel import col, select

from bot.handlers.telegram import TelegramSender
from storage.models import Outbox, Village
from tests.dialogs.test_training_journey import _session
from tests.handlers.conftest import CHAT, Rig
from tests.workers.crash_rig import seed_subscribers, start_broadcast


async def _due_now(rig: Rig) -> None:
    """The retry_after has passed."""
    rig.sender._paused_until = 0
    async with rig.runtime.db.transaction() as session:
        for stored in (await session.exec(select(Outbox))).all():
            stored.next_attempt_at = None
            session.add(stored)


async def _newest_message_id(rig: Rig) -> int:
    async with rig.runtime.db.session() as session:
        found = (
            await session.exec(
                select(Outbox.platform_message_id)
                .where(col(Outbox.platform_message_id).is_not(None))
                .order_by(col(Outbox.id).desc())
            )
        ).first()
    assert found is not None
    return int(found)


async def test_a_long_reply_cut_by_a_429_goes_on_from_its_second_part(rig: Rig) -> None:
    story = ("uang <&><&> " * 200)[:1900]
    async with rig.runtime.db.transaction() as session:
        session.add(Village(code="3307992006", name="Leksono", kecamatan="Sukamaju"))
    await rig.say("halo")
    await rig.tap("welcome:agree")
    for data in ("menu:report", "report:kind:lainnya", "report:identity:named",
                 "report:programme:unknown"):  # fmt: skip
        await rig.tap(data)
    await rig.say("Leksono")
    await rig.tap("report:when:today")
    await rig.say(story)
    rig.fake._chat_sent_at.clear()
    rig.fake.chat_limit = (1, 60.0)  # the chat's second message in a minute gets a 429
    before = len(rig.fake.texts(CHAT))
    await rig.tap("report:evidence_next")
    assert rig.fake.throttled == 1
    async with rig.runtime.db.session() as session:
        row = (await session.exec(select(Outbox).order_by(col(Outbox.id).desc()))).first()
    assert row is not None and (row.status, row.parts_sent) == ("pending", 1)
    rig.fake.chat_limit = None
    await _due_now(rig)
    while await rig.sender.send_pending():
        pass
    parts = rig.fake.texts(CHAT)[before:]
    assert len(parts) == 2 and parts[0] != parts[1]  # part 1 once, then part 2
    assert "Mohon periksa" in parts[0] and rig.fake.sent(CHAT)[-1]["reply_markup"]
    async with rig.runtime.db.session() as session:
        stored = await session.get(Outbox, row.id)
    assert stored is not None and (stored.status, stored.parts_sent) == ("sent", 2)


async def test_a_tap_on_the_newest_message_edits_it_and_an_older_one_adds_a_message(
    rig: Rig,
) -> None:
    await rig.say("halo")
    welcome_id = await _newest_message_id(rig)  # the consent question, with its buttons
    await rig.tap("welcome:agree")
    menu_id = await _newest_message_id(rig)
    assert menu_id != welcome_id
    sends = len([c for c in rig.fake.calls if c.method == "sendMessage"])
    await rig.post(rig.fake.tap(CHAT, "menu:faq", message_id=menu_id))
    await rig.settle()
    edits = [c.params for c in rig.fake.calls if c.method == "editMessageText"]
    assert len(edits) == 1 and int(edits[0]["message_id"]) == menu_id  # edited in place
    assert len([c for c in rig.fake.calls if c.method == "sendMessage"]) == sends
    # A button on an older message: the answer comes at the bottom, the old one stays.
    await rig.post(rig.fake.tap(CHAT, "menu:faq", message_id=welcome_id))
    await rig.settle()
    assert len([c for c in rig.fake.calls if c.method == "editMessageText"]) == 1
    assert len([c for c in rig.fake.calls if c.method == "sendMessage"]) == sends + 1
    assert "topik" in rig.fake.texts(CHAT)[-1]
    cleared = [
        c.params for c in rig.fake.calls if c.method == "editMessageReplyMarkup"
    ]  # the tapped message's buttons go, as before
    assert int(cleared[-1]["message_id"]) == welcome_id


async def test_the_phone_step_offers_the_contact_button_and_the_way_back(rig: Rig) -> None:
    session_id = await _session(rig.runtime, min_age=None)
    await rig.say("halo")
    await rig.tap("welcome:agree")
    await rig.tap("menu:training")
    await rig.tap(f"training:session:{session_id}")
    await rig.tap("training:register")
    await rig.say("3307994505800001")
    asked = await rig.say("Siti Aminah")
    assert any("Nomor HP" in text for text in asked)
    keyboard = rig.fake.sent(CHAT)[-1]["reply_markup"]["keyboard"]
    assert keyboard[0][0]["request_contact"] is True
    back = keyboard[-1][0]
    assert back["text"] == "Kembali ke menu" and not back.get("request_contact")
    wrong = await rig.say("12345")  # training.bad_phone: the same keyboard again
    assert rig.fake.sent(CHAT)[-1]["reply_markup"]["keyboard"][-1][0]["text"] == back["text"]
    assert wrong and "menu:status" not in rig.buttons()
    menu = await rig.say(back["text"])  # what the key sends
    assert any("Apa yang bisa kami bantu" in text for text in menu)
    assert "menu:status" in rig.buttons()
    # A message without buttons after it takes the contact keyboard away.
    await rig.tap("menu:training")
    await rig.tap(f"training:session:{session_id}")
    await rig.tap("training:register")
    await rig.say("3307994505800001")
    await rig.say("Siti Aminah")
    before = len(rig.fake.sent(CHAT))
    await rig.say("0812 3456 7890")
    done = next(p for p in rig.fake.sent(CHAT)[before:] if "Pendaftaran berhasil" in p["text"])
    assert done["reply_markup"] == {"remove_keyboard": True}


async def test_a_broadcast_row_costs_no_read_of_the_chats_last_message(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The chat's last message matters to replies only; reading it for each of 100,000
    broadcast rows made the sender six times slower."""
    await seed_subscribers(rig.runtime, "telegram", 20)
    await start_broadcast(rig.runtime, "telegram", "Penyaluran PKH Senin 08.00 di balai desa.")

    async def no_read(self: TelegramSender, row: Outbox) -> None:
        raise AssertionError(f"read the last message for broadcast row {row.id}")

    monkeypatch.setattr(TelegramSender, "_last_shown", no_read)
    while await rig.sender.send_pending():
        pass
    async with rig.runtime.db.session() as session:
        statuses = (await session.exec(select(Outbox.status))).all()
    assert statuses and set(statuses) == {"sent"}
