"""Broadcasts (issue 9): the sender against the fake Telegram and WhatsApp servers.

1. Throughput with the rate limits off: 100,000 recipients. Ours: the broadcast's outbox
   rows sent by our sender (claims, the platform client, outcomes written as they come).
   Baseline: a raw httpx loop posting the same payloads to the same fake with the same
   number of requests in flight, in the same run. Target: ours at least 0.8x the raw loop.
   Also shown: the platform client alone (aiogram, pywa) sending the same messages with no
   database, the ceiling for any sender built on it.
2. The limits held: 30/s (Telegram) and 80/s (WhatsApp) with the fake enforcing them, over
   two minutes. Target: at least 0.95 of the limit, and no 429 (or 130429) from the fake.
3. SIGKILL in the middle of a 10,000-recipient broadcast, then a restart: duplicates and
   misses counted. Target: 0 and 0 (Telegram keeps a documented at-least-once window).
4. Memory of a `bansos serve` process holding 100,000 pending rows, against the same
   process idle.

BENCH_BROADCAST_RECIPIENTS and BENCH_BROADCAST_SECONDS shorten a run (defaults: 100000, 120).
"""

from __future__ import annotations

import asyncio
import html
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path

import aiohttp
import httpx
from aiogram import Bot
from pydantic import SecretStr
from pywa_async.client import WhatsApp
from sqlalchemy import text
from sqlmodel import col, select

from bench.databases import on_each_database
from bot.handlers import telegram as telegram_handler
from bot.handlers import whatsapp_sender as whatsapp_handler
from bot.handlers.telegram import TelegramSender, make_bot
from bot.handlers.whatsapp import close_client, make_client
from bot.handlers.whatsapp_sender import WhatsAppSender, tracker_for
from bot.runtime import Runtime, build_runtime
from bot.settings import Settings
from storage.db import Database
from storage.migrate import upgrade, upgrade_async
from storage.models import ChannelIdentity, Outbox
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.whatsapp_api import FakeWhatsApp
from tests.workers.crash_rig import (
    Serve,
    free_port,
    seed_subscribers,
    serve_env,
    start_broadcast,
    tally,
    telegram_env,
    telegram_received,
    wait_until,
    whatsapp_env,
    whatsapp_received,
)

RECIPIENTS = int(os.environ.get("BENCH_BROADCAST_RECIPIENTS", "100000"))
RATE_SECONDS = float(os.environ.get("BENCH_BROADCAST_SECONDS", "120"))
CRASH_RECIPIENTS = min(10_000, RECIPIENTS)
TEXT = "Penyaluran PKH tahap 4: Senin 08.00 di Balai Desa Leksono. Bawa KTP dan kartu KKS."
LIMITS = {"telegram": 30.0, "whatsapp": 80.0}
# What a crash run leaves behind, emptied before the next channel's run (children first).
EMPTIED = ("message_log", "outbox", "broadcast", "subscription", "audit_log", "conversation",
           "inbound_event", "channel_identity", "resident")  # fmt: skip
Payload = tuple[str, dict[str, object]]
APP_SECRET = "bench-app-secret"  # noqa: S105 - the fake's, for this run only


def _settings(url: str, fake: FakeTelegram | FakeWhatsApp, rate: float) -> Settings:
    if isinstance(fake, FakeTelegram):
        extra: dict[str, object] = {
            "telegram_bot_token": SecretStr(fake.token),
            "telegram_api_url": fake.base_url,
            "telegram_messages_per_second": rate,
            "telegram_chat_seconds": 0.0,
        }
    else:
        extra = {
            "whatsapp_access_token": SecretStr(fake.token),
            "whatsapp_phone_number_id": fake.phone_id,
            "whatsapp_app_secret": SecretStr(APP_SECRET),
            "whatsapp_verify_token": SecretStr("verify"),
            "whatsapp_api_url": fake.base_url,
            "whatsapp_messages_per_second": rate,
            "whatsapp_pair_seconds": 0.0,
        }
    return Settings(database_url=url, **extra)  # type: ignore[arg-type]


async def _fake(channel: str) -> FakeTelegram | FakeWhatsApp:
    fake: FakeTelegram | FakeWhatsApp = FakeTelegram() if channel == "telegram" else FakeWhatsApp()
    await fake.start()
    return fake


def _accepted(fake: FakeTelegram | FakeWhatsApp) -> list[float]:
    """When the fake accepted each message (monotonic seconds); Telegram's are stamped by
    `_stamp` below."""
    if isinstance(fake, FakeWhatsApp):
        return [c.at for c in fake.calls if c.wamid is not None]
    return list(getattr(fake, "stamps", []))


def _stamp(fake: FakeTelegram) -> None:
    """Record when each sendMessage is accepted (the fake keeps no times of its own)."""
    stamps: list[float] = []
    original = fake._flood_wait

    def counted(chat_id: int) -> int | None:
        wait = original(chat_id)
        if wait is None:
            stamps.append(time.monotonic())
        return wait

    fake._flood_wait = counted  # type: ignore[method-assign]
    fake.stamps = stamps  # type: ignore[attr-defined]


async def _send_all(sender: TelegramSender | WhatsAppSender, runtime: Runtime) -> None:
    while True:
        if await sender.send_pending() == 0:
            async with runtime.db.session() as session:
                left = await session.exec(
                    select(Outbox.id).where(col(Outbox.status).in_(["pending", "sending"])).limit(1)
                )
                if left.first() is None:
                    return
            await asyncio.sleep(0.05)


async def _payloads(
    runtime: Runtime, channel: str, fake: FakeTelegram | FakeWhatsApp
) -> list[Payload]:
    """What our sender posted, for the raw loop to post again: (url, json) per message."""
    async with runtime.db.session() as session:
        rows = (
            await session.exec(
                select(Outbox, ChannelIdentity.external_id)
                .join(ChannelIdentity, col(ChannelIdentity.id) == col(Outbox.identity_id))
                .where(col(Outbox.broadcast_id).is_not(None))
            )
        ).all()
    if isinstance(fake, FakeTelegram):
        url = f"{fake.base_url}/bot{fake.token}/sendMessage"
        return [
            (url, {"chat_id": int(chat), "text": html.escape(row.text), "parse_mode": "HTML"})
            for row, chat in rows
        ]
    url = f"{fake.base_url}/v23.0/{fake.phone_id}/messages"
    return [
        (
            url,
            {
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": to,
                "type": "text",
                "text": {"body": row.text, "preview_url": False},
                "biz_opaque_callback_data": tracker_for(row.id or 0),
            },
        )
        for row, to in rows
    ]


async def _raw_loop(payloads: list[Payload], parallel: int, token: str) -> float:
    """The baseline: post every payload with `parallel` requests in flight, with the HTTP
    library the platform's client uses (aiogram: aiohttp; pywa: httpx); seconds taken."""
    queue = list(reversed(payloads))
    if not token:  # Telegram: the token is in the URL
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=parallel)) as session:

            async def aiohttp_worker() -> None:
                while queue:
                    url, body = queue.pop()
                    async with session.post(url, json=body) as answer:
                        assert answer.status == 200, await answer.text()
                        await answer.read()

            started = time.perf_counter()
            await asyncio.gather(*(aiohttp_worker() for _ in range(parallel)))
            return time.perf_counter() - started
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=parallel, max_keepalive_connections=parallel)
    async with httpx.AsyncClient(limits=limits, headers=headers, timeout=30) as client:

        async def httpx_worker() -> None:
            while queue:
                url, body = queue.pop()
                answer = await client.post(url, json=body)
                assert answer.status_code == 200, answer.text[:200]

        started = time.perf_counter()
        await asyncio.gather(*(httpx_worker() for _ in range(parallel)))
        return time.perf_counter() - started


async def _client_loop(payloads: list[Payload], parallel: int, client: Bot | WhatsApp) -> float:
    """The platform client alone (aiogram or pywa) sending the same messages, with no
    database and no bookkeeping: the ceiling for a sender built on it; seconds taken."""
    queue = list(reversed(payloads))

    async def worker() -> None:
        while queue:
            _, body = queue.pop()
            if isinstance(client, Bot):
                await client.send_message(
                    chat_id=int(str(body["chat_id"])), text=str(body["text"]), parse_mode="HTML"
                )
            else:
                text = body["text"]
                assert isinstance(text, dict)
                await client.send_message(str(body["to"]), str(text["body"]))

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(parallel)))
    return time.perf_counter() - started


def throughput(url: str) -> list[list[str]]:
    return asyncio.run(_throughput(url))


async def _throughput(url: str) -> list[list[str]]:
    rows = []
    for channel in ("telegram", "whatsapp"):
        fake = await _fake(channel)
        runtime = build_runtime(_settings(url, fake, 10_000.0), Database(url))
        try:
            await seed_subscribers(runtime, channel, RECIPIENTS)
            started = time.perf_counter()
            await start_broadcast(runtime, channel, TEXT)
            materialise = time.perf_counter() - started
            if isinstance(fake, FakeTelegram):
                bot = make_bot(runtime)
                sender: TelegramSender | WhatsAppSender = TelegramSender(runtime, bot)
                parallel, token = telegram_handler.PARALLEL_CHATS, ""
            else:
                client = make_client(runtime)
                sender = WhatsAppSender(runtime, client)
                parallel, token = whatsapp_handler.PARALLEL_CHATS, fake.token
            started = time.perf_counter()
            await _send_all(sender, runtime)
            ours = time.perf_counter() - started
            payloads = await _payloads(runtime, channel, fake)
            raw = await _raw_loop(payloads, parallel, token)
            if isinstance(fake, FakeTelegram):
                alone = await _client_loop(payloads, parallel, bot)
                await bot.session.close()
            else:
                alone = await _client_loop(payloads, parallel, client)
                await close_client(client)
            rows.append(
                [
                    channel,
                    f"{RECIPIENTS:,}",
                    f"{materialise:.1f} s",
                    f"{RECIPIENTS / ours:,.0f}/s",
                    f"{RECIPIENTS / raw:,.0f}/s",
                    f"{raw / ours:.2f}x",
                    f"{RECIPIENTS / alone:,.0f}/s ({raw / alone:.2f}x)",
                ]
            )
        finally:
            await runtime.db.dispose()
            await fake.stop()
    return rows


async def _rate_held(channel: str) -> list[str]:
    limit = LIMITS[channel]
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'rate.sqlite3'}"
        await upgrade_async(url)
        fake = await _fake(channel)
        if isinstance(fake, FakeTelegram):
            fake.global_limit = limit
            _stamp(fake)
        else:
            fake.throughput_limit = limit
        runtime = build_runtime(_settings(url, fake, limit), Database(url))
        try:
            await seed_subscribers(runtime, channel, int(limit * RATE_SECONDS * 1.2) + 100)
            await start_broadcast(runtime, channel, TEXT)
            if isinstance(fake, FakeTelegram):
                bot = make_bot(runtime)
                sender: TelegramSender | WhatsAppSender = TelegramSender(runtime, bot)
            else:
                client = make_client(runtime)
                sender = WhatsAppSender(runtime, client)
            task = asyncio.create_task(_send_all(sender, runtime))
            await asyncio.sleep(RATE_SECONDS + 2)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            stamps = sorted(_accepted(fake))
            window = [t for t in stamps if t < stamps[0] + RATE_SECONDS]
            achieved = len(window) / RATE_SECONDS
            peak = max(sum(1 for t in stamps[i : i + int(limit) + 1] if t < s + 1.0)
                       for i, s in enumerate(stamps))  # fmt: skip
            if isinstance(fake, FakeTelegram):
                refused = fake.throttled
                await bot.session.close()
            else:
                refused = sum(1 for code, _ in fake.rejected if code in (130429, 131056))
                await close_client(client)
            return [
                channel,
                f"{limit:.0f}/s",
                f"{RATE_SECONDS:.0f} s",
                f"{achieved:.2f}/s",
                f"{achieved / limit:.3f}",
                str(peak),
                str(refused),
            ]
        finally:
            await runtime.db.dispose()
            await fake.stop()


def rates() -> list[list[str]]:
    return [asyncio.run(_rate_held(channel)) for channel in ("telegram", "whatsapp")]


def crash(url: str) -> list[list[str]]:
    return asyncio.run(_crash(url))


async def _crash(url: str) -> list[list[str]]:
    rows = []
    for channel in ("telegram", "whatsapp"):
        with tempfile.TemporaryDirectory() as tmp:
            rows.append(await _crash_one(url, channel, Path(tmp)))
        async with Database(url).transaction() as session:  # the next run starts empty
            for table in EMPTIED:
                await session.exec(text(f"DELETE FROM {table}"))  # type: ignore[call-overload]  # noqa: S608
    return rows


async def _crash_one(url: str, channel: str, logs: Path) -> list[str]:
    fake = await _fake(channel)
    runtime = build_runtime(_settings(url, fake, 1000.0), Database(url))
    port = free_port()
    try:
        expected = await seed_subscribers(runtime, channel, CRASH_RECIPIENTS)
        await start_broadcast(runtime, channel, TEXT)
        received: Callable[[], list[str]]
        if isinstance(fake, FakeTelegram):
            env = telegram_env(
                fake, messages_per_second="1000", chat_seconds="0", reclaim_seconds="1"
            )
            received = partial(telegram_received, fake)
        else:
            fake.status_webhook = (f"http://127.0.0.1:{port}/webhooks/whatsapp", APP_SECRET)
            env = whatsapp_env(
                fake,
                APP_SECRET,
                messages_per_second="1000",
                pair_seconds="0",
                reclaim_seconds="10",
            )
            received = partial(whatsapp_received, fake)

        serve = Serve(serve_env(url, env), port, logs)
        await serve.start()
        await wait_until(lambda: len(received()) >= CRASH_RECIPIENTS // 2, 120)
        await serve.kill()
        killed_at = len(received())
        await serve.start()
        await wait_until(lambda: len(set(received())) >= CRASH_RECIPIENTS, 180)
        await asyncio.sleep(12)  # past the reclaim wait: a resend would show
        await serve.stop()
        duplicates, misses = tally(received(), expected)
        return [channel, f"{CRASH_RECIPIENTS:,}", f"{killed_at:,}", str(duplicates), str(misses)]
    finally:
        await runtime.db.dispose()
        await fake.stop()


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def _memory() -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'memory.sqlite3'}"
        await upgrade_async(url)
        fake = FakeTelegram()
        fake.global_limit = 30
        await fake.start()
        env = serve_env(url, telegram_env(fake))
        runtime = build_runtime(Settings(database_url=url), Database(url))
        try:
            idle = await _sample(Serve(env, free_port(), Path(tmp)), lambda: asyncio.sleep(0))
            await seed_subscribers(runtime, "telegram", RECIPIENTS)

            async def broadcast() -> None:
                await start_broadcast(runtime, "telegram", TEXT)

            busy = await _sample(Serve(env, free_port(), Path(tmp)), broadcast)
        finally:
            await runtime.db.dispose()
            await fake.stop()
    return [f"{RECIPIENTS:,} pending", f"{idle / 1024:.0f} MB", f"{busy / 1024:.0f} MB",
            f"{busy / idle:.2f}x"]  # fmt: skip


async def _sample(serve: Serve, then: Callable[[], Awaitable[None]]) -> float:
    """The median RSS of a serve process over 20 s after `then` (peak ignored: startup)."""
    await serve.start()
    await asyncio.sleep(6)
    await then()
    samples = []
    for _ in range(40):
        await asyncio.sleep(0.5)
        samples.append(_rss_kb(serve.pid()))
    await serve.stop()
    return float(statistics.median(samples))


def _table(title: str, header: list[str], rows: list[list[str]]) -> None:
    print(f"\n{title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'throughput.sqlite3'}"
        upgrade(url)
        fast = [("SQLite (WAL)", throughput(url))]
    _table(
        "Broadcast sender, rate limits off (ours: claims + platform client + outcomes written;"
        " raw: aiohttp for Telegram, httpx for WhatsApp, as their clients use; same payloads,"
        " same requests in flight)",
        [
            "database",
            "channel",
            "recipients",
            "rows made",
            "ours",
            "raw loop",
            "ours/raw",
            "client alone (/raw)",
        ],
        [[db, *row] for db, rows in fast for row in rows],
    )
    _table(
        "Limits held (fake enforces the limit; SQLite)",
        ["channel", "limit", "over", "achieved", "share", "peak in 1 s", "429s"],
        rates(),
    )
    killed = on_each_database(crash)
    _table(
        "SIGKILL in the middle, then a restart (`bansos serve` processes)",
        ["database", "channel", "recipients", "sent at the kill", "duplicates", "misses"],
        [[db, *row] for db, rows in killed for row in rows],
    )
    _table(
        "Memory of `bansos serve` (median RSS over 20 s; SQLite)",
        ["holding", "idle", "while sending", "ratio"],
        [asyncio.run(_memory())],
    )


if __name__ == "__main__":
    main()
