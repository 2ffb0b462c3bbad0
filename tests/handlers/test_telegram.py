"""The Telegram channel end to end: the real aiogram client against the fake Bot API server,
webhooks over HTTP into the app, the engine, the outbox and the rate-limited sender."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
from aiogram.types import InlineKeyboardButton
from sqlmodel import col, func, select

from bot.engine import Engine
from bot.handlers.render import split_text
from bot.handlers.telegram import TelegramChannel, keyboard_rows, poll_forever
from bot.runtime import Runtime, build_runtime
from bot.services.demo import SHOWCASE, seed_demo
from bot.web.app import create_app
from storage.db import Database
from storage.models import ChannelIdentity, InboundEvent, Outbox, Village
from storage.types import utcnow
from tests.dialogs.test_training_journey import _session
from tests.handlers.conftest import CHAT, SECRET, Rig


async def test_a_status_check_on_telegram_with_buttons(rig: Rig) -> None:
    await seed_demo(rig.runtime.db, rig.runtime.vault)
    first = await rig.say("/start")
    assert any("Selamat datang" in text for text in first)
    assert "welcome:agree" in rig.buttons()
    assert rig.fake.sent(CHAT)[-1]["parse_mode"] == "HTML"
    menu = await rig.tap("welcome:agree")
    assert any("Apa yang bisa kami bantu" in text for text in menu)
    assert "menu:status" in rig.buttons()
    callbacks = [c for c in rig.fake.calls if c.method == "answerCallbackQuery"]
    assert len(callbacks) == 1  # the spinner stops for every tap
    cleared = [c for c in rig.fake.calls if c.method == "editMessageReplyMarkup"]
    assert len(cleared) == 1 and "reply_markup" not in cleared[0].params  # old buttons gone
    await rig.tap("menu:status")
    nik, name, *_ = SHOWCASE[0]
    await rig.say(nik)
    answer = await rig.say(name)
    assert any("Desa Leksono" in text and "SIT* N** AMI***" in text for text in answer)
    assert all(nik not in text for text in rig.fake.texts(CHAT))


async def test_a_wrong_or_missing_secret_is_refused_with_no_effect(rig: Rig) -> None:
    update = rig.fake.message(CHAT, "halo")
    assert await rig.post(update, secret="wrong") == 401
    assert await rig.post(update, secret=None) == 401
    async with rig.runtime.db.session() as session:
        assert (await session.exec(select(func.count()).select_from(InboundEvent))).one() == 0


async def test_an_update_delivered_three_times_has_one_effect(rig: Rig) -> None:
    update = rig.fake.message(CHAT, "halo")
    for _ in range(3):
        assert await rig.post(update) == 200
    await rig.settle()
    welcomes = [t for t in rig.fake.texts(CHAT) if "Selamat datang" in t]
    assert len(welcomes) == 1


async def test_a_crash_between_storing_and_processing_loses_nothing(
    rig: Rig, runtime: Runtime
) -> None:
    assert await rig.post(rig.fake.message(CHAT, "halo")) == 200
    async with rig.runtime.db.session() as session:
        stored = (await session.exec(select(InboundEvent))).one()
    assert stored.status == "received" and "halo" not in str(stored.payload)  # sealed
    # "Restart": a new engine and channel pick the stored update up.
    fresh = Engine(rig.runtime)
    await TelegramChannel(rig.runtime, fresh, rig.channel.bot, rig.sender.window).process_pending()
    while await rig.sender.send_pending():
        pass
    assert any("Selamat datang" in t for t in rig.fake.texts(CHAT))
    async with rig.runtime.db.session() as session:
        event = (await session.exec(select(InboundEvent))).one()
    assert event.status == "processed" and event.payload == {}


async def test_a_429_storm_delays_but_keeps_order(rig: Rig) -> None:
    for _ in range(3):
        rig.fake.fail_next("sendMessage", 429, description="Too Many Requests", retry_after=1)
    assert await rig.post(rig.fake.message(CHAT, "halo")) == 200
    await rig.channel.process_pending()
    assert await rig.sender.send_pending() == 0  # the first send got 429: all wait
    async with rig.runtime.db.session() as session:
        pending = (await session.exec(select(Outbox).order_by(col(Outbox.id)))).all()
    assert {row.status for row in pending} == {"pending"}
    rig.sender._paused_until = 0  # the retry_after has passed
    for row in pending:
        async with rig.runtime.db.transaction() as session:
            stored = await session.get(Outbox, row.id)
            assert stored is not None
            stored.next_attempt_at = None
            session.add(stored)
    for _ in range(6):
        await rig.sender.send_pending()
        rig.sender._paused_until = 0
        async with rig.runtime.db.transaction() as session:
            for stored in (await session.exec(select(Outbox))).all():
                stored.next_attempt_at = None
                session.add(stored)
    texts = rig.fake.texts(CHAT)
    assert len(texts) == 2
    assert "Selamat datang" in texts[0] and "Sebelum mulai" in texts[1]  # in order


async def test_a_blocked_user_is_marked_unreachable(rig: Rig) -> None:
    rig.fake.blocked_chats.add(CHAT)
    assert await rig.post(rig.fake.message(CHAT, "halo")) == 200
    await rig.settle()
    async with rig.runtime.db.session() as session:
        identity = (await session.exec(select(ChannelIdentity))).one()
        rows = (await session.exec(select(Outbox).order_by(col(Outbox.id)))).all()
    assert identity.unreachable_at is not None
    assert [(r.status, r.reason) for r in rows] == [
        ("failed", "blocked"),
        ("skipped", "unreachable"),
    ]
    calls = len(rig.fake.sent())
    assert await rig.post(rig.fake.message(CHAT, "menu")) == 200
    await rig.settle()
    assert len(rig.fake.sent()) == calls  # no more sends to a blocked chat


async def test_markup_typed_by_people_arrives_as_literal_text(rig: Rig) -> None:
    script = "<script>alert('x')</script> & &amp; <b>tebal</b> "
    story = (script * 80)[:1900]
    async with rig.runtime.db.transaction() as session:
        session.add(Village(code="3307992006", name="Leksono", kecamatan="Sukamaju"))
    await rig.say("halo")
    await rig.tap("welcome:agree")
    await rig.tap("menu:report")
    await rig.tap("report:kind:lainnya")
    await rig.tap("report:identity:named")
    await rig.tap("report:programme:unknown")
    await rig.say("Leksono")
    await rig.tap("report:when:today")
    await rig.say(story)
    summary = await rig.tap("report:evidence_next")
    joined = "".join(summary)
    assert "&lt;script&gt;" in joined and "&amp;amp;" in joined and "<script>" not in joined
    assert all(len(chunk) <= 4096 for chunk in rig.fake.texts(CHAT))


def test_long_texts_split_on_boundaries_and_keyboards_fit_phones() -> None:
    text = ("Paragraf satu. " * 200).strip() + "\n\n" + ("kata " * 900)
    chunks = split_text(text)
    assert all(len(chunk) <= 4096 for chunk in chunks) and len(chunks) == 2
    assert "".join(chunks).replace(" ", "").replace("\n", "") == text.replace(" ", "").replace(
        "\n", ""
    )
    assert split_text("&amp;" * 1000)[0].endswith(";")
    short = [InlineKeyboardButton(text=f"{n}", callback_data=f"rate:X:{n}") for n in range(5)]
    assert [len(row) for row in keyboard_rows(short)] == [2, 2, 1]
    long = [InlineKeyboardButton(text="Kembali ke menu utama", callback_data="nav:menu")] * 3
    assert [len(row) for row in keyboard_rows(long)] == [1, 1, 1]


async def test_a_report_with_a_photo_and_a_sticker(rig: Rig) -> None:
    async with rig.runtime.db.transaction() as session:
        session.add(Village(code="3307992006", name="Leksono", kecamatan="Sukamaju"))
    await rig.say("halo")
    await rig.tap("welcome:agree")
    sticker = rig.fake.update(
        message={
            "message_id": 77,
            "date": 1_790_000_000,
            "chat": {"id": CHAT, "type": "private"},
            "from": {"id": CHAT, "is_bot": False, "first_name": "Warga"},
            "sticker": {"file_id": "stk", "file_unique_id": "stk", "type": "regular",
                        "width": 1, "height": 1, "is_animated": False, "is_video": False},
        }
    )  # fmt: skip
    assert await rig.post(sticker) == 200
    await rig.settle()
    assert "belum bisa kami baca" in rig.fake.texts(CHAT)[-1]
    for data in ("menu:report", "report:kind:potongan", "report:identity:named",
                 "report:programme:PKH"):  # fmt: skip
        await rig.tap(data)
    await rig.say("Leksono")
    await rig.tap("report:when:today")
    await rig.tap("report:subject:unknown")
    await rig.say("Ketua kelompok memotong 50 ribu dari setiap penerima bantuan.")
    rig.fake.files["foto1"] = b"\xff\xd8\xff bukti kuitansi"
    photo = rig.fake.update(
        message={
            "message_id": 78,
            "date": 1_790_000_000,
            "chat": {"id": CHAT, "type": "private"},
            "from": {"id": CHAT, "is_bot": False, "first_name": "Warga"},
            "photo": [
                {"file_id": "small", "file_unique_id": "s", "width": 90, "height": 90},
                {"file_id": "foto1", "file_unique_id": "f", "width": 800, "height": 600,
                 "file_size": 17},
            ],
        }
    )  # fmt: skip
    assert await rig.post(photo) == 200
    await rig.settle()
    assert "Bukti diterima (1 dari 5)" in rig.fake.texts(CHAT)[-1]
    await rig.tap("report:evidence_next")
    filed = await rig.tap("report:submit")
    assert any("Kode laporan Anda" in text for text in filed)


async def test_a_training_phone_from_a_shared_contact(rig: Rig) -> None:
    session_id = await _session(rig.runtime, min_age=None)
    await rig.say("halo")
    await rig.tap("welcome:agree")
    await rig.tap("menu:training")
    await rig.tap(f"training:session:{session_id}")
    await rig.tap("training:register")
    await rig.say("3307994505800001")
    await rig.say("Siti Aminah")
    last = rig.fake.sent(CHAT)[-1]
    keyboard = last["reply_markup"]["keyboard"]
    assert keyboard[0][0]["request_contact"] is True
    contact = rig.fake.update(
        message={
            "message_id": 90,
            "date": 1_790_000_000,
            "chat": {"id": CHAT, "type": "private"},
            "from": {"id": CHAT, "is_bot": False, "first_name": "Siti"},
            "contact": {"phone_number": "6281234567890", "first_name": "Siti", "user_id": CHAT},
        }
    )
    before = len(rig.fake.texts(CHAT))
    assert await rig.post(contact) == 200
    await rig.settle()
    assert any("Pendaftaran berhasil" in text for text in rig.fake.texts(CHAT)[before:])
    confirmation = next(
        p for p in rig.fake.sent(CHAT)[before:] if "Pendaftaran berhasil" in str(p["text"])
    )
    assert confirmation["reply_markup"] == {"remove_keyboard": True}  # the contact button goes


async def test_stale_buttons_groups_and_unusable_bodies(rig: Rig) -> None:
    await rig.say("halo")
    await rig.tap("welcome:agree")
    stale = await rig.tap("report:kind:potongan")  # from a message long gone
    assert any("sudah tidak berlaku" in text for text in stale)
    group = rig.fake.update(
        message={
            "message_id": 5,
            "date": 1_790_000_000,
            "chat": {"id": -100123, "type": "supergroup", "title": "Warga RT 3"},
            "from": {"id": CHAT, "is_bot": False, "first_name": "Warga"},
            "text": "menu",
        }
    )
    assert await rig.post(group) == 200
    await rig.settle()
    assert rig.fake.sent(-100123) == []
    response = await rig.client.post(
        "/webhooks/telegram",
        content=b"{not json",
        headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
    )
    assert response.status_code == 200  # answered, logged, not retried forever


async def test_the_webhook_answers_503_when_the_database_is_down(rig: Rig) -> None:
    broken = build_runtime(rig.runtime.settings, Database("postgresql+asyncpg://x@127.0.0.1:1/x"))
    app = create_app(broken)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        response = await client.post(
            "/webhooks/telegram",
            json=rig.fake.message(CHAT, "halo"),
            headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
        )
    await broken.db.dispose()
    assert response.status_code == 503


async def test_polling_stores_before_moving_the_offset(rig: Rig) -> None:
    rig.fake.updates = [rig.fake.message(CHAT, "halo"), rig.fake.message(CHAT, "menu")]
    last_id = int(rig.fake.updates[-1]["update_id"])
    wake = asyncio.Event()
    task = asyncio.create_task(poll_forever(rig.channel.bot, rig.inbox, wake))
    for _ in range(100):
        await asyncio.sleep(0.02)
        offsets = [c.params.get("offset") for c in rig.fake.calls if c.method == "getUpdates"]
        if len(offsets) >= 2 and offsets[-1]:
            break
    task.cancel()
    async with rig.runtime.db.session() as session:
        stored = (await session.exec(select(func.count()).select_from(InboundEvent))).one()
    assert stored == 2 and wake.is_set()
    assert int(offsets[-1] or 0) == last_id + 1
    await rig.settle()
    assert any("Selamat datang" in text for text in rig.fake.texts(CHAT))


async def test_serve_sets_the_webhook_and_the_commands(rig: Rig) -> None:
    settings = rig.runtime.settings.model_copy(update={"base_url": "https://bansos.example.id"})
    app = create_app(build_runtime(settings, rig.runtime.db), run_workers=True)
    async with app.router.lifespan_context(app):
        pass
    webhook = next(c for c in rig.fake.calls if c.method == "setWebhook")
    assert webhook.params["url"] == "https://bansos.example.id/webhooks/telegram"
    assert webhook.params["secret_token"] == SECRET
    assert webhook.params["allowed_updates"] == ["message", "callback_query"]
    assert webhook.params["drop_pending_updates"] in (False, "false", "False")
    commands = [c for c in rig.fake.calls if c.method == "setMyCommands"]
    assert len(commands) == 2
    assert "Menu utama" in str(commands[0].params["commands"])


async def test_five_thousand_characters_of_markup_get_a_calm_answer(rig: Rig) -> None:
    flood = ("<script>alert(1)</script>&amp;" * 200)[:5000]
    await rig.say("halo")
    await rig.tap("welcome:agree")
    replies = await rig.say(flood)
    assert any("terlalu panjang" in text or "pendek" in text for text in replies), replies
    assert all("<script>" not in text for text in rig.fake.texts(CHAT))


async def test_rows_left_sending_by_a_crash_are_not_sent_twice(rig: Rig) -> None:
    assert await rig.post(rig.fake.message(CHAT, "halo")) == 200
    await rig.channel.process_pending()
    claimed = await rig.sender._claim(1)  # a sender claims a row, then "crashes"
    assert len(claimed) == 1
    async with rig.runtime.db.transaction() as session:
        row = await session.get(Outbox, claimed[0][0].id)
        assert row is not None and row.status == "sending"
        row.next_attempt_at = utcnow() - timedelta(minutes=11)
        session.add(row)
    while await rig.sender.send_pending():
        pass
    async with rig.runtime.db.session() as session:
        rows = (await session.exec(select(Outbox).order_by(col(Outbox.id)))).all()
    assert [(r.status, r.reason) for r in rows] == [("failed", "interrupted"), ("sent", "")]
    assert len(rig.fake.texts(CHAT)) == 1


async def test_an_oversized_body_is_refused(rig: Rig) -> None:
    response = await rig.client.post(
        "/webhooks/telegram",
        content=b"{" + b" " * (1024 * 1024 + 10) + b"}",
        headers={"X-Telegram-Bot-Api-Secret-Token": SECRET, "content-type": "application/json"},
    )
    assert response.status_code == 413


async def test_a_menu_changing_step_edits_the_tapped_message(rig: Rig) -> None:
    await rig.say("halo")
    await rig.tap("welcome:agree")  # two replies: sent as new messages
    edits_before = [c for c in rig.fake.calls if c.method == "editMessageText"]
    assert edits_before == []
    new_before = len([c for c in rig.fake.calls if c.method == "sendMessage"])
    async with rig.runtime.db.session() as session:
        newest = (
            await session.exec(select(Outbox.platform_message_id).order_by(col(Outbox.id).desc()))
        ).first()
    assert newest is not None
    menu_id = int(newest)  # the chat's newest message: the menu
    await rig.post(rig.fake.tap(CHAT, "menu:faq", message_id=menu_id))
    await rig.settle()
    edits = [c.params for c in rig.fake.calls if c.method == "editMessageText"]
    assert len(edits) == 1 and int(edits[0]["message_id"]) == menu_id
    assert "topik" in str(edits[0]["text"]) and edits[0]["reply_markup"]["inline_keyboard"]
    assert len([c for c in rig.fake.calls if c.method == "sendMessage"]) == new_before
    rig.fake.fail_next("editMessageText", 400, description="Bad Request: message can't be edited")
    first_topic = edits[0]["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    await rig.post(rig.fake.tap(CHAT, first_topic, message_id=menu_id))
    await rig.settle()
    assert len([c for c in rig.fake.calls if c.method == "sendMessage"]) == new_before + 1
