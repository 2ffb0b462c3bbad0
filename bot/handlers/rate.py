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
    """At most `limit` sends in any window of `seconds`: a platform's global limit ("30
    messages per second") held in every rolling second, not on average, so a burst at the
    start of a broadcast cannot double it. Sends are also spaced evenly (a little faster
    than the average pace, so the window still decides), because requests sent in a burst
    reach the platform bunched together, in another order and at other moments than they
    left. `margin` absorbs that remaining jitter."""

    def __init__(self, limit: int, seconds: float = 1.0, margin: float = 0.04) -> None:
        self.limit = max(1, limit)
        self.span = seconds + margin
        self.spacing = 0.9 * seconds / self.limit
        self.sent: deque[float] = deque()

    @classmethod
    def per_second(cls, rate: float) -> SlidingWindow:
        if rate >= 1:
            limit = int(rate)
            return cls(limit, limit / rate)
        return cls(1, 1 / rate)

    def wait_time(self, now: float) -> float:
        while self.sent and self.sent[0] <= now - self.span:
            self.sent.popleft()
        spaced = self.sent[-1] + self.spacing - now if self.sent else 0.0
        full = self.sent[0] + self.span - now if len(self.sent) >= self.limit else 0.0
        return max(0.0, spaced, full)

    def take(self) -> None:
        self.sent.append(time.monotonic())
