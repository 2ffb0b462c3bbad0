"""Token buckets for outbound rate limits (a platform's per-bot, per-chat and group limits)."""

from __future__ import annotations

import asyncio
import time
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
