"""The broadcast clock, run by `serve`: ask "sudah terima?" after distributions, start
broadcasts whose time has come (their recipients become outbox rows) and close the ones
with nothing left to send. Each pass is
one transaction and due broadcasts are locked with SKIP LOCKED, so several instances may
run it; the unique (broadcast, chat) key makes a repeated start add nobody twice."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial

from bot.runtime import Runtime
from bot.services.broadcasts import BroadcastService
from bot.services.distribution_checks import DistributionCheck
from bot.workers.clock import every
from storage.types import utcnow

log = logging.getLogger(__name__)
INTERVAL_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class BroadcastPass:
    started: int
    finished: int


async def run_once(runtime: Runtime) -> BroadcastPass:
    now = utcnow()
    async with runtime.db.transaction() as session:
        checks = DistributionCheck(session, runtime.settings, runtime.catalogs)
        await checks.create_due(now)
        service = BroadcastService(session, runtime.settings, runtime.catalogs)
        started = await service.start_due(now)
        finished = await service.finish_done(now)
    for broadcast in started:
        log.info("broadcast %s started: %d recipients", broadcast.id, broadcast.recipients)
    return BroadcastPass(len(started), finished)


async def run_forever(runtime: Runtime, interval: float = INTERVAL_SECONDS) -> None:
    await every("broadcast clock", interval, partial(run_once, runtime))
