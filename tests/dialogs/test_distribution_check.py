""" "Sudah terima?" after a distribution: the clock asks each subscriber once, a tap is
recorded (and may be changed), "dipotong" leads after a confirmation to a report with the
programme, village and date filled in, and the figures count it all."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, select

from bot.engine import Engine
from bot.runtime import Runtime
from bot.services.distribution_checks import DistributionCheck, check_figures
from bot.services.schedules import ScheduleInput, ScheduleService
from bot.services.subscriptions import SubscriptionService
from bot.workers.broadcasts import run_once
from storage.models import (
    Broadcast,
    ChannelIdentity,
    DistributionAnswer,
    Outbox,
    Report,
    Village,
)
from storage.types import utcnow
from tests.helpers import Resident as Chat

LEKSONO = "3307992006"


async def _closed_schedule(runtime: Runtime, hours_ago: float = 30) -> int:
    end = utcnow() - timedelta(hours=hours_ago)
    async with runtime.db.transaction() as session:
        session.add(Village(code=LEKSONO, name="Leksono", kecamatan="Sukamaju"))
        await session.flush()
        view = await ScheduleService(session).save(
            ScheduleInput(
                programme="BPNT",
                phase="Tahap 4 2026",
                starts_at=end - timedelta(hours=4),
                ends_at=end,
                place="E-warong Bu Narti",
                villages={LEKSONO: ""},
            ),
            "officer:1",
            utcnow(),
        )
        return view.id


async def _subscribed(engine: Engine, runtime: Runtime, name: str) -> Chat:
    chat = Chat(engine, name, channel="webchat")
    await chat.agree()
    async with runtime.db.transaction() as session:
        identity = (
            await session.exec(select(ChannelIdentity).where(ChannelIdentity.external_id == name))
        ).one()
        await SubscriptionService(session).subscribe(identity.id or 0, LEKSONO, ["BPNT"], utcnow())
    return chat


async def test_subscribers_are_asked_once_and_a_cut_becomes_a_prefilled_report(
    engine: Engine, runtime: Runtime
) -> None:
    schedule_id = await _closed_schedule(runtime)
    siti = await _subscribed(engine, runtime, "web-siti")
    budi = await _subscribed(engine, runtime, "web-budi")
    first = await run_once(runtime)
    again = await run_once(runtime)
    assert (first.started, again.started) == (1, 0)
    async with runtime.db.session() as session:
        [check] = (await session.exec(select(Broadcast))).all()
        rows = (await session.exec(select(Outbox).where(Outbox.broadcast_id == check.id))).all()
    assert check.kind == "check" and check.recipients == 2
    assert "Apakah bantuan Anda sudah diterima?" in rows[0].text
    assert "E-warong Bu Narti" in rows[0].text
    assert [c[0] for c in rows[0].choices] == [
        f"got:{schedule_id}:complete",
        f"got:{schedule_id}:deducted",
        f"got:{schedule_id}:not_received",
        f"got:{schedule_id}:did_not_know",
    ]

    await siti.tap(f"got:{schedule_id}:deducted")
    assert "Bantuan tidak boleh dipotong" in siti.text()
    await siti.tap_label("Ya, buat laporan")
    assert "identitas" in siti.text().lower()
    await siti.tap("report:identity:confidential")
    # Programme, village and date are filled in: who asked for it, then the story.
    assert siti.text().startswith("Siapa yang meminta potongan?")
    await siti.say("Ketua kelompok Mawar")
    assert siti.text().startswith("Ceritakan apa yang terjadi")
    await siti.say("Ketua kelompok memotong Rp50.000 dari setiap penerima di e-warong.")
    await siti.tap("report:evidence_next")
    summary = siti.text()
    assert "Leksono" in summary and "BPNT" in summary
    await siti.tap("report:submit")
    assert "kode" in siti.text().lower()

    await budi.tap(f"got:{schedule_id}:did_not_know")
    assert "Jadwal berikutnya akan kami kirim" in budi.text()
    await budi.tap(f"got:{schedule_id}:complete")  # changed their mind: one answer kept
    assert "sudah diterima utuh" in budi.text()

    async with runtime.db.session() as session:
        report = (await session.exec(select(Report))).one()
        answers = (
            await session.exec(select(DistributionAnswer).order_by(col(DistributionAnswer.id)))
        ).all()
        figures = await check_figures(session, [schedule_id])
    assert (report.kind, report.programme, report.village_code) == ("potongan", "BPNT", LEKSONO)
    assert report.subject == "Ketua kelompok Mawar"
    assert [(a.answer, a.report_id) for a in answers] == [
        ("deducted", report.id),
        ("complete", None),
    ]
    [shown] = figures
    assert shown.asked == 2 and shown.answered == 2 and shown.reports == 1
    assert shown.answers == {"complete": 1, "deducted": 1, "not_received": 0, "did_not_know": 0}


async def test_declining_the_report_still_records_the_answer(
    engine: Engine, runtime: Runtime
) -> None:
    schedule_id = await _closed_schedule(runtime)
    chat = await _subscribed(engine, runtime, "web-ani")
    await run_once(runtime)
    await chat.tap(f"got:{schedule_id}:not_received")
    assert "laporan bantuan belum diterima" in chat.text()
    await chat.tap_label("Tidak usah")
    assert "jawaban Anda tetap kami catat" in chat.text()
    await chat.tap("got:999999:complete")  # an unknown schedule
    assert "Tombol itu sudah tidak berlaku" in chat.text()
    async with runtime.db.session() as session:
        answers = (await session.exec(select(DistributionAnswer))).all()
        reports = (await session.exec(select(Report))).all()
    assert [a.answer for a in answers] == ["not_received"] and reports == []


async def test_no_question_too_early_or_too_late(runtime: Runtime) -> None:
    await _closed_schedule(runtime, hours_ago=10)  # closed today: not yet
    assert (await run_once(runtime)).started == 0
    async with runtime.db.transaction() as session:
        later = utcnow() + timedelta(days=3)  # three days on: too late to ask
        made = await DistributionCheck(session, runtime.settings, runtime.catalogs).create_due(
            later
        )
    assert made == []


async def test_a_chat_that_was_never_asked_cannot_answer(engine: Engine, runtime: Runtime) -> None:
    """A forged "got:" button must not move the monitoring figures."""
    schedule_id = await _closed_schedule(runtime)
    await _subscribed(engine, runtime, "web-asked")
    await run_once(runtime)
    stranger = Chat(engine, "web-stranger", channel="webchat")
    await stranger.agree()
    for answer in ("deducted", "not_received"):
        await stranger.tap(f"got:{schedule_id}:{answer}")
        assert "Tombol itu sudah tidak berlaku" in stranger.text()
    async with runtime.db.session() as session:
        assert (await session.exec(select(DistributionAnswer))).all() == []


async def test_an_anonymous_report_from_the_check_is_not_linked_to_the_chat(
    engine: Engine, runtime: Runtime
) -> None:
    schedule_id = await _closed_schedule(runtime)
    chat = await _subscribed(engine, runtime, "web-anon")
    await run_once(runtime)
    await chat.tap(f"got:{schedule_id}:deducted")
    await chat.tap_label("Ya, buat laporan")
    await chat.tap("report:identity:anonymous")
    await chat.tap("report:subject:unknown")
    await chat.say("Ketua kelompok memotong Rp50.000 dari setiap penerima di e-warong.")
    await chat.tap("report:evidence_next")
    await chat.tap("report:submit")
    async with runtime.db.session() as session:
        report = (await session.exec(select(Report))).one()
        answer = (await session.exec(select(DistributionAnswer))).one()
    assert report.identity_mode == "anonymous" and report.resident_id is None
    assert answer.report_id is None  # nothing ties the anonymous report to this chat
