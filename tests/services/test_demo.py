"""Demo data: fictional, idempotent, and with no readable NIK in the database."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import holidays
from sqlmodel import SQLModel, func, select
from stdnum.id import nik as stdnum_nik

from bot.runtime import Runtime
from bot.services.broadcasts import CHANNELS, Audience, BroadcastService
from bot.services.demo import VILLAGES, seed_demo
from bot.services.pii import PiiVault, mask_nik
from storage.models import (
    DistributionSchedule,
    Enrolment,
    RegistryPerson,
    Subscription,
    Training,
    TrainingSession,
    Village,
)


async def _count(runtime: Runtime, model: type[SQLModel]) -> int:
    async with runtime.db.session() as session:
        return (await session.exec(select(func.count()).select_from(model))).one()


async def test_demo_seeds_once_and_is_idempotent(runtime: Runtime) -> None:
    vault = PiiVault(runtime.settings.secret_key.get_secret_value())
    first = await seed_demo(runtime.db, vault)
    counts = {
        m: await _count(runtime, m)
        for m in (
            Village,
            RegistryPerson,
            Enrolment,
            Training,
            TrainingSession,
            DistributionSchedule,
            Subscription,
        )
    }
    second = await seed_demo(runtime.db, vault)
    assert first.created and not second.created
    assert counts == {m: await _count(runtime, m) for m in counts}
    assert counts[Village] == 6
    assert 180 <= counts[RegistryPerson] <= 230
    assert counts[Training] == 3 and counts[DistributionSchedule] == 2
    assert counts[Subscription] == 2 * first.subscribers == 48


async def test_demo_niks_are_valid_fictional_and_never_stored_in_clear(runtime: Runtime) -> None:
    vault = PiiVault(runtime.settings.secret_key.get_secret_value())
    await seed_demo(runtime.db, vault)
    async with runtime.db.session() as session:
        people = (await session.exec(select(RegistryPerson))).all()
        niks = [vault.decrypt(p.nik_encrypted) for p in people]
        dump: list[str] = []
        for table in SQLModel.metadata.sorted_tables:
            connection = await session.connection()
            rows = (await connection.execute(table.select())).all()
            dump.extend(str(value) for row in rows for value in row)
    assert len(set(niks)) == len(niks)
    assert all(stdnum_nik.is_valid(n) and n.startswith("330799") for n in niks)
    blob = "\n".join(dump)
    assert not any(n in blob for n in niks[:50])
    assert all(vault.lookup_hash(n) == p.nik_hash for n, p in zip(niks, people, strict=True))


def test_nik_mask() -> None:
    assert mask_nik("3307015708450001") == "3307********0001"
    assert mask_nik("123") == "***"


async def test_demo_makes_one_admin_only_when_there_is_no_officer(runtime: Runtime) -> None:
    from bot.cli import DEMO_ADMIN, _demo_admin
    from bot.services.officer_auth import OfficerAuth
    from storage.types import utcnow

    async with runtime.db.transaction() as session:
        password = await _demo_admin(session, runtime.vault)
    async with runtime.db.transaction() as session:
        assert await _demo_admin(session, runtime.vault) is None  # never a second time
    assert password is not None and len(password) >= 12
    async with runtime.db.transaction() as session:
        token = await OfficerAuth(session, runtime.vault).login(
            DEMO_ADMIN, password, "127.0.0.1", utcnow()
        )
    assert token


async def test_a_demo_broadcast_has_an_audience(runtime: Runtime) -> None:
    """`make run` shows the broadcast screens with someone to send to: the web chat
    subscribers (English for one in four), none of them on a real platform."""
    vault = PiiVault(runtime.settings.secret_key.get_secret_value())
    await seed_demo(runtime.db, vault)
    async with runtime.db.session() as session:
        service = BroadcastService(session, runtime.settings, runtime.catalogs)
        everywhere = Audience(tuple(code for code, _ in VILLAGES), ("PKH",), CHANNELS)
        assert await service.preview(everywhere) == {("webchat", "en"): 6, ("webchat", "id"): 18}
        one_village = Audience((VILLAGES[0][0],), ("BPNT", "BLT"), ("telegram", "whatsapp"))
        assert await service.preview(one_village) == {}


async def test_demo_trainings_and_distributions_avoid_national_holidays(
    runtime: Runtime,
) -> None:
    """Seeded on 4 December 2026, the offsets would put a training on Christmas Day."""
    await seed_demo(runtime.db, runtime.vault, datetime(2026, 12, 4, 2, 0, tzinfo=UTC))
    national = holidays.country_holidays("ID")
    jakarta = ZoneInfo("Asia/Jakarta")
    async with runtime.db.session() as session:
        starts = [s.starts_at for s in (await session.exec(select(TrainingSession))).all()]
        starts += [s.starts_at for s in (await session.exec(select(DistributionSchedule))).all()]
    days = {moment.astimezone(jakarta).date() for moment in starts}
    assert days and not any(day in national for day in days)
