"""'Daftar pelatihan' and 'Pelatihan saya' as residents use them, through the engine."""

from __future__ import annotations

import asyncio
import io
import re
from datetime import date, timedelta

import pytest
from sqlmodel import col, select

from bench.registry_data import person_nik
from bot.engine import Engine
from bot.handlers.console import ConsoleChannel
from bot.messages import Contact, Incoming
from bot.runtime import Runtime
from bot.services.tickets import display_code, find_code
from storage.models import (
    ChannelIdentity,
    Enrolment,
    Outbox,
    RegistryPerson,
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
LEKSONO, SUKAMAJU = "3307992006", "3307992001"
# Two NIKs shown alike (3307********0011): one in the register, one not.
IN_REGISTER_NIK = "3307994505810011"
UNKNOWN_NIK = "3307994506820011"
_SHOWN_CODE = re.compile(r"\b[0-9A-Z]{4}-[0-9A-Z]{4}\b")


async def _session(
    runtime: Runtime,
    seats: int = 10,
    min_age: int | None = 18,
    max_age: int | None = None,
    questions: list[str] | None = None,
    village: str | None = None,
    priority: bool = False,
) -> int:
    start = utcnow() + timedelta(days=7)
    async with runtime.db.transaction() as session:
        for code, name in ((LEKSONO, "Leksono"), (SUKAMAJU, "Sukamaju")):
            if await session.get(Village, code) is None:
                session.add(Village(code=code, name=name, kecamatan="Sukamaju"))
        training = Training(
            slug=f"membatik-{seats}-{min_age}-{max_age}-{village}-{priority}",
            title="Membatik Tulis",
            description="Dari mencanting sampai mewarnai.",
            category="membatik",
            organiser="LSM Contoh",
            organiser_kind="lsm",
            target_group="ibu rumah tangga",
            min_age=min_age,
            max_age=max_age,
            questions=questions or [],
            village_code=village,
            priority_recipients=priority,
        )
        session.add(training)
        await session.flush()
        sitting = TrainingSession(
            training_id=training.id or 0,
            starts_at=start,
            ends_at=start + timedelta(hours=5),
            place="Balai Desa Leksono",
            village_code=LEKSONO,
            seats=seats,
            registration_deadline=start - timedelta(days=1),
        )
        session.add(sitting)
        await session.flush()
        return sitting.id or 0


async def _register(
    chat: Chat, session_id: int, nik: str = ADULT_NIK, village: str | None = None
) -> None:
    await chat.tap("menu:training")
    await chat.tap(f"training:session:{session_id}")
    await chat.tap("training:register")
    await chat.say(nik)
    await chat.say("Siti Aminah")
    if village is not None:
        await chat.say(village)
    await chat.say("0812-3456-7890")


async def _in_register(runtime: Runtime, nik: str, village: str, aid: bool) -> None:
    """A person in the aid register, living in `village`, receiving aid when `aid`."""
    async with runtime.db.transaction() as session:
        person = RegistryPerson(
            nik_hash=runtime.vault.lookup_hash(nik),
            nik_encrypted=runtime.vault.encrypt(nik),
            full_name="SITI AMINAH",
            birth_date=date(1981, 5, 5),
            sex="P",
            village_code=village,
        )
        session.add(person)
        await session.flush()
        if aid:
            session.add(Enrolment(person_id=person.id or 0, programme="PKH", status="aktif"))


async def _save_nik(runtime: Runtime, sender: str, nik: str) -> None:
    """As a status check that matched the register leaves it, with the resident's consent."""
    async with runtime.db.transaction() as session:
        identity = (
            await session.exec(select(ChannelIdentity).where(ChannelIdentity.external_id == sender))
        ).one()
        resident = await session.get(Resident, identity.resident_id)
        assert resident is not None
        resident.saved_nik_hash = runtime.vault.lookup_hash(nik)
        resident.saved_nik_encrypted = runtime.vault.encrypt(nik)
        session.add(resident)


Seen = list[tuple[str, list[str]]]


def _seen(chat: Chat) -> Seen:
    """What the resident read: texts and button labels, registration codes blanked."""
    return [
        (_SHOWN_CODE.sub("KODE", message.text), [choice.label for choice in message.choices])
        for message in chat.last
    ]


def _shown_code(chat: Chat) -> str:
    """The registration code in the last reply, as stored ('K7QM2XHD')."""
    found = _SHOWN_CODE.search(chat.text())
    assert found is not None, chat.text()
    return found.group(0).replace("-", "")


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
    assert [c.label for c in chat.choices()][:2] == ["Pakai NIK tersimpan", "Pakai NIK lain"]
    await chat.tap_label("Pakai NIK lain")
    assert "ketik 16 angka NIK Anda" in chat.text()
    await chat.tap(f"training:session:{session_id}")
    await chat.tap("training:register")
    await chat.tap("training:use_saved")
    await chat.say("Siti Aminah")
    await chat.say("081234567890")
    assert "Sudah punya mesin jahit?" in chat.text()
    await chat.say("Belum, pinjam punya ibu (NIK 3307994505809001)")
    assert "Ukuran baju?" in chat.text()
    await chat.say("2")  # a number is the answer here, not a choice
    assert "Pendaftaran berhasil" in chat.text()
    async with runtime.db.session() as session:
        registration = (await session.exec(select(TrainingRegistration))).one()
    assert registration.answers == {
        "Sudah punya mesin jahit?": "Belum, pinjam punya ibu (NIK 3307********9001)",
        "Ukuran baju?": "2",
    }


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


async def test_a_typed_nik_gets_the_same_answers_in_the_register_or_not(engine: Engine) -> None:
    """No answer tells whether a typed NIK is in the aid register: not its village, not
    its aid (the waitlist order changes silently), so the journey cannot probe NIKs."""
    runtime = engine.runtime
    session_id = await _session(runtime, seats=1, village=LEKSONO, priority=True)
    await _in_register(runtime, IN_REGISTER_NIK, SUKAMAJU, aid=True)
    holder, ahead = Chat(engine, "pemegang"), Chat(engine, "antre")
    listed, unknown = Chat(engine, "terdaftar"), Chat(engine, "tak-dikenal")
    for chat in (holder, ahead, listed, unknown):
        await chat.agree()
    await _register(holder, session_id, village="Leksono")
    await _register(ahead, session_id, "3307991203750002", village="Leksono")
    assert "Pendaftaran berhasil" in holder.text() and "daftar tunggu" in ahead.text()

    async def journey(village: str) -> list[list[Seen]]:
        transcripts = []
        for chat, nik in ((listed, IN_REGISTER_NIK), (unknown, UNKNOWN_NIK)):
            seen: list[Seen] = []
            await chat.tap("menu:training")
            seen.append(_seen(chat))
            await chat.tap(f"training:session:{session_id}")
            seen.append(_seen(chat))
            await chat.tap("training:register")
            seen.append(_seen(chat))
            for text in (nik, "Siti Aminah", village, "081234567890"):
                await chat.say(text)
                seen.append(_seen(chat))
            transcripts.append(seen)
        return transcripts

    # Up to the village question, and at a village the training is not for.
    in_register, not_in_register = await journey("Sukamaju")
    assert "Di desa/kelurahan mana Anda tinggal?" in in_register[4][0][0]
    assert "khusus warga Desa Leksono" in in_register[5][0][0]
    assert in_register == not_in_register
    # The village they state is what counts; the aid recipient goes first, unsaid.
    in_register, not_in_register = await journey("Leksono")
    assert "Anda masuk daftar tunggu (kode KODE)" in in_register[6][0][0]
    assert "nomor" not in in_register[6][0][0]
    assert in_register == not_in_register
    async with runtime.db.session() as session:
        rows = (
            await session.exec(
                select(TrainingRegistration).where(TrainingRegistration.status == "waitlisted")
            )
        ).all()
    priority = {r.nik_hash: r.priority for r in rows}
    assert priority[runtime.vault.lookup_hash(IN_REGISTER_NIK)] is True
    assert priority[runtime.vault.lookup_hash(UNKNOWN_NIK)] is False
    for chat in (listed, unknown):
        await chat.tap("menu:my_trainings")
        await chat.tap(f"my_trainings:view:{_shown_code(chat)}")
    assert _seen(listed) == _seen(unknown)
    assert "Status: daftar tunggu" in listed.text() and "nomor" not in listed.text()


async def test_the_residents_own_saved_nik_may_use_the_register(engine: Engine) -> None:
    """The one exception: a NIK the resident saved after a matching status check."""
    runtime = engine.runtime
    session_id = await _session(runtime, village=LEKSONO)
    await _in_register(runtime, IN_REGISTER_NIK, SUKAMAJU, aid=False)
    chat = Chat(engine, "pemilik")
    await chat.agree()
    await _save_nik(runtime, chat.sender, IN_REGISTER_NIK)
    await chat.tap("menu:training")
    await chat.tap(f"training:session:{session_id}")
    await chat.tap("training:register")
    await chat.tap("training:use_saved")
    assert "khusus warga Desa Leksono" in chat.text()


async def test_someone_elses_registration_shows_no_code_or_status(engine: Engine) -> None:
    session_id = await _session(engine.runtime)
    owner, other = Chat(engine, "pemilik"), Chat(engine, "orang-lain")
    for chat in (owner, other):
        await chat.agree()
    await _register(owner, session_id)
    code = _shown_code(owner)
    for chat in (other, owner):
        await chat.tap("menu:training")
        await chat.tap(f"training:session:{session_id}")
        await chat.tap("training:register")
        await chat.say(ADULT_NIK)
    assert "NIK ini sudah terdaftar di pelatihan ini" in other.text()
    assert "Jika bukan Anda yang mendaftar, silakan hubungi Kantor Kecamatan" in other.text()
    assert display_code(code) not in other.text() and "status" not in other.text()
    assert f"kode {display_code(code)}, status: terdaftar" in owner.text()


async def test_an_offered_seat_is_taken_or_let_go_from_my_trainings(engine: Engine) -> None:
    """The pushed offer may be lost: "Pelatihan saya" answers it just the same."""
    runtime = engine.runtime
    session_id = await _session(runtime, seats=1)
    holder, second, third = Chat(engine, "a"), Chat(engine, "b"), Chat(engine, "c")
    for chat in (holder, second, third):
        await chat.agree()
    await _register(holder, session_id)
    await _register(second, session_id, "3307991203750002")
    await _register(third, session_id, UNKNOWN_NIK)

    async def give_up(chat: Chat) -> None:
        await chat.tap("menu:my_trainings")
        await chat.tap(f"my_trainings:view:{_shown_code(chat)}")
        await chat.tap_label("Batalkan pendaftaran")
        await chat.tap("my_trainings:cancel_yes")

    async def open_offer(chat: Chat) -> None:
        await chat.tap("menu:my_trainings")
        await chat.tap(f"my_trainings:view:{_shown_code(chat)}")
        assert "Status: ditawari kursi, menunggu konfirmasi Anda" in chat.text()
        labels = [choice.label for choice in chat.choices()]
        assert labels == ["Ambil kursi", "Lepas kursi", "Pelatihan saya", "Kembali ke menu"]

    await give_up(holder)
    await open_offer(second)
    await second.tap_label("Ambil kursi")
    assert "Kursi Anda sudah dikonfirmasi" in second.text()
    await give_up(second)
    await open_offer(third)
    await third.tap_label("Lepas kursi")
    assert "kursinya kami tawarkan ke warga berikutnya" in third.text()
    async with runtime.db.session() as session:
        rows = (
            await session.exec(select(TrainingRegistration).order_by(col(TrainingRegistration.id)))
        ).all()
    assert [r.status for r in rows] == ["cancelled", "cancelled", "cancelled"]
