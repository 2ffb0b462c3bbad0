"""Several instances on PostgreSQL: two `bansos serve` processes share one bot. Only the
holder of the bot's advisory lock sends, so the global limit (30/s, enforced by the fake
like Telegram's flood control) holds across both: no 429, everyone once, close to the
limit."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.runtime import Runtime
from tests.fakes.telegram_api import FakeTelegram
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
)

RECIPIENTS = 600
LIMIT = 30


async def test_two_instances_keep_the_bots_global_rate(runtime: Runtime, tmp_path: Path) -> None:
    if runtime.db.is_sqlite:
        pytest.skip("several instances need PostgreSQL (SQLite runs one process)")
    chats = await seed_subscribers(runtime, "telegram", RECIPIENTS)
    fake = FakeTelegram(global_limit=LIMIT)
    await fake.start()
    env = serve_env(
        runtime.settings.database_url,
        telegram_env(fake, messages_per_second=str(LIMIT)),
    )
    first = Serve(env, free_port(), tmp_path)
    second = Serve(env, free_port(), tmp_path)

    def received() -> list[str]:
        return telegram_received(fake)

    try:
        await first.start()
        await second.start()
        await wait_until(lambda: False, 8)  # both up, one leading
        await start_broadcast(runtime, "telegram", "Penyaluran BLT tahap 4: Kamis pagi.")
        assert await wait_until(lambda: len(received()) >= 1, 30)
        started = len(received())
        await wait_until(lambda: False, 10)
        in_ten_seconds = len(received()) - started
        assert await wait_until(lambda: len(set(received())) >= RECIPIENTS, 60)
    finally:
        await first.stop()
        await second.stop()
        await fake.stop()
    duplicates, misses = tally(received(), chats)
    print(f"two instances: {in_ten_seconds / 10:.1f}/s, 429s {fake.throttled}")
    assert (duplicates, misses) == (0, 0)
    assert fake.throttled == 0
    assert in_ten_seconds >= 0.9 * LIMIT * 10
