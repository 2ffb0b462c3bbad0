"""The report services officers will use, tested without any web code."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, func, select

from bot.runtime import Runtime
from bot.services.reports import (
    InvalidTransition,
    NotAllowed,
    ReasonRequired,
    ReportDraft,
    ReportFilter,
    ReportNotFound,
    ReportService,
    Viewer,
    is_overdue,
    viewer_for,
)
from bot.services.tickets import ALPHABET, display_code, find_code, new_code, read_code
from bot.services.working_days import WorkingCalendar
from storage.models import (
    AuditLog,
    ChannelIdentity,
    Officer,
    OfficerVillage,
    Outbox,
    Report,
    ReportEvent,
    Resident,
    Village,
)

LEKSONO, SUKAMAJU = "3307992006", "3307992001"
MONDAY = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 09:00 in Jakarta


async def _setup(runtime: Runtime) -> dict[str, Viewer]:
    """Villages, one admin, two village officers (one named Pak Darmo), one viewer."""
    async with runtime.db.transaction() as session:
        session.add(Village(code=LEKSONO, name="Leksono", kecamatan="Sukamaju"))
        session.add(Village(code=SUKAMAJU, name="Sukamaju", kecamatan="Sukamaju"))
        await session.flush()
        people = [
            Officer(username="camat", display_name="Ibu Camat", role="admin"),
            Officer(username="darmo", display_name="Darmo Susilo", role="officer"),
            Officer(username="wati", display_name="Wati", role="officer"),
            Officer(username="pengamat", display_name="Pengamat", role="viewer"),
        ]
        for officer in people:
            session.add(officer)
        await session.flush()
        session.add(OfficerVillage(officer_id=people[1].id or 0, village_code=LEKSONO))
        session.add(OfficerVillage(officer_id=people[2].id or 0, village_code=SUKAMAJU))
    viewers = {}
    async with runtime.db.session() as session:
        for officer in people:
            viewers[officer.username] = await viewer_for(session, officer.id or 0)
    return viewers


async def _resident(runtime: Runtime, name: str = "Ibu Sri") -> tuple[int, int]:
    async with runtime.db.transaction() as session:
        resident = Resident(display_name=name, locale="id")
        session.add(resident)
        await session.flush()
        identity = ChannelIdentity(
            channel="telegram", external_id=name, resident_id=resident.id or 0, phone="0812"
        )
        session.add(identity)
        await session.flush()
        return resident.id or 0, identity.id or 0


def _draft(**changes: object) -> ReportDraft:
    values: dict[str, object] = {
        "kind": "potongan",
        "description": "Ketua kelompok memotong 50 ribu dari setiap penerima saat pencairan.",
        "identity_mode": "named",
        "locale": "id",
        "programme": "PKH",
        "village_code": LEKSONO,
    }
    values.update(changes)
    return ReportDraft(**values)  # type: ignore[arg-type]


async def _file(
    runtime: Runtime, draft: ReportDraft, who: tuple[int, int] | None, now: datetime = MONDAY
) -> Report:
    async with runtime.db.transaction() as session:
        service = ReportService(session, runtime.settings, runtime.catalogs)
        resident_id, identity_id = who if who else (None, None)
        return await service.file(draft, resident_id, identity_id, now)


def _service(runtime: Runtime, session: object) -> ReportService:
    return ReportService(session, runtime.settings, runtime.catalogs)  # type: ignore[arg-type]


# -- ticket codes ------------------------------------------------------------------------------


def test_codes_are_crockford_and_read_back_forgivingly() -> None:
    codes = {new_code() for _ in range(5000)}
    assert len(codes) == 5000
    assert all(len(code) == 8 and set(code) <= set(ALPHABET) for code in codes)
    code = "K7QM2XHD"
    assert display_code(code) == "K7QM-2XHD"
    assert read_code("k7qm-2xhd") == code
    assert read_code(" K7QM 2XHD ") == code
    assert read_code("0O1IL") is None
    assert read_code("K7QM-2XHU") is None  # U is not in the alphabet
    assert read_code("KOQM-IXHD") == "K0QM1XHD"  # O→0, I→1
    assert find_code("tolong cek laporan K7QM-2XHD ya") == code
    assert find_code("cek laporan saya") is None


async def test_random_probing_finds_no_report(runtime: Runtime) -> None:
    await _setup(runtime)
    who = await _resident(runtime)
    for _ in range(50):
        await _file(
            runtime, _draft(description=f"Laporan {new_code()} tentang potongan bantuan"), who
        )
    async with runtime.db.session() as session:
        service = _service(runtime, session)
        hits = [code for code in (new_code() for _ in range(2000)) if await service.by_code(code)]
    assert hits == []


# -- filing, identity modes, visibility ---------------------------------------------------------


async def test_anonymous_report_stores_no_link_to_the_resident(runtime: Runtime) -> None:
    viewers = await _setup(runtime)
    who = await _resident(runtime)
    report = await _file(runtime, _draft(identity_mode="anonymous"), who)
    assert report.resident_id is None and report.identity_id is None
    async with runtime.db.transaction() as session:
        service = _service(runtime, session)
        loaded = await service.get(viewers["camat"], report.id or 0, MONDAY)
        assert await service.reporter(viewers["camat"], loaded, MONDAY) == {"mode": "anonymous"}
        await service.change_status(viewers["camat"], loaded, "diverifikasi", MONDAY, "Dicek.")
    async with runtime.db.session() as session:
        assert (await session.exec(select(func.count()).select_from(Outbox))).one() == 0


async def test_confidential_identity_is_for_admins_only(runtime: Runtime) -> None:
    viewers = await _setup(runtime)
    who = await _resident(runtime)
    report = await _file(runtime, _draft(identity_mode="confidential"), who)
    async with runtime.db.transaction() as session:
        service = _service(runtime, session)
        as_officer = await service.get(viewers["darmo"], report.id or 0, MONDAY)
        assert await service.reporter(viewers["darmo"], as_officer, MONDAY) == {
            "mode": "confidential"
        }
        shown = await service.reporter(viewers["camat"], as_officer, MONDAY)
        assert shown["name"] == "Ibu Sri" and shown["channel"] == "telegram"
    named = await _file(runtime, _draft(description="Bantuan sembako kurang 2 kg beras."), who)
    async with runtime.db.transaction() as session:
        service = _service(runtime, session)
        loaded = await service.get(viewers["darmo"], named.id or 0, MONDAY)
        assert (await service.reporter(viewers["darmo"], loaded, MONDAY))["name"] == "Ibu Sri"
        viewer_sees = await service.reporter(viewers["pengamat"], loaded, MONDAY)
        assert viewer_sees == {"mode": "named"}
    async with runtime.db.session() as session:
        audited = (
            await session.exec(
                select(AuditLog)
                .where(AuditLog.action == "report.identity")
                .order_by(col(AuditLog.id))
            )
        ).all()
    assert [row.outcome for row in audited] == ["hidden", "shown", "shown", "hidden"]


async def test_officers_see_only_their_villages_and_probing_is_audited(
    runtime: Runtime,
) -> None:
    viewers = await _setup(runtime)
    who = await _resident(runtime)
    in_leksono = await _file(runtime, _draft(), who)
    in_sukamaju = await _file(runtime, _draft(village_code=SUKAMAJU), who)
    async with runtime.db.transaction() as session:
        service = _service(runtime, session)
        seen = await service.search(viewers["darmo"], ReportFilter(), MONDAY)
        assert [r.id for r in seen] == [in_leksono.id]
        with pytest.raises(ReportNotFound):
            await service.get(viewers["darmo"], in_sukamaju.id or 0, MONDAY)
        everything = await service.search(viewers["camat"], ReportFilter(), MONDAY)
        assert {r.id for r in everything} == {in_leksono.id, in_sukamaju.id}
    async with runtime.db.session() as session:
        denied = (await session.exec(select(AuditLog).where(AuditLog.outcome == "denied"))).one()
    assert denied.actor == viewers["darmo"].actor


async def test_misconduct_naming_an_officer_goes_to_admins_only(runtime: Runtime) -> None:
    viewers = await _setup(runtime)
    who = await _resident(runtime)
    report = await _file(
        runtime,
        _draft(kind="oknum", subject="Pak Darmo Susilo, petugas desa", programme="BPNT"),
        who,
    )
    assert report.accused_officer_id == viewers["darmo"].officer_id
    async with runtime.db.transaction() as session:
        service = _service(runtime, session)
        for name in ("darmo", "pengamat"):
            assert await service.search(viewers[name], ReportFilter(), MONDAY) == []
            with pytest.raises(ReportNotFound):
                await service.get(viewers[name], report.id or 0, MONDAY)
        loaded = await service.get(viewers["camat"], report.id or 0, MONDAY)
        with pytest.raises(NotAllowed):
            await service.assign(viewers["camat"], loaded, viewers["darmo"].officer_id, MONDAY)
        await service.assign(viewers["camat"], loaded, viewers["camat"].officer_id, MONDAY)
    plain = await _file(runtime, _draft(kind="oknum", subject="agen e-warong di pasar"), who)
    assert plain.accused_officer_id is None


async def test_duplicate_is_found_for_the_same_resident_type_village_and_day(
    runtime: Runtime,
) -> None:
    await _setup(runtime)
    who = await _resident(runtime)
    first = await _file(runtime, _draft(), who)
    text = "Ketua kelompok memotong 50 ribu dari setiap penerima saat pencairan!"
    async with runtime.db.session() as session:
        service = _service(runtime, session)
        same = await service.find_duplicate(who[0], "potongan", LEKSONO, text, MONDAY)
        assert same is not None and same.id == first.id
        assert await service.find_duplicate(who[0], "barang", LEKSONO, text, MONDAY) is None
        assert await service.find_duplicate(who[0], "potongan", SUKAMAJU, text, MONDAY) is None
        other = "Beras yang dibagikan sudah berkutu dan jumlahnya kurang dari 10 kg."
        assert await service.find_duplicate(who[0], "potongan", LEKSONO, other, MONDAY) is None
        later = MONDAY + timedelta(hours=25)
        assert await service.find_duplicate(who[0], "potongan", LEKSONO, text, later) is None


# -- lifecycle, notifications, SLA --------------------------------------------------------------


async def test_status_lifecycle_queues_notifications_and_keeps_notes_internal(
    runtime: Runtime,
) -> None:
    viewers = await _setup(runtime)
    who = await _resident(runtime)
    report = await _file(runtime, _draft(), who)
    admin = viewers["camat"]
    async with runtime.db.transaction() as session:
        service = _service(runtime, session)
        loaded = await service.get(admin, report.id or 0, MONDAY)
        with pytest.raises(InvalidTransition):
            await service.change_status(admin, loaded, "selesai", MONDAY)
        with pytest.raises(ReasonRequired):
            await service.change_status(admin, loaded, "ditolak", MONDAY, "  ")
        await service.change_status(admin, loaded, "diverifikasi", MONDAY, "Laporan kami cek.")
        await service.add_note(admin, loaded, "Ketua kelompok: Pak X (rahasia)", MONDAY)
        await service.reply(admin, loaded, "Mohon kirim foto kuitansi bila ada.", MONDAY)
        await service.change_status(admin, loaded, "ditindaklanjuti", MONDAY)
        await service.change_status(admin, loaded, "selesai", MONDAY, "Uang dikembalikan.")
        with pytest.raises(NotAllowed):
            await service.add_note(viewers["pengamat"], loaded, "x", MONDAY)
    async with runtime.db.session() as session:
        service = _service(runtime, session)
        outbox = (await session.exec(select(Outbox).order_by(col(Outbox.id)))).all()
        view = await service.public_view(await service.get(admin, report.id or 0, MONDAY))
    keys = [row.message_key for row in outbox]
    assert keys == [
        "report.push.status",
        "report.push.reply",
        "report.push.status",
        "report.push.status",
        "report.push.rate",
    ]
    assert all(row.identity_id == who[1] and row.channel == "telegram" for row in outbox)
    assert "sudah diperiksa" in outbox[0].text and "Laporan kami cek." in outbox[0].text
    assert len(outbox[4].choices) == 5
    public = " ".join(event.message for event in view.events)
    assert "Uang dikembalikan." in public and "Pak X" not in public


async def test_working_day_sla_skips_weekends_and_holidays() -> None:
    calendar = WorkingCalendar(ZoneInfo("Asia/Jakarta"), [date(2026, 12, 24)])
    wednesday = datetime(2026, 12, 23, 3, 0, tzinfo=UTC)  # 10:00 WIB
    # Thu 24 (extra day off), Fri 25 (Christmas), weekend: Mon 28, Tue 29, Wed 30.
    due = calendar.add(wednesday, 3)
    assert due.astimezone(ZoneInfo("Asia/Jakarta")).date() == date(2026, 12, 30)
    assert due.astimezone(ZoneInfo("Asia/Jakarta")).hour == 10
    assert calendar.between(wednesday, due) == 3
    independence = datetime(2026, 8, 14, 3, 0, tzinfo=UTC)  # Fri; Mon 17 Aug is a holiday
    assert calendar.add(independence, 1).date() == date(2026, 8, 18)


async def test_overdue_reports_are_flagged_and_sorted_first(runtime: Runtime) -> None:
    viewers = await _setup(runtime)
    who = await _resident(runtime)
    old = await _file(
        runtime, _draft(description="Laporan lama tentang potongan bantuan PKH."), who
    )
    new = await _file(
        runtime,
        _draft(description="Laporan baru tentang potongan bantuan BPNT."),
        who,
        MONDAY + timedelta(days=2),
    )
    later = MONDAY + timedelta(days=5)  # Saturday: 3 working days after Monday have passed
    assert is_overdue(old, later) and not is_overdue(new, later)
    async with runtime.db.session() as session:
        service = _service(runtime, session)
        overdue = await service.search(viewers["camat"], ReportFilter(overdue=True), later)
        ordered = await service.search(viewers["camat"], ReportFilter(), later)
        counts = await service.counts_by_status(viewers["camat"])
    assert [r.id for r in overdue] == [old.id]
    assert [r.id for r in ordered] == [old.id, new.id]
    assert counts == {"baru": 2}


async def test_unanswered_reports_close_and_check_backs_reopen(runtime: Runtime) -> None:
    viewers = await _setup(runtime)
    who = await _resident(runtime)
    report = await _file(runtime, _draft(), who)
    admin = viewers["camat"]
    async with runtime.db.transaction() as session:
        service = _service(runtime, session)
        loaded = await service.get(admin, report.id or 0, MONDAY)
        await service.change_status(admin, loaded, "diverifikasi", MONDAY, "Sudah dicek.")
        await service.reply(admin, loaded, "Kapan kejadiannya?", MONDAY)
    async with runtime.db.transaction() as session:
        service = _service(runtime, session)
        assert await service.close_unanswered(MONDAY + timedelta(days=10)) == 0
        assert await service.close_unanswered(MONDAY + timedelta(days=15)) == 1
    async with runtime.db.transaction() as session:
        service = _service(runtime, session)
        loaded = await service.get(admin, report.id or 0, MONDAY)
        assert loaded.status == "selesai"
        assert await service.send_check_backs(MONDAY + timedelta(days=20)) == 0
        assert await service.send_check_backs(MONDAY + timedelta(days=30)) == 1
        await service.check_back_answer(loaded, False, "Diancam ketua kelompok", MONDAY)
        assert loaded.status == "ditindaklanjuti"


async def test_merge_and_export(runtime: Runtime) -> None:
    viewers = await _setup(runtime)
    first = await _file(runtime, _draft(), await _resident(runtime, "A"))
    second = await _file(runtime, _draft(), await _resident(runtime, "B"))
    admin = viewers["camat"]
    async with runtime.db.transaction() as session:
        service = _service(runtime, session)
        a = await service.get(admin, first.id or 0, MONDAY)
        b = await service.get(admin, second.id or 0, MONDAY)
        await service.merge(admin, b, a, MONDAY)
        exported = await service.export_csv(admin, ReportFilter(), MONDAY)
        for_viewer = await service.export_csv(viewers["pengamat"], ReportFilter(), MONDAY)
    rows = list(csv.reader(io.StringIO(exported)))
    assert rows[0][0] == "kode" and len(rows) == 2  # the merged one is no longer listed
    assert rows[1][0] == display_code(first.code)
    assert "Ketua kelompok" in rows[1][-1]
    assert list(csv.reader(io.StringIO(for_viewer)))[1][-1] == ""  # no personal data
    async with runtime.db.session() as session:
        merged = await session.get(Report, second.id)
        assert merged is not None and merged.status == "selesai"
        assert merged.merged_into_id == first.id
        events = (
            await session.exec(select(ReportEvent).where(ReportEvent.report_id == second.id))
        ).all()
    assert any(display_code(first.code) in e.public_message for e in events)


async def test_a_thousand_reports_filed_at_once_get_a_thousand_codes(runtime: Runtime) -> None:
    await _setup(runtime)

    async def one(n: int) -> str:
        return (
            await _file(runtime, _draft(description=f"Laporan nomor {n} soal potongan."), None)
        ).code

    codes = await asyncio.gather(*(one(n) for n in range(1000)))
    assert len(set(codes)) == 1000
    async with runtime.db.session() as session:
        assert (await session.exec(select(func.count()).select_from(Report))).one() == 1000
