"""Work through groups (one chat's messages, one chat's outbox rows) a few at a time."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

Item = TypeVar("Item")


async def at_most(
    parallel: int, items: Iterable[Item], run: Callable[[Item], Awaitable[None]]
) -> None:
    """Await `run(item)` for every item, at most `parallel` at once, starting them in order.

    `parallel` workers share one iterator, instead of a task per item queued on a
    semaphore: a broadcast batch holds hundreds of chats, and a semaphore with hundreds of
    waiters costs more to wake than the sends it guards.
    """
    remaining = iter(items)

    async def worker() -> None:
        for item in remaining:
            await run(item)

    await asyncio.gather(*(worker() for _ in range(max(1, parallel))))
