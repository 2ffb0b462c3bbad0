"""What the channel benchmarks share: an engine that times its steps, and percentiles."""

from __future__ import annotations

import statistics
import time

from bot.engine import Engine
from bot.messages import Incoming, StepResult


class TimedEngine(Engine):
    """The engine, recording how long each `handle` took (seconds)."""

    latencies: list[float]

    async def handle(self, incoming: Incoming, *, queue_replies: bool = False) -> StepResult:
        started = time.perf_counter()
        try:
            return await super().handle(incoming, queue_replies=queue_replies)
        finally:
            self.latencies.append(time.perf_counter() - started)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def p50_p99(values: list[float], digits: int = 0) -> str:
    """'median / 99th percentile ms' of durations in seconds."""
    median, p99 = statistics.median(values) * 1e3, percentile(values, 0.99) * 1e3
    return f"{median:,.{digits}f} / {p99:,.{digits}f} ms"
