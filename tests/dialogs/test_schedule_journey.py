"""'Jadwal penyaluran' as residents use it: the village named or known from the register,
RT-narrowed schedules, subscribing, STOP/BERHENTI and MULAI from anywhere (even before the
privacy notice), and the news offer after a status check."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlmodel import col, select

from bot.engine import Engine
from bot.runtime import Runtime
from bot.services.schedules import ScheduleInput, ScheduleService
from storage.models import ChannelIdentity, Subscription
from storage.types import utcnow
from tests.dialogs.test_status_journey import SITI_NIK, registry
from tests.helpers import Resident as Chat

__all__ = ["registry"]
LEKSONO, SUKAMAJU = "3307992006", "3307992001"


async def _schedules(runtime: Runtime) -> None:
    """Beside the fixture's PKH one (all of Leksono): BPNT for RT 3 only, BLT in Sukamaju."""
    start = utcnow() + timedelta(days=9)
    async with runtime.db.transaction() as session:
        service = ScheduleService(session)
        for programme, place, villages in (
            ("BPNT", "E-warong Bu Narti", {LEKSONO: "3"}),
            ("BLT", "Balai Desa Sukamaju", {SUKAMAJU: ""}),
        ):
            await service.save(
                ScheduleInput(
                    programme=programme,
                    phase="Tahap 4 2026",
                    starts_at=start,
                    ends_at=start + timedelta(hours=3),
                    place=place,
                    villages=villages,
                ),
                "officer:1",
                utcnow(),
            )


async def _subscriptions(runtime: Runtime, external_id: str) -> list[tuple[str, str]]:
    async with runtime.db.session() as session:
        statement = (
            select(Subscription.village_code, Subscription.programme)
            .join(ChannelIdentity, col(ChannelIdentity.id) == col(Subscription.identity_id))
            .where(ChannelIdentity.external_id == external_id)
            .order_by(col(Subscription.programme))
        )
        return [(v, p) for v, p in (await session.exec(statement)).all()]


async def _stopped(runtime: Runtime, external_id: str) -> bool:
    async with runtime.db.session() as session:
        identity = (
            await session.exec(
                select(ChannelIdentity).where(ChannelIdentity.external_id == external_id)
            )
        ).one()
        return identity.broadcasts_stopped_at is not None


async def test_a_named_village_shows_its_schedules_and_subscribes(
    engine: Engine, runtime: Runtime, registry: None
) -> None:
    await _schedules(runtime)
    chat = Chat(engine, "warga-jadwal")
    await chat.agree()
    await chat.tap("menu:schedule")
    assert "Desa atau kelurahan Anda apa?" in chat.text()
    assert "Leksono" in [c.label for c in chat.choices()]
    await chat.say("desa lekosno")  # a typo
    shown = chat.text()
    assert "Jadwal penyaluran untuk Leksono" in shown and "Kantor Pos Sukamaju" in shown
    assert "E-warong Bu Narti" in shown  # RT unknown: every schedule of the village
    assert "Khusus RT 003." in shown  # and the RT-only one says whom it serves
    assert shown.count("Khusus RT") == 1
    assert "Balai Desa Sukamaju" not in shown
    assert "Kembali ke menu" in [c.label for c in chat.choices()]
    await chat.tap_label("Ya, semua bantuan")
    assert "Ketik STOP" in chat.text()
    assert len(await _subscriptions(runtime, "warga-jadwal")) == 5
    await chat.tap("menu:schedule")  # known now: no question
    assert "sudah menerima kabar jadwal" in chat.text()
    await chat.tap_label("Desa lain")
    await chat.tap_label("Sukamaju")
    assert "Balai Desa Sukamaju" in chat.text() and "Kantor Pos" not in chat.text()


async def test_stop_and_mulai_from_any_step(
    engine: Engine, runtime: Runtime, registry: None
) -> None:
    await _schedules(runtime)
    chat = Chat(engine, "warga-stop")
    await chat.agree()
    await chat.tap("menu:schedule")
    await chat.say("Leksono")
    await chat.tap_label("Ya, semua bantuan")
    await chat.tap("menu:status")  # in the middle of another journey
    await chat.say("STOP")
    assert "tidak akan menerima kabar jadwal lagi" in chat.text()
    assert await _stopped(runtime, "warga-stop")
    assert len(await _subscriptions(runtime, "warga-stop")) == 5  # kept for MULAI
    await chat.say("berhenti")
    assert "tidak sedang menerima kabar" in chat.text()
    await chat.say("Mulai")
    assert "kabar jadwal penyaluran untuk Leksono akan kami kirim lagi" in chat.text()
    assert not await _stopped(runtime, "warga-stop")
    await chat.tap("menu:schedule")
    await chat.tap_label("Stop kabar jadwal")
    assert await _stopped(runtime, "warga-stop")
    await chat.tap("menu:schedule")
    assert "sedang dihentikan" in chat.text()
    await chat.tap_label("Terima kabar lagi")
    assert not await _stopped(runtime, "warga-stop")


async def test_stop_works_before_the_privacy_notice(engine: Engine, runtime: Runtime) -> None:
    chat = Chat(engine, "warga-baru")
    await chat.say("halo")  # the first message always gets the welcome and the notice
    await chat.say("STOP")
    assert "tidak sedang menerima kabar" in chat.text()
    await chat.say("MULAI")  # subscribing needs the notice first
    assert "Setuju" in [c.label for c in chat.choices()]


async def test_mulai_without_subscriptions_asks_the_village(engine: Engine, registry: None) -> None:
    chat = Chat(engine, "warga-mulai")
    await chat.agree()
    await chat.say("mulai")
    assert "Desa atau kelurahan Anda apa?" in chat.text()
    await chat.say("Desa Antah Berantah")
    assert "tidak kami kenali" in chat.text()
    await chat.say("daftar pelatihan")  # another journey is not a village
    assert "Desa atau kelurahan" not in chat.text()


async def test_a_verified_beneficiary_is_offered_the_news_after_the_status_check(
    engine: Engine, runtime: Runtime, registry: None, tmp_path: Path
) -> None:
    await _schedules(runtime)
    chat = Chat(engine, "bu-siti")
    await chat.agree()
    await chat.tap("menu:status")
    await chat.say(SITI_NIK)
    await chat.say("Siti Nur Aminah")
    await chat.tap_label("Ya, ingat NIK saya")
    labels = [c.label for c in chat.choices()]
    assert "Kabari jadwal" in labels
    await chat.tap_label("Kabari jadwal")
    shown = chat.text()
    # Siti lives in RT 1: the BPNT distribution for RT 3 is not hers.
    assert "Kantor Pos Sukamaju" in shown and "E-warong Bu Narti" not in shown
    await chat.tap_label("Ya, bantuan saya (PKH)")
    assert await _subscriptions(runtime, "bu-siti") == [(LEKSONO, "PKH")]
    await chat.tap("menu:schedule")  # from the remembered NIK, RT-aware
    assert "E-warong Bu Narti" not in chat.text()
    assert "sudah menerima kabar jadwal PKH untuk Leksono" in chat.text()


async def test_withdrawing_consent_ends_the_news_at_once(
    engine: Engine, runtime: Runtime, registry: None
) -> None:
    chat = Chat(engine, "warga-tarik")
    await chat.agree()
    await chat.tap("menu:schedule")
    await chat.say("Leksono")
    await chat.tap_label("Ya, semua bantuan")
    assert len(await _subscriptions(runtime, "warga-tarik")) == 5
    await chat.tap("menu:privacy")
    await chat.tap_label("Tarik persetujuan")
    await chat.tap_label("Ya, tarik")
    assert await _subscriptions(runtime, "warga-tarik") == []
    assert await _stopped(runtime, "warga-tarik")  # a broadcast already sending skips them
    await chat.tap("welcome:agree")
    await chat.say("MULAI")  # nothing kept to resume: the schedule journey asks again
    assert "Desa atau kelurahan Anda apa?" in chat.text()
