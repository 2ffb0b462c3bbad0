"""'Cek status bansos' as residents use it: through the engine and the console channel."""

from __future__ import annotations

import io
import logging
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import SQLModel, col, select

from bot.engine import Engine
from bot.handlers.console import ConsoleChannel
from bot.messages import Incoming, Media
from bot.runtime import Runtime, build_runtime
from bot.services.demo import SHOWCASE, seed_demo
from bot.services.registry_import import RegistryImport
from storage.models import (
    AuditLog,
    Conversation,
    DistributionSchedule,
    Enrolment,
    MessageLog,
    Resident,
    ScheduleVillage,
)
from storage.types import utcnow
from tests.helpers import Resident as Chat

SITI_NIK = "3307994505800001"
BUDI_NIK = "3307991203750002"
ANI_NIK = "3307995111900003"
UNKNOWN_NIK = "3307996607880009"
REGISTER = (
    "nik,no_kk,nama,tanggal_lahir,jenis_kelamin,alamat,rt,rw,kode_desa,nama_desa,program,"
    "status,periode\n"
    f"{SITI_NIK},3307990101200001,SITI NUR AMINAH,1980-05-05,P,Krajan,1,2,3307992006,Leksono,"
    "PKH,aktif,Tahap 4 2026\n"
    f"{SITI_NIK},3307990101200001,SITI NUR AMINAH,1980-05-05,P,Krajan,1,2,3307992006,Leksono,"
    "BPNT,verifikasi,Tahap 4 2026\n"
    f"{BUDI_NIK},3307990101200001,BUDI SANTOSO,1975-03-12,L,Krajan,1,2,3307992006,Leksono,"
    "PBI-JK,aktif,2026\n"
    f"{ANI_NIK},3307990202200002,ANI LESTARI,1990-11-11,P,Kauman,3,1,3307992001,Sukamaju,"
    "BLT,nonaktif,Tahap 3 2026\n"
)


@pytest.fixture
async def registry(runtime: Runtime, tmp_path: Path) -> None:
    path = tmp_path / "dtsen.csv"
    path.write_text(REGISTER, encoding="utf-8")
    report = await RegistryImport(runtime.db, runtime.vault, runtime.settings).run(path)
    assert report.rows_failed == 0
    start = utcnow() + timedelta(days=5)
    async with runtime.db.transaction() as session:
        schedule = DistributionSchedule(
            slug="pkh-t4",
            programme="PKH",
            phase="Tahap 4 2026",
            starts_at=start,
            ends_at=start + timedelta(hours=4),
            place="Kantor Pos Sukamaju",
            bring="KTP, KK, kartu KKS",
        )
        session.add(schedule)
        await session.flush()
        assert schedule.id is not None
        session.add(ScheduleVillage(schedule_id=schedule.id, village_code="3307992006"))


async def _open_status(chat: Chat) -> None:
    await chat.agree()
    await chat.tap("menu:status")


async def _audit(runtime: Runtime) -> list[AuditLog]:
    """What residents' actions left in the audit log (the fixture's import row aside)."""
    async with runtime.db.session() as session:
        statement = select(AuditLog).where(AuditLog.actor != "cli").order_by(col(AuditLog.id))
        return list((await session.exec(statement)).all())


async def test_match_shows_masked_name_programmes_and_next_distribution(
    engine: Engine, registry: None
) -> None:
    chat = Chat(engine)
    await _open_status(chat)
    assert "16 angka NIK" in chat.text() and "foto KTP" in chat.text()
    await chat.say("3307 9945 0580 0001")
    assert "3307********0001" in chat.text()
    assert "nama lengkap" in chat.text()
    await chat.say("siti aminah")  # no middle name, lower case
    text = chat.text()
    assert "SIT* N** AMI***" in text
    assert "Desa Leksono" in text
    assert "PKH (Program Keluarga Harapan): aktif — bantuan diberikan (Tahap 4 2026)" in text
    assert "BPNT/Sembako: verifikasi — data sedang diperiksa" in text
    assert "Kantor Pos Sukamaju" in text and "Bawa: KTP, KK, kartu KKS" in text
    assert SITI_NIK not in text and "SITI NUR AMINAH" not in text
    assert [c.label for c in chat.choices()] == [
        "Ya, ingat NIK saya",
        "Tidak usah",
        "Kembali ke menu",
    ]


async def test_typo_in_name_still_matches_and_receiving_nothing_is_explained(
    engine: Engine, registry: None
) -> None:
    chat = Chat(engine)
    await _open_status(chat)
    await chat.say(ANI_NIK)
    await chat.say("Ani Lestar")
    assert "BLT: nonaktif" in chat.text()
    assert "tidak ada bantuan yang sedang diberikan" in chat.text()


async def test_unknown_nik_and_wrong_name_get_the_same_answer(
    engine: Engine, registry: None
) -> None:
    answers = []
    for sender, nik, name in [
        ("a", UNKNOWN_NIK, "Siti Aminah"),
        ("b", SITI_NIK, "Dewi Sartika"),
    ]:
        chat = Chat(engine, sender)
        await _open_status(chat)
        await chat.say(nik)
        ask_name = chat.text().replace(nik[:4] + "********" + nik[-4:], "<nik>")
        await chat.say(name)
        answers.append((ask_name, chat.text(), [c.id for c in chat.choices()]))
    assert answers[0] == answers[1]
    assert "tidak ditemukan" in answers[0][1] and "DTSEN" in answers[0][1]
    outcomes = [(row.outcome, row.detail.get("reason")) for row in await _audit(engine.runtime)]
    assert outcomes == [("not_found", "unknown_nik"), ("not_found", "name_mismatch")]


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("330799450580001", "NIK harus 16 angka, Anda mengirim 15"),
        ("33079945058000012", "NIK harus 16 angka, Anda mengirim 17"),
        ("3307993213800001", "bukan tanggal yang benar"),
        ("9907994505800001", "kode provinsi dan kabupaten/kota"),
        ("saya lupa", "belum menemukan angka NIK"),
    ],
)
async def test_bad_niks_get_a_specific_kind_answer_and_can_retry(
    engine: Engine, registry: None, typed: str, expected: str
) -> None:
    chat = Chat(engine)
    await _open_status(chat)
    await chat.say(typed)
    assert expected in chat.text()
    assert "Kembali ke menu" in [c.label for c in chat.choices()]
    await chat.say(SITI_NIK)
    assert "nama lengkap" in chat.text()
    assert await _audit(engine.runtime) == []  # a typo is not a look-up


async def test_a_photo_of_the_ktp_is_refused_with_the_reason(
    engine: Engine, registry: None
) -> None:
    chat = Chat(engine)
    await _open_status(chat)
    photo = Media(kind="photo", ref="file-1", mime_type="image/jpeg", size=120_000)
    await chat.send(Incoming("console", chat.sender, media=photo))
    assert "jangan kirim foto KTP" in chat.text()
    assert "disalahgunakan" in chat.text()


async def test_failed_lookups_hit_the_hourly_limit_with_a_time_to_retry(
    engine: Engine, registry: None
) -> None:
    chat = Chat(engine)
    await _open_status(chat)
    for attempt in range(5):
        await chat.say(UNKNOWN_NIK)
        await chat.say(f"Nama Salah {'I' * (attempt + 1)}")
        assert "tidak ditemukan" in chat.text()
        await chat.tap("status:retry")
    await chat.say(SITI_NIK)
    text = chat.text()
    assert "dibatasi 5 kali per jam" in text
    assert "coba lagi setelah" in text and "pukul" in text
    assert "Apa yang bisa kami bantu" in text  # back at the menu
    # Even the right name cannot get through while the limit holds.
    await chat.tap("menu:status")
    await chat.say(SITI_NIK)
    assert "dibatasi 5 kali per jam" in chat.text()
    refused = [row for row in await _audit(engine.runtime) if row.outcome == "refused"]
    assert [row.detail["limit"] for row in refused] == ["failures_per_hour"] * 2


async def test_limits_expire_and_count_per_identity(engine: Engine, registry: None) -> None:
    runtime = engine.runtime
    chat = Chat(engine)
    await _open_status(chat)
    for attempt in range(5):
        await chat.say(UNKNOWN_NIK)
        await chat.say(f"Nama Salah {'I' * (attempt + 1)}")
        await chat.tap("status:retry")
    other = Chat(engine, "tetangga")
    await _open_status(other)
    await other.say(SITI_NIK)
    assert "nama lengkap" in other.text()  # another identity is not limited
    async with runtime.db.transaction() as session:
        for row in (await session.exec(select(AuditLog))).all():
            row.created_at -= timedelta(minutes=61)
            session.add(row)
    await chat.say(SITI_NIK)
    await chat.say("Siti Aminah")
    assert "SIT* N** AMI***" in chat.text()


async def test_daily_limit_counts_successful_lookups_too(runtime: Runtime, registry: None) -> None:
    settings = runtime.settings.model_copy(update={"status_lookups_per_day": 3})
    chat = Chat(Engine(build_runtime(settings, runtime.db)))
    await _open_status(chat)
    for _ in range(3):
        await chat.say(BUDI_NIK)
        await chat.say("Budi Santoso")
        assert "BUD* SAN****" in chat.text()
        await chat.tap("status:save_no")
        await chat.tap("status:other_nik")
    await chat.say(BUDI_NIK)
    assert "dibatasi 3 kali per hari" in chat.text()


async def test_a_nik_asked_from_many_identities_is_locked_and_flagged(
    engine: Engine, registry: None
) -> None:
    for n in range(3):
        chat = Chat(engine, f"akun-{n}")
        await _open_status(chat)
        await chat.say(SITI_NIK)
        await chat.say("Siapa Saja")
    fourth = Chat(engine, "akun-3")
    await _open_status(fourth)
    await fourth.say(SITI_NIK)
    assert "sudah dicek dari beberapa nomor lain" in fourth.text()
    fifth = Chat(engine, "akun-4")
    await _open_status(fifth)
    await fifth.say(SITI_NIK)
    assert "sudah dicek dari beberapa nomor lain" in fifth.text()
    flags = [row for row in await _audit(engine.runtime) if row.action == "status.harvest_flag"]
    assert len(flags) == 1  # flagged once a day, not once per attempt
    assert flags[0].subject_hash == engine.runtime.vault.lookup_hash(SITI_NIK)
    # Another NIK from the same accounts is fine.
    await fourth.tap("menu:status")
    await fourth.say(BUDI_NIK)
    assert "nama lengkap" in fourth.text()


async def test_remembered_nik_is_offered_next_time_and_can_be_deleted(
    engine: Engine, registry: None
) -> None:
    chat = Chat(engine)
    await _open_status(chat)
    await chat.say(SITI_NIK)
    await chat.say("Siti Nur Aminah")
    await chat.tap("status:save_yes")
    assert "NIK Anda kami ingat" in chat.text()
    await chat.tap("nav:menu")
    await chat.tap("menu:status")
    assert "3307********0001" in chat.text()
    await chat.tap("status:use_saved")
    assert "SIT* N** AMI***" in chat.text()
    assert "Ada lagi yang ingin dicek?" in chat.text()  # no second offer to save

    await chat.say("hapus data saya")
    assert "Hapus NIK tersimpan" in [c.label for c in chat.choices()]
    await chat.tap("privacy:forget_nik")
    assert "sudah dihapus" in chat.text()
    async with engine.runtime.db.session() as session:
        resident = (await session.exec(select(Resident))).one()
        assert resident.saved_nik_hash is None and resident.saved_nik_encrypted is None
    await chat.tap("nav:menu")
    await chat.tap("menu:status")
    assert "ketik 16 angka NIK" in chat.text()
    actions = [row.action for row in await _audit(engine.runtime)]
    assert "resident.nik_saved" in actions and "resident.nik_forgotten" in actions


async def test_withdrawing_consent_also_forgets_the_nik(engine: Engine, registry: None) -> None:
    chat = Chat(engine)
    await _open_status(chat)
    await chat.say(SITI_NIK)
    await chat.say("Siti Nur Aminah")
    await chat.tap("status:save_yes")
    await chat.tap("menu:privacy")
    await chat.tap("privacy:withdraw")
    await chat.tap("privacy:withdraw_yes")
    async with engine.runtime.db.session() as session:
        resident = (await session.exec(select(Resident))).one()
        assert resident.saved_nik_hash is None


async def test_english_speakers_get_the_journey_in_english(engine: Engine, registry: None) -> None:
    chat = Chat(engine)
    await chat.agree()
    await chat.say("bahasa")
    await chat.tap_label("English")
    await chat.say("check status")
    assert "16 digits of your NIK" in chat.text()
    await chat.say("3307 9945 0580 000")
    assert "A NIK has 16 digits; you sent 15" in chat.text()
    await chat.say(SITI_NIK)
    await chat.say("SITI AMINAH")
    assert "active — aid is given" in chat.text()
    assert "Place: Kantor Pos Sukamaju" in chat.text()


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")  # statements and parameters
    return caplog


async def test_no_raw_nik_anywhere_after_a_whole_journey(
    engine: Engine, registry: None, all_logs: pytest.LogCaptureFixture
) -> None:
    chat = Chat(engine)
    await _open_status(chat)
    await chat.say("3307 9945 0580 0001", platform_id="u-1")
    await chat.say("Siti Aminah", platform_id="u-2")
    await chat.tap("status:save_yes")
    await chat.tap("menu:status")
    await chat.say(UNKNOWN_NIK, platform_id="u-3")
    await chat.say("Orang Lain", platform_id="u-4")
    await chat.say("330799450580000", platform_id="u-5")  # a near-NIK, 15 digits
    forms = {SITI_NIK, "3307 9945 0580 0001", UNKNOWN_NIK, "330799450580000"}
    logged = "\n".join(record.getMessage() for record in all_logs.records)
    assert logged  # DEBUG logging was on (SQL statements and parameters included)
    for form in forms:
        assert form not in logged
    async with engine.runtime.db.session() as session:
        conn = await session.connection()
        for table in SQLModel.metadata.sorted_tables:
            dumped = repr((await conn.execute(table.select())).all())
            for form in forms:
                assert form not in dumped, table.name
        inbound = (
            await session.exec(
                select(MessageLog.text)
                .where(MessageLog.direction == "in")
                .order_by(col(MessageLog.id))
            )
        ).all()
    assert "3307********0001" in inbound
    assert "3307*******0000" in inbound  # the 15-digit one is masked too
    metrics = engine.runtime.metrics.exposition().decode()
    assert SITI_NIK not in metrics


async def test_the_console_channel_runs_the_journey(engine: Engine, registry: None) -> None:
    out = io.StringIO()
    lines = iter(["halo", "1", "1", BUDI_NIK, "budi santoso", "2", "/keluar"])

    async def read() -> str | None:
        return next(lines, None)

    await ConsoleChannel(engine, "pak-budi", out).run(read)
    transcript = out.getvalue()
    assert "1. Cek status bansos" in transcript
    assert "BUD* SAN****" in transcript
    assert "PBI-JK (BPJS Kesehatan gratis): aktif" in transcript
    assert "NIK tidak disimpan" in transcript
    assert BUDI_NIK not in transcript


async def test_the_demo_showcase_resident_sees_status_and_schedule(engine: Engine) -> None:
    runtime = engine.runtime
    await seed_demo(runtime.db, runtime.vault)
    nik, name, *_ = SHOWCASE[0]
    chat = Chat(engine)
    await chat.agree()
    await chat.say("cek status bansos")
    await chat.say(nik)
    await chat.say(name.lower())
    text = chat.text()
    assert "Desa Leksono" in text
    assert "PKH (Program Keluarga Harapan): aktif" in text
    assert "Kantor Pos Sukamaju" in text  # the demo's PKH distribution for Leksono


async def test_a_person_with_no_programme_left_is_told_so_in_words(
    engine: Engine, runtime: Runtime, registry: None
) -> None:
    async with runtime.db.transaction() as session:
        for enrolment in (await session.exec(select(Enrolment))).all():
            await session.delete(enrolment)
    chat = Chat(engine)
    await _open_status(chat)
    await chat.say(BUDI_NIK)
    await chat.say("Budi Santoso")
    found = chat.last[0].text
    assert found.startswith("Data ditemukan: BUD* SAN****")
    assert found.rstrip().endswith("Belum ada program bansos yang tercatat untuk Anda saat ini.")


async def test_a_nik_sent_at_the_menu_starts_the_status_check(
    engine: Engine, runtime: Runtime, registry: None
) -> None:
    chat = Chat(engine)
    await chat.agree()
    await chat.say("3307 9945 0580 0001")
    assert "Sepertinya itu NIK" in chat.text()
    assert "NIK 3307********0001 sudah kami terima" in chat.text()
    await chat.say("siti aminah")
    assert "Data ditemukan: SIT* N** AMI***" in chat.text()
    await chat.say("menu")
    await chat.say("3307 9945 0580 001")  # mistyped: the usual kind answer, in the journey
    assert "NIK harus 16 angka, Anda mengirim 15" in chat.text()
    async with runtime.db.session() as session:
        conversations = (await session.exec(select(Conversation.data))).all()
    assert SITI_NIK not in str(conversations)
