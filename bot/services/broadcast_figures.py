"""Monitoring figures of broadcasts and of the "sudah terima?" check, per viewer and period.

Broadcast reach: for each broadcast started in the period, how many chats it was for and
where each message stands (sent, delivered, read, failed, skipped, waiting). The check:
for each distribution asked about, how many were asked, their answers, and the reports
opened from "dipotong" and "belum terima". An officer sees the ones of their villages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.services.distribution_checks import CheckFigures, check_figures, checked_schedules
from bot.services.reports import Viewer
from bot.services.schedules import ScheduleService, may_see
from storage.models import Broadcast, Outbox

if TYPE_CHECKING:
    from bot.services.monitoring import Period

REACHED = ("sent", "delivered", "read")


@dataclass(frozen=True, slots=True)
class BroadcastReach:
    broadcast: Broadcast
    counts: dict[str, int]

    @property
    def reached(self) -> int:
        return sum(self.counts.get(state, 0) for state in REACHED)

    @property
    def rate(self) -> float | None:
        return self.reached / self.broadcast.recipients if self.broadcast.recipients else None


async def broadcast_reach(
    session: AsyncSession, viewer: Viewer, period: Period
) -> list[BroadcastReach]:
    started = (
        await session.exec(
            select(Broadcast)
            .where(
                col(Broadcast.started_at) >= period.start, col(Broadcast.started_at) < period.end
            )
            .order_by(col(Broadcast.started_at).desc())
        )
    ).all()
    shown = [b for b in started if may_see(viewer, b.villages)]
    if not shown:
        return []
    rows = await session.exec(
        select(Outbox.broadcast_id, Outbox.status, func.count())
        .where(col(Outbox.broadcast_id).in_([b.id for b in shown]))
        .group_by(col(Outbox.broadcast_id), col(Outbox.status))
    )
    counts: dict[int, dict[str, int]] = {b.id or 0: {} for b in shown}
    for broadcast_id, status, n in rows.all():
        counts[int(broadcast_id or 0)][str(status)] = int(n)
    return [BroadcastReach(b, counts[b.id or 0]) for b in shown]


async def check_answers(
    session: AsyncSession, viewer: Viewer, period: Period
) -> list[CheckFigures]:
    schedules = ScheduleService(session)
    ids = []
    for schedule_id in await checked_schedules(session, period.start, period.end):
        view = await schedules.get(schedule_id)
        if may_see(viewer, view.villages):
            ids.append(schedule_id)
    return await check_figures(session, ids)
