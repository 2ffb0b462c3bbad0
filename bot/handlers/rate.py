"""Outbound rate limits: token buckets (per chat, per person, with short bursts) and a
sliding window (a platform's global limit per bot or number)."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass


@dataclass
class TokenBucket:
    capacity: float
    rate: float  # tokens per second
    tokens: float
    stamp: float

    def wait_time(self, now: float) -> float:
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def take(self) -> None:
        self.tokens -= 1

    @classmethod
    def per_second(cls, rate: float, burst: float) -> TokenBucket:
        return cls(burst, rate, burst, time.monotonic())

    async def acquire(self) -> None:
        """Wait for a token, then take it."""
        pause = self.wait_time(time.monotonic())
        if pause > 0:
            await asyncio.sleep(pause)  # one token accrues in exactly this time
            self.wait_time(time.monotonic())
        self.take()


class SlidingWindow:
    """At most `limit` sends in any window of `seconds` as the platform counts them: a
    platform's global limit ("30 messages per second") held in every rolling second, not on
    average, so a burst at the start of a broadcast cannot double it.

    A request reaches the platform at some moment between leaving and its answer coming
    back, and nobody can tell when. So a send counts from the moment it leaves (while it is
    in flight) until `seconds` after its answer came back. Whatever the network and a busy
    event loop do to the timing, the platform then never counts more than `limit` in a
    window; the price is one round trip per window. Sends are also spaced evenly (a little
    faster than the average pace, so the window still decides), so that a broadcast does
    not go out in bursts."""

    def __init__(self, limit: int, seconds: float = 1.0, margin: float = 0.005) -> None:
        self.limit = max(1, limit)
        self.span = seconds + margin
        self.spacing = 0.9 * seconds / self.limit
        self.in_flight = 0
        self.last_left: float | None = None
        self.answered: deque[float] = deque()

    @classmethod
    def per_second(cls, rate: float) -> SlidingWindow:
        if rate >= 1:
            limit = int(rate)
            return cls(limit, limit / rate)
        return cls(1, 1 / rate)

    def wait_time(self, now: float) -> float:
        while self.answered and self.answered[0] <= now - self.span:
            self.answered.popleft()
        spaced = self.last_left + self.spacing - now if self.last_left is not None else 0.0
        full = 0.0
        if self.in_flight + len(self.answered) >= self.limit:
            # Wait for the oldest answer to leave the window; if every send counted is
            # still in flight, look again after one spacing.
            full = self.answered[0] + self.span - now if self.answered else self.spacing
        return max(0.0, spaced, full)

    async def turn(self) -> InFlight:
        """Wait until one more send fits: `with await window.turn(): <request>`."""
        while True:
            pause = self.wait_time(time.monotonic())
            if pause <= 0:
                return self.sending()
            await asyncio.sleep(pause)

    def sending(self) -> InFlight:
        """`with window.sending(): <request>`: counts one send while its request is in
        flight and for `seconds` after its answer."""
        return InFlight(self)


class InFlight:
    """One request counted by a SlidingWindow. A plain class, not a generator-based
    context manager: those set `__traceback__` on the error passing through, which the
    frozen error classes of pywa refuse."""

    def __init__(self, window: SlidingWindow) -> None:
        self.window = window

    def __enter__(self) -> None:
        self.window.in_flight += 1
        self.window.last_left = time.monotonic()

    def __exit__(self, *_: object) -> None:
        self.window.in_flight -= 1
        self.window.answered.append(time.monotonic())
