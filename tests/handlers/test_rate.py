"""Token buckets: a burst goes at once, then the pace holds (lower bounds only)."""

from __future__ import annotations

import time

import pytest

from bot.handlers.rate import SlidingWindow, TokenBucket


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


def test_the_sliding_window_holds_the_limit_in_every_rolling_second(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [1000.0]
    monkeypatch.setattr("bot.handlers.rate.time.monotonic", lambda: clock[0])
    window = SlidingWindow.per_second(30)
    sent: list[float] = []
    while clock[0] < 1010.0:
        wait = window.wait_time(clock[0])
        if wait > 0:
            clock[0] += wait
            continue
        window.take()
        sent.append(clock[0])
        clock[0] += 0.001  # as fast as the sender can go
    starts = sent
    most = max(sum(1 for t in sent if start <= t < start + 1.0) for start in starts)
    assert most == 30  # never 31 in any second, a start-of-broadcast burst included
    assert len(sent) / 10 >= 0.95 * 30  # and close to the limit on average
    half = SlidingWindow.per_second(0.5)
    assert half.wait_time(0.0) == 0.0
    half.take()
    assert 2.0 <= half.wait_time(clock[0]) <= 2.1
