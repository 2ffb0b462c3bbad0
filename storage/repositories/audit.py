"""The audit log: append rows and count them over time windows. Never commits."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import ColumnElement, Table, and_, case, distinct, func, or_, type_coerce
from sqlalchemy import select as sa_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import AuditLog
from storage.types import UTCDateTime

AUDIT = cast(Table, AuditLog.__table__)  # type: ignore[attr-defined]


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


@dataclass(frozen=True, slots=True)
class LookupCounts:
    """One identity's and one subject's recent rows, for rate limits (see `lookup_counts`)."""

    actor_failures: int
    oldest_actor_failure: datetime | None
    actor_total: int
    oldest_actor_row: datetime | None
    other_actors: int
    oldest_other_row: datetime | None


async def lookup_counts(
    session: AsyncSession,
    *,
    action: str,
    actor: str,
    subject_hash: str,
    failure: str,
    counted: Collection[str],
    failures_since: datetime,
    since: datetime,
) -> LookupCounts:
    """All three rate-limit counts in one indexed statement (actor OR subject, one window).

    Failures by this actor since `failures_since`; this actor's counted rows since `since`;
    distinct other actors with counted rows on this subject since `since`.
    """
    audit = AUDIT.c
    is_actor = audit.actor == actor
    is_counted = audit.outcome.in_(list(counted))
    is_failure = and_(is_actor, audit.outcome == failure, audit.created_at >= failures_since)
    is_own = and_(is_actor, is_counted)
    is_other = and_(audit.actor != actor, audit.subject_hash == subject_hash, is_counted)
    statement = sa_select(
        func.coalesce(func.sum(case((is_failure, 1), else_=0)), 0),
        _earliest(is_failure),
        func.coalesce(func.sum(case((is_own, 1), else_=0)), 0),
        _earliest(is_own),
        func.count(distinct(case((is_other, audit.actor)))),
        _earliest(is_other),
    ).where(
        audit.action == action,
        audit.created_at >= since,
        or_(is_actor, audit.subject_hash == subject_hash),
    )
    conn = await session.connection()
    row = (await conn.execute(statement)).one()
    return LookupCounts(
        actor_failures=int(row[0]),
        oldest_actor_failure=row[1],
        actor_total=int(row[2]),
        oldest_actor_row=row[3],
        other_actors=int(row[4]),
        oldest_other_row=row[5],
    )


def _earliest(condition: ColumnElement[bool]) -> ColumnElement[datetime]:
    """MIN(created_at) over the rows matching `condition`, typed so it comes back aware."""
    return type_coerce(func.min(case((condition, AUDIT.c.created_at))), UTCDateTime())


async def count_since(
    session: AsyncSession, actor: str, action: str, outcome: str, since: datetime
) -> tuple[int, datetime | None]:
    """How many rows an actor has with this action and outcome since `since`, the oldest."""
    return await _count(session, AUDIT.c.actor == actor, action, outcome, since)


async def count_subject_since(
    session: AsyncSession, subject_hash: str, action: str, outcome: str, since: datetime
) -> tuple[int, datetime | None]:
    """How many rows about one subject have this action and outcome since `since`, the oldest."""
    return await _count(session, AUDIT.c.subject_hash == subject_hash, action, outcome, since)


async def _count(
    session: AsyncSession,
    who: ColumnElement[bool],
    action: str,
    outcome: str,
    since: datetime,
) -> tuple[int, datetime | None]:
    audit = AUDIT.c
    statement = sa_select(
        func.count(), type_coerce(func.min(audit.created_at), UTCDateTime())
    ).where(who, audit.action == action, audit.outcome == outcome, audit.created_at >= since)
    conn = await session.connection()
    count, oldest = (await conn.execute(statement)).one()
    return int(count), oldest


async def search(
    session: AsyncSession,
    *,
    actor: str = "",
    action: str = "",
    outcome: str = "",
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 500,
) -> Sequence[AuditLog]:
    """Rows newest first; text filters match the start of the field ("officer:" finds all
    officers, "report." every report action)."""
    statement = select(AuditLog)
    if actor:
        statement = statement.where(col(AuditLog.actor).startswith(actor, autoescape=True))
    if action:
        statement = statement.where(col(AuditLog.action).startswith(action, autoescape=True))
    if outcome:
        statement = statement.where(AuditLog.outcome == outcome)
    if since is not None:
        statement = statement.where(col(AuditLog.created_at) >= since)
    if until is not None:
        statement = statement.where(col(AuditLog.created_at) < until)
    statement = statement.order_by(col(AuditLog.id).desc()).limit(limit)
    return (await session.exec(statement)).all()
