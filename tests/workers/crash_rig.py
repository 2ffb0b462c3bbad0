"""A broadcast to many subscribers, a real `bansos serve` process sending it to a fake
platform server in this process, and SIGKILL: shared by the crash test and the benchmark.

The fake lives in the caller's event loop, so it keeps answering (and keeps count) while
the sender process dies and starts again.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import insert
from sqlmodel import col

from bot.runtime import Runtime
from bot.services.broadcasts import Audience, BroadcastDraft, BroadcastService
from storage.models import ChannelIdentity, Resident, Subscription, Village
from storage.types import utcnow
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.whatsapp_api import FakeWhatsApp

VILLAGE = "3307992006"
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def seed_subscribers(
    runtime: Runtime, channel: str, count: int, chunk: int = 2000
) -> list[str]:
    """`count` chats of `channel` subscribed to PKH in one village; their external ids."""
    now = utcnow()
    externals = [
        f"6281{n:08d}" if channel == "whatsapp" else str(700_000_000 + n) for n in range(count)
    ]
    async with runtime.db.transaction() as session:
        if await session.get(Village, VILLAGE) is None:
            session.add(Village(code=VILLAGE, name="Leksono", kecamatan="Sukamaju"))
            await session.flush()
        connection = await session.connection()
        for start in range(0, count, chunk):
            part = externals[start : start + chunk]
            residents = await connection.execute(
                insert(Resident).returning(col(Resident.id)),
                [{"locale": "id", "created_at": now} for _ in part],
            )
            ids = [row[0] for row in residents.all()]
            identities = await connection.execute(
                insert(ChannelIdentity).returning(col(ChannelIdentity.id)),
                [
                    {"channel": channel, "external_id": external, "resident_id": resident,
                     "last_inbound_at": now, "created_at": now}
                    for external, resident in zip(part, ids, strict=True)
                ],
            )  # fmt: skip
            await connection.execute(
                insert(Subscription),
                [
                    {"identity_id": row[0], "village_code": VILLAGE, "programme": "PKH",
                     "created_at": now}
                    for row in identities.all()
                ],
            )  # fmt: skip
    return externals


async def start_broadcast(runtime: Runtime, channel: str, text: str) -> int:
    """Compose and start a broadcast to every subscriber: its outbox rows exist after this."""
    now = utcnow()
    async with runtime.db.transaction() as session:
        service = BroadcastService(session, runtime.settings, runtime.catalogs)
        [broadcast] = await service.compose(
            BroadcastDraft(Audience((VILLAGE,), ("PKH",), (channel,)), now, {"id": text}),
            None,
            "officer:bench",
            now,
        )
        await service.start_due(now)
        return broadcast.id or 0


@dataclass
class Serve:
    """`bansos serve` as a child process, its output in files."""

    env: dict[str, str]
    port: int
    log_dir: Path
    process: asyncio.subprocess.Process | None = None
    runs: int = 0

    async def start(self) -> None:
        self.runs += 1
        log = (self.log_dir / f"serve-{self.runs}.log").open("wb")
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "serve", "--port", str(self.port),
            env=self.env, stdout=log, stderr=log, cwd=ROOT,
        )  # fmt: skip
        log.close()

    async def kill(self) -> None:
        assert self.process is not None
        self.process.kill()  # SIGKILL: no clean-up of any kind
        await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 20)
            except TimeoutError:
                await self.kill()

    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid


def serve_env(database_url: str, extra: dict[str, str]) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": database_url,
        "MEDIA_DIR": str(ROOT / "var" / "crash-test-media"),
    }
    env.update(extra)
    return env


def tally(received: list[str], expected: list[str]) -> tuple[int, int]:
    """(duplicates, misses): messages beyond the first per chat, chats with none."""
    counts = Counter(received)
    duplicates = sum(n - 1 for n in counts.values() if n > 1)
    misses = sum(1 for chat in expected if counts[chat] == 0)
    return duplicates, misses


async def wait_until(predicate: Callable[[], bool], seconds: float, step: float = 0.05) -> bool:
    """Poll `predicate` until it holds or `seconds` pass; whether it holds."""
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        if predicate():
            return True
        await asyncio.sleep(step)
    return bool(predicate())


def telegram_env(fake: FakeTelegram, **limits: str) -> dict[str, str]:
    """`bansos serve` settings for the fake Bot API, plus any limit (`rate="1000"` for
    TELEGRAM_RATE …: names in upper case, prefixed)."""
    env = {"TELEGRAM_BOT_TOKEN": fake.token, "TELEGRAM_API_URL": fake.base_url}
    env.update({f"TELEGRAM_{name.upper()}": value for name, value in limits.items()})
    return env


def whatsapp_env(fake: FakeWhatsApp, app_secret: str, **limits: str) -> dict[str, str]:
    """`bansos serve` settings for the fake Graph API, plus any limit, as above."""
    env = {
        "WHATSAPP_ACCESS_TOKEN": fake.token,
        "WHATSAPP_PHONE_NUMBER_ID": fake.phone_id,
        "WHATSAPP_APP_SECRET": app_secret,
        "WHATSAPP_VERIFY_TOKEN": "verify",
        "WHATSAPP_API_URL": fake.base_url,
    }
    env.update({f"WHATSAPP_{name.upper()}": value for name, value in limits.items()})
    return env


def telegram_received(fake: FakeTelegram) -> list[str]:
    """The chat of every message the fake accepted, in order."""
    return [str(c.params["chat_id"]) for c in fake.calls if c.method == "sendMessage"]


def whatsapp_received(fake: FakeWhatsApp) -> list[str]:
    """The recipient of every message the fake accepted, in order."""
    return [str(c.body.get("to")) for c in fake.calls if c.wamid is not None]
