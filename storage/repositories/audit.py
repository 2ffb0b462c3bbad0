"""The audit log: append rows and count them over time windows. Never commits."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Select,
    Table,
    and_,
    bindparam,
    case,
    distinct,
    func,
    insert,
    or_,
    type_coerce,
)
from sqlalchemy import select as sa_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import AuditLog
from storage.types import UTCDateTime

AUDIT = cast(Table, AuditLog.__table__)  # type: ignore[attr-defined]


AUDIT_INSERT = insert(AUDIT)


async def append(session: AsyncSession, row: dict[str, Any]) -> None:
    """Insert one audit row now, in the session's transaction, without the ORM's unit of
    work (a status check writes one on every look-up)."""
    conn = await session.connection()
    await conn.execute(AUDIT_INSERT, row)


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


def _lookup_counts_statement() -> Select[tuple[Any, ...]]:
    """All three rate-limit counts in one indexed statement (actor OR subject, one window),
    built once: a status check runs it on every look-up, and building and keying a fresh
    statement cost ten times what the database spends on it."""
    audit = AUDIT.c
    actor: BindParameter[str] = bindparam("actor")
    subject_hash: BindParameter[str] = bindparam("subject_hash")
    is_actor = audit.actor == actor
    is_counted = audit.outcome.in_(bindparam("counted", expanding=True))
    is_failure = and_(
        is_actor,
        audit.outcome == bindparam("failure"),
        audit.created_at >= bindparam("failures_since"),
    )
    is_own = and_(is_actor, is_counted)
    is_other = and_(audit.actor != actor, audit.subject_hash == subject_hash, is_counted)
    return sa_select(
        func.coalesce(func.sum(case((is_failure, 1), else_=0)), 0),
        _earliest(is_failure),
        func.coalesce(func.sum(case((is_own, 1), else_=0)), 0),
        _earliest(is_own),
        func.count(distinct(case((is_other, audit.actor)))),
        _earliest(is_other),
    ).where(
        audit.action == bindparam("action"),
        audit.created_at >= bindparam("since"),
        or_(is_actor, audit.subject_hash == subject_hash),
    )


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
    """Failures by this actor since `failures_since`; this actor's counted rows since
    `since`; distinct other actors with counted rows on this subject since `since`."""
    conn = await session.connection()
    found = await conn.execute(
        LOOKUP_COUNTS,
        {
            "action": action,
            "actor": actor,
            "subject_hash": subject_hash,
            "failure": failure,
            "counted": list(counted),
            "failures_since": failures_since,
            "since": since,
        },
    )
    row = found.one()
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


LOOKUP_COUNTS = _lookup_counts_statement()


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
