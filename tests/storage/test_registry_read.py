"""The one-statement read behind every status check: a person, their village, their
enrolments, and the upcoming schedules of their active programmes in their village."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from storage.db import Database
from storage.models import (
    DistributionSchedule,
    Enrolment,
    RegistryPerson,
    ScheduleVillage,
    Village,
)
from storage.repositories import registry as registry_repo
from storage.types import utcnow

HOME, ELSEWHERE = "3307992006", "3307992001"


async def _schedule(
    db: Database, slug: str, programme: str, starts_at: datetime, village: str, rts: str = ""
) -> None:
    async with db.transaction() as session:
        schedule = DistributionSchedule(
            slug=slug,
            programme=programme,
            phase="Tahap 4 2026",
            starts_at=starts_at,
            ends_at=starts_at + timedelta(hours=3),
            place=f"Balai {slug}",
        )
        session.add(schedule)
        await session.flush()
        assert schedule.id is not None
        session.add(ScheduleVillage(schedule_id=schedule.id, village_code=village, rts=rts))


async def _person(db: Database, nik_hash: str, enrolments: list[tuple[str, str]]) -> None:
    async with db.transaction() as session:
        person = RegistryPerson(
            nik_hash=nik_hash,
            nik_encrypted="sealed",
            full_name="SITI NUR AMINAH",
            birth_date=date(1980, 5, 5),
            sex="P",
            village_code=HOME,
            rt="001",
        )
        session.add(person)
        await session.flush()
        assert person.id is not None
        for programme, status in enrolments:
            session.add(
                Enrolment(person_id=person.id, programme=programme, status=status, period="2026")
            )


async def test_the_read_keeps_only_upcoming_schedules_of_active_programmes_at_home(
    db: Database,
) -> None:
    now = utcnow()
    async with db.transaction() as session:
        session.add(Village(code=HOME, name="Leksono", kecamatan="Leksono"))
        session.add(Village(code=ELSEWHERE, name="Sukamaju", kecamatan="Leksono"))
    await _person(db, "siti", [("PKH", "aktif"), ("BPNT", "verifikasi"), ("PBI-JK", "aktif")])
    await _schedule(db, "pkh-later", "PKH", now + timedelta(days=9), HOME)
    await _schedule(db, "pkh-soon", "PKH", now + timedelta(days=2), HOME, rts="001,002")
    await _schedule(db, "pkh-over", "PKH", now - timedelta(days=2), HOME)  # ended
    await _schedule(db, "pkh-away", "PKH", now + timedelta(days=1), ELSEWHERE)
    await _schedule(db, "bpnt", "BPNT", now + timedelta(days=1), HOME)  # not active for her
    async with db.session() as session:
        person = await registry_repo.registered_person(session, "siti", now)
        assert await registry_repo.registered_person(session, "nobody", now) is None
    assert person is not None
    assert (person.full_name, person.village_name, person.rt) == (
        "SITI NUR AMINAH",
        "Leksono",
        "001",
    )
    assert [(e.programme, e.status) for e in person.enrolments] == [
        ("BPNT", "verifikasi"),
        ("PBI-JK", "aktif"),
        ("PKH", "aktif"),
    ]
    assert [(s.place, s.rts) for s in person.schedules] == [
        ("Balai pkh-soon", "001,002"),
        ("Balai pkh-later", ""),
    ]


async def test_a_person_without_enrolments_reads_with_none(db: Database) -> None:
    async with db.transaction() as session:
        session.add(Village(code=HOME, name="Leksono", kecamatan="Leksono"))
    await _person(db, "budi", [])
    await _schedule(db, "pkh", "PKH", utcnow() + timedelta(days=2), HOME)
    async with db.session() as session:
        person = await registry_repo.registered_person(session, "budi", utcnow())
    assert person is not None
    assert (person.village_name, person.enrolments, person.schedules) == ("Leksono", (), ())
