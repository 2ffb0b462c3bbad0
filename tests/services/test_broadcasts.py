"""Broadcasts through the services: audience preview per channel and language, recipients
as unique outbox rows (a second start adds nobody), conversation replies before broadcast
rows, STOP checked at send time, pause, resume and cancel, progress and the end."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import col, func, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.runtime import Runtime
from bot.services.broadcasts import (
    Audience,
    BroadcastDraft,
    BroadcastError,
    BroadcastService,
    BroadcastStateError,
)
from bot.services.outbox import OutboxQueue, deliver_pending
from bot.services.schedules import ScheduleInput, ScheduleService
from bot.services.subscriptions import SubscriptionService
from storage.models import ChannelIdentity, MessageLog, Outbox, Resident, Village
from storage.repositories import outbox as outbox_repo

NOW = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)  # Monday 09.00 WIB
LEKSONO, SUKAMAJU, KALIBEBER = "3307992006", "3307992001", "3307992003"


async def _people(runtime: Runtime) -> dict[str, int]:
    """Chats: who is subscribed to what (name → identity id)."""
    plan = {
        "tg-pkh-leksono": ("telegram", "id", LEKSONO, ["PKH"]),
        "tg-en-leksono": ("telegram", "en", LEKSONO, ["PKH", "BPNT"]),
        "wa-bpnt-leksono": ("whatsapp", None, LEKSONO, ["BPNT"]),
        "wa-pkh-sukamaju": ("whatsapp", "id", SUKAMAJU, ["PKH"]),
        "tg-blt-leksono": ("telegram", "id", LEKSONO, ["BLT"]),
        "tg-nobody": ("telegram", "id", None, []),
    }
    ids: dict[str, int] = {}
    async with runtime.db.transaction() as session:
        for code, name in ((LEKSONO, "Leksono"), (SUKAMAJU, "Sukamaju"), (KALIBEBER, "Kalibeber")):
            session.add(Village(code=code, name=name, kecamatan="Sukamaju"))
        await session.flush()
        for external, (channel, locale, village, programmes) in plan.items():
            resident = Resident(locale=locale)
            session.add(resident)
            await session.flush()
            identity = ChannelIdentity(
                channel=channel, external_id=external, resident_id=resident.id or 0
            )
            session.add(identity)
            await session.flush()
            ids[external] = identity.id or 0
            if village:
                await SubscriptionService(session).subscribe(
                    identity.id or 0, village, programmes, NOW
                )
    return ids


def _service(session: AsyncSession, runtime: Runtime) -> BroadcastService:
    return BroadcastService(session, runtime.settings, runtime.catalogs)


LEKSONO_PKH_BPNT = Audience((LEKSONO,), ("PKH", "BPNT"), ("telegram", "whatsapp"))


async def test_preview_counts_per_channel_and_language(runtime: Runtime) -> None:
    ids = await _people(runtime)
    async with runtime.db.transaction() as session:
        service = _service(session, runtime)
        assert await service.preview(LEKSONO_PKH_BPNT) == {
            ("telegram", "en"): 1,
            ("telegram", "id"): 1,
            ("whatsapp", "id"): 1,  # no language chosen: the default
        }
        await SubscriptionService(session).stop(ids["tg-pkh-leksono"], NOW)
        telegram = Audience((LEKSONO, SUKAMAJU), ("PKH",), ("telegram",))
        assert await service.preview(telegram) == {("telegram", "en"): 1}
        everyone = Audience((LEKSONO, SUKAMAJU), ("PKH", "BPNT", "BLT"), ("telegram", "whatsapp"))
        assert sum((await service.preview(everyone)).values()) == 4


async def test_bad_drafts_are_refused_by_field(runtime: Runtime) -> None:
    await _people(runtime)
    cases = [
        (Audience((), ("PKH",), ("telegram",)), {"id": "Halo"}, "villages"),
        (Audience(("9999999999",), ("PKH",), ("telegram",)), {"id": "Halo"}, "villages"),
        (Audience((LEKSONO,), ("ABC",), ("telegram",)), {"id": "Halo"}, "programmes"),
        (Audience((LEKSONO,), ("PKH",), ("sms",)), {"id": "Halo"}, "channels"),
        (LEKSONO_PKH_BPNT, {"id": "   "}, "text"),
        (LEKSONO_PKH_BPNT, {"en": "Only English"}, "text"),
        (LEKSONO_PKH_BPNT, {"id": "x" * 1501}, "text_length"),
        (LEKSONO_PKH_BPNT, {"id": "Halo", "zz": "?"}, "locale"),
    ]
    async with runtime.db.transaction() as session:
        for audience, texts, field in cases:
            with pytest.raises(BroadcastError) as refused:
                await _service(session, runtime).compose(
                    BroadcastDraft(audience, NOW, texts), None, "officer:1", NOW
                )
            assert str(refused.value) == field
        with pytest.raises(BroadcastError, match="send_at"):
            await _service(session, runtime).compose(
                BroadcastDraft(LEKSONO_PKH_BPNT, NOW - timedelta(hours=1), {"id": "x"}),
                None,
                "officer:1",
                NOW,
            )


async def test_recipients_become_unique_outbox_rows_in_their_language(runtime: Runtime) -> None:
    ids = await _people(runtime)
    async with runtime.db.transaction() as session:
        texts = {"id": "Pencairan PKH besok.", "en": "PKH tomorrow."}
        [broadcast] = await _service(session, runtime).compose(
            BroadcastDraft(LEKSONO_PKH_BPNT, NOW, texts), None, "officer:1", NOW
        )
        assert broadcast.status == "scheduled"
    async with runtime.db.transaction() as session:
        started = await _service(session, runtime).start_due(NOW)
        assert [b.recipients for b in started] == [3]
    async with runtime.db.transaction() as session:
        # A second pass after a crash: nobody is added twice.
        again = await _service(session, runtime).materialise(started[0], NOW)
        assert again == 3
        rows = (await session.exec(select(Outbox).order_by(col(Outbox.identity_id)))).all()
        by_identity = {row.identity_id: row for row in rows}
        assert set(by_identity) == {
            ids["tg-pkh-leksono"],
            ids["tg-en-leksono"],
            ids["wa-bpnt-leksono"],
        }
        english = by_identity[ids["tg-en-leksono"]]
        assert english.locale == "en" and english.text.startswith("PKH tomorrow.")
        assert "STOP" in english.text
        assert by_identity[ids["wa-bpnt-leksono"]].text.startswith("Pencairan PKH besok.")
        logged = await session.exec(
            select(func.count()).where(col(MessageLog.outbox_id).in_([r.id for r in rows]))
        )
        assert logged.one() == 3


async def test_replies_first_stop_at_send_time_pause_resume_cancel(runtime: Runtime) -> None:
    ids = await _people(runtime)
    async with runtime.db.transaction() as session:
        [broadcast] = await _service(session, runtime).compose(
            BroadcastDraft(LEKSONO_PKH_BPNT, NOW, {"id": "Kabar."}), None, "officer:1", NOW
        )
        await _service(session, runtime).start_due(NOW)
        reply = await OutboxQueue(session, runtime.catalogs).queue(
            ids["tg-en-leksono"], "en", "common.cancelled"
        )
        assert reply is not None and reply.id is not None
        # STOP after the rows were made: still nothing goes to that chat.
        await SubscriptionService(session).stop(ids["tg-pkh-leksono"], NOW)
    bid = broadcast.id or 0
    async with runtime.db.transaction() as session:
        await _service(session, runtime).pause(bid, "officer:1", NOW)
        with pytest.raises(BroadcastStateError):
            await _service(session, runtime).pause(bid, "officer:1", NOW)
    async with runtime.db.transaction() as session:
        claimed = await outbox_repo.claim_due(session, "telegram", NOW, 10)
        assert [row.id for row, _ in claimed] == [reply.id]  # a paused broadcast waits
    async with runtime.db.transaction() as session:
        await _service(session, runtime).resume(bid, "officer:1", NOW)
    async with runtime.db.transaction() as session:
        claimed = await outbox_repo.claim_due(session, "telegram", NOW, 10)
        assert [row.identity_id for row, _ in claimed] == [ids["tg-en-leksono"]]
        stopped = (
            await session.exec(select(Outbox).where(Outbox.identity_id == ids["tg-pkh-leksono"]))
        ).one()
        assert (stopped.status, stopped.reason) == ("skipped", "opted_out")
    async with runtime.db.transaction() as session:
        progress = await _service(session, runtime).progress(bid, NOW)
        assert progress.counts["sending"] == 1 and progress.counts["skipped"] == 1
        assert progress.counts["pending"] == 1 and progress.remaining == 2  # the WhatsApp one
        cancelled = await _service(session, runtime).cancel(bid, "officer:1", NOW)
        assert cancelled.status == "cancelled"
        with pytest.raises(BroadcastStateError):
            await _service(session, runtime).resume(bid, "officer:1", NOW)
    async with runtime.db.transaction() as session:
        whatsapp = (
            await session.exec(select(Outbox).where(Outbox.identity_id == ids["wa-bpnt-leksono"]))
        ).one()
        assert (whatsapp.status, whatsapp.reason) == ("skipped", "cancelled")


async def test_a_finished_broadcast_is_done(runtime: Runtime) -> None:
    await _people(runtime)
    async with runtime.db.transaction() as session:
        [broadcast] = await _service(session, runtime).compose(
            BroadcastDraft(Audience((SUKAMAJU,), ("PKH",), ("whatsapp",)), NOW, {"id": "Hai"}),
            None,
            "officer:1",
            NOW,
        )
        await _service(session, runtime).start_due(NOW)
        assert await _service(session, runtime).finish_done(NOW) == 0
        await session.exec(update(Outbox).values(status="sent"))
        assert await _service(session, runtime).finish_done(NOW) == 1
        progress = await _service(session, runtime).progress(broadcast.id or 0, NOW)
        assert progress.broadcast.status == "done" and progress.done == 1


async def test_a_schedule_broadcast_brings_its_reminder(runtime: Runtime) -> None:
    await _people(runtime)
    starts = NOW + timedelta(days=3)
    async with runtime.db.transaction() as session:
        view = await ScheduleService(session).save(
            ScheduleInput(
                programme="BPNT",
                phase="Tahap 4 2026",
                starts_at=starts,
                ends_at=starts + timedelta(hours=4),
                place="Balai Desa Leksono",
                villages={LEKSONO: "1, 2"},
                bring="KTP, KKS",
                latitude=-7.36,
                longitude=109.9,
            ),
            "officer:1",
            NOW,
        )
        assert view.villages == {LEKSONO: "001,002"}
        made = await _service(session, runtime).compose(
            BroadcastDraft(
                Audience((LEKSONO,), ("BPNT",), ("telegram", "whatsapp")),
                NOW,
                schedule_id=view.id,
                reminder=True,
            ),
            None,
            "officer:1",
            NOW,
        )
    assert [b.kind for b in made] == ["schedule", "reminder"]
    reminder = made[1]
    assert reminder.send_at == datetime(2026, 12, 9, 0, 0, tzinfo=UTC)  # 07.00 WIB the day before
    assert "Balai Desa Leksono" in made[0].texts["id"] and "Tahap 4 2026" in made[0].texts["en"]
    assert "-7.36000, 109.90000" in made[0].texts["id"]
    assert reminder.texts["id"].startswith("Pengingat: besok")


async def test_cli_status_shows_a_progress_bar(runtime: Runtime, repo_root: Path) -> None:
    await _people(runtime)
    async with runtime.db.transaction() as session:
        [broadcast] = await _service(session, runtime).compose(
            BroadcastDraft(LEKSONO_PKH_BPNT, NOW, {"id": "Kabar."}), None, "officer:1", NOW
        )
        await _service(session, runtime).start_due(NOW)
        await session.exec(
            update(Outbox)
            .where(
                col(Outbox.identity_id) == select(func.min(Outbox.identity_id)).scalar_subquery()
            )
            .values(status="sent")
        )
    env = {
        "DATABASE_URL": runtime.settings.database_url,
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(repo_root),
    }
    bansos = [sys.executable, "-m", "bot.cli", "broadcast", "status"]
    shown = await asyncio.to_thread(
        subprocess.run, [*bansos, str(broadcast.id)], env=env, capture_output=True, text=True
    )
    assert shown.returncode == 0, shown.stderr
    assert f"Siaran #{broadcast.id}: sedang dikirim, 3 penerima" in shown.stdout
    assert "1/3" in shown.stdout and "terkirim 1" in shown.stdout and "menunggu 2" in shown.stdout
    missing = await asyncio.to_thread(
        subprocess.run, [*bansos, "999999"], env=env, capture_output=True, text=True
    )
    assert missing.returncode == 2 and "tidak ada" in missing.stderr


async def _web_subscriber(session: AsyncSession, external_id: str) -> int:
    """A web chat visitor subscribed to PKH news for Leksono; their identity id."""
    resident = Resident(locale="id")
    session.add(resident)
    await session.flush()
    web = ChannelIdentity(channel="webchat", external_id=external_id, resident_id=resident.id or 0)
    session.add(web)
    await session.flush()
    await SubscriptionService(session).subscribe(web.id or 0, LEKSONO, ["PKH"], NOW)
    return web.id or 0


async def test_the_web_chat_hands_over_no_broadcast_after_stop(runtime: Runtime) -> None:
    await _people(runtime)
    async with runtime.db.transaction() as session:
        web_id = await _web_subscriber(session, "web-1")
        audience = Audience((LEKSONO,), ("PKH",), ("webchat",))
        for text in ("Pertama.", "Kedua."):
            await _service(session, runtime).compose(
                BroadcastDraft(audience, NOW, {"id": text}), None, "officer:1", NOW
            )
        await _service(session, runtime).start_due(NOW)
    async with runtime.db.transaction() as session:
        first = await deliver_pending(session, runtime.catalogs, web_id, NOW, limit=1)
        assert [row.text.split("\n")[0] for row, _ in first] == ["Pertama."]
        await SubscriptionService(session).stop(web_id, NOW)
    async with runtime.db.transaction() as session:
        assert await deliver_pending(session, runtime.catalogs, web_id, NOW) == []
        second = (
            await session.exec(
                select(Outbox).where(Outbox.identity_id == web_id, Outbox.status == "skipped")
            )
        ).one()
    assert second.reason == "opted_out" and second.text.startswith("Kedua.")


async def test_a_web_chat_visitor_who_is_away_does_not_keep_the_broadcast_open(
    runtime: Runtime,
) -> None:
    """A web chat row waits for its visitor, not for a sender: the broadcast finishes when
    the pushed rows are out, and the visitor still gets the message when they come back."""
    await _people(runtime)
    async with runtime.db.transaction() as session:
        web_id = await _web_subscriber(session, "web-2")
        audience = Audience((LEKSONO,), ("PKH",), ("telegram", "webchat"))
        [broadcast] = await _service(session, runtime).compose(
            BroadcastDraft(audience, NOW, {"id": "Penyaluran PKH Kamis."}), None, "officer:1", NOW
        )
        await _service(session, runtime).start_due(NOW)
        await session.exec(
            update(Outbox).where(col(Outbox.channel) == "telegram").values(status="sent")
        )
        assert await _service(session, runtime).finish_done(NOW) == 1
        progress = await _service(session, runtime).progress(broadcast.id or 0, NOW)
    assert progress.broadcast.status == "done"
    assert (progress.to_fetch, progress.counts["pending"]) == (1, 1)
    async with runtime.db.transaction() as session:
        handed = await deliver_pending(session, runtime.catalogs, web_id, NOW)
    assert [row.text.split("\n")[0] for row, _ in handed] == ["Penyaluran PKH Kamis."]
