"""The whole WhatsApp path: signed webhook → FastAPI → inbox → engine → outbox → fake Graph API.

Ours: the app served by uvicorn on 127.0.0.1, fed signed webhooks over real HTTP (chats side
by side, each chat's messages in order); every POST is checked, stored (sealed) and
acknowledged, then the worker's passes process the inbox with the engine and send the
queued replies with pywa to the fake Graph API until nothing is left. Baseline: a minimal
FastAPI endpoint that only verifies the signature and answers 200, served and fed the same
way with the same payloads, in the same run. Rates are webhooks per second: for ours from
the first POST to the last reply sent, for the baseline from the first POST to the last
200. Latency is the ack (POST → 200) for both, and `Engine.handle` (with its outbox rows)
for ours, since the ack alone hides the processing.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import socket
import time
from typing import Any

import aiohttp
import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import SecretStr

from bench.databases import on_each_database
from bench.timing import TimedEngine, p50_p99
from bot.handlers.whatsapp import SIGNATURE_HEADER, WhatsAppChannel, close_client, make_client
from bot.handlers.whatsapp_sender import WhatsAppSender
from bot.runtime import build_runtime
from bot.settings import Settings
from bot.web.app import create_app
from tests.fakes.whatsapp_api import FakeWhatsApp, sign

CHATS = 50
MESSAGES_EACH = 4
SCRIPT = ("halo", "1", "6", "apa itu pkh")
APP_SECRET = secrets.token_urlsafe(24)  # throw-away keys for this run only
VERIFY_TOKEN = secrets.token_urlsafe(24)

# One chat's webhooks in order: (raw body, X-Hub-Signature-256).
Conversation = list[tuple[bytes, str]]


def _user(chat: int) -> str:
    return f"ID.{chat + 1_000_000}"


def _conversations(fake: FakeWhatsApp) -> list[Conversation]:
    """Every chat's signed webhooks, built once and posted to both endpoints."""
    conversations = []
    for chat in range(CHATS):
        bodies = [
            json.dumps(fake.say(f"62812{chat:07d}", text, _user(chat))).encode()
            for text in SCRIPT[:MESSAGES_EACH]
        ]
        conversations.append([(body, sign(body, APP_SECRET)) for body in bodies])
    return conversations


class _Served:
    """An ASGI app under uvicorn on a free 127.0.0.1 port, in this event loop."""

    def __init__(self, app: Any) -> None:
        # IPPROTO_TCP spelled out: asyncio turns Nagle off only on sockets that say so.
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
        self.server = uvicorn.Server(config)
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> str:
        self.task = asyncio.create_task(self.server.serve(sockets=[self.socket]))
        while not self.server.started:
            if self.task.done():
                await self.task  # raises what stopped it
                raise RuntimeError("uvicorn stopped before starting")
            await asyncio.sleep(0.01)
        return self.url

    async def __aexit__(self, *_: object) -> None:
        self.server.should_exit = True
        if self.task is not None:
            await self.task
        self.socket.close()


async def _post_all(url: str, conversations: list[Conversation]) -> list[float]:
    """POST every webhook (chats side by side, in order within a chat); the ack latencies.

    aiohttp drives both endpoints: httpx's pool, at 50 connections in one loop, was the
    bottleneck itself (about 70 POSTs/s against an endpoint that answers 1,200/s).
    """
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=CHATS)
    async with aiohttp.ClientSession(url, connector=connector) as http:

        async def chat(webhooks: Conversation) -> None:
            for body, signature in webhooks:
                headers = {"Content-Type": "application/json", SIGNATURE_HEADER: signature}
                started = time.perf_counter()
                async with http.post("/webhooks/whatsapp", data=body, headers=headers) as response:
                    answer = await response.read()
                latencies.append(time.perf_counter() - started)
                if response.status != 200:
                    raise RuntimeError(f"webhook answered {response.status}: {answer!r}")

        await asyncio.gather(*(chat(webhooks) for webhooks in conversations))
    return latencies


async def _ours(
    url: str, fake: FakeWhatsApp, conversations: list[Conversation]
) -> tuple[float, list[float], list[float]]:
    settings = Settings(
        _env_file=None,
        database_url=url,
        whatsapp_access_token=SecretStr(fake.token),
        whatsapp_phone_number_id=fake.phone_id,
        whatsapp_app_secret=SecretStr(APP_SECRET),
        whatsapp_verify_token=SecretStr(VERIFY_TOKEN),
        whatsapp_api_url=fake.base_url,
        whatsapp_messages_per_second=1000.0,  # the fake has no limit to respect
        whatsapp_pair_seconds=0.0,
        whatsapp_pair_burst=45,
    )
    runtime = build_runtime(settings)
    client = make_client(runtime)
    engine = TimedEngine(runtime)
    engine.latencies = []
    channel = WhatsAppChannel(runtime, engine, client)
    sender = WhatsAppSender(runtime, client)
    try:
        async with _Served(create_app(runtime, engine)) as served:
            started = time.perf_counter()
            acks = await _post_all(served, conversations)
            while True:
                handled = await channel.process_pending()
                sent = await sender.send_pending(limit=500)
                if not handled and not sent:
                    break
            elapsed = time.perf_counter() - started
    finally:
        await close_client(client)
        await runtime.db.dispose()
    silent = [_user(chat) for chat in range(CHATS) if not fake.sent(_user(chat))]
    if silent:
        raise RuntimeError(f"{len(silent)} of {CHATS} chats got no reply, e.g. {silent[0]}")
    if fake.rejected:
        raise RuntimeError(f"the fake refused {len(fake.rejected)} sends: {fake.rejected[0]}")
    return CHATS * MESSAGES_EACH / elapsed, acks, engine.latencies


def _signature_only_app() -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    secret = APP_SECRET.encode()

    @app.post("/webhooks/whatsapp")
    async def receive(request: Request) -> Response:
        body = await request.body()
        expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        given = request.headers.get(SIGNATURE_HEADER, "")
        if not hmac.compare_digest(expected.encode(), given.encode()):
            return JSONResponse({"error": "signature invalid"}, status_code=403)
        return JSONResponse({"ok": True})

    return app


async def _baseline(conversations: list[Conversation]) -> tuple[float, list[float]]:
    async with _Served(_signature_only_app()) as served:
        started = time.perf_counter()
        acks = await _post_all(served, conversations)
        elapsed = time.perf_counter() - started
    return CHATS * MESSAGES_EACH / elapsed, acks


Row = tuple[float, list[float], list[float], float, list[float], int]


async def _measure(url: str) -> Row:
    fake = FakeWhatsApp()
    await fake.start()
    try:
        conversations = _conversations(fake)
        ours, our_acks, steps = await _ours(url, fake, conversations)
        base, base_acks = await _baseline(conversations)
        replies = len(fake.sent())
    finally:
        await fake.stop()
    return ours, our_acks, steps, base, base_acks, replies


def _run(url: str) -> Row:
    return asyncio.run(_measure(url))


def main() -> None:
    rows = on_each_database(_run)
    print(
        f"\nWhatsApp path: {CHATS} chats × {MESSAGES_EACH} signed webhooks over HTTP (uvicorn), "
        "fake Graph API on 127.0.0.1"
    )
    print(
        "| database | ours webhooks/s (whole path) | signature-only endpoint webhooks/s | ratio "
        "| ours ack p50 / p99 | baseline ack p50 / p99 | ours engine step p50 / p99 |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, (ours, our_acks, steps, base, base_acks, _) in rows:
        print(
            f"| {name} | {ours:,.0f} | {base:,.0f} | {ours / base:.2f}x "
            f"| {p50_p99(our_acks)} | {p50_p99(base_acks)} | {p50_p99(steps)} |"
        )
    for name, (*_, replies) in rows:
        print(
            f"({name}: {replies} replies accepted by the fake, none refused, every chat answered)"
        )


if __name__ == "__main__":
    main()
