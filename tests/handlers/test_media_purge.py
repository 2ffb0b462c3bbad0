"""The media purge: a KTP photo sent at the NIK step and the files of a report never sent
are deleted after the grace period; a filed report's evidence and a draft in progress
keep theirs."""

from __future__ import annotations

import hashlib
import os
import time
from datetime import timedelta
from typing import Any

from sqlmodel import select

from bot.services.media import MEDIA_GRACE, MediaStore
from bot.workers import media_purge
from storage.models import ReportEvidence, Village
from storage.types import utcnow
from tests.handlers.conftest import CHAT, Rig

NEIGHBOUR = CHAT + 1


def _photo(rig: Rig, chat: int, file_id: str, content: bytes) -> dict[str, Any]:
    rig.fake.files[file_id] = content
    return rig.fake.update(
        message={
            "message_id": 700 + len(rig.fake.files),
            "date": 1_790_000_000,
            "chat": {"id": chat, "type": "private"},
            "from": {"id": chat, "is_bot": False, "first_name": "Warga"},
            "photo": [{"file_id": file_id, "file_unique_id": file_id, "width": 800,
                       "height": 600, "file_size": len(content)}],
        }
    )  # fmt: skip


async def _send_photo(rig: Rig, chat: int, file_id: str, content: bytes) -> str:
    assert await rig.post(_photo(rig, chat, file_id, content)) == 200
    await rig.settle()
    return rig.fake.texts(chat)[-1]


async def _report_until_evidence(rig: Rig, chat: int) -> None:
    await rig.say("halo", chat)
    await rig.tap("welcome:agree", chat)
    for data in ("menu:report", "report:kind:lainnya", "report:identity:named",
                 "report:programme:unknown"):  # fmt: skip
        await rig.tap(data, chat)
    await rig.say("Leksono", chat)
    await rig.tap("report:when:today", chat)
    await rig.say("Ketua kelompok memotong 50 ribu dari setiap penerima bantuan.", chat)


def _age_every_file(store: MediaStore, by: timedelta) -> None:
    then = time.time() - by.total_seconds()
    for sha256 in store.stored():
        os.utime(store.path(sha256), (then, then))


async def test_unreferenced_files_go_after_the_grace_and_evidence_stays(rig: Rig) -> None:
    store = MediaStore(rig.runtime.settings.media_dir)
    async with rig.runtime.db.transaction() as session:
        session.add(Village(code="3307992006", name="Leksono", kecamatan="Sukamaju"))
    # A KTP photo where the NIK is asked.
    await rig.say("halo")
    await rig.tap("welcome:agree")
    await rig.tap("menu:status")
    ktp = b"\xff\xd8\xff foto KTP"
    assert "jangan kirim foto KTP" in await _send_photo(rig, CHAT, "ktp", ktp)
    # A report filed with a photo as evidence.
    await rig.tap("nav:menu")
    await rig.tap("menu:report")
    for data in ("report:kind:lainnya", "report:identity:named", "report:programme:unknown"):
        await rig.tap(data)
    await rig.say("Leksono")
    await rig.tap("report:when:today")
    await rig.say("Ketua kelompok memotong 50 ribu dari setiap penerima bantuan.")
    receipt = b"\xff\xd8\xff kuitansi"
    assert "Bukti diterima" in await _send_photo(rig, CHAT, "kuitansi", receipt)
    await rig.tap("report:evidence_next")
    assert any("Kode laporan" in text for text in await rig.tap("report:submit"))
    # A neighbour's report still in progress, with a photo.
    await _report_until_evidence(rig, NEIGHBOUR)
    draft = b"\xff\xd8\xff foto draf"
    assert "Bukti diterima" in await _send_photo(rig, NEIGHBOUR, "draf", draft)
    async with rig.runtime.db.session() as session:
        evidence = (await session.exec(select(ReportEvidence.sha256))).all()
    assert len(evidence) == 1 and len(store.stored()) == 3

    assert await media_purge.run_once(rig.runtime) == 0  # all within the grace
    _age_every_file(store, MEDIA_GRACE + timedelta(minutes=5))
    assert await media_purge.run_once(rig.runtime) == 1
    kept = {evidence[0], hashlib.sha256(draft).hexdigest()}
    assert set(store.stored()) == kept  # the KTP photo went
    assert await media_purge.run_once(rig.runtime) == 0  # idempotent
    # The neighbour walks away: the draft is dropped after the idle time, its file goes.
    later = utcnow() + timedelta(days=1)
    assert await media_purge.run_once(rig.runtime, later) == 1
    assert store.stored() == [evidence[0]]
    assert store.original(evidence[0]) == receipt


async def test_a_file_sent_again_starts_its_grace_again(rig: Rig) -> None:
    store = MediaStore(rig.runtime.settings.media_dir)
    sha256 = store.store(b"sama")
    _age_every_file(store, MEDIA_GRACE * 2)
    assert store.store(b"sama") == sha256
    (store.root / "imports").mkdir()
    (store.root / "imports" / "daftar.csv").write_text("nik,nama\n")
    assert await media_purge.run_once(rig.runtime) == 0
    assert store.exists(sha256) and (store.root / "imports" / "daftar.csv").exists()
