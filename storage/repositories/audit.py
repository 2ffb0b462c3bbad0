"""The audit log: append rows and count them over time windows. Never commits."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import distinct, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import AuditLog


async def actor_window(
    session: AsyncSession, actor: str, action: str, outcomes: Collection[str], since: datetime
) -> tuple[int, datetime | None]:
    """How many rows an actor has with these outcomes since `since`, and the oldest one."""
    statement = select(func.count(), func.min(AuditLog.created_at)).where(
        AuditLog.actor == actor,
        AuditLog.action == action,
        col(AuditLog.outcome).in_(list(outcomes)),
        col(AuditLog.created_at) >= since,
    )
    count, oldest = (await session.exec(statement)).one()
    return int(count), oldest


async def other_actors_on_subject(
    session: AsyncSession,
    subject_hash: str,
    action: str,
    outcomes: Collection[str],
    since: datetime,
    excluding: str,
) -> tuple[int, datetime | None]:
    """How many other actors touched this subject since `since`, and the oldest such row."""
    statement = select(
        func.count(distinct(col(AuditLog.actor))), func.min(AuditLog.created_at)
    ).where(
        AuditLog.subject_hash == subject_hash,
        AuditLog.action == action,
        col(AuditLog.outcome).in_(list(outcomes)),
        col(AuditLog.created_at) >= since,
        AuditLog.actor != excluding,
    )
    count, oldest = (await session.exec(statement)).one()
    return int(count), oldest


async def exists_since(
    session: AsyncSession, subject_hash: str, action: str, since: datetime
) -> bool:
    statement = (
        select(AuditLog.id)
        .where(
            AuditLog.subject_hash == subject_hash,
            AuditLog.action == action,
            col(AuditLog.created_at) >= since,
        )
        .limit(1)
    )
    return (await session.exec(statement)).first() is not None
