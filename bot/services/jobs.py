"""Work due at a set time (training reminders, the end of a seat offer), kept as rows so
a restart loses nothing. Keys make scheduling idempotent: the same key is one job."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import ScheduledJob


class JobQueue:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def schedule(
        self, key: str, kind: str, run_at: datetime, payload: dict[str, Any]
    ) -> ScheduledJob:
        """Create the job, or move a pending (or cancelled) one with the same key."""
        job = (await self.session.exec(select(ScheduledJob).where(ScheduledJob.key == key))).first()
        if job is None:
            job = ScheduledJob(key=key, kind=kind, run_at=run_at, payload=payload)
        elif job.status != "done":
            job.run_at, job.payload, job.status = run_at, payload, "pending"
        self.session.add(job)
        return job

    async def cancel(self, keys: Sequence[str]) -> None:
        statement = select(ScheduledJob).where(
            col(ScheduledJob.key).in_(list(keys)), ScheduledJob.status == "pending"
        )
        for job in (await self.session.exec(statement)).all():
            job.status = "cancelled"
            self.session.add(job)

    async def claim_due(self, now: datetime, limit: int = 100) -> Sequence[ScheduledJob]:
        """Due jobs, locked for this worker (other instances skip them)."""
        statement = (
            select(ScheduledJob)
            .where(ScheduledJob.status == "pending", col(ScheduledJob.run_at) <= now)
            .order_by(col(ScheduledJob.run_at), col(ScheduledJob.id))
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return (await self.session.exec(statement)).all()

    def done(self, job: ScheduledJob, now: datetime) -> None:
        job.status = "done"
        job.done_at = now
        job.attempts += 1
        self.session.add(job)
