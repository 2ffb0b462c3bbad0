"""'Lapor masalah' and 'Cek laporan' as residents use them, through the engine."""

from __future__ import annotations

import asyncio
import io
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import SQLModel, col, func, select

from bot.engine import Engine
from bot.handlers.console import ConsoleChannel
from bot.messages import Incoming, Location, Media
from bot.runtime import Runtime
from bot.services.media import MediaStore
from bot.services.reports import KINDS, ReportService, viewer_for
from bot.services.tickets import find_code
from storage.models import (
    InboundEvent,
    MessageLog,
    Officer,
    Outbox,
    Report,
    ReportEvidence,
    Village,
)
from storage.types import utcnow
from tests.helpers import Resident as Chat
from tests.helpers import residents_at_step

STORY = "Ketua kelompok meminta potongan 50 ribu dari setiap penerima di balai desa."


@pytest.fixture
async def villages(runtime: Runtime) -> None:
    async with runtime.db.transaction() as session:
        for code, name in (("3307992006", "Leksono"), ("3307992001", "Sukamaju")):
            session.add(Village(code=code, name=name, kecamatan="Sukamaju"))


async def _report(
    chat: Chat, kind: str, identity: str = "named", story: str = STORY, village: str = "Lekosno"
) -> str:
    """Walk the whole report journey; returns the ticket code."""
    await chat.tap("menu:report")
    await chat.tap(f"report:kind:{kind}")
    await chat.tap(f"report:identity:{identity}")
    await chat.tap("report:programme:BPNT")
    await chat.say(village)
    if kind not in ("sanggah", "usul"):  # about a family, not an event: no "when"
        await chat.tap("report:when:week")
    if kind == "potongan":  # who asked for the money
        await chat.say("Agen e-warong Sumber Rejeki")
    if kind in ("sanggah", "usul", "oknum"):
        await chat.say("Pak Joko RT 002, punya mobil dan toko")
    await chat.say(story)
    await chat.tap("report:evidence_next")
    assert "Mohon periksa laporan Anda" in chat.text()
    await chat.tap("report:submit")
    code = find_code(chat.text())
    assert code is not None, chat.text()
    return code


async def officer_asks(runtime: Runtime, code: str, question: str, status: str = "") -> Outbox:
    """The admin "camat" (made if missing) answers the report with a public question,
    after moving it to `status` if given; returns the row pushed to the resident."""
    async with runtime.db.transaction() as session:
        officer = (await session.exec(select(Officer).where(Officer.username == "camat"))).first()
        if officer is None:
            officer = Officer(username="camat", role="admin")
            session.add(officer)
            await session.flush()
        admin = await viewer_for(session, officer.id or 0)
        service = ReportService(session, runtime.settings, runtime.catalogs)
        report = await service.by_code(code)
        assert report is not None
        if status:
            await service.change_status(admin, report, status, utcnow(), "Kami cek.")
        await service.reply(admin, report, question, utcnow())
    async with runtime.db.session() as session:
        return (await session.exec(select(Outbox).order_by(col(Outbox.id)))).all()[-1]


@pytest.mark.parametrize("kind", KINDS)
async def test_every_report_type_is_filed_with_a_code(
    engine: Engine, villages: None, kind: str
) -> None:
    chat = Chat(engine)
    await chat.agree()
    code = await _report(chat, kind)
    assert "Laporan diterima" in chat.text() and "3 hari kerja" in chat.text()
    if kind == "usul":
        assert "foto rumah" in chat.text() and "surat pengantar RT/RW" in chat.text()
    async with engine.runtime.db.session() as session:
        report = (await session.exec(select(Report))).one()
    assert (report.code, report.kind, report.village_code) == (code, kind, "3307992006")
    assert report.programme == "BPNT" and report.status == "baru"
    assert report.resident_id is not None and report.identity_mode == "named"


async def test_the_console_channel_files_a_report(engine: Engine, villages: None) -> None:
    script = ["halo", "1", "2", "2", "1", "2", "Leksono", "1", "1", STORY, "1", "1", "/keluar"]
    lines = iter(script)

    async def read() -> str | None:
        return next(lines, None)

    out = io.StringIO()
    await ConsoleChannel(engine, "pak-budi", out).run(read)
    transcript = out.getvalue()
    assert "2. Lapor masalah" in transcript
    assert "Kode laporan Anda:" in transcript
    assert find_code(transcript.split("Kode laporan Anda:")[1]) is not None


async def test_short_stories_unknown_villages_and_locations(engine: Engine, villages: None) -> None:
    chat = Chat(engine)
    await chat.agree()
    await chat.tap("menu:report")
    await chat.tap("report:kind:barang")
    await chat.tap("report:identity:named")
    await chat.tap("report:programme:unknown")
    await chat.say("Jakarta Selatan")
    assert 'desa "Jakarta Selatan" tidak ada' in chat.text()
    await chat.send(Incoming("console", chat.sender, location=Location(-7.36, 109.90)))
    await chat.say("kemarin sore")
    await chat.say("beras busuk")
    assert "terlalu singkat (11 huruf)" in chat.text()
    await chat.say("Beras yang dibagikan di e-warong berkutu dan beratnya kurang dari 10 kg.")
    await chat.tap("report:evidence_next")
    assert "-7.36000, 109.90000" in chat.text() and "Tidak tahu" in chat.text()
    await chat.tap("report:edit_village")
    await chat.tap("report:village:3307992001")
    assert "Desa: Sukamaju" in chat.text()  # back at the summary, story kept
    await chat.tap("report:discard")
    assert "dibatalkan" in chat.text()
    async with engine.runtime.db.session() as session:
        assert (await session.exec(select(func.count()).select_from(Report))).one() == 0


def _photo(runtime: Runtime, content: bytes, mime: str = "image/jpeg", size: int = 0) -> Media:
    sha = MediaStore(runtime.settings.media_dir).store(content)
    return Media(kind="photo", ref=sha, mime_type=mime, size=size or len(content))


async def test_evidence_limits(engine: Engine, villages: None) -> None:
    runtime = engine.runtime
    chat = Chat(engine)
    await chat.agree()
    await chat.tap("menu:report")
    await chat.tap("report:kind:potongan")
    await chat.tap("report:identity:named")
    await chat.tap("report:programme:PKH")
    await chat.say("Leksono")
    await chat.tap("report:when:today")
    await chat.tap("report:subject:unknown")
    await chat.say(STORY)
    assert "paling banyak 5 berkas, masing-masing sampai 10 MB" in chat.text()

    async def send(media: Media) -> str:
        await chat.send(Incoming("console", chat.sender, media=media))
        return chat.text()

    assert "terlalu besar" in await send(_photo(runtime, b"big", size=11 * 1024 * 1024))
    bad = _photo(runtime, b"MZ\x90\x00", mime="application/x-msdownload")
    assert "tidak bisa diterima" in await send(bad)
    missing = Media(kind="photo", ref="ab" * 32, mime_type="image/jpeg", size=10)
    assert "tidak berhasil kami terima" in await send(missing)
    for n in range(5):
        assert f"Bukti diterima ({n + 1} dari 5)" in await send(_photo(runtime, b"foto-%d" % n))
    assert "Sudah 5 berkas" in await send(_photo(runtime, b"foto-6"))
    await chat.tap("report:evidence_next")
    assert "Bukti: 5 berkas" in chat.text()
    await chat.tap("report:submit")
    async with runtime.db.session() as session:
        files = (await session.exec(select(ReportEvidence))).all()
    assert len(files) == 5 and all(
        MediaStore(runtime.settings.media_dir).exists(f.sha256) for f in files
    )


async def test_anonymous_report_leaves_no_link_to_the_resident_anywhere(
    engine: Engine, villages: None
) -> None:
    runtime = engine.runtime
    chat = Chat(engine, "saksi-1")
    await chat.agree()
    await chat.tap("menu:report")
    await chat.tap("report:kind:oknum")
    await chat.tap("report:identity:anonymous")
    await chat.tap("report:programme:BPNT")
    await chat.say("Leksono", platform_id="m-1")
    await chat.tap("report:when:week")
    await chat.say("Agen e-warong Pak Slamet", platform_id="m-2")
    await chat.say(STORY, platform_id="m-3")
    media = _photo(runtime, b"kuitansi")
    await chat.send(Incoming("console", chat.sender, media=media, platform_id="m-4"))
    await chat.tap("report:evidence_next")
    await chat.tap("report:submit")
    assert "Laporan anonim diterima" in chat.text()
    code = find_code(chat.text())
    assert code is not None
    async with runtime.db.session() as session:
        report = (await session.exec(select(Report))).one()
        assert report.resident_id is None and report.identity_id is None
        conn = await session.connection()
        for table in SQLModel.metadata.sorted_tables:
            dumped = repr((await conn.execute(table.select())).all())
            if table.name in ("report", "report_event", "report_evidence"):
                continue
            for secret in (code, STORY, "Pak Slamet", media.ref):
                assert secret not in dumped, table.name
        logged = (await session.exec(select(MessageLog.text))).all()
        events = (await session.exec(select(InboundEvent.payload))).all()
        outbox = (await session.exec(select(func.count()).select_from(Outbox))).one()
    joined = "\n".join(text or "" for text in logged)
    assert "halo" in joined  # the welcome is logged as usual
    for trace in ("laporkan", "identitas", "Leksono", "Laporan anonim diterima", "Pak Slamet"):
        assert trace not in joined
    assert all(payload == {} for payload in events)
    assert report.created_at.minute == 0 and report.created_at.second == 0
    assert outbox == 0
    # The code is the only key: anyone holding it can follow the report.
    stranger = Chat(engine, "orang-lain")
    await stranger.agree()
    await stranger.say(f"cek laporan {code[:4]}-{code[4:]}")
    assert "Status: baru, menunggu diperiksa" in stranger.text()


async def test_a_repeated_report_is_offered_to_the_open_one(engine: Engine, villages: None) -> None:
    chat = Chat(engine)
    await chat.agree()
    first = await _report(chat, "potongan")
    await chat.tap("nav:menu")
    await chat.tap("menu:report")
    for choice in ("report:kind:potongan", "report:identity:named", "report:programme:BPNT"):
        await chat.tap(choice)
    await chat.say("Leksono")
    await chat.tap("report:when:today")
    await chat.say("Agen e-warong Sumber Rejeki")
    await chat.say(STORY + " Lagi.")
    await chat.tap("report:evidence_next")
    await chat.tap("report:submit")
    assert f"mirip laporan Anda {first[:4]}-{first[4:]}" in chat.text()
    await chat.tap("report:duplicate_add")
    assert "Sudah kami tambahkan" in chat.text()
    async with engine.runtime.db.session() as session:
        assert (await session.exec(select(func.count()).select_from(Report))).one() == 1


async def test_tracking_shows_status_and_public_replies_and_rating_works(
    engine: Engine, villages: None
) -> None:
    runtime = engine.runtime
    chat = Chat(engine)
    await chat.agree()
    code = await _report(chat, "belum_terima")
    async with runtime.db.transaction() as session:
        officer = Officer(username="camat", display_name="Ibu Camat", role="admin")
        session.add(officer)
        await session.flush()
        admin = await viewer_for(session, officer.id or 0)
        service = ReportService(session, runtime.settings, runtime.catalogs)
        report = await service.by_code(code)
        assert report is not None
        now = utcnow()
        await service.change_status(admin, report, "diverifikasi", now, "Data Anda kami cek.")
        await service.add_note(admin, report, "catatan internal: cek agen", now)
        await service.change_status(admin, report, "ditindaklanjuti", now)
        await service.change_status(admin, report, "selesai", now, "Bantuan sudah cair.")
    await chat.tap("menu:track")
    await chat.tap(f"track:report:{code}")
    text = chat.text()
    assert "Status: selesai" in text and "Bantuan sudah cair." in text
    assert "Data Anda kami cek." in text and "catatan internal" not in text
    async with runtime.db.session() as session:
        pushed = (await session.exec(select(Outbox).order_by(col(Outbox.id)))).all()
    rating = pushed[-1]
    assert rating.message_key == "report.push.rate"
    # Tapping a pushed button works even though no conversation step offered it.
    await chat.tap(rating.choices[0][0])
    assert "Terima kasih atas penilaian" in chat.text()
    await chat.say("Terima kasih, cepat ditangani.")
    assert "komentar Anda kami sampaikan" in chat.text()
    await chat.tap(rating.choices[1][0])
    assert "sudah tercatat" in chat.text()
    other = Chat(engine, "bukan-pemilik")
    await other.agree()
    await other.tap(rating.choices[0][0])
    assert "sudah tidak berlaku" in other.text() or "kedaluwarsa" in other.text()


async def test_a_rating_button_after_the_report_was_reopened_is_stale_not_an_error(
    engine: Engine, villages: None
) -> None:
    runtime = engine.runtime
    chat = Chat(engine)
    await chat.agree()
    code = await _report(chat, "belum_terima")
    async with runtime.db.transaction() as session:
        report = await ReportService(session, runtime.settings, runtime.catalogs).by_code(code)
        assert report is not None
        report.status = "ditindaklanjuti"  # reopened after the rating question went out
        session.add(report)
    await chat.tap(f"rate:{code}:4")
    assert "sudah tidak berlaku" in chat.text()
    assert "ada gangguan" not in chat.text()


async def test_wrong_codes_are_limited(engine: Engine) -> None:
    chat = Chat(engine)
    await chat.agree()
    for n in range(10):
        await chat.say(f"cek laporan 1234-56{n}8")
        assert "tidak ditemukan" in chat.text()
    await chat.say("cek laporan 1234-5698")
    assert "Terlalu banyak kode yang salah" in chat.text()


async def test_status_result_offers_to_report_and_not_found_offers_a_proposal(
    engine: Engine, villages: None, tmp_path: Path
) -> None:
    from bot.services.demo import SHOWCASE, seed_demo

    await seed_demo(engine.runtime.db, engine.runtime.vault)
    nik, name, *_ = SHOWCASE[0]
    chat = Chat(engine)
    await chat.agree()
    await chat.tap("menu:status")
    await chat.say(nik)
    await chat.say(name)
    await chat.tap("status:save_no")
    await chat.tap("status:report_problem")
    assert "Apa yang ingin Anda laporkan?" in chat.text()
    await chat.tap("report:kind:belum_terima")
    await chat.tap("report:identity:named")
    assert "Di desa/kelurahan mana?" in chat.text()  # the programme came from the status
    await chat.tap("nav:menu")
    await chat.tap("menu:status")
    await chat.say("3307996607880009")
    await chat.say("Orang Lain")
    await chat.tap("status:propose")
    assert "Bagaimana identitas Anda dicatat?" in chat.text()
    await chat.tap("report:identity:named")
    await chat.tap("report:programme:PKH")
    await chat.say("Leksono")
    assert "Siapa yang diusulkan?" in chat.text()


async def test_a_thousand_residents_submit_at_once(engine: Engine, villages: None) -> None:
    """1,000 residents at the summary tap "Kirim laporan" together: 1,000 unique tickets."""
    runtime = engine.runtime
    data = {
        "kind": "potongan",
        "identity": "named",
        "programme": "PKH",
        "village": ["3307992006", "Leksono"],
        "when": "Hari ini",
        "evidence": [],
    }
    residents = await residents_at_step(
        engine,
        1000,
        "report",
        "confirm",
        lambda n: dict(data, description=f"{STORY} ({n})"),
        [["report:submit", "report.submit", {}]],
    )
    results = await asyncio.gather(
        *(r.tap("report:submit") for r in residents), return_exceptions=True
    )
    assert [r for r in results if isinstance(r, BaseException)] == []
    codes = [find_code(r.text()) for r in residents]
    assert None not in codes and len(set(codes)) == 1000
    async with runtime.db.session() as session:
        assert (await session.exec(select(func.count()).select_from(Report))).one() == 1000


async def test_residents_answer_officers_and_then_the_report_stays_open(
    engine: Engine, villages: None
) -> None:
    runtime = engine.runtime
    chat = Chat(engine)
    await chat.agree()
    code = await _report(chat, "penyaluran")
    pushed = await officer_asks(runtime, code, "Jam berapa antreannya dimulai?", "diverifikasi")
    assert pushed.message_key == "report.push.reply"
    assert "Jam berapa antreannya dimulai?" in pushed.text
    await chat.tap(pushed.choices[0][0])
    assert "Tulis balasan" in chat.text()
    await chat.say("Sejak jam 6 pagi, baru dilayani jam 11.")
    assert "sudah ditambahkan" in chat.text()
    async with runtime.db.transaction() as session:
        service = ReportService(session, runtime.settings, runtime.catalogs)
        report = await service.by_code(code)
        assert report is not None and report.last_resident_reply_at is not None
        later = utcnow() + timedelta(days=30)
        assert await service.close_unanswered(later) == 0
        view = await service.public_view(report)
    assert any("jam 6 pagi" in event.message for event in view.events)
