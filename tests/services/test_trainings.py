"""Training seats: eligibility, one registration per NIK, the waitlist, offers, reminders."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import col, select

from bench.registry_data import person_nik
from bot.runtime import Runtime, build_runtime
from bot.services.trainings import (
    AlreadyRegistered,
    Applicant,
    NotEligible,
    Outcome,
    TrainingError,
    TrainingService,
)
from bot.workers import jobs as jobs_worker
from storage.db import Database
from storage.models import (
    ChannelIdentity,
    Enrolment,
    Outbox,
    RegistryPerson,
    Resident,
    ScheduledJob,
    Training,
    TrainingRegistration,
    TrainingSession,
    Village,
)

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
START = NOW + timedelta(days=10)


async def _training(
    runtime: Runtime,
    seats: int = 20,
    min_age: int | None = None,
    max_age: int | None = None,
    village: str | None = None,
    priority: bool = False,
) -> int:
    async with runtime.db.transaction() as session:
        for code, name in (("3307992006", "Leksono"), ("3307992001", "Sukamaju")):
            if await session.get(Village, code) is None:
                session.add(Village(code=code, name=name, kecamatan="Sukamaju"))
        training = Training(
            slug=f"t-{seats}-{min_age}-{max_age}-{village}-{priority}",
            title="Menjahit Dasar",
            description="Belajar menjahit dari nol.",
            category="menjahit",
            organiser="Dinas Sosial",
            organiser_kind="dinas",
            min_age=min_age,
            max_age=max_age,
            village_code=village,
            priority_recipients=priority,
        )
        session.add(training)
        await session.flush()
        sitting = TrainingSession(
            training_id=training.id or 0,
            starts_at=START,
            ends_at=START + timedelta(hours=6),
            place="Balai Desa Leksono",
            village_code="3307992006",
            seats=seats,
            registration_deadline=START - timedelta(days=2),
        )
        session.add(sitting)
        await session.flush()
        return sitting.id or 0


def _applicant(index: int, village: str | None = "3307992006") -> Applicant:
    nik, born, _ = person_nik(index)
    return Applicant(nik, born, f"WARGA {index}", "081234567890", village)


async def _identity(runtime: Runtime, name: str) -> tuple[int, int]:
    async with runtime.db.transaction() as session:
        resident = Resident(display_name=name)
        session.add(resident)
        await session.flush()
        identity = ChannelIdentity(
            channel="telegram", external_id=name, resident_id=resident.id or 0
        )
        session.add(identity)
        await session.flush()
        return resident.id or 0, identity.id or 0


async def _register(
    runtime: Runtime,
    session_id: int,
    applicant: Applicant,
    who: tuple[int, int] | None = None,
    now: datetime = NOW,
) -> Outcome:
    async with runtime.db.transaction() as session:
        service = TrainingService(session, runtime.settings, runtime.catalogs, runtime.vault)
        resident_id, identity_id = who or (None, None)
        return await service.register(session_id, applicant, now, resident_id, identity_id, "id")


async def _statuses(runtime: Runtime, session_id: int) -> dict[str, list[TrainingRegistration]]:
    async with runtime.db.session() as session:
        service = TrainingService(session, runtime.settings, runtime.catalogs, runtime.vault)
        return await service.roster(session_id)


async def test_twenty_seats_two_hundred_at_once(runtime: Runtime, migrated_url: str) -> None:
    session_id = await _training(runtime, seats=20)
    # Two app instances with their own pools share the crowd.
    other_db = Database(migrated_url)
    other = build_runtime(runtime.settings, other_db)
    try:
        results = await asyncio.gather(
            *(
                _register(runtime if n % 2 else other, session_id, _applicant(n))
                for n in range(200)
            ),
            return_exceptions=True,
        )
    finally:
        await other_db.dispose()
    assert [r for r in results if isinstance(r, BaseException)] == []
    outcomes = [r for r in results if isinstance(r, Outcome)]
    assert sum(1 for o in outcomes if o.position == 0) == 20
    assert sorted(o.position for o in outcomes if o.position) == list(range(1, 181))
    roster = await _statuses(runtime, session_id)
    assert (len(roster["confirmed"]), len(roster["waitlisted"])) == (20, 180)

    async with runtime.db.session() as session:
        service = TrainingService(session, runtime.settings, runtime.catalogs, runtime.vault)
        first_five = []
        for registration in roster["waitlisted"]:
            if await service.waitlist_position(registration) <= 5:
                first_five.append(registration.id or 0)
    for registration in roster["confirmed"][:5]:
        async with runtime.db.transaction() as session:
            service = TrainingService(session, runtime.settings, runtime.catalogs, runtime.vault)
            await service.cancel(registration, NOW)
    roster = await _statuses(runtime, session_id)
    assert sorted(r.id or 0 for r in roster["offered"]) == sorted(first_five)
    assert len(roster["confirmed"]) == 15 and len(roster["waitlisted"]) == 175


async def test_age_from_the_nik_including_the_womens_plus_forty(runtime: Runtime) -> None:
    session_id = await _training(runtime, min_age=18, max_age=30)
    day = START.date()
    # A woman born 2 days after the 18th birthday cutoff: her NIK day is 40 + day.
    born = date(day.year - 18, day.month, day.day) + timedelta(days=2)
    nik = f"330799{born.day + 40:02d}{born.month:02d}{born.year % 100:02d}0001"
    with pytest.raises(NotEligible) as too_young:
        await _register(runtime, session_id, Applicant(nik, born, "SITI", "0812", None))
    assert too_young.value.reason == "too_young"
    assert too_young.value.params == {"age": 17, "min": 18}
    older = Applicant(nik, date(1990, 1, 1), "SITI", "0812", None)
    with pytest.raises(NotEligible) as too_old:
        await _register(runtime, session_id, older)
    assert too_old.value.reason == "too_old" and too_old.value.params["age"] == 36
    fits = Applicant(nik, date(2000, 1, 1), "SITI", "0812", None)
    assert (await _register(runtime, session_id, fits)).position == 0


async def test_village_deadline_and_start(runtime: Runtime) -> None:
    session_id = await _training(runtime, village="3307992006")
    with pytest.raises(NotEligible) as elsewhere:
        await _register(runtime, session_id, _applicant(1, village="3307992001"))
    assert elsewhere.value.reason == "village"
    assert (await _register(runtime, session_id, _applicant(2))).position == 0
    with pytest.raises(NotEligible) as late:
        await _register(runtime, session_id, _applicant(3), now=START - timedelta(days=1))
    assert late.value.reason == "deadline"
    with pytest.raises(NotEligible) as started:
        await _register(runtime, session_id, _applicant(4), now=START + timedelta(minutes=5))
    assert started.value.reason == "started"


async def test_one_registration_per_nik_but_again_after_cancelling(runtime: Runtime) -> None:
    session_id = await _training(runtime, seats=1)
    first = await _register(runtime, session_id, _applicant(1))
    with pytest.raises(AlreadyRegistered):
        await _register(runtime, session_id, _applicant(1))
    async with runtime.db.transaction() as session:
        service = TrainingService(session, runtime.settings, runtime.catalogs, runtime.vault)
        registration = await service.by_code(first.registration.code)
        assert registration is not None
        await service.cancel(registration, NOW)
    again = await _register(runtime, session_id, _applicant(1))
    assert again.registration.code != first.registration.code and again.position == 0


async def test_an_offer_not_confirmed_in_time_passes_to_the_next(runtime: Runtime) -> None:
    session_id = await _training(runtime, seats=1)
    holder = await _register(runtime, session_id, _applicant(1))
    waiting = [await _identity(runtime, f"w{n}") for n in range(2)]
    for n, who in enumerate(waiting):
        await _register(runtime, session_id, _applicant(10 + n), who)
    async with runtime.db.transaction() as session:
        service = TrainingService(session, runtime.settings, runtime.catalogs, runtime.vault)
        registration = await service.by_code(holder.registration.code)
        assert registration is not None
        await service.cancel(registration, NOW)
    roster = await _statuses(runtime, session_id)
    first = roster["offered"][0]
    assert first.identity_id == waiting[0][1]
    assert first.offered_until == NOW + timedelta(hours=24)
    # 23 hours later nothing has changed; at 24 hours the job hands the seat on.
    assert await jobs_worker.run_once(runtime, NOW + timedelta(hours=23)) == 0
    assert await jobs_worker.run_once(runtime, NOW + timedelta(hours=24, minutes=1)) == 1
    roster = await _statuses(runtime, session_id)
    assert [r.identity_id for r in roster["expired"]] == [waiting[0][1]]
    assert [r.identity_id for r in roster["offered"]] == [waiting[1][1]]
    async with runtime.db.transaction() as session:
        service = TrainingService(session, runtime.settings, runtime.catalogs, runtime.vault)
        second = roster["offered"][0]
        late = await service.accept_offer(roster["expired"][0], NOW + timedelta(hours=25))
        assert late is False
        assert await service.accept_offer(second, NOW + timedelta(hours=25)) is True
    async with runtime.db.session() as session:
        offers = (
            await session.exec(
                select(Outbox)
                .where(Outbox.message_key == "training.push.offer")
                .order_by(col(Outbox.id))
            )
        ).all()
    assert [o.identity_id for o in offers] == [waiting[0][1], waiting[1][1]]
    assert [c[0] for c in offers[0].choices] == [
        f"seat:{first.code}:yes",
        f"seat:{first.code}:no",
    ]


async def test_reminders_are_sent_after_a_restart(runtime: Runtime, migrated_url: str) -> None:
    session_id = await _training(runtime)
    who = await _identity(runtime, "peserta")
    await _register(runtime, session_id, _applicant(1), who)
    await runtime.db.dispose()  # the process stops; the jobs are rows
    restarted = build_runtime(runtime.settings, Database(migrated_url))
    try:
        assert await jobs_worker.run_once(restarted, START - timedelta(days=2)) == 0
        assert await jobs_worker.run_once(restarted, START - timedelta(hours=23)) == 1
        assert await jobs_worker.run_once(restarted, START - timedelta(hours=23)) == 0
        assert await jobs_worker.run_once(restarted, START - timedelta(minutes=90)) == 1
        async with restarted.db.session() as session:
            sent = (await session.exec(select(Outbox).order_by(col(Outbox.id)))).all()
            jobs = (await session.exec(select(ScheduledJob))).all()
    finally:
        await restarted.db.dispose()
    assert [o.message_key for o in sent] == [
        "training.push.reminder_day_before",
        "training.push.reminder_two_hours",
    ]
    assert "Balai Desa Leksono" in sent[0].text
    assert {job.status for job in jobs} == {"done"}


async def test_cancelling_removes_reminders_and_priority_orders_the_waitlist(
    runtime: Runtime,
) -> None:
    session_id = await _training(runtime, seats=1, priority=True)
    holder = await _register(runtime, session_id, _applicant(1))
    plain = await _register(runtime, session_id, _applicant(2))
    assert plain.position == 1
    # A registered aid recipient joins later but goes first.
    async with runtime.db.transaction() as session:
        nik, born, _ = person_nik(3)
        person = RegistryPerson(
            nik_hash=runtime.vault.lookup_hash(nik),
            nik_encrypted=runtime.vault.encrypt(nik),
            full_name="WARGA 3",
            birth_date=born,
            sex="L",
            village_code="3307992006",
        )
        session.add(person)
        await session.flush()
        session.add(Enrolment(person_id=person.id or 0, programme="PKH", status="aktif"))
    recipient = await _register(runtime, session_id, _applicant(3))
    assert recipient.registration.priority and recipient.position == 1
    async with runtime.db.session() as session:
        service = TrainingService(session, runtime.settings, runtime.catalogs, runtime.vault)
        again = await service.by_code(plain.registration.code)
        assert again is not None and await service.waitlist_position(again) == 2
    async with runtime.db.transaction() as session:
        service = TrainingService(session, runtime.settings, runtime.catalogs, runtime.vault)
        registration = await service.by_code(holder.registration.code)
        assert registration is not None
        await service.cancel(registration, NOW)
        jobs = (await session.exec(select(ScheduledJob))).all()
    assert {j.status for j in jobs if f":{holder.registration.id}:" in j.key} == {"cancelled"}
    roster = await _statuses(runtime, session_id)
    assert roster["offered"][0].id == recipient.registration.id


async def test_roster_attendance_export_and_figures(runtime: Runtime) -> None:
    session_id = await _training(runtime, seats=4)
    outcomes = [await _register(runtime, session_id, _applicant(n)) for n in range(5)]
    async with runtime.db.transaction() as session:
        service = TrainingService(session, runtime.settings, runtime.catalogs, runtime.vault)
        confirmed = (await service.roster(session_id))["confirmed"]
        for registration, came in zip(confirmed, (True, True, True, False), strict=True):
            await service.mark_attendance("officer:1", registration, came, START)
        waiting = await service.by_code(outcomes[4].registration.code)
        assert waiting is not None
        with pytest.raises(Exception, match="confirmed"):
            await service.mark_attendance("officer:1", waiting, True, START)
        exported = await service.export_csv("officer:1", session_id, START)
        figures = await service.figures(START)
    assert exported.splitlines()[0] == "kode,nama,telepon,status,prioritas,hadir"
    assert exported.count(",confirmed,") == 4 and exported.count(",waitlisted,") == 1
    assert person_nik(0)[0] not in exported  # no NIK in the export
    row = figures[0]
    assert (row["seats"], row["confirmed"], row["fill_rate"]) == (4, 4, 1.0)
    assert row["attendance_rate"] == 0.75 and row["no_show_rate"] == 0.25


async def test_officers_create_and_edit_trainings_and_sessions(runtime: Runtime) -> None:
    session_id = await _training(runtime, seats=1)
    holder = await _register(runtime, session_id, _applicant(1))
    waiting = [await _register(runtime, session_id, _applicant(n)) for n in (2, 3)]
    assert holder.position == 0 and [w.position for w in waiting] == [1, 2]
    async with runtime.db.transaction() as session:
        service = TrainingService(session, runtime.settings, runtime.catalogs, runtime.vault)
        sitting = await session.get(TrainingSession, session_id)
        assert sitting is not None
        sitting.seats = 0
        with pytest.raises(TrainingError, match="already taken"):
            await service.save_session("officer:1", sitting, NOW)
    async with runtime.db.transaction() as session:
        service = TrainingService(session, runtime.settings, runtime.catalogs, runtime.vault)
        sitting = await session.get(TrainingSession, session_id)
        assert sitting is not None
        sitting.seats = 3  # two more seats: both people waiting are offered one
        await service.save_session("officer:1", sitting, NOW)
        training = Training(
            slug="komputer-dasar",
            title="Komputer Dasar",
            description="Mengetik dan surel.",
            category="komputer",
            organiser="SMK Sukamaju",
            organiser_kind="dinas",
            min_age=30,
            max_age=18,
        )
        with pytest.raises(TrainingError, match="min_age"):
            await service.save_training("officer:1", training, NOW)
        training.max_age = 40
        saved = await service.save_training("officer:1", training, NOW)
        bad = TrainingSession(
            training_id=saved.id or 0,
            starts_at=START,
            ends_at=START - timedelta(hours=1),
            place="SMK",
            village_code="3307992001",
            seats=10,
            registration_deadline=START - timedelta(days=1),
        )
        with pytest.raises(TrainingError, match="end after"):
            await service.save_session("officer:1", bad, NOW)
    roster = await _statuses(runtime, session_id)
    assert len(roster["offered"]) == 2 and roster["waitlisted"] == []
