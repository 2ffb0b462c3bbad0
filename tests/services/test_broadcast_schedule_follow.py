"""Broadcasts that follow their schedule, through the services: a reminder whose time has
passed goes now while the distribution is still tomorrow and is dropped once "tomorrow" is
no longer true; a change made where nobody followed it (the API) is still picked up when the
broadcast starts; the ETA uses the rate achieved since the start."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import col, select, update

from bot.runtime import Runtime
from bot.services.broadcasts import Audience, BroadcastDraft, BroadcastService
from bot.services.schedules import ScheduleInput, ScheduleService
from storage.models import Broadcast, Outbox
from tests.services.test_broadcasts import LEKSONO, NOW, _people, _service

AUDIENCE = Audience((LEKSONO,), ("BPNT",), ("telegram", "whatsapp"))


def _input(starts: datetime, place: str = "Balai Desa Leksono") -> ScheduleInput:
    return ScheduleInput(
        "BPNT", "Tahap 4", starts, starts + timedelta(hours=4), place, {LEKSONO: ""}
    )


async def _compose(runtime: Runtime, starts: datetime, send_at: datetime) -> tuple[int, int]:
    """A schedule and a broadcast from it, sent at `send_at`, with its reminder; their ids."""
    async with runtime.db.transaction() as session:
        view = await ScheduleService(session).save(_input(starts), "officer:1", NOW)
        made = await _service(session, runtime).compose(
            BroadcastDraft(AUDIENCE, send_at, schedule_id=view.id, reminder=True),
            None,
            "officer:1",
            NOW,
        )
    assert [b.kind for b in made] == ["schedule", "reminder"]
    return view.id, made[1].id or 0


async def _edit(
    runtime: Runtime, schedule_id: int, starts: datetime, now: datetime, place: str = "Balai"
) -> tuple[tuple[int, ...], ...]:
    async with runtime.db.transaction() as session:
        follower = _service(session, runtime)
        view = await ScheduleService(session, follower).save(
            _input(starts, place), "officer:1", now, schedule_id
        )
    f = view.follow_up
    return f.updated, f.sent_now, f.dropped, f.already_out


async def test_a_reminder_past_its_time_goes_now_or_is_dropped(runtime: Runtime) -> None:
    await _people(runtime)
    starts = NOW + timedelta(days=5)  # Saturday 09.00 WIB
    schedule_id, reminder_id = await _compose(runtime, starts, NOW + timedelta(days=1))
    # It is Monday 09.00 WIB; moved to Tuesday 09.00: 07.00 today has passed, tomorrow holds.
    updated, sent_now, dropped, _ = await _edit(runtime, schedule_id, NOW + timedelta(days=1), NOW)
    assert reminder_id in updated and sent_now == (reminder_id,) and dropped == ()
    async with runtime.db.session() as session:
        reminder = await session.get(Broadcast, reminder_id)
        assert reminder is not None and reminder.send_at == NOW
    # Moved to this afternoon: "besok" would be wrong, so the reminder is cancelled.
    updated, sent_now, dropped, _ = await _edit(runtime, schedule_id, NOW + timedelta(hours=5), NOW)
    assert dropped == (reminder_id,) and sent_now == ()
    async with runtime.db.session() as session:
        reminder = await session.get(Broadcast, reminder_id)
        assert reminder is not None and reminder.status == "cancelled"


async def test_a_change_nobody_followed_is_picked_up_at_the_start(runtime: Runtime) -> None:
    """As `PUT /api/v1/schedules/{id}` does it: a ScheduleService without a follower."""
    await _people(runtime)
    starts = NOW + timedelta(days=5)
    schedule_id, reminder_id = await _compose(runtime, starts, NOW + timedelta(hours=1))
    async with runtime.db.transaction() as session:
        await ScheduleService(session).save(
            _input(starts + timedelta(days=2), "Gedung Baru"), "api", NOW, schedule_id
        )
    async with runtime.db.transaction() as session:
        [started] = await _service(session, runtime).start_due(NOW + timedelta(hours=1))
        assert started.kind == "schedule" and "Gedung Baru" in started.texts["id"]
        rows = (await session.exec(select(Outbox.text))).all()
        assert rows and all("Gedung Baru" in text for text in rows)
    # The reminder's old time (two days before the new one) comes: it waits for its new time.
    old_time = datetime(2026, 12, 11, 0, 0, tzinfo=UTC)
    async with runtime.db.transaction() as session:
        assert await _service(session, runtime).start_due(old_time) == []
        reminder = await session.get(Broadcast, reminder_id)
        assert reminder is not None and reminder.status == "scheduled"
        assert reminder.send_at == datetime(2026, 12, 13, 0, 0, tzinfo=UTC)


async def test_the_eta_uses_the_rate_since_the_start(runtime: Runtime) -> None:
    await _people(runtime)
    async with runtime.db.transaction() as session:
        service: BroadcastService = _service(session, runtime)
        [broadcast] = await service.compose(
            BroadcastDraft(AUDIENCE, NOW, {"id": "Kabar."}), None, "officer:1", NOW
        )
        await service.start_due(NOW)
        rows = (await session.exec(select(Outbox).order_by(col(Outbox.id)))).all()
        assert len(rows) == 2
        # Ten seconds in, one of two is out: the other should take about ten seconds more.
        await session.exec(
            update(Outbox)
            .where(col(Outbox.id) == rows[0].id)
            .values(status="sent", sent_at=NOW + timedelta(seconds=5))
        )
        progress = await service.progress(broadcast.id or 0, NOW + timedelta(seconds=10))
    assert progress.eta_seconds is not None and 9 <= progress.eta_seconds <= 11
