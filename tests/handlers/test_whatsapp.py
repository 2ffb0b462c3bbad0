"""The WhatsApp channel end to end: the real pywa async client against the fake Graph API
server, signed webhooks over HTTP into the app, the engine, the outbox and the sender."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import timedelta

import httpx
import pytest
from sqlmodel import col, func, select

from bot.handlers.whatsapp_render import ButtonsOut, neutralise_markup, render_message, shorten
from bot.handlers.whatsapp_sender import WhatsAppSender
from bot.handlers.whatsapp_templates import one_line
from bot.i18n import Catalogs
from bot.messages import Choice
from bot.runtime import build_runtime
from bot.services.demo import SHOWCASE, seed_demo
from bot.services.outbox import OutboxQueue
from bot.services.reports import ReportService, Viewer
from bot.services.tickets import display_code
from bot.settings import PROJECT_ROOT
from bot.web.app import create_app
from storage.db import Database
from storage.models import (
    ChannelIdentity,
    InboundEvent,
    MessageLog,
    Outbox,
    Report,
    ReportEvidence,
    TrainingRegistration,
    Village,
)
from storage.types import utcnow
from tests.dialogs.test_training_journey import _session
from tests.fakes.whatsapp_api import sign
from tests.handlers.conftest import WA_APP_SECRET, WA_PHONE, WA_USER, WA_VERIFY_TOKEN, WaRig

ADMIN = Viewer(1, "admin", frozenset())


async def test_a_status_check_on_whatsapp_with_buttons(wa_rig: WaRig) -> None:
    rig = wa_rig
    await seed_demo(rig.runtime.db, rig.runtime.vault)
    first = await rig.say("halo")
    assert any("Selamat datang" in text for text in first)
    assert "welcome:agree" in rig.choice_ids()
    menu = await rig.tap("welcome:agree")
    assert any("Apa yang bisa kami bantu" in text for text in menu)
    assert "menu:status" in rig.choice_ids()
    await rig.tap("menu:status")
    nik, name, *_ = SHOWCASE[0]
    await rig.say(nik)
    answer = await rig.say(name)
    assert any("Desa Leksono" in text and "SIT∗ N∗∗ AMI∗∗∗" in text for text in answer)
    assert all(nik not in text for text in rig.fake.texts(WA_USER))
    async with rig.runtime.db.session() as session:
        identity = (
            await session.exec(select(ChannelIdentity).where(ChannelIdentity.channel == "whatsapp"))
        ).one()
        assert (identity.external_id, identity.phone) == (WA_USER, WA_PHONE)
        logged = (await session.exec(select(MessageLog).where(MessageLog.direction == "out"))).all()
        assert logged and all(row.outbox_id is not None for row in logged)
        assert {row.delivery for row in logged} == {"sent"}
        rows = (await session.exec(select(Outbox).order_by(col(Outbox.id)))).all()
        assert {row.status for row in rows} == {"sent"}
        assert all(row.platform_message_id and row.sent_as == "free" for row in rows)
        raw = (await session.exec(select(func.count()).select_from(InboundEvent))).one()
        assert raw >= 5


async def _agree(rig: WaRig) -> None:
    await rig.say("halo")
    await rig.tap("welcome:agree")


async def _leksono(rig: WaRig) -> None:
    async with rig.runtime.db.transaction() as session:
        session.add(Village(code="3307992006", name="Leksono", kecamatan="Sukamaju"))


async def _rows(rig: WaRig) -> list[Outbox]:
    async with rig.runtime.db.session() as session:
        return list((await session.exec(select(Outbox).order_by(col(Outbox.id)))).all())


async def _release(rig: WaRig) -> None:
    """Time passes: every back-off is over."""
    rig.sender._paused_until = 0.0
    rig.sender._pair_held.clear()
    async with rig.runtime.db.transaction() as session:
        for row in (await session.exec(select(Outbox))).all():
            row.next_attempt_at = None
            session.add(row)


async def _file_report_with_photo(rig: WaRig) -> str:
    await _leksono(rig)
    await _agree(rig)
    sticker = await rig.deliver(rig.fake.deliver(rig.fake.sticker(WA_PHONE, user_id=WA_USER)))
    assert any("belum bisa kami baca" in text for text in sticker)
    await rig.tap("menu:report")
    await rig.tap("report:kind:potongan")
    await rig.tap("report:identity:named")
    await rig.tap("report:programme:PKH")
    await rig.say("Lekosno")
    await rig.tap("report:when:today")
    await rig.say("Agen e-warong Sumber Rejeki")
    await rig.say("Ketua kelompok memotong 50 ribu dari *setiap* penerima_bantuan ~PKH~.")
    photo = b"\xff\xd8\xff bukti kuitansi potongan"
    media_id = rig.fake.add_media(photo, "image/jpeg")
    received = await rig.deliver(
        rig.fake.deliver(rig.fake.image(WA_PHONE, media_id, caption="kuitansi", user_id=WA_USER))
    )
    assert any("Bukti diterima (1 dari 5)" in text for text in received)
    summary = await rig.tap("report:evidence_next")
    joined = "\n".join(summary)
    # Resident text cannot switch WhatsApp formatting on: the marks arrive neutralised.
    assert "∗setiap∗" in joined and "penerimaˍbantuan" in joined and "∼PKH∼" in joined
    filed = await rig.tap("report:submit")
    assert any("Kode laporan Anda" in text for text in filed)
    async with rig.runtime.db.session() as session:
        report = (await session.exec(select(Report))).one()
        evidence = (await session.exec(select(ReportEvidence))).one()
    assert evidence.size == len(photo) and evidence.mime_type == "image/jpeg"
    return report.code


async def test_a_report_with_a_photo_then_tracking_and_an_officer_reply(wa_rig: WaRig) -> None:
    rig = wa_rig
    code = await _file_report_with_photo(rig)
    async with rig.runtime.db.transaction() as session:
        report = (await session.exec(select(Report))).one()
        service = ReportService(session, rig.runtime.settings, rig.runtime.catalogs)
        await service.change_status(ADMIN, report, "diverifikasi", utcnow(), "Sedang dicek.")
    await rig.settle()
    assert any("Sedang dicek" in text for text in rig.fake.texts(WA_USER)[-1:])
    await rig.say("menu")
    await rig.tap("menu:track")
    tracked = "\n".join(rig.fake.texts(WA_USER)[-2:])
    assert display_code(code) in tracked


async def _up_to_the_phone_question(rig: WaRig) -> None:
    """A consenting resident registering for a training, asked for their phone."""
    session_id = await _session(rig.runtime, min_age=None)
    await _agree(rig)
    await rig.tap("menu:training")
    await rig.tap(f"training:session:{session_id}")
    await rig.tap("training:register")
    await rig.say("3307994505800001")
    await rig.say("Siti Aminah")


async def test_training_registration_with_a_shared_contact(wa_rig: WaRig) -> None:
    rig = wa_rig
    await _up_to_the_phone_question(rig)
    card = rig.fake.contacts_message(WA_PHONE, "+62 812-3456-7890", "Siti", user_id=WA_USER)
    done = await rig.deliver(rig.fake.deliver(card))
    assert any("Pendaftaran berhasil" in text for text in done)
    async with rig.runtime.db.session() as session:
        registration = (await session.exec(select(TrainingRegistration))).one()
    assert registration.phone.endswith("81234567890")


async def test_faq_language_and_privacy_on_whatsapp(wa_rig: WaRig) -> None:
    rig = wa_rig
    await _agree(rig)
    answer = await rig.say("berapa biaya pendaftaran")
    assert any("GRATIS" in text for text in answer)
    await rig.say("menu")
    scam = await rig.tap("menu:scam")
    assert any("OTP" in text for text in scam)
    await rig.say("bahasa")
    english = await rig.tap("lang:en")
    assert any("we will now use English" in text for text in english)
    assert any("How can we help" in text for text in english)
    privacy = await rig.tap("menu:privacy")
    assert privacy
    # A list message offers 4 to 10 choices; every row fits WhatsApp's limits (the fake
    # refuses anything longer, so reaching here means they were accepted).
    await rig.say("menu")
    menu = next(b for b in reversed(rig.fake.sent(WA_USER)) if b["type"] == "interactive")
    assert menu["interactive"]["type"] == "list"
    assert len(rig.choice_ids()) >= 4


async def test_a_forged_or_missing_signature_has_no_effect(wa_rig: WaRig) -> None:
    rig = wa_rig
    payload = rig.fake.say(WA_PHONE, "halo", WA_USER)
    assert await rig.post(payload, signature=None) == 401
    assert await rig.post(payload, signature="sha256=" + "0" * 64) == 403
    assert await rig.post(payload, signature=sign(b"other body", WA_APP_SECRET)) == 403
    tampered = json.dumps(payload).encode()
    header = sign(tampered, WA_APP_SECRET)
    response = await rig.client.post(
        "/webhooks/whatsapp",
        content=tampered.replace(b"halo", b"hal0"),
        headers={"X-Hub-Signature-256": header},
    )
    assert response.status_code == 403
    async with rig.runtime.db.session() as session:
        assert (await session.exec(select(func.count()).select_from(InboundEvent))).one() == 0


async def test_the_verification_handshake(wa_rig: WaRig) -> None:
    rig = wa_rig
    right = {"hub.mode": "subscribe", "hub.verify_token": WA_VERIFY_TOKEN, "hub.challenge": "42"}
    response = await rig.client.get("/webhooks/whatsapp", params=right)
    assert response.status_code == 200 and response.text == "42"
    wrong = {**right, "hub.verify_token": "guess"}
    assert (await rig.client.get("/webhooks/whatsapp", params=wrong)).status_code == 403
    unsubscribe = {**right, "hub.mode": "unsubscribe"}
    assert (await rig.client.get("/webhooks/whatsapp", params=unsubscribe)).status_code == 403
    assert (await rig.client.get("/webhooks/whatsapp")).status_code == 403


async def test_one_message_delivered_three_times_has_one_effect(wa_rig: WaRig) -> None:
    rig = wa_rig
    payload = rig.fake.say(WA_PHONE, "halo", WA_USER)
    for _ in range(3):
        assert await rig.post(payload) == 200
        await rig.settle()
    welcomes = [t for t in rig.fake.texts(WA_USER) if "Selamat datang" in t]
    assert len(welcomes) == 1
    async with rig.runtime.db.session() as session:
        assert (await session.exec(select(func.count()).select_from(InboundEvent))).one() == 1


async def test_a_batched_payload_is_handled_whole_and_in_order_per_sender(wa_rig: WaRig) -> None:
    rig = wa_rig
    other_phone, other_user = "6281234567002", "ID.1234567002"
    fake = rig.fake
    first = fake.message_value(
        fake.text(WA_PHONE, "halo", WA_USER), fake.text(other_phone, "halo", other_user)
    )
    second = fake.message_value(fake.text(WA_PHONE, "1", WA_USER))
    payload = fake.webhook(first, second)
    payload["entry"].append(
        fake.webhook(fake.message_value(fake.text(other_phone, "1", other_user)))["entry"][0]
    )
    assert await rig.post(payload) == 200
    await rig.settle()
    for user in (WA_USER, other_user):
        texts = rig.fake.texts(user)
        welcome = next(i for i, t in enumerate(texts) if "Selamat datang" in t)
        menu = next(i for i, t in enumerate(texts) if "Apa yang bisa kami bantu" in t)
        assert welcome < menu  # "halo" then "1" (agree), in that order
    async with rig.runtime.db.session() as session:
        assert (await session.exec(select(func.count()).select_from(InboundEvent))).one() == 4


async def test_status_webhooks_move_delivery_state(wa_rig: WaRig) -> None:
    rig = wa_rig
    await rig.say("halo")
    rows = await _rows(rig)
    calls = rig.fake.sent_calls(WA_USER)
    assert len(rows) == 2 and len(calls) == 2
    read = rig.fake.status(calls[0], "read")
    delivered_late = rig.fake.status(calls[0], "delivered")  # arrives after "read"
    failed = rig.fake.webhook(
        rig.fake.status_value(
            str(calls[1].wamid), "failed", WA_PHONE, error_code=131026, with_contacts=False
        )
    )
    for payload in (read, delivered_late, failed):
        assert await rig.post(payload) == 200
    await rig.settle()
    first, second = await _rows(rig)
    assert first.status == "read" and first.read_at and first.delivered_at
    assert second.status == "failed" and second.reason.startswith("131026")
    async with rig.runtime.db.session() as session:
        deliveries = (
            await session.exec(
                select(MessageLog.delivery)
                .where(MessageLog.direction == "out")
                .order_by(col(MessageLog.id))
            )
        ).all()
        identity = (await session.exec(select(ChannelIdentity))).one()
    assert list(deliveries) == ["read", "failed"]
    assert identity.unreachable_at is not None  # 131026: undeliverable


async def test_outside_the_24_hour_window_a_template_is_sent(wa_rig: WaRig) -> None:
    rig = wa_rig
    code = await _file_report_with_photo(rig)
    async with rig.runtime.db.transaction() as session:
        identity = (await session.exec(select(ChannelIdentity))).one()
        identity.last_inbound_at = utcnow() - timedelta(hours=25)
        session.add(identity)
        report = (await session.exec(select(Report))).one()
        service = ReportService(session, rig.runtime.settings, rig.runtime.catalogs)
        await service.change_status(ADMIN, report, "diverifikasi", utcnow(), "Baris satu.\nDua.")
    await rig.settle()
    template = rig.fake.sent(WA_USER)[-1]
    assert template["type"] == "template"
    assert template["template"]["name"] == "bansos_kabar_laporan"
    assert template["template"]["language"] == {"code": "id"}
    body = template["template"]["components"][0]["parameters"]
    assert body[0]["text"] == rig.runtime.settings.office_name
    assert display_code(code) in body[1]["text"] and "\n" not in body[1]["text"]
    rows = await _rows(rig)
    assert rows[-1].sent_as == "template" and rows[-1].status == "sent"


async def test_a_131047_answer_resends_the_message_as_its_template(wa_rig: WaRig) -> None:
    rig = wa_rig
    await _agree(rig)
    rig.fake.window_closed.add(WA_USER)  # WhatsApp disagrees with our clock
    session_id = await _session(rig.runtime, min_age=None)
    async with rig.runtime.db.transaction() as session:
        queue = OutboxQueue(session, rig.runtime.catalogs)
        identity = (await session.exec(select(ChannelIdentity))).one()
        params = {"title": "Membatik", "when": "besok", "place": "Balai Desa", "code": "AB12"}
        await queue.queue(identity.id or 0, "id", "training.push.reminder_day_before", params)
    await rig.settle()
    last = rig.fake.sent(WA_USER)[-1]
    assert last["type"] == "template"
    assert last["template"]["name"] == "bansos_pengingat_pelatihan"
    assert session_id
    # A free-form message that WhatsApp accepted, then failed with 131047 in its status.
    rig.fake.window_closed.clear()
    await rig.say("menu")
    menu_call = rig.fake.sent_calls(WA_USER)[-1]
    failed = rig.fake.webhook(
        rig.fake.status_value(
            str(menu_call.wamid), "failed", WA_PHONE, error_code=131047, tracker=menu_call.tracker
        )
    )
    assert await rig.post(failed) == 200
    await rig.settle()
    again = rig.fake.sent(WA_USER)[-1]
    assert again["type"] == "template" and again["template"]["name"] == "bansos_pemberitahuan"


async def test_a_training_offer_outside_the_window_has_quick_reply_buttons(
    wa_rig: WaRig,
) -> None:
    rig = wa_rig
    await _agree(rig)
    async with rig.runtime.db.transaction() as session:
        identity = (await session.exec(select(ChannelIdentity))).one()
        identity.last_inbound_at = utcnow() - timedelta(days=3)
        session.add(identity)
        choices = (
            Choice("seat:ABCD2345:yes", "training.offer_accept"),
            Choice("seat:ABCD2345:no", "training.offer_decline"),
        )
        params = {"title": "Membatik", "until": "besok", "code": "ABCD-2345"}
        await OutboxQueue(session, rig.runtime.catalogs).queue(
            identity.id or 0, "id", "training.push.offer", params, choices
        )
    await rig.settle()
    template = rig.fake.sent(WA_USER)[-1]["template"]
    assert template["name"] == "bansos_tawaran_kursi"
    buttons = [c for c in template["components"] if c["type"] == "button"]
    assert [b["parameters"][0]["payload"] for b in buttons] == [
        "seat:ABCD2345:yes",
        "seat:ABCD2345:no",
    ]
    tap = rig.fake.template_button(WA_PHONE, "seat:ABCD2345:no", "Tidak jadi", user_id=WA_USER)
    answer = await rig.deliver(rig.fake.deliver(tap))
    assert answer  # the engine answered the quick reply like a button


async def test_a_130429_storm_pauses_the_number_on_a_4x_schedule(wa_rig: WaRig) -> None:
    rig = wa_rig
    rig.fake.fail_next(130429, count=3)
    assert await rig.post(rig.fake.say(WA_PHONE, "halo", WA_USER)) == 200
    await rig.channel.process_pending()
    pauses = []
    for _ in range(3):
        started = time.monotonic()
        assert await rig.sender.send_pending() == 0
        pauses.append(round(rig.sender._paused_until - started))
        assert {row.status for row in await _rows(rig)} == {"pending"}
        await _release(rig)
    assert pauses == [1, 4, 16]
    while await rig.sender.send_pending():
        pass
    texts = rig.fake.texts(WA_USER)
    assert len(texts) == 2
    assert "Selamat datang" in texts[0] and "Sebelum mulai" in texts[1]  # in order
    assert rig.sender._throttle_strikes == 0  # a success resets the schedule


async def test_a_131056_backs_off_that_recipient_only(wa_rig: WaRig) -> None:
    rig = wa_rig
    other_phone, other_user = "6281234567002", "ID.1234567002"
    rig.fake.fail_next(131056, recipient=WA_USER)
    both = rig.fake.deliver(
        rig.fake.text(WA_PHONE, "halo", WA_USER), rig.fake.text(other_phone, "halo", other_user)
    )
    assert await rig.post(both) == 200
    await rig.settle()
    assert len(rig.fake.texts(other_user)) == 2  # the other resident was not held up
    assert rig.fake.texts(WA_USER) == []
    assert WA_USER in rig.sender._pair_held
    await _release(rig)
    await rig.settle()
    assert len(rig.fake.texts(WA_USER)) == 2


async def test_stickers_reactions_and_unusable_bodies(wa_rig: WaRig) -> None:
    rig = wa_rig
    await _agree(rig)
    sent_before = len(rig.fake.sent(WA_USER))
    reaction = rig.fake.reaction(WA_PHONE, "wamid.X", "👍", user_id=WA_USER)
    assert await rig.post(rig.fake.deliver(reaction)) == 200
    await rig.settle()
    assert len(rig.fake.sent(WA_USER)) == sent_before  # a reaction needs no answer
    unsupported = await rig.deliver(
        rig.fake.deliver(rig.fake.unsupported(WA_PHONE, user_id=WA_USER))
    )
    assert any("belum bisa kami baca" in text for text in unsupported)
    for junk in (b"{not json", b"[1, 2]", b'{"entry": "x"}', b'{"entry": [{"changes": [1]}]}'):
        assert await rig.post(junk) == 200  # signed but unusable: answered, not retried
    assert await rig.post(b"{" + b" " * (3 * 1024 * 1024 + 10) + b"}") == 413


async def test_media_beyond_the_limits_is_refused_kindly(wa_rig: WaRig) -> None:
    rig = wa_rig
    await _leksono(rig)
    await _agree(rig)
    for choice in ("menu:report", "report:kind:barang", "report:identity:named",
                   "report:programme:BPNT"):  # fmt: skip
        await rig.tap(choice)
    await rig.say("Leksono")
    await rig.tap("report:when:today")
    await rig.say("Beras yang dibagikan berkutu dan berbau apek, tidak layak dimakan.")
    big = rig.fake.add_media(b"x" * (10 * 1024 * 1024 + 1), "video/mp4")
    too_big = await rig.deliver(rig.fake.deliver(rig.fake.video(WA_PHONE, big, user_id=WA_USER)))
    assert any("terlalu besar" in text for text in too_big)
    zip_id = rig.fake.add_media(b"PK\x03\x04", "application/zip")
    document = rig.fake.document(WA_PHONE, zip_id, mime="application/zip", filename="a.zip",
                                 user_id=WA_USER)  # fmt: skip
    bad_type = await rig.deliver(rig.fake.deliver(document))
    assert bad_type and not any("Bukti diterima" in text for text in bad_type)
    forged = rig.fake.add_media(b"\xff\xd8\xff real", "image/jpeg")
    lying = rig.fake.image(WA_PHONE, forged, sha256="0" * 64, user_id=WA_USER)
    rig.fake.media[forged].data = b"\xff\xd8\xff swapped"  # content no longer matches
    assert await rig.post(rig.fake.deliver(lying)) == 200
    await rig.settle()
    assert not any("Bukti diterima" in text for text in rig.fake.texts(WA_USER))


async def test_more_than_ten_choices_and_long_labels_fit_whatsapp(wa_rig: WaRig) -> None:
    rig = wa_rig
    await _agree(rig)
    long_choices = [Choice(f"topic:{n}", "common.back_to_menu") for n in range(3)]
    many = [Choice(f"nav:item:{n}", "report.rate_option", {"n": n}) for n in range(1, 14)]
    async with rig.runtime.db.transaction() as session:
        identity = (await session.exec(select(ChannelIdentity))).one()
        queue = OutboxQueue(session, rig.runtime.catalogs)
        await queue.queue(identity.id or 0, "id", "common.cancelled", {}, long_choices)
        await queue.queue(identity.id or 0, "id", "common.cancelled", {}, many)
    before = len(rig.fake.sent(WA_USER))
    await rig.settle()
    buttons, first_list, second_list = rig.fake.sent(WA_USER)[before:]
    assert buttons["interactive"]["type"] == "button"
    assert first_list["interactive"]["type"] == "list" == second_list["interactive"]["type"]
    rows = [r for s in first_list["interactive"]["action"]["sections"] for r in s["rows"]]
    more = [r for s in second_list["interactive"]["action"]["sections"] for r in s["rows"]]
    assert len(rows) == 10 and len(more) == 3
    assert second_list["interactive"]["action"]["button"] == "Lainnya…"
    assert [r["id"] for r in rows + more] == [c.id for c in many]


def test_labels_are_shortened_well_and_kept_whole_in_the_body() -> None:
    catalogs = Catalogs(PROJECT_ROOT / "locales", "id")
    long_label = "Ya, saya mau ikut pelatihan menjahit"
    out = render_message(catalogs, "id", "Mau ikut?", [("a", long_label), ("b", "Tidak")])
    (message,) = out
    assert isinstance(message, ButtonsOut)
    title = message.buttons[0][1]
    assert len(title) <= 20 and title.endswith("…") and " " in title and title != "…"
    assert long_label in message.body and message.body.startswith("Mau ikut?")
    assert shorten("Kembaliii", 5) == "Kemb…"
    same = render_message(catalogs, "id", "x", [("a", "Sama persis"), ("b", "Sama persis")])
    assert isinstance(same[0], ButtonsOut)
    assert len({t for _, t in same[0].buttons}) == 2  # WhatsApp refuses repeated titles
    huge = render_message(catalogs, "id", "kata " * 2000, [("a", "Ya"), ("b", "Tidak")])
    assert [type(m).__name__ for m in huge] == ["TextOut", "TextOut", "TextOut", "ButtonsOut"]
    assert all(len(m.body) <= 4096 for m in huge)
    assert neutralise_markup("*tebal* _miring_ ~coret~ `kode`") == "∗tebal∗ ˍmiringˍ ∼coret∼ ˋkodeˋ"
    assert one_line("Baris satu.\n\n  Baris   dua.\t") == "Baris satu. · Baris dua."


async def test_an_interrupted_send_is_reconciled_from_its_status(wa_rig: WaRig) -> None:
    rig = wa_rig
    assert await rig.post(rig.fake.say(WA_PHONE, "halo", WA_USER)) == 200
    await rig.channel.process_pending()
    await rig.sender.send_pending(limit=1)  # the first row went out…
    async with rig.runtime.db.transaction() as session:
        first = (await session.exec(select(Outbox).order_by(col(Outbox.id)))).first()
        assert first is not None and first.status == "sent"
        first.status, first.platform_message_id = "sending", None  # …but was never recorded
        first.next_attempt_at = utcnow() - timedelta(minutes=11)
        session.add(first)
    await rig.settle()
    rows = await _rows(rig)
    assert (rows[0].status, rows[0].reason) == ("failed", "interrupted")
    assert len(rig.fake.texts(WA_USER)) == 2  # not sent a second time
    call = rig.fake.sent_calls(WA_USER)[0]
    assert call.tracker == f"outbox:{rows[0].id}"
    assert await rig.post(rig.fake.status(call, "delivered")) == 200
    await rig.settle()
    rows = await _rows(rig)
    assert rows[0].status == "delivered" and rows[0].platform_message_id == call.wamid


async def test_a_resident_known_by_phone_before_bsuids_keeps_their_conversation(
    wa_rig: WaRig,
) -> None:
    rig = wa_rig
    await rig.deliver(rig.fake.say(WA_PHONE, "halo", None), to=WA_PHONE)
    await rig.deliver(rig.fake.say(WA_PHONE, "1", WA_USER), to=WA_PHONE)
    async with rig.runtime.db.session() as session:
        identities = (await session.exec(select(ChannelIdentity))).all()
    assert [i.external_id for i in identities] == [WA_PHONE]
    assert any("Apa yang bisa kami bantu" in t for t in rig.fake.texts(WA_PHONE))


async def test_the_webhook_answers_503_when_the_database_is_down(wa_rig: WaRig) -> None:
    rig = wa_rig
    broken = build_runtime(rig.runtime.settings, Database("postgresql+asyncpg://x@127.0.0.1:1/x"))
    app = create_app(broken)
    body = json.dumps(rig.fake.say(WA_PHONE, "halo", WA_USER)).encode()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        response = await client.post(
            "/webhooks/whatsapp",
            content=body,
            headers={"X-Hub-Signature-256": sign(body, WA_APP_SECRET)},
        )
    await broken.db.dispose()
    assert response.status_code == 503


async def test_serve_runs_the_worker_that_answers_webhooks(wa_rig: WaRig) -> None:
    rig = wa_rig
    app = create_app(rig.runtime, run_workers=True)
    body = json.dumps(rig.fake.say(WA_PHONE, "halo", WA_USER)).encode()
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        response = await client.post(
            "/webhooks/whatsapp",
            content=body,
            headers={"X-Hub-Signature-256": sign(body, WA_APP_SECRET)},
        )
        assert response.status_code == 200
        for _ in range(200):
            if len(rig.fake.texts(WA_USER)) >= 2:
                break
            await asyncio.sleep(0.05)
    assert any("Selamat datang" in text for text in rig.fake.texts(WA_USER))


async def test_my_trainings_and_deleting_my_data_on_whatsapp(wa_rig: WaRig) -> None:
    rig = wa_rig
    await _up_to_the_phone_question(rig)
    await rig.say("0812 3456 7890")
    await rig.say("menu")
    mine = await rig.tap("menu:my_trainings")
    assert any("Membatik Tulis" in text for text in mine)
    await rig.say("hapus data saya")
    assert rig.choice_ids()  # the privacy journey asks before deleting anything


async def test_bad_input_stale_buttons_huge_texts_and_concurrent_redeliveries(
    wa_rig: WaRig,
) -> None:
    rig = wa_rig
    await _agree(rig)
    stale = rig.fake.button_reply(WA_PHONE, "report:kind:potongan", "Potongan", user_id=WA_USER)
    answer = await rig.deliver(rig.fake.deliver(stale))
    assert any("sudah tidak berlaku" in text for text in answer)
    flood = await rig.say("*tebal* " * 700)
    assert any("terlalu panjang" in text or "pendek" in text for text in flood), flood
    await rig.say("menu")
    await rig.tap("menu:status")
    wrong = await rig.say("3307 9945 0580 901")
    assert any("NIK harus 16 angka, Anda mengirim 15" in text for text in wrong)
    payload = rig.fake.say(WA_PHONE, "menu", WA_USER)
    before = len(rig.fake.texts(WA_USER))
    codes = await asyncio.gather(*(rig.post(payload) for _ in range(5)))
    assert codes == [200] * 5
    await rig.settle()
    menus = [t for t in rig.fake.texts(WA_USER)[before:] if "Apa yang bisa kami bantu" in t]
    assert len(menus) == 1


async def test_no_raw_nik_in_logs_or_tables_of_a_whatsapp_journey(
    wa_rig: WaRig, caplog: pytest.LogCaptureFixture
) -> None:
    rig = wa_rig
    await seed_demo(rig.runtime.db, rig.runtime.vault)
    nik, name, *_ = SHOWCASE[0]
    with caplog.at_level(logging.DEBUG):
        await _agree(rig)
        await rig.tap("menu:status")
        await rig.say(nik)
        await rig.say(name)
    assert nik not in caplog.text
    async with rig.runtime.db.session() as session:
        for table in (InboundEvent, MessageLog, Outbox):
            for row in (await session.exec(select(table))).all():
                assert nik not in json.dumps(row.model_dump(mode="json"), ensure_ascii=False)


async def test_the_pair_pace_holds_one_person_and_not_the_others(wa_rig: WaRig) -> None:
    rig = wa_rig
    settings = rig.runtime.settings.model_copy(
        update={"whatsapp_pair_seconds": 6.0, "whatsapp_pair_burst": 2}
    )
    sender = WhatsAppSender(build_runtime(settings, rig.runtime.db), rig.sender.client)
    other_phone, other_user = "6281234567002", "ID.1234567002"
    both = rig.fake.deliver(
        rig.fake.text(WA_PHONE, "halo", WA_USER), rig.fake.text(other_phone, "halo", other_user)
    )
    assert await rig.post(both) == 200
    await rig.channel.process_pending()
    await rig.say("menu")  # settles with the rig's unpaced sender: 2 more rows each way
    async with rig.runtime.db.transaction() as session:
        queue = OutboxQueue(session, rig.runtime.catalogs)
        for identity in (await session.exec(select(ChannelIdentity))).all():
            for _ in range(3):
                await queue.queue(identity.id or 0, "id", "common.cancelled")
    assert await sender.send_pending() == 4  # a burst of 2 for each person
    waiting = [row for row in await _rows(rig) if row.status == "pending"]
    assert len({row.identity_id for row in waiting}) == 2  # one held back per person
    for row in waiting:
        assert row.next_attempt_at is not None
        assert 2 <= (row.next_attempt_at - utcnow()).total_seconds() <= 7


async def test_early_statuses_wait_and_unreadable_messages_do_not_block(wa_rig: WaRig) -> None:
    rig = wa_rig
    early = rig.fake.webhook(rig.fake.status_value("wamid.NOT-YET", "delivered", WA_PHONE))
    assert await rig.post(early) == 200
    broken = rig.fake.location(WA_PHONE, 0.0, 0.0, user_id=WA_USER)
    broken["location"]["latitude"] = "utara"  # float("utara") fails
    assert await rig.post(rig.fake.deliver(broken)) == 200
    welcome = await rig.say("halo")
    assert any("Selamat datang" in text for text in welcome)
    async with rig.runtime.db.session() as session:
        states = dict(
            (await session.exec(select(InboundEvent.platform_id, InboundEvent.status))).all()
        )
    assert states["status:wamid.NOT-YET:delivered"] == "deferred"
    assert states[broken["id"]] == "processed"
    async with rig.runtime.db.transaction() as session:
        event = (
            await session.exec(select(InboundEvent).where(InboundEvent.status == "deferred"))
        ).one()
        event.received_at = utcnow() - timedelta(minutes=11)
        session.add(event)
    rig.channel._deferred_due = 0.0
    await rig.channel.process_pending()
    async with rig.runtime.db.session() as session:
        left = (
            await session.exec(select(InboundEvent).where(InboundEvent.status == "deferred"))
        ).all()
    assert left == []


async def test_errors_are_retried_or_final_by_their_code(wa_rig: WaRig) -> None:
    rig = wa_rig
    await _agree(rig)
    async with rig.runtime.db.transaction() as session:
        identity = (await session.exec(select(ChannelIdentity))).one()
        queue = OutboxQueue(session, rig.runtime.catalogs)
        for _ in range(3):
            await queue.queue(identity.id or 0, "id", "common.cancelled")
    rig.fake.fail_next(131000)  # something went wrong at Meta: try again later
    await rig.sender.send_pending()
    transient, *later = [row for row in await _rows(rig) if row.status != "sent"]
    assert transient.status == "pending" and transient.reason.startswith("131000")
    assert transient.attempts == 1 and transient.next_attempt_at is not None
    assert all(row.status == "pending" for row in later)  # held behind it, in order
    await _release(rig)
    rig.fake.fail_next(131009)  # our message was invalid: retrying cannot help
    await rig.sender.send_pending()
    rows = [row for row in await _rows(rig) if row.message_key == "common.cancelled"]
    assert [r.status for r in rows] == ["failed", "sent", "sent"]
    assert rows[0].reason.startswith("131009")
    rig.fake.fail_next(131026)  # not on WhatsApp (any more)
    await rig.say("menu")
    async with rig.runtime.db.session() as session:
        identity = (await session.exec(select(ChannelIdentity))).one()
    assert identity.unreachable_at is not None
    assert (await _rows(rig))[-1].reason.startswith("131026")
    await rig.say("halo?")  # nothing more is sent to an unreachable person
    assert (await _rows(rig))[-1].status == "skipped"
