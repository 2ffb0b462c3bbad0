"""Engine throughput: full conversation steps per second against a bare-transaction baseline.

Ours: `Engine.handle` (dedup event, identity, row-locked conversation, dialog step, state,
message log both ways), with N residents talking at once. Baseline: the same database,
the same concurrency, a transaction that only inserts one message_log row. The ratio shows
what the engine's logic costs over the storage floor. Medians of 3 rounds.
"""

from __future__ import annotations

import asyncio
import statistics
import time

from sqlmodel import select

from bench.databases import on_each_database
from bot.engine import Engine
from bot.messages import Incoming
from bot.runtime import build_runtime
from bot.settings import Settings
from storage.db import Database
from storage.models import ChannelIdentity, MessageLog
from storage.types import utcnow

RESIDENTS = 100
MESSAGES_EACH = 5
ROUNDS = 3
SCRIPT = ("halo", "1", "6", "apa itu pkh", "menu")


async def _engine_round(engine: Engine, round_no: int) -> float:
    async def resident(n: int) -> None:
        for text_ in SCRIPT[:MESSAGES_EACH]:
            await engine.handle(Incoming("console", f"bench-{round_no}-{n}", text=text_))

    started = time.perf_counter()
    await asyncio.gather(*(resident(n) for n in range(RESIDENTS)))
    return RESIDENTS * MESSAGES_EACH / (time.perf_counter() - started)


async def _baseline_round(db: Database, identity_id: int) -> float:
    async def resident() -> None:
        for text_ in SCRIPT[:MESSAGES_EACH]:
            async with db.transaction() as session:
                session.add(
                    MessageLog(
                        identity_id=identity_id,
                        channel="console",
                        direction="in",
                        kind="text",
                        text=text_,
                        created_at=utcnow(),
                    )
                )

    started = time.perf_counter()
    await asyncio.gather(*(resident() for _ in range(RESIDENTS)))
    return RESIDENTS * MESSAGES_EACH / (time.perf_counter() - started)


async def _measure(url: str) -> tuple[float, float]:
    settings = Settings(_env_file=None, database_url=url)
    runtime = build_runtime(settings)
    engine = Engine(runtime)
    try:
        await engine.handle(Incoming("console", "bench-seed", text="halo"))
        async with runtime.db.session() as session:
            identity = (await session.exec(select(ChannelIdentity))).one()
        identity_id = identity.id or 0
        ours, base = [], []
        for round_no in range(ROUNDS):
            ours.append(await _engine_round(engine, round_no))
            base.append(await _baseline_round(runtime.db, identity_id))
        return statistics.median(ours), statistics.median(base)
    finally:
        await runtime.db.dispose()


def _run(url: str) -> tuple[float, float]:
    return asyncio.run(_measure(url))


def main() -> None:
    rows = on_each_database(_run)
    print(
        f"\nEngine steps: {RESIDENTS} residents at once, {MESSAGES_EACH} messages each, "
        f"median of {ROUNDS}"
    )
    print("| database | engine steps/s | bare insert tx/s (baseline) | ratio |")
    print("|---|---:|---:|---:|")
    for name, (ours, base) in rows:
        print(f"| {name} | {ours:,.0f} | {base:,.0f} | {ours / base:.2f}x |")
