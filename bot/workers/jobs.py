"""The scheduled-jobs worker run by `serve`: training reminders and the end of seat offers.

Each job runs in its own transaction with its row locked (`SKIP LOCKED`), so instances
share the work, a failing job does not block the others, and a job done is done once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.runtime import Runtime
from bot.services.jobs import JobQueue
from bot.services.trainings import TrainingService
from bot.workers.clock import every
from storage.models import ScheduledJob
from storage.types import utcnow

log = logging.getLogger(__name__)
INTERVAL_SECONDS = 60
MAX_PER_PASS = 500
MAX_ATTEMPTS = 5
RETRY_AFTER = timedelta(minutes=5)


async def run_once(runtime: Runtime, now: datetime | None = None) -> int:
    """Run every due job; returns how many ran."""
    ran = 0
    while ran < MAX_PER_PASS:
        moment = now or utcnow()
        job_id: int | None = None
        try:
            async with runtime.db.transaction() as session:
                queue = JobQueue(session)
                due = await queue.claim_due(moment, limit=1)
                if not due:
                    return ran
                job = due[0]
                job_id = job.id
                await _run(runtime, session, job.kind, job.payload, moment)
                queue.done(job, moment)
        except (DBAPIError, OSError):
            raise
        except Exception:
            log.exception("scheduled job failed; it will be retried later")
            await _postpone(runtime, job_id, moment)
        ran += 1
    return ran


async def _run(
    runtime: Runtime, session: AsyncSession, kind: str, payload: dict[str, Any], now: datetime
) -> None:
    service = TrainingService(session, runtime.settings, runtime.catalogs, runtime.vault)
    registration_id = int(payload.get("id", 0))
    if kind == "training.reminder":
        await service.send_reminder(registration_id, str(payload["which"]), now)
    elif kind == "training.offer_expiry":
        await service.expire_offer(registration_id, now)
    else:
        log.error("unknown job kind %s; marking it done", kind)


async def _postpone(runtime: Runtime, job_id: int | None, now: datetime) -> None:
    """A failing job backs off and, after a few tries, stops (it must not block the rest)."""
    async with runtime.db.transaction() as session:
        job = await session.get(ScheduledJob, job_id)
        if job is None:
            return
        job.attempts += 1
        job.run_at = now + RETRY_AFTER * job.attempts
        if job.attempts >= MAX_ATTEMPTS:
            job.status = "failed"
        session.add(job)


async def run_forever(runtime: Runtime, interval: float = INTERVAL_SECONDS) -> None:
    await every("jobs worker", interval, partial(run_once, runtime))
