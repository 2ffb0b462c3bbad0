"""Broadcasts through the real aiogram and pywa clients against the fake servers: residents
subscribe in the chat, the broadcast reaches each chat once, a STOP in the middle of a
broadcast takes effect for the rest, a blocked bot marks the chat unreachable, and a
WhatsApp subscriber outside the 24-hour window gets the approved template."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, select

from bot.runtime import Runtime
from bot.services.broadcasts import Audience, BroadcastDraft, BroadcastService
from storage.models import ChannelIdentity, Outbox, Village
from storage.types import utcnow
from tests.handlers.conftest import WA_USER, Rig, WaRig

LEKSONO = "3307992006"


async def _village(runtime: Runtime) -> None:
    async with runtime.db.transaction() as session:
        session.add(Village(code=LEKSONO, name="Leksono", kecamatan="Sukamaju"))


async def _broadcast(runtime: Runtime, channel: str, text: str) -> int:
    now = utcnow()
    async with runtime.db.transaction() as session:
        service = BroadcastService(session, runtime.settings, runtime.catalogs)
        [broadcast] = await service.compose(
            BroadcastDraft(Audience((LEKSONO,), ("PKH",), (channel,)), now, {"id": text}),
            None,
            "officer:1",
            now,
        )
        await service.start_due(now)
        return broadcast.id or 0


async def _subscribe_on_telegram(rig: Rig, chat: int) -> None:
    await rig.say("/start", chat)
    await rig.tap("welcome:agree", chat)
    await rig.tap("menu:schedule", chat)
    await rig.say("Leksono", chat)
    assert "sched:sub:all" in rig.buttons(chat)
    await rig.tap("sched:sub:all", chat)


async def test_a_telegram_broadcast_reaches_each_chat_once_and_honours_stop(rig: Rig) -> None:
    await _village(rig.runtime)
    chats = [5550101, 5550102, 5550103, 5550104]
    for chat in chats:
        await _subscribe_on_telegram(rig, chat)
    rig.fake.blocked_chats.add(chats[3])
    broadcast_id = await _broadcast(rig.runtime, "telegram", "Pencairan PKH Senin <b>pagi</b>.")
    # The first chat gets its row in the first batch; then the third says STOP.
    assert await rig.sender.send_pending(limit=1) == 1
    await rig.say("STOP", chats[2])
    await rig.settle()
    got = {chat: [t for t in rig.fake.texts(chat) if "Pencairan PKH" in t] for chat in chats}
    # Sent as HTML: the officer's text is escaped, so it shows exactly as typed.
    expected = "Pencairan PKH Senin &lt;b&gt;pagi&lt;/b&gt;.\n\nKetik STOP kalau tidak ingin"
    assert [t[: len(expected)] for t in got[chats[0]] + got[chats[1]]] == [expected] * 2
    assert got[chats[2]] == []  # STOP in the middle: nothing more for that chat
    async with rig.runtime.db.session() as session:
        rows = (await session.exec(select(Outbox).where(Outbox.broadcast_id == broadcast_id))).all()
        outcome = sorted((r.status, r.reason) for r in rows)
        blocked = (
            await session.exec(
                select(ChannelIdentity).where(ChannelIdentity.external_id == str(chats[3]))
            )
        ).one()
    assert outcome == [("failed", "blocked"), ("sent", ""), ("sent", ""), ("skipped", "opted_out")]
    assert blocked.unreachable_at is not None
    async with rig.runtime.db.transaction() as session:
        service = BroadcastService(session, rig.runtime.settings, rig.runtime.catalogs)
        assert await service.finish_done(utcnow()) == 1
        progress = await service.progress(broadcast_id, utcnow())
    assert progress.broadcast.status == "done" and progress.counts["sent"] == 2


async def test_a_whatsapp_subscriber_outside_the_window_gets_the_template(
    wa_rig: WaRig,
) -> None:
    rig = wa_rig
    await _village(rig.runtime)
    await rig.say("halo")
    await rig.tap("welcome:agree")
    await rig.tap("menu:schedule")
    await rig.say("Leksono")
    await rig.tap("sched:sub:all")
    other = ("6281234567002", "ID.1234567002")
    await rig.say("halo", *other)
    await rig.tap("welcome:agree", *other)
    await rig.tap("menu:schedule", *other)
    await rig.say("Leksono", *other)
    await rig.tap("sched:sub:all", *other)
    async with rig.runtime.db.transaction() as session:
        identity = (
            await session.exec(
                select(ChannelIdentity).where(ChannelIdentity.external_id == WA_USER)
            )
        ).one()
        identity.last_inbound_at = utcnow() - timedelta(hours=25)
        session.add(identity)
    await _broadcast(rig.runtime, "whatsapp", "Pencairan PKH Senin pagi di Balai Desa.")
    await rig.settle()
    template = rig.fake.sent(WA_USER)[-1]
    assert template["type"] == "template"
    assert template["template"]["name"] == "bansos_jadwal_penyaluran"
    body = template["template"]["components"][0]["parameters"][1]["text"]
    assert body.startswith("Pencairan PKH Senin pagi di Balai Desa.") and "\n" not in body
    free = rig.fake.sent(other[1])[-1]
    assert free["type"] == "text" and free["text"]["body"].startswith("Pencairan PKH")
    async with rig.runtime.db.session() as session:
        rows = (
            await session.exec(
                select(Outbox).where(col(Outbox.broadcast_id).is_not(None)).order_by(col(Outbox.id))
            )
        ).all()
    assert sorted(r.sent_as for r in rows) == ["free", "template"]
    assert all(r.platform_message_id for r in rows)


async def _interrupt(runtime: Runtime, broadcast_id: int, seconds_ago: float) -> list[int]:
    """Leave the broadcast's rows as a killed sender would: "sending", claimed by it."""
    async with runtime.db.transaction() as session:
        rows = (await session.exec(select(Outbox).where(Outbox.broadcast_id == broadcast_id))).all()
        for row in rows:
            # Whatever the platform answered was never written down.
            row.status, row.claimed_by = "sending", "dead-instance"
            row.parts_sent, row.sent_at, row.platform_message_id, row.sent_as = 0, None, None, ""
            row.next_attempt_at = utcnow() - timedelta(seconds=seconds_ago)
            session.add(row)
        return [row.id or 0 for row in rows]


async def test_telegram_rows_of_a_killed_sender_are_sent_again_after_the_grace(
    rig: Rig,
) -> None:
    await _village(rig.runtime)
    await _subscribe_on_telegram(rig, 5550201)
    broadcast_id = await _broadcast(rig.runtime, "telegram", "Pencairan PKH Selasa.")
    await _interrupt(rig.runtime, broadcast_id, seconds_ago=5)
    await rig.settle()  # within the grace: a predecessor may still be finishing its pass
    assert not [t for t in rig.fake.texts(5550201) if "Selasa" in t]
    await _interrupt(rig.runtime, broadcast_id, seconds_ago=20)
    await rig.settle()
    assert len([t for t in rig.fake.texts(5550201) if "Selasa" in t]) == 1
    async with rig.runtime.db.session() as session:
        row = (await session.exec(select(Outbox).where(Outbox.broadcast_id == broadcast_id))).one()
    assert row.status == "sent" and row.claimed_by is None


async def test_whatsapp_rows_of_a_killed_sender_are_reconciled_from_their_status(
    wa_rig: WaRig,
) -> None:
    rig = wa_rig
    await _village(rig.runtime)
    for phone, user in (("6281234567011", "ID.11"), ("6281234567012", "ID.12")):
        await rig.say("halo", phone, user)
        await rig.tap("welcome:agree", phone, user)
        await rig.tap("menu:schedule", phone, user)
        await rig.say("Leksono", phone, user)
        await rig.tap("sched:sub:all", phone, user)
    broadcast_id = await _broadcast(rig.runtime, "whatsapp", "Pencairan PKH Rabu.")
    await rig.settle()
    calls = [c for c in rig.fake.sent_calls() if "Rabu" in str(c.body)]
    assert len(calls) == 2
    # The kill came after WhatsApp accepted both but before either was recorded.
    ids = await _interrupt(rig.runtime, broadcast_id, seconds_ago=90)
    first = next(c for c in calls if c.tracker == f"outbox:{ids[0]}")
    assert await rig.post(rig.fake.status(first, "sent")) == 200
    while await rig.channel.process_pending():
        pass
    await rig.settle()
    again = [c for c in rig.fake.sent_calls() if "Rabu" in str(c.body)]
    # The first is known sent from its status; the second had none: sent once more.
    assert len(again) == 3
    assert [c.tracker for c in again[2:]] == [f"outbox:{ids[1]}"]
    async with rig.runtime.db.session() as session:
        rows = (
            await session.exec(
                select(Outbox).where(Outbox.broadcast_id == broadcast_id).order_by(col(Outbox.id))
            )
        ).all()
    assert [r.status for r in rows] == ["sent", "sent"]
