"""Token buckets: a burst goes at once, then the pace holds (lower bounds only)."""

from __future__ import annotations

import time

from bot.handlers.rate import TokenBucket


async def test_a_burst_then_the_pace() -> None:
    bucket = TokenBucket.per_second(rate=20.0, burst=3)
    started = time.monotonic()
    for _ in range(3):
        await bucket.acquire()
    burst_time = time.monotonic() - started
    for _ in range(4):
        await bucket.acquire()
    paced_time = time.monotonic() - started - burst_time
    assert burst_time < 0.05
    assert paced_time >= 4 / 20 * 0.9  # four more tokens at 20 a second
