"""The aid register: people by NIK hash, their enrolments, their village's schedules."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, and_, bindparam
from sqlalchemy import select as sa_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import (
    DistributionSchedule,
    Enrolment,
    RegistryPerson,
    ScheduleVillage,
    Village,
)


async def person_by_nik_hash(session: AsyncSession, nik_hash: str) -> RegistryPerson | None:
    statement = select(RegistryPerson).where(RegistryPerson.nik_hash == nik_hash)
    return (await session.exec(statement)).first()


@dataclass(frozen=True, slots=True)
class RegisteredPerson:
    """What a status answer needs of one registered person."""

    id: int
    full_name: str
    village_code: str
    village_name: str | None
    rt: str
    enrolments: tuple[Enrolled, ...]  # by programme
    schedules: tuple[UpcomingSchedule, ...]  # of their active programmes, soonest first


@dataclass(frozen=True, slots=True)
class Enrolled:
    programme: str
    status: str
    period: str


@dataclass(frozen=True, slots=True)
class UpcomingSchedule:
    """A distribution for the person's village that has not ended."""

    id: int
    programme: str
    phase: str
    starts_at: datetime
    ends_at: datetime
    place: str
    bring: str
    note: str
    latitude: float | None
    longitude: float | None
    rts: str  # "" = every RT of the village


PERSON = cast(Table, RegistryPerson.__table__)  # type: ignore[attr-defined]
ENROLMENT = cast(Table, Enrolment.__table__)  # type: ignore[attr-defined]
VILLAGE = cast(Table, Village.__table__)  # type: ignore[attr-defined]
SCHEDULE = cast(Table, DistributionSchedule.__table__)  # type: ignore[attr-defined]
SCHEDULE_VILLAGE = cast(Table, ScheduleVillage.__table__)  # type: ignore[attr-defined]
SCHEDULE_COLUMNS = (
    SCHEDULE.c.id,
    SCHEDULE.c.programme,
    SCHEDULE.c.phase,
    SCHEDULE.c.starts_at,
    SCHEDULE.c.ends_at,
    SCHEDULE.c.place,
    SCHEDULE.c.bring,
    SCHEDULE.c.note,
    SCHEDULE.c.latitude,
    SCHEDULE.c.longitude,
    SCHEDULE_VILLAGE.c.rts,
)
# Every status check reads this, so it is one statement, built once (building and keying
# a statement afresh costs several times what the database spends answering it): the
# person, their village, each enrolment, and for an active one the schedules of that
# programme in their village that have not ended.
REGISTERED_PERSON = (
    sa_select(
        PERSON.c.id.label("person_id"),
        PERSON.c.full_name,
        PERSON.c.village_code,
        VILLAGE.c.name.label("village_name"),
        PERSON.c.rt,
        ENROLMENT.c.programme.label("enrolled_in"),
        ENROLMENT.c.status,
        ENROLMENT.c.period,
        *SCHEDULE_COLUMNS,
    )
    .select_from(
        PERSON.outerjoin(VILLAGE, VILLAGE.c.code == PERSON.c.village_code)
        .outerjoin(ENROLMENT, ENROLMENT.c.person_id == PERSON.c.id)
        .outerjoin(
            SCHEDULE.join(SCHEDULE_VILLAGE, SCHEDULE_VILLAGE.c.schedule_id == SCHEDULE.c.id),
            and_(
                SCHEDULE_VILLAGE.c.village_code == PERSON.c.village_code,
                SCHEDULE.c.programme == ENROLMENT.c.programme,
                ENROLMENT.c.status == "aktif",
                SCHEDULE.c.ends_at >= bindparam("now"),
            ),
        )
    )
    .where(PERSON.c.nik_hash == bindparam("nik_hash"))
    .order_by(ENROLMENT.c.programme, SCHEDULE.c.starts_at)
)


async def registered_person(
    session: AsyncSession, nik_hash: str, now: datetime
) -> RegisteredPerson | None:
    """The person with this NIK hash, their village's name, their enrolments and the
    upcoming schedules of their active programmes, in one statement."""
    conn = await session.connection()
    rows = (await conn.execute(REGISTERED_PERSON, {"nik_hash": nik_hash, "now": now})).all()
    if not rows:
        return None
    enrolments: dict[str, Enrolled] = {}
    schedules: list[UpcomingSchedule] = []
    for row in rows:
        if row.enrolled_in is not None:
            enrolments.setdefault(
                row.enrolled_in, Enrolled(row.enrolled_in, row.status, row.period)
            )
        if row.id is not None:
            schedules.append(UpcomingSchedule(*row[-len(SCHEDULE_COLUMNS) :]))
    first = rows[0]
    return RegisteredPerson(
        id=first.person_id,
        full_name=first.full_name,
        village_code=first.village_code,
        village_name=first.village_name,
        rt=first.rt,
        enrolments=tuple(enrolments.values()),
        schedules=tuple(sorted(schedules, key=lambda schedule: schedule.starts_at)),
    )


async def village(session: AsyncSession, code: str) -> Village | None:
    return await session.get(Village, code)


async def villages(session: AsyncSession) -> Sequence[Village]:
    return (await session.exec(select(Village).order_by(col(Village.name)))).all()
