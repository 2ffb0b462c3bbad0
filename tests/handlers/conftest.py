"""The channel rigs: the real aiogram and pywa clients against the fake Bot API and Graph
API servers, the app over HTTP, and the workers' passes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from bot.engine import Engine
from bot.handlers.telegram import TelegramChannel, TelegramInbox, TelegramSender, make_bot
from bot.handlers.telegram_officers import OfficerDesk
from bot.handlers.whatsapp import WhatsAppChannel, close_client, make_client
from bot.handlers.whatsapp_sender import WhatsAppSender
from bot.runtime import Runtime, build_runtime
from bot.web.app import create_app
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.whatsapp_api import FakeWhatsApp, sign

SECRET = "s3cret-token-for-tests"
CHAT = 5550001
OFFICER_CHAT = -1009990001


@dataclass
class Rig:
    fake: FakeTelegram
    runtime: Runtime
    channel: TelegramChannel
    sender: TelegramSender
    inbox: TelegramInbox
    client: httpx.AsyncClient

    async def post(self, update: dict[str, object], secret: str | None = SECRET) -> int:
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
        response = await self.client.post("/webhooks/telegram", json=update, headers=headers)
        return response.status_code

    async def settle(self) -> None:
        """Let the worker run: process stored updates, then send the outbox."""
        await self.channel.process_pending()
        while await self.sender.send_pending():
            pass

    async def say(self, text: str, chat: int = CHAT) -> list[str]:
        before = len(self.fake.texts(chat))
        assert await self.post(self.fake.message(chat, text)) == 200
        await self.settle()
        return self.fake.texts(chat)[before:]

    async def tap(self, data: str, chat: int = CHAT) -> list[str]:
        before = len(self.fake.texts(chat))
        assert await self.post(self.fake.tap(chat, data)) == 200
        await self.settle()
        return self.fake.texts(chat)[before:]

    def buttons(self, chat: int = CHAT) -> list[str]:
        markup = self.fake.sent(chat)[-1].get("reply_markup") or {}
        return [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row]


@pytest.fixture
async def rig(runtime: Runtime) -> AsyncIterator[Rig]:
    fake = FakeTelegram()
    await fake.start()
    settings = runtime.settings.model_copy(
        update={
            "telegram_bot_token": SecretStr(fake.token),
            "telegram_api_url": fake.base_url,
            "telegram_webhook_secret": SecretStr(SECRET),
            "telegram_chat_seconds": 0.0,
            "telegram_officer_chat_id": OFFICER_CHAT,
        }
    )
    tg_runtime = build_runtime(settings, runtime.db)
    engine = Engine(tg_runtime)
    bot = make_bot(tg_runtime)
    app = create_app(tg_runtime, engine)
    transport = httpx.ASGITransport(app=app)
    sender = TelegramSender(tg_runtime, bot)
    desk = OfficerDesk(tg_runtime, bot, sender.window)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield Rig(
            fake,
            tg_runtime,
            TelegramChannel(tg_runtime, engine, bot, sender.window, desk),
            sender,
            TelegramInbox(tg_runtime),
            client,
        )
    await bot.session.close()
    await fake.stop()


# -- WhatsApp: the real pywa async client, the fake Graph API, the app and the worker ------

WA_APP_SECRET = "app-secret-for-tests"
WA_VERIFY_TOKEN = "verify-token-for-tests"
WA_PHONE = "6281234567001"
WA_USER = "ID.1234567001"


@dataclass
class WaRig:
    fake: FakeWhatsApp
    runtime: Runtime
    channel: WhatsAppChannel
    sender: WhatsAppSender
    client: httpx.AsyncClient

    async def post(self, payload: dict[str, Any] | bytes, signature: str | None = "sign") -> int:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        if signature == "sign":
            headers["X-Hub-Signature-256"] = sign(body, WA_APP_SECRET)
        elif signature is not None:
            headers["X-Hub-Signature-256"] = signature
        response = await self.client.post("/webhooks/whatsapp", content=body, headers=headers)
        return response.status_code

    async def settle(self) -> None:
        """Let the worker run: process stored messages, then send the outbox."""
        while await self.channel.process_pending():
            pass
        while await self.sender.send_pending():
            pass

    async def deliver(self, payload: dict[str, Any], to: str = WA_USER) -> list[str]:
        before = len(self.fake.texts(to))
        assert await self.post(payload) == 200
        await self.settle()
        return self.fake.texts(to)[before:]

    async def say(self, text: str, phone: str = WA_PHONE, user: str = WA_USER) -> list[str]:
        return await self.deliver(self.fake.say(phone, text, user), user)

    async def tap(self, choice_id: str, phone: str = WA_PHONE, user: str = WA_USER) -> list[str]:
        """Tap a reply button or list row that the last interactive message offered."""
        offered = dict(self.fake.last_buttons(user))
        assert choice_id in offered, f"{choice_id} not among {list(offered)}"
        title = offered[choice_id]
        last = next(b for b in reversed(self.fake.sent(user)) if b["type"] == "interactive")
        if last["interactive"]["type"] == "list":
            message = self.fake.list_reply(phone, choice_id, title, user_id=user)
        else:
            message = self.fake.button_reply(phone, choice_id, title, user_id=user)
        return await self.deliver(self.fake.deliver(message), user)

    def choice_ids(self, to: str = WA_USER) -> list[str]:
        return [cid for cid, _ in self.fake.last_buttons(to)]


@pytest.fixture
async def wa_rig(runtime: Runtime) -> AsyncIterator[WaRig]:
    fake = FakeWhatsApp()
    await fake.start()
    settings = runtime.settings.model_copy(
        update={
            "whatsapp_access_token": SecretStr(fake.token),
            "whatsapp_phone_number_id": fake.phone_id,
            "whatsapp_app_secret": SecretStr(WA_APP_SECRET),
            "whatsapp_verify_token": SecretStr(WA_VERIFY_TOKEN),
            "whatsapp_api_url": fake.base_url,
            "whatsapp_pair_seconds": 0.0,
        }
    )
    wa_runtime = build_runtime(settings, runtime.db)
    engine = Engine(wa_runtime)
    client = make_client(wa_runtime)
    app = create_app(wa_runtime, engine)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield WaRig(
            fake,
            wa_runtime,
            WhatsAppChannel(wa_runtime, engine, client),
            WhatsAppSender(wa_runtime, client),
            http,
        )
    await close_client(client)
    await fake.stop()
