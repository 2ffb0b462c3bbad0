""" "Sudah terima?": one question to subscribers after a distribution, and its answers.

One to two days after a schedule's window closes, its subscribers (its villages and its
programme) get one broadcast with four buttons. An answer is one row per chat and
schedule (a second tap changes it). "Dipotong" and "belum terima" lead, after the
resident confirms, to a report prefilled with the programme, the village and the date;
the answer keeps the report's id, so the monitoring page can follow it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, exists
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.i18n import Catalogs
from bot.services.audit import AuditTrail, identity_actor
from bot.services.broadcasts import CHANNELS, SCHEDULE_KEYS, BroadcastService
from bot.services.schedules import ScheduleService
from bot.settings import Settings
from storage.models import Broadcast, DistributionAnswer, DistributionSchedule, Outbox

ANSWERS = ("complete", "deducted", "not_received", "did_not_know")
REPORT_KIND = {"deducted": "potongan", "not_received": "belum_terima"}
CHECK_KEY = "broadcast.check"
ASK_AFTER = timedelta(days=1)
ASK_UNTIL = timedelta(days=2)
CHOICE_PREFIX = "got:"
REACHED = ("sent", "delivered", "read")  # the question is on the resident's screen
WAITING = ("pending", "sending")


def check_choices(schedule_id: int) -> list[list[object]]:
    """The four buttons, stored with each outbox row as [id, label key, params]."""
    return [[f"{CHOICE_PREFIX}{schedule_id}:{a}", f"check.answer.{a}", {}] for a in ANSWERS]


@dataclass(frozen=True, slots=True)
class CheckFigures:
    schedule: DistributionSchedule
    asked: int  # the question reached the chat (a web chat row: its visitor fetched it)
    answers: dict[str, int]
    reports: int
    waiting: int = 0  # not reached yet (a web chat visitor who has not come back)

    @property
    def answered(self) -> int:
        return sum(self.answers.values())


class DistributionCheck:
    def __init__(self, session: AsyncSession, settings: Settings, catalogs: Catalogs) -> None:
        self.session = session
        self.settings = settings
        self.catalogs = catalogs

    async def create_due(self, now: datetime) -> list[Broadcast]:
        """A check broadcast for every schedule whose window closed 1 to 2 days ago and
        that has none yet. The broadcast's key makes a second instance's attempt a no-op."""
        closed = (
            await self.session.exec(
                select(DistributionSchedule).where(
                    col(DistributionSchedule.ends_at) <= now - ASK_AFTER,
                    col(DistributionSchedule.ends_at) > now - ASK_UNTIL,
                )
            )
        ).all()
        made = []
        for schedule in closed:
            assert schedule.id is not None
            key = f"check:{schedule.id}"
            exists = await self.session.exec(select(Broadcast.id).where(Broadcast.key == key))
            if exists.first() is not None:
                continue
            view = await ScheduleService(self.session).get(schedule.id)
            texts = BroadcastService(self.session, self.settings, self.catalogs).texts_for_schedule(
                schedule, SCHEDULE_KEYS["check"]
            )
            broadcast = Broadcast(
                kind="check",
                key=key,
                schedule_id=schedule.id,
                texts=texts,
                villages=sorted(view.villages),
                programmes=[schedule.programme],
                channels=list(CHANNELS),
                message_key=CHECK_KEY,
                choices=check_choices(schedule.id),
                send_at=now,
                created_at=now,
            )
            self.session.add(broadcast)
            made.append(broadcast)
        await self.session.flush()
        return made

    async def answer(
        self, identity_id: int, schedule_id: int, answer: str, now: datetime
    ) -> DistributionAnswer | None:
        """Record (or change) a chat's answer; None for an unknown schedule or answer, or
        for a chat that was never asked about this schedule (a forged button would
        otherwise move the monitoring figures)."""
        if answer not in ANSWERS:
            return None
        if not await self._was_asked(identity_id, schedule_id):
            return None
        row = (
            await self.session.exec(
                select(DistributionAnswer).where(
                    DistributionAnswer.schedule_id == schedule_id,
                    DistributionAnswer.identity_id == identity_id,
                )
            )
        ).first()
        if row is None:
            row = DistributionAnswer(
                schedule_id=schedule_id, identity_id=identity_id, answer=answer, created_at=now
            )
        row.answer = answer
        self.session.add(row)
        AuditTrail(self.session).record(
            identity_actor(identity_id),
            "distribution.answer",
            answer,
            now,
            schedule=schedule_id,
        )
        await self.session.flush()
        return row

    async def _was_asked(self, identity_id: int, schedule_id: int) -> bool:
        statement = (
            select(Outbox.id)
            .join(Broadcast, col(Broadcast.id) == col(Outbox.broadcast_id))
            .where(
                Broadcast.key == f"check:{schedule_id}",
                Outbox.identity_id == identity_id,
                col(Outbox.status) != "skipped",
            )
            .limit(1)
        )
        return (await self.session.exec(statement)).first() is not None

    async def link_report(self, answer_id: int, identity_id: int, report_id: int) -> None:
        row = await self.session.get(DistributionAnswer, answer_id)
        if row is not None and row.identity_id == identity_id:
            row.report_id = report_id
            self.session.add(row)


async def check_figures(session: AsyncSession, schedule_ids: Sequence[int]) -> list[CheckFigures]:
    """Per schedule: how many chats the question reached and how many it has not yet, the
    answers, reports opened from them."""
    result = []
    for schedule_id in schedule_ids:
        schedule = await session.get(DistributionSchedule, schedule_id)
        if schedule is None:
            continue
        answered = exists().where(
            col(DistributionAnswer.schedule_id) == schedule_id,
            col(DistributionAnswer.identity_id) == col(Outbox.identity_id),
        )
        # Whoever answered saw the question, whatever their row says.
        reached = col(Outbox.status).in_(REACHED) | answered
        waiting = col(Outbox.status).in_(WAITING) & ~answered
        counts = await session.exec(
            select(
                func.coalesce(func.sum(case((reached, 1), else_=0)), 0),
                func.coalesce(func.sum(case((waiting, 1), else_=0)), 0),
            )
            .join(Broadcast, col(Broadcast.id) == col(Outbox.broadcast_id))
            .where(Broadcast.key == f"check:{schedule_id}")
        )
        asked, waits = counts.one()
        rows = await session.exec(
            select(
                DistributionAnswer.answer,
                func.count(),
                func.count(col(DistributionAnswer.report_id)),
            )
            .where(DistributionAnswer.schedule_id == schedule_id)
            .group_by(col(DistributionAnswer.answer))
        )
        answers = dict.fromkeys(ANSWERS, 0)
        reports = 0
        for answer, count, with_report in rows.all():
            answers[str(answer)] = int(count)
            reports += int(with_report)
        result.append(CheckFigures(schedule, int(asked), answers, reports, int(waits)))
    return result


async def checked_schedules(session: AsyncSession, since: datetime, until: datetime) -> list[int]:
    """Schedules asked about whose window closed in the period, latest first."""
    rows = await session.exec(
        select(DistributionSchedule.id)
        .join(Broadcast, col(Broadcast.schedule_id) == col(DistributionSchedule.id))
        .where(
            Broadcast.kind == "check",
            col(DistributionSchedule.ends_at) >= since,
            col(DistributionSchedule.ends_at) < until,
        )
        .order_by(col(DistributionSchedule.ends_at).desc())
    )
    return [int(i) for i in rows.all() if i is not None]
