"""One part of a channel worker's pass, kept from taking the other parts down with it."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from sqlalchemy.exc import DBAPIError

from bot.engine import StorageUnavailable

log = logging.getLogger(__name__)


async def guarded(worker: str, part: str, run: Callable[[], Awaitable[int]]) -> bool:
    """Run one part (True: it did something). An error of its own is logged and the other
    parts still run, so replies go out while an inbound message fails; an outage (the
    database, the network) is raised and pauses the whole pass."""
    try:
        return await run() > 0
    except (DBAPIError, OSError, StorageUnavailable):
        raise
    except Exception:
        log.exception("%s worker: %s failed", worker, part)
        return False
