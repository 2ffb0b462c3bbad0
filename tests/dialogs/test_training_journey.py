"""'Daftar pelatihan' and 'Pelatihan saya' as residents use them, through the engine."""

from __future__ import annotations

import asyncio
import io
from datetime import timedelta

import pytest
from sqlmodel import col, select

from bench.registry_data import person_nik
from bot.engine import Engine
from bot.handlers.console import ConsoleChannel
from bot.messages import Contact, Incoming
from bot.runtime import Runtime
from bot.services.tickets import find_code
from storage.models import (
    Outbox,
    Resident,
    Training,
    TrainingRegistration,
    TrainingSession,
    Village,
)
from storage.types import utcnow
from tests.helpers import Resident as Chat
from tests.helpers import residents_at_step

ADULT_NIK = "3307994505800001"  # a woman born 5 May 1980


async def _session(
    runtime: Runtime,
    seats: int = 10,
    min_age: int | None = 18,
    max_age: int | None = None,
    questions: list[str] | None = None,
) -> int:
    start = utcnow() + timedelta(days=7)
    async with runtime.db.transaction() as session:
        if await session.get(Village, "3307992006") is None:
            session.add(Village(code="3307992006", name="Leksono", kecamatan="Sukamaju"))
        training = Training(
            slug=f"membatik-{seats}-{min_age}-{max_age}",
            title="Membatik Tulis",
            description="Dari mencanting sampai mewarnai.",
            category="membatik",
            organiser="LSM Contoh",
            organiser_kind="lsm",
            target_group="ibu rumah tangga",
            min_age=min_age,
            max_age=max_age,
            questions=questions or [],
        )
        session.add(training)
        await session.flush()
        sitting = TrainingSession(
            training_id=training.id or 0,
            starts_at=start,
            ends_at=start + timedelta(hours=5),
            place="Balai Desa Leksono",
            village_code="3307992006",
            seats=seats,
            registration_deadline=start - timedelta(days=1),
        )
        session.add(sitting)
        await session.flush()
        return sitting.id or 0


async def _register(chat: Chat, session_id: int, nik: str = ADULT_NIK) -> None:
    await chat.tap("menu:training")
    await chat.tap(f"training:session:{session_id}")
    await chat.tap("training:register")
    await chat.say(nik)
    await chat.say("Siti Aminah")
    await chat.say("0812-3456-7890")


async def test_the_console_channel_registers_for_a_training(engine: Engine) -> None:
    await _session(engine.runtime)
    script = ["halo", "1", "4", "1", "1", ADULT_NIK, "Siti Aminah", "081234567890", "/keluar"]
    lines = iter(script)

    async def read() -> str | None:
        return next(lines, None)

    out = io.StringIO()
    await ConsoleChannel(engine, "ibu-siti", out).run(read)
    transcript = out.getvalue()
    assert "4. Daftar pelatihan" in transcript
    assert "Membatik Tulis — " in transcript and "sisa 10 kursi" in transcript
    assert "Syarat:" in transcript and "usia 18–99 tahun" in transcript
    assert "Pendaftaran berhasil! Kode pendaftaran:" in transcript
    assert ADULT_NIK not in transcript.replace(f"anda> {ADULT_NIK}", "")


async def test_waitlist_cancellation_and_an_accepted_offer(engine: Engine) -> None:
    session_id = await _session(engine.runtime, seats=1)
    first, second = Chat(engine, "pertama"), Chat(engine, "kedua")
    for chat in (first, second):
        await chat.agree()
    await _register(first, session_id)
    assert "Pendaftaran berhasil" in first.text()
    await _register(second, session_id, "3307991203750002")
    assert "daftar tunggu nomor 1" in second.text()

    await first.tap("menu:my_trainings")
    assert "terdaftar" in first.text()
    code = find_code(first.text())
    assert code is not None
    await first.tap(f"my_trainings:view:{code}")
    await first.tap(f"my_trainings:cancel:{code}")
    assert "Yakin membatalkan" in first.text()
    await first.tap("my_trainings:cancel_yes")
    assert "dibatalkan" in first.text()

    async with engine.runtime.db.session() as session:
        offer = (
            await session.exec(select(Outbox).where(Outbox.message_key == "training.push.offer"))
        ).one()
    assert "Ada kursi kosong di Membatik Tulis" in offer.text
    await second.tap(offer.choices[0][0])
    assert "Kursi Anda sudah dikonfirmasi" in second.text()
    await second.tap(offer.choices[0][0])
    assert "sudah tidak berlaku" in second.text()  # a second tap changes nothing
    async with engine.runtime.db.session() as session:
        statuses = sorted(
            r.status for r in (await session.exec(select(TrainingRegistration))).all()
        )
    assert statuses == ["cancelled", "confirmed"]


async def test_not_eligible_double_registration_and_bad_phone(engine: Engine) -> None:
    session_id = await _session(engine.runtime, min_age=18, max_age=30)
    chat = Chat(engine)
    await chat.agree()
    await chat.tap("menu:training")
    await chat.tap(f"training:session:{session_id}")
    await chat.tap("training:register")
    await chat.say(ADULT_NIK)
    assert "usia paling tinggi 30 tahun" in chat.text() and "46 tahun" in chat.text()
    young = person_nik(0)[0].replace("3307900101500001", "3307996101020007")  # born 2002
    await chat.tap(f"training:session:{session_id}")
    await chat.tap("training:register")
    await chat.say("3307 9961 0102 000")
    assert "NIK harus 16 angka, Anda mengirim 15" in chat.text()
    await chat.say(young)
    assert "nama lengkap" in chat.text()
    await chat.say("Rina Lestari")
    await chat.say("12345")
    assert "belum seperti nomor HP" in chat.text()
    await chat.send(Incoming("console", chat.sender, contact=Contact("+62 812 1111 2222")))
    assert "Pendaftaran berhasil" in chat.text()
    await chat.tap("menu:training")
    await chat.tap(f"training:session:{session_id}")
    await chat.tap("training:register")
    await chat.say(young)
    assert "sudah terdaftar di pelatihan ini" in chat.text()
    async with engine.runtime.db.session() as session:
        registration = (await session.exec(select(TrainingRegistration))).one()
    assert registration.phone == "081211112222"


async def test_saved_nik_is_offered_and_questions_are_asked(engine: Engine) -> None:
    runtime = engine.runtime
    session_id = await _session(runtime, questions=["Sudah punya mesin jahit?", "Ukuran baju?"])
    chat = Chat(engine)
    await chat.agree()
    async with runtime.db.transaction() as session:
        resident = (await session.exec(select(Resident))).one()
        resident.saved_nik_hash = runtime.vault.lookup_hash(ADULT_NIK)
        resident.saved_nik_encrypted = runtime.vault.encrypt(ADULT_NIK)
        session.add(resident)
    await chat.tap("menu:training")
    await chat.tap(f"training:session:{session_id}")
    await chat.tap("training:register")
    assert "3307********0001" in chat.text()
    await chat.tap("training:use_saved")
    await chat.say("Siti Aminah")
    await chat.say("081234567890")
    assert "Sudah punya mesin jahit?" in chat.text()
    await chat.say("Belum")
    assert "Ukuran baju?" in chat.text()
    await chat.say("M")
    assert "Pendaftaran berhasil" in chat.text()
    async with runtime.db.session() as session:
        registration = (await session.exec(select(TrainingRegistration))).one()
    assert registration.answers == {"Sudah punya mesin jahit?": "Belum", "Ukuran baju?": "M"}


@pytest.mark.parametrize("seats", [20])
async def test_two_hundred_residents_press_send_at_once(engine: Engine, seats: int) -> None:
    """200 residents at the phone step for 20 seats: no errors, 20 seats, 180 in line."""
    runtime = engine.runtime
    session_id = await _session(runtime, seats=seats, min_age=None)

    def data_for(n: int) -> dict[str, object]:
        nik, born, _ = person_nik(n)
        return {
            "session": session_id,
            "nik_sealed": runtime.vault.encrypt(nik),
            "birth": born.isoformat(),
            "name": f"WARGA {n}",
        }

    residents = await residents_at_step(engine, 200, "training", "phone", data_for)
    results = await asyncio.gather(
        *(chat.say("081234567890") for chat in residents), return_exceptions=True
    )
    assert [r for r in results if isinstance(r, BaseException)] == []
    texts = [chat.text() for chat in residents]
    assert sum("Pendaftaran berhasil" in t for t in texts) == seats
    positions = sorted(
        int(t.split("daftar tunggu nomor ")[1].split(" ")[0]) for t in texts if "daftar tunggu" in t
    )
    assert positions == list(range(1, 181))
    async with runtime.db.session() as session:
        rows = (
            await session.exec(select(TrainingRegistration).order_by(col(TrainingRegistration.id)))
        ).all()
    assert len(rows) == 200
