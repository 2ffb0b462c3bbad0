"""The whole Telegram path: fake Bot API → aiogram → engine → storage → outbox → fake Bot API.

Ours: updates fetched with getUpdates from the fake server, stored (sealed) in the inbox,
processed by the engine with replies queued in the outbox, and sent by the rate-limited
sender. Baseline: an aiogram echo bot (Dispatcher + one handler that answers with
sendMessage) fed the same updates from the same fake server, in the same run. Rates are
updates per second over the whole path; latency is one step: `Engine.handle` for ours
(with its outbox rows), the handler with its sendMessage for the echo bot.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiogram import Dispatcher
from aiogram.types import Message
from pydantic import SecretStr

from bench.databases import on_each_database
from bench.timing import TimedEngine, p50_p99
from bot.handlers.telegram import TelegramChannel, TelegramInbox, TelegramSender, make_bot
from bot.runtime import build_runtime
from bot.settings import Settings
from tests.fakes.telegram_api import FakeTelegram

CHATS = 50
MESSAGES_EACH = 4
SCRIPT = ("halo", "setuju", "6", "apa itu pkh")


async def _ours(url: str, fake: FakeTelegram) -> tuple[float, list[float]]:
    settings = Settings(
        _env_file=None,
        database_url=url,
        telegram_bot_token=SecretStr(fake.token),
        telegram_api_url=fake.base_url,
        telegram_messages_per_second=1000.0,  # the fake has no limit to respect
        telegram_chat_seconds=0.0,
    )
    runtime = build_runtime(settings)
    bot = make_bot(runtime)
    inbox = TelegramInbox(runtime)
    engine = TimedEngine(runtime)
    engine.latencies = []
    sender = TelegramSender(runtime, bot)
    channel = TelegramChannel(runtime, engine, bot, sender.window)
    started = time.perf_counter()
    try:
        for text in SCRIPT[:MESSAGES_EACH]:
            fake.updates = [fake.message(9_000_000 + chat, text) for chat in range(CHATS)]
            updates = await bot.get_updates(offset=fake.updates[0]["update_id"], timeout=0)
            for update in updates:
                await inbox.store(update.model_dump(mode="json", exclude_none=True, by_alias=True))
            await channel.process_pending()
            while await sender.send_pending(limit=500):
                pass
        elapsed = time.perf_counter() - started
    finally:
        await bot.session.close()
        await runtime.db.dispose()
    return CHATS * MESSAGES_EACH / elapsed, engine.latencies


async def _echo(fake: FakeTelegram) -> tuple[float, list[float]]:
    settings = Settings(
        _env_file=None, telegram_bot_token=SecretStr(fake.token), telegram_api_url=fake.base_url
    )
    bot = make_bot(build_runtime(settings))
    dispatcher = Dispatcher()

    @dispatcher.message()
    async def echo(message: Message) -> Any:
        return await message.answer(message.text or "")

    latencies: list[float] = []
    started = time.perf_counter()
    try:
        for text in SCRIPT[:MESSAGES_EACH]:
            fake.updates = [fake.message(8_000_000 + chat, text) for chat in range(CHATS)]
            updates = await bot.get_updates(offset=fake.updates[0]["update_id"], timeout=0)
            for update in updates:
                step = time.perf_counter()
                await dispatcher.feed_update(bot, update)
                latencies.append(time.perf_counter() - step)
        elapsed = time.perf_counter() - started
    finally:
        await bot.session.close()
    return CHATS * MESSAGES_EACH / elapsed, latencies


async def _measure(url: str) -> tuple[float, list[float], float, list[float]]:
    fake = FakeTelegram()
    await fake.start()
    try:
        ours, our_latency = await _ours(url, fake)
        base, base_latency = await _echo(fake)
    finally:
        await fake.stop()
    return ours, our_latency, base, base_latency


def _run(url: str) -> tuple[float, list[float], float, list[float]]:
    return asyncio.run(_measure(url))


def main() -> None:
    rows = on_each_database(_run)
    print(f"\nTelegram path: {CHATS} chats × {MESSAGES_EACH} messages, fake Bot API on 127.0.0.1")
    print("| database | ours updates/s | aiogram echo bot updates/s | ratio "
          "| ours p50 / p99 | echo p50 / p99 |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|")
    for name, (ours, ours_lat, base, base_lat) in rows:
        print(
            f"| {name} | {ours:,.0f} | {base:,.0f} | {ours / base:.2f}x "
            f"| {p50_p99(ours_lat)} | {p50_p99(base_lat)} |"
        )


if __name__ == "__main__":
    main()
