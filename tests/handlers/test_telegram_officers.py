"""The officers' Telegram group: posts of new reports, buttons for linked officers only."""

from __future__ import annotations

import io
from datetime import timedelta

from PIL import Image
from sqlmodel import select

from bot.handlers.rate import SlidingWindow
from bot.handlers.telegram_officers import GROUP_BURST
from bot.runtime import Runtime
from bot.services.media import MediaStore
from bot.services.officers import OfficerService
from bot.services.reports import EvidenceFile, ReportDraft, ReportService
from storage.models import Officer, OfficerPost, Outbox, Report, Village
from storage.types import utcnow
from tests.handlers.conftest import OFFICER_CHAT, Rig
from tests.workers.crash_rig import seed_subscribers, start_broadcast

LEKSONO, SUKAMAJU = "3307992006", "3307992001"
DARMO, WATI, STRANGER = 7001, 7002, 7003


async def _officers(rig: Rig) -> None:
    now = utcnow()
    async with rig.runtime.db.transaction() as session:
        for code, name in ((LEKSONO, "Leksono"), (SUKAMAJU, "Sukamaju")):
            session.add(Village(code=code, name=name, kecamatan="Sukamaju"))
        await session.flush()
        service = OfficerService(session, rig.runtime.vault)
        await service.add("darmo", "officer", [LEKSONO], "kata-sandi-panjang", now, "Darmo")
        await service.add("wati", "officer", [SUKAMAJU], "kata-sandi-panjang", now, "Wati")


async def _link(rig: Rig, username: str, user_id: int) -> list[str]:
    async with rig.runtime.db.transaction() as session:
        service = OfficerService(session, rig.runtime.vault)
        officer = await service.by_username(username)
        assert officer is not None
        code = await service.new_link_code(officer, utcnow())
    return await rig.say(f"/link {code[:4]}-{code[4:].lower()}", chat=user_id)


async def _file(rig: Runtime, village: str = LEKSONO, **changes: object) -> Report:
    values: dict[str, object] = {
        "kind": "potongan",
        "description": "Ketua kelompok minta 50 ribu. NIK saya 3307994505800001.",
        "identity_mode": "named",
        "locale": "id",
        "programme": "PKH",
        "village_code": village,
    }
    values.update(changes)
    async with rig.db.transaction() as session:
        service = ReportService(session, rig.settings, rig.catalogs)
        return await service.file(ReportDraft(**values), None, None, utcnow())  # type: ignore[arg-type]


def _group_tap(rig: Rig, user_id: int, data: str, message_id: int) -> dict[str, object]:
    return rig.fake.update(
        callback_query={
            "id": f"q{user_id}{message_id}{data}",
            "chat_instance": "ci",
            "from": {"id": user_id, "is_bot": False, "first_name": "Petugas"},
            "message": {
                "message_id": message_id,
                "date": 1_790_000_000,
                "chat": {"id": OFFICER_CHAT, "type": "supergroup", "title": "Petugas"},
                "text": "…",
            },
            "data": data,
        }
    )


def _alerts(rig: Rig) -> list[str]:
    return [
        str(c.params.get("text", ""))
        for c in rig.fake.calls
        if c.method == "answerCallbackQuery" and c.params.get("show_alert") in (True, "true")
    ]


async def test_new_reports_are_posted_and_linked_officers_act_on_them(rig: Rig) -> None:
    await _officers(rig)
    replies = await _link(rig, "darmo", DARMO)
    assert any("terhubung sebagai petugas Darmo" in text for text in replies)
    report = await _file(rig.runtime)
    desk = rig.channel.desk
    assert desk is not None
    assert await desk.post_new_reports(utcnow() - timedelta(hours=1)) == 1
    assert await desk.post_new_reports(utcnow() - timedelta(hours=1)) == 0  # once
    post = rig.fake.sent(OFFICER_CHAT)[-1]
    assert "Laporan" in post["text"] and "Potongan/pungli" in post["text"]
    assert "3307994505800001" not in post["text"] and "3307********0001" in post["text"]
    message_id = 1  # the desk finds the report by the code in the button

    await rig.post(_group_tap(rig, STRANGER, f"off:{report.code}:take", message_id))
    await rig.settle()
    assert any("hanya untuk petugas" in alert for alert in _alerts(rig))
    await rig.post(_group_tap(rig, DARMO, f"off:{report.code}:take", message_id))
    await rig.post(_group_tap(rig, DARMO, f"off:{report.code}:verify", message_id))
    await rig.settle()
    async with rig.runtime.db.session() as session:
        stored = (await session.exec(select(Report))).one()
        darmo = (await session.exec(select(Officer).where(Officer.username == "darmo"))).one()
        pushed = (await session.exec(select(Outbox))).all()
    assert stored.assignee_id == darmo.id and stored.status == "diverifikasi"
    assert pushed == []  # the report was filed without a chat identity (nobody to tell)
    edits = [c.params for c in rig.fake.calls if c.method == "editMessageText"]
    assert "Darmo" in str(edits[-1]["text"]) and "diverifikasi" in str(edits[-1]["text"])


async def test_scope_and_rejection_with_a_reason(rig: Rig) -> None:
    await _officers(rig)
    await _link(rig, "darmo", DARMO)
    await _link(rig, "wati", WATI)
    report = await _file(rig.runtime)
    desk = rig.channel.desk
    assert desk is not None
    await desk.post_new_reports(utcnow() - timedelta(hours=1))
    await rig.post(_group_tap(rig, WATI, f"off:{report.code}:verify", 1))
    await rig.settle()
    assert any("tidak berwenang" in alert for alert in _alerts(rig))  # not her village
    await rig.post(_group_tap(rig, DARMO, f"off:{report.code}:done", 1))
    await rig.settle()
    assert any("tombol itu tidak berlaku" in alert for alert in _alerts(rig))  # baru → selesai
    await rig.post(_group_tap(rig, DARMO, f"off:{report.code}:reject", 1))
    await rig.settle()
    prompts = [p for p in rig.fake.sent(OFFICER_CHAT) if "alasan penolakan" in str(p["text"])]
    assert len(prompts) == 1
    async with rig.runtime.db.session() as session:
        posted = (await session.exec(select(OfficerPost))).one()
    assert posted.prompt_message_id is not None
    prompt_id = posted.prompt_message_id
    reason = rig.fake.update(
        message={
            "message_id": 999,
            "date": 1_790_000_000,
            "chat": {"id": OFFICER_CHAT, "type": "supergroup", "title": "Petugas"},
            "from": {"id": DARMO, "is_bot": False, "first_name": "Darmo"},
            "text": "Setelah dicek, potongan itu iuran kas yang disepakati warga.",
            "reply_to_message": {
                "message_id": prompt_id,
                "date": 1_790_000_000,
                "chat": {"id": OFFICER_CHAT, "type": "supergroup"},
            },
        }
    )
    await rig.post(reason)
    await rig.settle()
    async with rig.runtime.db.session() as session:
        stored = (await session.exec(select(Report))).one()
    assert stored.status == "ditolak" and "iuran kas" in stored.status_reason


async def test_reports_naming_an_officer_are_not_posted(rig: Rig) -> None:
    await _officers(rig)
    await _file(rig.runtime, kind="oknum", subject="Pak Darmo petugas desa")
    desk = rig.channel.desk
    assert desk is not None
    assert await desk.post_new_reports(utcnow() - timedelta(hours=1)) == 0


async def test_photo_evidence_is_posted_without_its_metadata(rig: Rig) -> None:
    await _officers(rig)
    image = Image.new("RGB", (20, 20), (10, 200, 10))
    exif = Image.Exif()
    exif[0x010F] = "KameraRahasia"
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    sha = MediaStore(rig.runtime.settings.media_dir).store(out.getvalue())
    photo = EvidenceFile(sha, "photo", "image/jpeg", len(out.getvalue()), utcnow())
    await _file(rig.runtime, evidence=[photo])
    desk = rig.channel.desk
    assert desk is not None
    assert await desk.post_new_reports(utcnow() - timedelta(hours=1)) == 1
    sent = [c.params for c in rig.fake.calls if c.method == "sendPhoto"]
    assert len(sent) == 1
    uploaded = sent[0]["photo"]
    content = (
        uploaded if isinstance(uploaded, bytes) else str(uploaded).encode("latin-1", "replace")
    )
    assert len(content) > 100 and b"KameraRahasia" not in content


async def test_posts_to_the_group_count_against_the_bots_limit_during_a_broadcast(
    rig: Rig,
) -> None:
    """The outbox sender and the officer desk send with one bot, so they share its limit:
    new reports posted to the group in the middle of a broadcast never push the bot over
    it. (The desk once kept only the group's own pace, and its posts came on top.)"""
    limit = 5
    rig.fake.global_limit = limit
    window = SlidingWindow.per_second(limit)
    desk = rig.channel.desk
    assert desk is not None
    rig.sender.window = desk.window = window
    await _officers(rig)
    chats = await seed_subscribers(rig.runtime, "telegram", 15)
    for _ in range(GROUP_BURST):
        await _file(rig.runtime)
    await start_broadcast(rig.runtime, "telegram", "Penyaluran PKH Kamis pagi.")
    since = utcnow() - timedelta(minutes=1)
    while await rig.sender.send_pending():
        await desk.post_new_reports(since)  # as the worker does between sender passes
    await desk.post_new_reports(since)
    assert rig.fake.throttled == 0
    assert all(rig.fake.texts(int(chat)) for chat in chats)
    assert len(rig.fake.texts(OFFICER_CHAT)) == GROUP_BURST
