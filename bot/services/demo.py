"""Fictional demo data: Kecamatan Sukamaju (fiktif), six villages, ~200 registry people,
3 trainings, 2 distribution schedules, and 24 web chat subscribers to distribution news
(so that a broadcast composed in the demo dashboard has an audience; the web chat sends
nothing anywhere). Idempotent: running it again changes nothing.

The region code 330799 does not exist (kecamatan 99 of Wonosobo), so no demo NIK can
belong to a real person.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import holidays
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.services.pii import PiiVault
from bot.services.residents import CONSENT_VERSION
from storage.db import Database
from storage.models import (
    ChannelIdentity,
    DistributionSchedule,
    Enrolment,
    Household,
    RegistryPerson,
    Resident,
    ScheduleVillage,
    Subscription,
    Training,
    TrainingSession,
    Village,
)

KECAMATAN = "Sukamaju (fiktif)"
REGION = "330799"
VILLAGES = (
    ("3307992001", "Sukamaju"),
    ("3307992002", "Mekarsari"),
    ("3307992003", "Karanganyar"),
    ("3307992004", "Sidomulyo"),
    ("3307992005", "Tegalrejo"),
    ("3307992006", "Leksono"),
)
MALE = (
    "Budi",
    "Slamet",
    "Agus",
    "Joko",
    "Wahyu",
    "Eko",
    "Dedi",
    "Bambang",
    "Sugeng",
    "Rudi",
    "Hendra",
    "Yusuf",
    "Ahmad",
    "Teguh",
    "Supriyadi",
    "Darmo",
    "Iwan",
    "Fajar",
    "Rizki",
    "Arif",
)
FEMALE = (
    "Siti",
    "Sri",
    "Dewi",
    "Wati",
    "Sumiyati",
    "Endang",
    "Nur",
    "Rina",
    "Yuliana",
    "Tuti",
    "Lestari",
    "Aminah",
    "Suparmi",
    "Rahayu",
    "Indah",
    "Fitri",
    "Ani",
    "Ratna",
    "Kartini",
    "Nining",
)
FAMILY = (
    "Santoso",
    "Wibowo",
    "Susanto",
    "Purnomo",
    "Hidayat",
    "Saputra",
    "Wijaya",
    "Lestari",
    "Rahmawati",
    "Kurniawan",
    "Setiawan",
    "Nugroho",
    "Pratama",
    "Haryanto",
    "Sulistyo",
    "Utami",
    "Suryani",
    "Maryam",
    "Mulyadi",
    "Prasetyo",
)
HOUSEHOLDS = 62
PERIOD = "Tahap 4 2026"

# Two people to try "Cek status bansos" with (README, `bansos demo`): fictional, region 330799.
SHOWCASE = (
    ("3307994505809001", "SITI NUR AMINAH", date(1980, 5, 5), "3307992006",
     (("PKH", "aktif"), ("BPNT", "verifikasi"))),
    ("3307991203759002", "BUDI SANTOSO", date(1975, 3, 12), "3307992001",
     (("BPNT", "aktif"), ("PBI-JK", "aktif"))),
)  # fmt: skip


@dataclass(frozen=True)
class DemoSummary:
    villages: int
    people: int
    enrolments: int
    trainings: int
    schedules: int
    subscribers: int
    created: bool


async def seed_demo(db: Database, vault: PiiVault, now: datetime | None = None) -> DemoSummary:
    now = now or datetime.now(UTC)
    async with db.transaction() as session:
        existing = await session.exec(select(Training).where(Training.slug == "demo-menjahit"))
        created = existing.first() is None
        await _villages(session)
        people, enrolments = await _registry(session, vault)
        enrolments += await _showcase(session, vault)
        people += len(SHOWCASE)
        trainings = await _trainings(session, now)
        schedules = await _schedules(session, now)
        subscribers = await _subscribers(session, now)
    return DemoSummary(
        len(VILLAGES), people, enrolments, trainings, schedules, subscribers, created
    )


async def _villages(session: AsyncSession) -> None:
    for code, name in VILLAGES:
        if await session.get(Village, code) is None:
            session.add(Village(code=code, name=name, kecamatan=KECAMATAN))
    await session.flush()


def _nik(rng: random.Random, birth: date, female: bool, serial: int) -> str:
    day = birth.day + (40 if female else 0)
    return f"{REGION}{day:02d}{birth.month:02d}{birth.year % 100:02d}{serial:04d}"


async def _registry(session: AsyncSession, vault: PiiVault) -> tuple[int, int]:
    rng = random.Random(20261123)
    people = enrolments = 0
    serial = 1
    for household_no in range(HOUSEHOLDS):
        village_code, _ = VILLAGES[household_no % len(VILLAGES)]
        rt, rw = f"{rng.randint(1, 8):03d}", f"{rng.randint(1, 4):03d}"
        family = rng.choice(FAMILY)
        address = f"Dusun {rng.choice(('Krajan', 'Kidul', 'Lor', 'Wetan', 'Kulon'))}"
        issued = f"{rng.randint(1, 28):02d}{rng.randint(1, 12):02d}{rng.randint(5, 24):02d}"
        kk = f"{REGION}{issued}{household_no + 1:04d}"
        household = (
            await session.exec(select(Household).where(Household.kk_hash == vault.lookup_hash(kk)))
        ).first()
        if household is None:
            household = Household(
                kk_hash=vault.lookup_hash(kk),
                kk_encrypted=vault.encrypt(kk),
                village_code=village_code,
                address=address,
                rt=rt,
                rw=rw,
            )
            session.add(household)
            await session.flush()
        members = _members(rng, family, household_no)
        for index, (name, female, birth) in enumerate(members):
            nik = _nik(rng, birth, female, serial)
            serial += 1
            nik_hash = vault.lookup_hash(nik)
            person = (
                await session.exec(
                    select(RegistryPerson).where(RegistryPerson.nik_hash == nik_hash)
                )
            ).first()
            if person is None:
                person = RegistryPerson(
                    nik_hash=nik_hash,
                    nik_encrypted=vault.encrypt(nik),
                    full_name=name,
                    birth_date=birth,
                    sex="P" if female else "L",
                    household_id=household.id,
                    village_code=village_code,
                    address=address,
                    rt=rt,
                    rw=rw,
                )
                session.add(person)
                await session.flush()
            people += 1
            for programme, status in _programmes(rng, index, birth, household_no):
                found = (
                    await session.exec(
                        select(Enrolment).where(
                            Enrolment.person_id == person.id, Enrolment.programme == programme
                        )
                    )
                ).first()
                if found is None:
                    assert person.id is not None
                    session.add(
                        Enrolment(
                            person_id=person.id, programme=programme, status=status, period=PERIOD
                        )
                    )
                enrolments += 1
    await session.flush()
    return people, enrolments


async def _showcase(session: AsyncSession, vault: PiiVault) -> int:
    enrolments = 0
    for nik, name, birth, village_code, programmes in SHOWCASE:
        nik_hash = vault.lookup_hash(nik)
        person = (
            await session.exec(select(RegistryPerson).where(RegistryPerson.nik_hash == nik_hash))
        ).first()
        if person is None:
            person = RegistryPerson(
                nik_hash=nik_hash,
                nik_encrypted=vault.encrypt(nik),
                full_name=name,
                birth_date=birth,
                sex="P" if int(nik[6:8]) > 40 else "L",
                village_code=village_code,
                address="Dusun Krajan",
                rt="001",
                rw="002",
            )
            session.add(person)
            await session.flush()
            assert person.id is not None
            for programme, status in programmes:
                session.add(
                    Enrolment(
                        person_id=person.id, programme=programme, status=status, period=PERIOD
                    )
                )
        enrolments += len(programmes)
    await session.flush()
    return enrolments


def _members(rng: random.Random, family: str, household_no: int) -> list[tuple[str, bool, date]]:
    head_female = household_no % 5 == 0
    head = (
        f"{rng.choice(FEMALE if head_female else MALE)} {family}",
        head_female,
        date(rng.randint(1950, 1990), rng.randint(1, 12), rng.randint(1, 28)),
    )
    members = [head]
    if not head_female:
        members.append(
            (
                f"{rng.choice(FEMALE)} {rng.choice(FAMILY)}",
                True,
                date(rng.randint(1955, 1995), rng.randint(1, 12), rng.randint(1, 28)),
            )
        )
    for _ in range(rng.randint(0, 2) + (1 if household_no % 2 else 0)):
        female = rng.random() < 0.5
        members.append(
            (
                f"{rng.choice(FEMALE if female else MALE)} {family}",
                female,
                date(rng.randint(2006, 2019), rng.randint(1, 12), rng.randint(1, 28)),
            )
        )
    return members


def _programmes(
    rng: random.Random, index: int, birth: date, household_no: int
) -> list[tuple[str, str]]:
    statuses = ("aktif",) * 6 + ("verifikasi", "nonaktif", "ditolak")
    result: list[tuple[str, str]] = []
    if index == 0:
        if household_no % 3 == 0:
            result.append(("PKH", rng.choice(statuses)))
        if household_no % 2 == 0:
            result.append(("BPNT", rng.choice(statuses)))
        if household_no % 7 == 3:
            result.append(("BLT", "aktif"))
    if household_no % 4 != 1:
        result.append(("PBI-JK", "aktif" if rng.random() < 0.85 else "verifikasi"))
    if 2006 <= birth.year <= 2019 and household_no % 3 != 2:
        result.append(("PIP", rng.choice(statuses)))
    return result


def _local(day: date, hour: int, minute: int = 0) -> datetime:
    """A wall-clock time in WIB (UTC+7), stored as UTC."""
    return datetime.combine(day, time(hour, minute), tzinfo=UTC) - timedelta(hours=7)


def _off_holidays(day: date) -> date:
    """The day, or the first one after it that is not a national holiday: nobody holds a
    training or hands out aid on Christmas Day or Idul Fitri."""
    national = holidays.country_holidays("ID")
    while day in national:
        day += timedelta(days=1)
    return day


async def _trainings(session: AsyncSession, now: datetime) -> int:
    today = now.date()
    specs = (
        (
            "demo-menjahit",
            "Pelatihan Menjahit Dasar",
            "menjahit",
            "Belajar menjahit pakaian sederhana dengan mesin jahit, dari pola sampai jadi. "
            "Bahan disediakan.",
            "Dinas Sosial Kabupaten (contoh)",
            "dinas",
            "ibu rumah tangga",
            18,
            55,
            "3307992001",
            True,
            [(14, "Balai Desa Sukamaju", "3307992001", 20)],
        ),
        (
            "demo-komputer",
            "Komputer dan Internet untuk Pemuda",
            "komputer",
            "Mengetik, surel, lembar kerja, dan mencari kerja secara aman di internet.",
            "LSM Cahaya Desa (contoh)",
            "lsm",
            "pemuda 18-30",
            18,
            30,
            None,
            False,
            [
                (10, "SMK Sukamaju, Lab Komputer", "3307992003", 16),
                (24, "SMK Sukamaju, Lab Komputer", "3307992003", 16),
            ],
        ),
        (
            "demo-kewirausahaan",
            "Kewirausahaan: Olahan Pangan Rumahan",
            "kewirausahaan",
            "Membuat dan mengemas olahan pangan, menghitung modal, dan berjualan daring.",
            "CSR PT Contoh Sejahtera (contoh)",
            "csr",
            "penerima bansos",
            18,
            None,
            None,
            True,
            [(21, "Aula Kantor Kecamatan Sukamaju", "3307992002", 25)],
        ),
    )
    for (
        slug,
        title,
        category,
        description,
        organiser,
        kind,
        group,
        min_age,
        max_age,
        village,
        priority,
        sessions,
    ) in specs:
        existing = (await session.exec(select(Training).where(Training.slug == slug))).first()
        if existing is not None:
            continue
        training = Training(
            slug=slug,
            title=title,
            category=category,
            description=description,
            organiser=organiser,
            organiser_kind=kind,
            target_group=group,
            min_age=min_age,
            max_age=max_age,
            village_code=village,
            priority_recipients=priority,
        )
        session.add(training)
        await session.flush()
        assert training.id is not None
        for days, place, session_village, seats in sessions:
            day = _off_holidays(today + timedelta(days=days))
            session.add(
                TrainingSession(
                    training_id=training.id,
                    starts_at=_local(day, 8),
                    ends_at=_local(day, 15),
                    place=place,
                    village_code=session_village,
                    seats=seats,
                    registration_deadline=_local(day - timedelta(days=3), 16),
                )
            )
    await session.flush()
    return len(specs)


async def _schedules(session: AsyncSession, now: datetime) -> int:
    today = now.date()
    specs = (
        (
            "demo-bpnt",
            "BPNT",
            PERIOD,
            7,
            "Balai Desa Sukamaju",
            -7.3601,
            109.9012,
            "KTP, KK, kartu KKS, undangan",
            "Datang sesuai jam di undangan agar tidak antre lama.",
            [("3307992001", ""), ("3307992002", "")],
        ),
        (
            "demo-pkh",
            "PKH",
            PERIOD,
            12,
            "Kantor Pos Sukamaju",
            -7.3655,
            109.9098,
            "KTP, KK, kartu KKS, undangan",
            "Bantuan diterima utuh. Tidak ada potongan apa pun.",
            [
                ("3307992003", ""),
                ("3307992004", ""),
                ("3307992005", "001,002,003"),
                ("3307992006", ""),
            ],
        ),
    )
    for slug, programme, phase, days, place, lat, lon, bring, note, villages in specs:
        existing = (
            await session.exec(
                select(DistributionSchedule).where(DistributionSchedule.slug == slug)
            )
        ).first()
        if existing is not None:
            continue
        day = _off_holidays(today + timedelta(days=days))
        schedule = DistributionSchedule(
            slug=slug,
            programme=programme,
            phase=phase,
            starts_at=_local(day, 8),
            ends_at=_local(day, 12),
            place=place,
            latitude=lat,
            longitude=lon,
            bring=bring,
            note=note,
        )
        session.add(schedule)
        await session.flush()
        assert schedule.id is not None
        for code, rts in villages:
            session.add(ScheduleVillage(schedule_id=schedule.id, village_code=code, rts=rts))
    await session.flush()
    return len(specs)


SUBSCRIBERS_PER_VILLAGE = 4


async def _subscribers(session: AsyncSession, now: datetime) -> int:
    """Fictional web chat visitors who asked for PKH and BPNT news in each village; one in
    four reads English. Their messages wait in the outbox like any away visitor's."""
    for code, _ in VILLAGES:
        for n in range(SUBSCRIBERS_PER_VILLAGE):
            external_id = f"demo-web-{code}-{n}"
            found = await session.exec(
                select(ChannelIdentity).where(
                    ChannelIdentity.channel == "webchat", ChannelIdentity.external_id == external_id
                )
            )
            if found.first() is not None:
                continue
            resident = Resident(
                locale="en" if n == 0 else "id", consent_version=CONSENT_VERSION, consent_at=now
            )
            session.add(resident)
            await session.flush()
            identity = ChannelIdentity(
                channel="webchat", external_id=external_id, resident_id=resident.id or 0
            )
            session.add(identity)
            await session.flush()
            for programme in ("PKH", "BPNT"):
                session.add(
                    Subscription(
                        identity_id=identity.id or 0, village_code=code, programme=programme
                    )
                )
    await session.flush()
    return len(VILLAGES) * SUBSCRIBERS_PER_VILLAGE
