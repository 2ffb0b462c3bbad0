"""The Telegram rig: the real aiogram client, the fake Bot API, the app and the worker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from pydantic import SecretStr

from bot.engine import Engine
from bot.handlers.telegram import TelegramChannel, TelegramInbox, TelegramSender, make_bot
from bot.handlers.telegram_officers import OfficerDesk
from bot.runtime import Runtime, build_runtime
from bot.web.app import create_app
from tests.fakes.telegram_api import FakeTelegram

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
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield Rig(
            fake,
            tg_runtime,
            TelegramChannel(tg_runtime, engine, bot, OfficerDesk(tg_runtime, bot)),
            TelegramSender(tg_runtime, bot),
            TelegramInbox(tg_runtime),
            client,
        )
    await bot.session.close()
    await fake.stop()
