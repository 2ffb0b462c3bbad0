"""The loop every background worker runs: one pass, a pause, again, for ever."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)


async def every(name: str, interval: float, run: Callable[[], Awaitable[object]]) -> None:
    """Run `run` every `interval` seconds. An outage (the database, the disk) skips a pass;
    any other error is logged and the next pass comes as usual: a bad row must not stop the
    clock for everyone."""
    while True:
        try:
            await run()
        except (DBAPIError, OSError) as error:
            log.error("%s skipped a pass: %s", name, type(error).__name__)
        except Exception:
            log.exception("%s pass failed", name)
        await asyncio.sleep(interval)
