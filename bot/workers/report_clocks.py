"""The report clocks, run by `serve`: close reports nobody answers, send the 14-day
check-backs. Each pass is one transaction, so several instances may run it: a report
closed by one is no longer selected by the next."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial

from bot.runtime import Runtime
from bot.services.reports import ReportService
from bot.workers.clock import every
from storage.types import utcnow

log = logging.getLogger(__name__)
INTERVAL_SECONDS = 15 * 60


@dataclass(frozen=True, slots=True)
class ClockPass:
    closed: int
    check_backs: int


async def run_once(runtime: Runtime) -> ClockPass:
    now = utcnow()
    async with runtime.db.transaction() as session:
        service = ReportService(session, runtime.settings, runtime.catalogs)
        closed = await service.close_unanswered(now)
        check_backs = await service.send_check_backs(now)
    if closed or check_backs:
        log.info("report clocks: %d closed, %d check-backs queued", closed, check_backs)
    return ClockPass(closed, check_backs)


async def run_forever(runtime: Runtime, interval: float = INTERVAL_SECONDS) -> None:
    await every("report clocks", interval, partial(run_once, runtime))
