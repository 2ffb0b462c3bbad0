"""The report clocks `serve` runs: auto-close and the 14-day check-back."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, select

from bot.runtime import Runtime
from bot.services.reports import ReportDraft, ReportService, viewer_for
from bot.workers import report_clocks
from storage.models import ChannelIdentity, Officer, Outbox, Report, Resident, Village
from storage.types import utcnow


async def test_a_pass_closes_silent_reports_and_queues_check_backs(runtime: Runtime) -> None:
    long_ago = utcnow() - timedelta(days=40)
    async with runtime.db.transaction() as session:
        session.add(Village(code="3307992006", name="Leksono", kecamatan="Sukamaju"))
        resident = Resident(display_name="Sri")
        officer = Officer(username="camat", role="admin")
        session.add(resident)
        session.add(officer)
        await session.flush()
        identity = ChannelIdentity(
            channel="telegram", external_id="1", resident_id=resident.id or 0
        )
        session.add(identity)
        await session.flush()
        service = ReportService(session, runtime.settings, runtime.catalogs)
        admin = await viewer_for(session, officer.id or 0)
        draft = ReportDraft(
            kind="barang",
            description="Beras kurang dua kilogram dari yang seharusnya.",
            identity_mode="named",
            locale="id",
            village_code="3307992006",
        )
        report = await service.file(draft, resident.id, identity.id, long_ago)
        await service.change_status(admin, report, "diverifikasi", long_ago, "Kami cek.")
        await service.reply(admin, report, "Di e-warong mana?", long_ago)
    first = await report_clocks.run_once(runtime)
    assert first.closed == 1
    async with runtime.db.session() as session:
        closed = (await session.exec(select(Report))).one()
        assert closed.status == "selesai"
    async with runtime.db.transaction() as session:
        closed = (await session.exec(select(Report))).one()
        closed.check_back_at = utcnow() - timedelta(minutes=1)
        session.add(closed)
    second = await report_clocks.run_once(runtime)
    assert (second.closed, second.check_backs) == (0, 1)
    assert (await report_clocks.run_once(runtime)).check_backs == 0  # only once
    async with runtime.db.session() as session:
        statement = select(Outbox).order_by(col(Outbox.id))
        keys = [row.message_key for row in (await session.exec(statement)).all()]
    assert keys[-1] == "report.push.check_back"
    assert "report.push.rate" in keys
