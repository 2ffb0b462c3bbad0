"""Send outcomes written as they arrive, in small transactions.

A sender claims a batch of outbox rows, sends them concurrently, and must record what the
platform answered. Recording the whole batch at the end would leave every message of the
batch unaccounted for if the process dies in between; this buffer writes the outcomes that
have come in every few milliseconds instead, so a crash leaves only the messages whose
answer had just arrived (or was still on the wire) unrecorded. `bench/broadcast.py`
measures that window.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Generic, TypeVar

Item = TypeVar("Item")
FLUSH_SECONDS = 0.02


class ResultBuffer(Generic[Item]):
    """`async with ResultBuffer(record) as buffer: ... buffer.add(item)`; every item added
    is passed to `record` (in order, in groups) before the block is left."""

    def __init__(
        self, record: Callable[[list[Item]], Awaitable[None]], interval: float = FLUSH_SECONDS
    ) -> None:
        self._record = record
        self._interval = interval
        self._items: list[Item] = []
        self._arrived = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None

    def add(self, item: Item) -> None:
        self._items.append(item)
        self._arrived.set()

    async def flush(self) -> None:
        items, self._items = self._items, []
        self._arrived.clear()
        if items:
            await self._record(items)

    async def _run(self) -> None:
        while not self._closing:
            await self._arrived.wait()
            if not self._closing:
                await asyncio.sleep(self._interval)  # gather what arrives meanwhile
            await self.flush()

    async def __aenter__(self) -> ResultBuffer[Item]:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        # Let a flush under way finish, even when the pass itself is being cancelled: a
        # transaction cut short would leave SQLite's write lock behind it.
        self._closing = True
        self._arrived.set()
        if self._task is not None:
            await asyncio.shield(self._task)
        await self.flush()
