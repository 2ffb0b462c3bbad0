"""The aid register: people by NIK hash, their enrolments, their village's schedules."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

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


async def person_and_village_name(
    session: AsyncSession, nik_hash: str
) -> tuple[RegistryPerson, str | None] | None:
    """The person with this NIK hash and their village's name, in one statement."""
    statement = (
        select(RegistryPerson, Village.name)
        .join(Village, col(Village.code) == col(RegistryPerson.village_code), isouter=True)
        .where(RegistryPerson.nik_hash == nik_hash)
    )
    found = (await session.exec(statement)).first()
    return (found[0], found[1]) if found is not None else None


async def enrolments_of(session: AsyncSession, person_id: int) -> Sequence[Enrolment]:
    statement = (
        select(Enrolment).where(Enrolment.person_id == person_id).order_by(col(Enrolment.programme))
    )
    return (await session.exec(statement)).all()


async def upcoming_schedules(
    session: AsyncSession, village_code: str, programmes: Sequence[str], now: datetime
) -> Sequence[tuple[DistributionSchedule, ScheduleVillage]]:
    """Schedules for a village and programmes that have not ended, soonest first."""
    if not programmes:
        return []
    statement = (
        select(DistributionSchedule, ScheduleVillage)
        .join(ScheduleVillage, col(ScheduleVillage.schedule_id) == col(DistributionSchedule.id))
        .where(
            ScheduleVillage.village_code == village_code,
            col(DistributionSchedule.programme).in_(list(programmes)),
            col(DistributionSchedule.ends_at) >= now,
        )
        .order_by(col(DistributionSchedule.starts_at))
    )
    return (await session.exec(statement)).all()


async def village(session: AsyncSession, code: str) -> Village | None:
    return await session.get(Village, code)


async def villages(session: AsyncSession) -> Sequence[Village]:
    return (await session.exec(select(Village).order_by(col(Village.name)))).all()
