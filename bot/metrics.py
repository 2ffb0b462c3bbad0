"""Prometheus metrics, on a registry owned by the runtime (no process-global state)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.messages = Counter(
            "bansos_messages_total",
            "Messages handled by the engine, by channel and direction (in/out).",
            ["channel", "direction"],
            registry=self.registry,
        )
        self.step_seconds = Histogram(
            "bansos_step_seconds",
            "Time for one engine step (load, dialog step, persist, log), by channel.",
            ["channel"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=self.registry,
        )
        self.step_errors = Counter(
            "bansos_step_errors_total",
            "Engine steps that failed and were answered with an apology.",
            ["channel"],
            registry=self.registry,
        )
        self.duplicates = Counter(
            "bansos_inbound_duplicates_total",
            "Redelivered inbound updates that had no second effect.",
            ["channel"],
            registry=self.registry,
        )

    def exposition(self) -> bytes:
        return bytes(generate_latest(self.registry))
