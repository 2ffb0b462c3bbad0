"""Monitoring figures on a small known dataset: counts, medians, SLA breaches, ratings,
look-ups, trainings, delivery and potongan hotspots, each scoped like the inbox."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.runtime import Runtime
from bot.services import monitoring
from bot.services.monitoring import Period, flag_rule, subject_groups
from bot.services.reports import ReportService, Viewer
from bot.services.trainings import TrainingService
from storage.models import (
    AuditLog,
    ChannelIdentity,
    Outbox,
    RegistryPerson,
    Resident,
    Training,
    TrainingRegistration,
    TrainingSession,
    Village,
)
from tests.services.test_reports import (
    LEKSONO,
    MONDAY,
    SUKAMAJU,
    _draft,
    _file,
    _resident,
    _setup,
)

JAKARTA = ZoneInfo("Asia/Jakarta")
SIDOMULYO = "3307992003"
# 16–30 November 2026 in Jakarta: MONDAY (23 November, 09:00) is inside.
PERIOD = Period(
    datetime(2026, 11, 15, 17, 0, tzinfo=UTC), datetime(2026, 11, 30, 17, 0, tzinfo=UTC), JAKARTA
)
LATER = MONDAY + timedelta(days=30)
HOUR = timedelta(hours=1)


async def _move(runtime: Runtime, admin: Viewer, report_id: int, status: str, at: datetime) -> None:
    async with runtime.db.transaction() as session:
        service = ReportService(session, runtime.settings, runtime.catalogs)
        report = await service.get(admin, report_id, at)
        await service.change_status(admin, report, status, at, "Sudah kami cek.")


async def _rate(runtime: Runtime, admin: Viewer, report_id: int, rating: int) -> None:
    async with runtime.db.transaction() as session:
        service = ReportService(session, runtime.settings, runtime.catalogs)
        report = await service.get(admin, report_id, MONDAY)
        await service.rate(report, rating, MONDAY + timedelta(days=2))


async def _known_dataset(runtime: Runtime) -> tuple[dict[str, Viewer], dict[str, int]]:
    """Five reports in the period and one before it, moved at known times:

    a  Leksono  potongan      verified +2h, resolved +10h, rated 5
    b  Leksono  potongan      filed +1h, verified 4h later, resolved 20h after filing, rated 3
    c  Sukamaju sanggah       verified +6h, then left past its follow-up due time
    d  Leksono  belum_terima  never touched: past its verify due time
    f  Sukamaju potongan      verified +240h (late), resolved +241h
    old Leksono potongan      30 days before the period
    """
    viewers = await _setup(runtime)
    admin = viewers["camat"]
    who = await _resident(runtime)
    ids = {
        "a": (await _file(runtime, _draft(subject="Agen Bu Tini"), who, MONDAY)).id or 0,
        "b": (await _file(runtime, _draft(), who, MONDAY + HOUR)).id or 0,
        "c": (await _file(runtime, _draft(kind="sanggah", village_code=SUKAMAJU), who)).id or 0,
        "d": (await _file(runtime, _draft(kind="belum_terima"), who)).id or 0,
        "f": (await _file(runtime, _draft(village_code=SUKAMAJU), who)).id or 0,
        "old": (await _file(runtime, _draft(), who, MONDAY - timedelta(days=30))).id or 0,
    }
    for name, status, at in (
        ("a", "diverifikasi", MONDAY + 2 * HOUR),
        ("a", "selesai", MONDAY + 10 * HOUR),
        ("b", "diverifikasi", MONDAY + 5 * HOUR),
        ("b", "selesai", MONDAY + 21 * HOUR),
        ("c", "diverifikasi", MONDAY + 6 * HOUR),
        ("f", "diverifikasi", MONDAY + 240 * HOUR),
        ("f", "selesai", MONDAY + 241 * HOUR),
    ):
        await _move(runtime, admin, ids[name], status, at)
    await _rate(runtime, admin, ids["a"], 5)
    await _rate(runtime, admin, ids["b"], 3)
    return viewers, ids


def _counts(tallies: list[monitoring.Tally]) -> dict[str, int]:
    return {tally.key: tally.count for tally in tallies if tally.count}


async def test_figures_on_a_known_dataset(runtime: Runtime) -> None:
    viewers, ids = await _known_dataset(runtime)
    async with runtime.db.session() as session:
        board = await monitoring.board(session, viewers["camat"], PERIOD, LATER)
    assert _counts(board.by_type) == {"potongan": 3, "sanggah": 1, "belum_terima": 1}
    assert [t.key for t in board.by_type][:3] == ["belum_terima", "potongan", "sanggah"]
    assert [(t.name, t.count) for t in board.by_village] == [("Leksono", 3), ("Sukamaju", 2)]
    assert _counts(board.by_status) == {"selesai": 3, "diverifikasi": 1, "baru": 1}
    assert board.total == 5
    assert board.durations.verify == monitoring.Median(4, 5.0)  # 2, 4, 6, 240 hours
    assert board.durations.resolve == monitoring.Median(3, 20.0)  # 10, 20, 241 hours
    sla = board.sla
    assert (sla.checked, sla.verify_late, sla.follow_up_late, sla.overdue_now) == (5, 2, 1, 2)
    assert set(sla.report_ids) == {ids["c"], ids["d"], ids["f"]}
    assert board.ratings == monitoring.Ratings(2, 4.0, (0, 0, 1, 0, 1))
    timeline = board.timeline
    assert timeline.step == "day" and len(timeline.buckets) == 15
    assert [(b.start, b.count) for b in timeline.buckets if b.count] == [(date(2026, 11, 23), 5)]


async def test_an_officer_counts_only_their_villages(runtime: Runtime) -> None:
    viewers, ids = await _known_dataset(runtime)
    async with runtime.db.session() as session:
        board = await monitoring.board(session, viewers["darmo"], PERIOD, LATER)
        sukamaju = await monitoring.board(session, viewers["wati"], PERIOD, LATER)
    assert _counts(board.by_type) == {"potongan": 2, "belum_terima": 1}
    assert [(t.key, t.count) for t in board.by_village] == [(LEKSONO, 3)]  # no Sukamaju row
    assert board.durations.verify == monitoring.Median(2, 3.0)
    assert board.sla.report_ids == (ids["d"],)
    assert board.ratings.count == 2
    assert [(t.key, t.count) for t in sukamaju.by_village] == [(SUKAMAJU, 2)]
    assert sukamaju.ratings.count == 0 and sukamaju.ratings.mean is None


async def test_reports_naming_an_officer_are_not_counted_for_them(runtime: Runtime) -> None:
    viewers = await _setup(runtime)
    who = await _resident(runtime)
    await _file(runtime, _draft(kind="oknum", subject="Pak Darmo Susilo"), who)
    async with runtime.db.session() as session:
        seen = {
            name: (await monitoring.reports_by_type(session, viewers[name], PERIOD))
            for name in ("camat", "darmo", "pengamat")
        }
    assert _counts(seen["camat"]) == {"oknum": 1}
    assert _counts(seen["darmo"]) == {} and _counts(seen["pengamat"]) == {}


async def test_the_period_excludes_reports_outside_it(runtime: Runtime) -> None:
    viewers, ids = await _known_dataset(runtime)
    before = Period(MONDAY - timedelta(days=31), MONDAY - timedelta(days=29), JAKARTA)
    long = Period(MONDAY - timedelta(days=40), MONDAY + timedelta(days=20), JAKARTA)
    async with runtime.db.session() as session:
        old = await monitoring.reports_by_type(session, viewers["camat"], before)
        weekly = await monitoring.reports_over_time(session, viewers["camat"], long)
        clusters = await monitoring.potongan_clusters(session, viewers["camat"], before)
    assert _counts(old) == {"potongan": 1}
    assert clusters.total == 1 and clusters.dimensions[0].groups[0].reports[0].id == ids["old"]
    assert weekly.step == "week" and weekly.total == 6
    assert all(bucket.start.weekday() == 0 for bucket in weekly.buckets)


async def test_status_lookups_and_refusals(runtime: Runtime) -> None:
    viewers = await _setup(runtime)
    async with runtime.db.transaction() as session:
        session.add(
            RegistryPerson(
                nik_hash="a" * 64,
                nik_encrypted="x",
                full_name="SITI AMINAH",
                birth_date=date(1980, 1, 1),
                sex="P",
                village_code=LEKSONO,
            )
        )
        rows = [
            ("found", "a" * 64, {}),
            ("found", "b" * 64, {}),
            ("not_found", "c" * 64, {"reason": "unknown_nik"}),
            ("refused", "a" * 64, {"limit": "failures_per_hour"}),
            ("refused", "d" * 64, {"limit": "nik_per_day"}),
        ]
        for outcome, subject, detail in rows:
            session.add(
                AuditLog(
                    created_at=MONDAY,
                    actor="identity:1",
                    action="status.lookup",
                    outcome=outcome,
                    subject_hash=subject,
                    detail=detail,
                )
            )
        session.add(
            AuditLog(
                created_at=MONDAY - timedelta(days=40),
                actor="identity:1",
                action="status.lookup",
                outcome="found",
                subject_hash="a" * 64,
            )
        )
    async with runtime.db.session() as session:
        everything = await monitoring.status_lookups(session, viewers["camat"], PERIOD)
        leksono = await monitoring.status_lookups(session, viewers["darmo"], PERIOD)
    assert everything.outcomes == {"found": 2, "not_found": 1, "refused": 2}
    assert everything.refusals == {"failures_per_hour": 1, "lookups_per_day": 0, "nik_per_day": 1}
    assert everything.total == 5 and not everything.scoped
    assert leksono.outcomes == {"found": 1, "not_found": 0, "refused": 1} and leksono.scoped


async def _training_data(runtime: Runtime) -> None:
    """Leksono: 10 seats, 5 confirmed (3 came, 1 did not, 1 unmarked), 1 waitlisted.
    Sukamaju: 4 seats, 2 confirmed. A Leksono session outside the period: 8 seats."""
    async with runtime.db.transaction() as session:
        training = Training(
            slug="menjahit",
            title="Menjahit Dasar",
            description="Belajar menjahit.",
            category="menjahit",
            organiser="Dinas Sosial",
            organiser_kind="dinas",
        )
        session.add(training)
        await session.flush()
        plan: list[tuple[str, datetime, int, list[bool | None], int]] = [
            (LEKSONO, MONDAY, 10, [True, True, True, False, None], 1),
            (SUKAMAJU, MONDAY + HOUR, 4, [None, None], 0),
            (LEKSONO, MONDAY + timedelta(days=60), 8, [None], 0),
        ]
        for number, (village, starts, seats, attended, waiting) in enumerate(plan):
            sitting = TrainingSession(
                training_id=training.id or 0,
                starts_at=starts,
                ends_at=starts + 4 * HOUR,
                place="Balai desa",
                village_code=village,
                seats=seats,
                registration_deadline=starts - timedelta(days=1),
            )
            session.add(sitting)
            await session.flush()
            statuses: list[tuple[str, bool | None]] = [("confirmed", came) for came in attended]
            statuses += [("waitlisted", None)] * waiting
            for index, (status, came) in enumerate(statuses):
                session.add(
                    TrainingRegistration(
                        code=f"T{number}R{index:04d}",
                        session_id=sitting.id or 0,
                        nik_hash=f"{number}-{index}",
                        nik_encrypted="x",
                        full_name=f"Warga {index}",
                        phone="0812",
                        status=status,
                        attended=came,
                    )
                )


async def test_training_rates_match_the_training_service(runtime: Runtime) -> None:
    viewers = await _setup(runtime)
    await _training_data(runtime)
    everything = Period(MONDAY - timedelta(days=365), MONDAY + timedelta(days=365), JAKARTA)
    async with runtime.db.session() as session:
        rates = await monitoring.training_rates(session, viewers["camat"], PERIOD)
        darmo = await monitoring.training_rates(session, viewers["darmo"], PERIOD)
        all_time = await monitoring.training_rates(session, viewers["camat"], everything)
        service = TrainingService(session, runtime.settings, runtime.catalogs, runtime.vault)
        reference = await service.figures(MONDAY)
    leksono = next(rate for rate in rates if rate.village_code == LEKSONO)
    assert (leksono.seats, leksono.confirmed, leksono.marked, leksono.came) == (10, 5, 4, 3)
    assert leksono.fill_rate == 0.5 and leksono.attendance_rate == 0.75
    assert leksono.village == "Leksono" and leksono.sessions == 1
    assert [rate.village_code for rate in darmo] == [LEKSONO]
    assert [(r["village"], r["seats"], r["confirmed"], r["fill_rate"], r["attendance_rate"],
             r["no_show_rate"]) for r in reference] == [
        (r.village_code, r.seats, r.confirmed, r.fill_rate, r.attendance_rate, r.no_show_rate)
        for r in all_time
    ]  # fmt: skip


async def test_message_delivery_per_channel(runtime: Runtime) -> None:
    viewers = await _setup(runtime)
    async with runtime.db.transaction() as session:
        resident = Resident(display_name="Ibu Sri")
        session.add(resident)
        await session.flush()
        identity = ChannelIdentity(
            channel="whatsapp", external_id="62812", resident_id=resident.id or 0
        )
        session.add(identity)
        await session.flush()
        for channel, status, at in (
            ("whatsapp", "read", MONDAY),
            ("whatsapp", "read", MONDAY),
            ("whatsapp", "failed", MONDAY),
            ("telegram", "sent", MONDAY),
            ("telegram", "sent", MONDAY - timedelta(days=40)),
        ):
            session.add(
                Outbox(
                    identity_id=identity.id or 0,
                    channel=channel,
                    locale="id",
                    message_key="report.push.status",
                    text="-",
                    status=status,
                    created_at=at,
                )
            )
    async with runtime.db.session() as session:
        found = await monitoring.message_delivery(session, viewers["pengamat"], PERIOD)
    assert [(d.channel, d.total) for d in found] == [("telegram", 1), ("whatsapp", 3)]
    assert found[1].counts["read"] == 2 and found[1].counts["failed"] == 1
    assert list(found[0].counts) == list(monitoring.DELIVERY_STATES)


async def _hotspot_data(runtime: Runtime) -> dict[str, Viewer]:
    viewers = await _setup(runtime)
    async with runtime.db.transaction() as session:
        session.add(Village(code=SIDOMULYO, name="Sidomulyo", kecamatan="Sukamaju"))
    who = await _resident(runtime)
    leksono = ["Agen Bu Tini", "Agen Bu Tini", "agen bu tini.", "AGEN BU TINNI", "E-Warong Maju"]
    for minutes, subject in enumerate(leksono):
        draft = _draft(subject=subject, description=f"Dipotong 50 ribu ({minutes})")
        await _file(runtime, draft, who, MONDAY + timedelta(minutes=minutes))
    await _file(runtime, _draft(village_code=SUKAMAJU, subject="Toko Sinar"), who)
    await _file(runtime, _draft(kind="barang", subject="Agen Bu Tini"), who)  # not potongan
    return viewers


async def test_clusters_flag_the_hotspot_and_not_the_quiet_village(runtime: Runtime) -> None:
    viewers = await _hotspot_data(runtime)
    async with runtime.db.session() as session:
        found = await monitoring.potongan_clusters(session, viewers["camat"], PERIOD)
    village, subject, day = found.dimensions
    assert found.total == 6
    assert village.median == 1.0  # Leksono 5, Sukamaju 1, Sidomulyo 0
    assert [(g.label, g.count, g.flagged) for g in village.groups] == [
        ("Leksono", 5, True),
        ("Sukamaju", 1, False),
    ]
    assert [(g.label, g.count, g.flagged) for g in subject.flagged] == [("Agen Bu Tini", 4, True)]
    assert len(subject.groups) == 3  # the Tini spellings, E-Warong Maju, Toko Sinar
    assert [(g.label, g.count) for g in day.flagged] == [("2026-11-23", 6)]
    assert day.median == 0.0
    codes = {ref.code for ref in village.groups[0].reports}
    assert len(codes) == 5 and all(len(code) == 8 for code in codes)


async def test_clusters_are_scoped_and_viewers_get_no_subject_text(runtime: Runtime) -> None:
    viewers = await _hotspot_data(runtime)
    async with runtime.db.session() as session:
        darmo = await monitoring.potongan_clusters(session, viewers["darmo"], PERIOD)
        viewer = await monitoring.potongan_clusters(session, viewers["pengamat"], PERIOD)
    assert darmo.total == 5
    village = darmo.dimensions[0]
    assert [g.key for g in village.groups] == [LEKSONO] and not village.flagged
    subjects = viewer.dimensions[1]
    assert [g.count for g in subjects.groups] == [4, 1, 1]
    assert all(g.label == "" for g in subjects.groups) and subjects.flagged


def test_subject_spellings_merge_and_empty_subjects_stay_out() -> None:
    groups = subject_groups(["Agen Bu Tini", "agen  bu tini!", "Bu Tini agen", "", "Toko Sinar"])
    assert groups[0] == groups[1] == groups[2] and groups[3] == -1
    assert groups[4] not in (groups[0], -1)


def test_the_flag_rule() -> None:
    assert flag_rule(3, 1.5) and flag_rule(5, 1.0) and flag_rule(3, 0.0)
    assert not flag_rule(2, 0.0)  # too few
    assert not flag_rule(4, 2.5)  # not twice the median


def test_periods_need_aware_ordered_datetimes() -> None:
    with pytest.raises(ValueError, match="aware"):
        Period(datetime(2026, 11, 1), datetime(2026, 11, 2))
    with pytest.raises(ValueError, match="end after"):
        Period(MONDAY, MONDAY)
    assert len(PERIOD.days()) == 15 and PERIOD.days()[0] == date(2026, 11, 16)
