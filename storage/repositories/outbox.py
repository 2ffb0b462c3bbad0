"""Outbox rows: claim pending ones for a sender. Never commits."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Broadcast, ChannelIdentity, MessageLog, Outbox


async def claim_pending_for(
    session: AsyncSession, identity_id: int, limit: int = 20
) -> Sequence[Outbox]:
    """Pending rows of one identity, oldest first, locked so no other sender takes them.
    Rows of a broadcast that is paused wait (a finished broadcast's are still handed
    over: the visitor was away while it was sent); a broadcast row of a chat that said
    STOP since is skipped instead."""
    statement = (
        select(Outbox, ChannelIdentity.broadcasts_stopped_at)
        .join(ChannelIdentity, col(ChannelIdentity.id) == col(Outbox.identity_id))
        .outerjoin(Broadcast, col(Broadcast.id) == col(Outbox.broadcast_id))
        .where(
            Outbox.identity_id == identity_id,
            Outbox.status == "pending",
            col(Outbox.broadcast_id).is_(None) | col(Broadcast.status).in_(("sending", "done")),
        )
        .order_by(col(Outbox.id))
        .limit(limit)
        .with_for_update(skip_locked=True, of=Outbox)
    )
    claimed = []
    for row, stopped_at in (await session.exec(statement)).all():
        if row.broadcast_id is not None and stopped_at is not None:
            row.status, row.reason = "skipped", "opted_out"
            session.add(row)
        else:
            claimed.append(row)
    return claimed


async def claim_due(
    session: AsyncSession, channel: str, now: datetime, limit: int, claimed_by: str = ""
) -> list[tuple[Outbox, ChannelIdentity]]:
    """A push channel's due rows, marked "sending" (with the claim time in
    `next_attempt_at`) and locked so no other sender takes them.

    Conversation replies and notices come first, oldest first; broadcast rows fill the
    rest of the batch, only while their broadcast is sending. A row whose chat can no
    longer be reached, or a broadcast row whose chat said STOP since, is skipped with its
    reason instead: the opt-out is checked here, at send time.
    """
    due = (
        select(Outbox, ChannelIdentity)
        .join(ChannelIdentity, col(ChannelIdentity.id) == col(Outbox.identity_id))
        .where(
            Outbox.channel == channel,
            Outbox.status == "pending",
            (col(Outbox.next_attempt_at).is_(None)) | (col(Outbox.next_attempt_at) <= now),
        )
    )
    direct = (
        due.where(col(Outbox.broadcast_id).is_(None))
        .order_by(col(Outbox.id))
        .limit(limit)
        .with_for_update(skip_locked=True, of=Outbox)
    )
    found = list((await session.exec(direct)).all())
    if len(found) < limit:
        broadcast = (
            due.join(Broadcast, col(Broadcast.id) == col(Outbox.broadcast_id))
            .where(col(Outbox.broadcast_id).is_not(None), Broadcast.status == "sending")
            .order_by(col(Outbox.broadcast_id), col(Outbox.id))
            .limit(limit - len(found))
            .with_for_update(skip_locked=True, of=Outbox)
        )
        found += (await session.exec(broadcast)).all()
    claimed: list[tuple[Outbox, ChannelIdentity]] = []
    skipped: dict[str, list[Outbox]] = {"unreachable": [], "opted_out": []}
    for row, identity in found:
        # Detached: the rows change below in a few set-based statements, not row by row
        # through the unit of work (a broadcast batch holds hundreds).
        session.expunge(row)
        if identity.unreachable_at is not None:
            skipped["unreachable"].append(row)
        elif row.broadcast_id is not None and identity.broadcasts_stopped_at is not None:
            skipped["opted_out"].append(row)
        else:
            row.status, row.next_attempt_at, row.claimed_by = "sending", now, claimed_by or None
            claimed.append((row, identity))
    await _set(session, [row for row, _ in claimed], status="sending", next_attempt_at=now,
               claimed_by=claimed_by or None)  # fmt: skip
    for reason, rows in skipped.items():
        for row in rows:
            row.status, row.reason = "skipped", reason
        await _set(session, rows, status="skipped", reason=reason)
    return claimed


async def _set(session: AsyncSession, rows: Sequence[Outbox], **values: object) -> None:
    if rows:
        await session.exec(
            update(Outbox)
            .where(col(Outbox.id).in_([row.id for row in rows]))
            .values(**values)
            .execution_options(synchronize_session=False)
        )


async def reclaim_interrupted(
    session: AsyncSession,
    channel: str,
    claimed_by: str,
    now: datetime,
    grace: timedelta,
    stale: timedelta,
) -> int:
    """Rows left "sending" by a sender that is gone: claimed by another instance more than
    `grace` ago, or by this one more than `stale` ago. The platform may have them already.

    - A broadcast row goes back to pending: missing a distribution date is worse than
      reading it twice (the remaining at-least-once window, see README).
    - A conversation reply is not sent again (at most once), but marked for officers: a
      late copy of an old answer would confuse more than it helps.

    Returns how many rows were reclaimed.
    """
    statement = select(Outbox).where(
        Outbox.channel == channel,
        Outbox.status == "sending",
        col(Outbox.next_attempt_at) < now - grace,
        (col(Outbox.claimed_by).is_(None))
        | (col(Outbox.claimed_by) != claimed_by)
        | (col(Outbox.next_attempt_at) < now - stale),
    )
    rows = (await session.exec(statement)).all()
    for row in rows:
        if row.broadcast_id is not None:
            row.status, row.next_attempt_at = "pending", None
        else:
            row.status = "failed"
        row.reason, row.claimed_by = "interrupted", None
        session.add(row)
    return len(rows)


@dataclass(frozen=True, slots=True)
class Accepted:
    """A row the platform accepted, and what it said about it."""

    row_id: int
    platform_message_id: str | None = None
    sent_as: str = ""
    parts_sent: int = 0


async def record_sent(session: AsyncSession, accepted: Sequence[Accepted], now: datetime) -> None:
    """Mark accepted rows sent in one executemany UPDATE (only rows still "sending": one a
    status webhook or a cancel moved on stays where it is), then their message-log rows,
    unless those are further along already (delivered, read)."""
    if not accepted:
        return
    table = Outbox.__table__  # type: ignore[attr-defined]
    statement = (
        table.update()
        .where(table.c.id == bindparam("row_id"), table.c.status == "sending")
        .values(
            status="sent",
            reason="",
            sent_at=now,
            next_attempt_at=None,
            claimed_by=None,
            attempts=table.c.attempts + 1,
            platform_message_id=bindparam("platform_id"),
            sent_as=bindparam("how"),
            parts_sent=bindparam("parts"),
        )
    )
    connection = await session.connection()
    await connection.execute(
        statement,
        [
            {"row_id": a.row_id, "platform_id": a.platform_message_id, "how": a.sent_as,
             "parts": a.parts_sent}
            for a in accepted
        ],
    )  # fmt: skip
    await session.exec(
        update(MessageLog)
        .where(
            col(MessageLog.outbox_id).in_([a.row_id for a in accepted]),
            col(MessageLog.delivery).in_(["", "pending"]),
        )
        .values(delivery="sent")
    )


async def by_ids(session: AsyncSession, ids: Sequence[int]) -> dict[int, Outbox]:
    """Rows by id, in one statement (a sender records a batch of outcomes)."""
    if not ids:
        return {}
    rows = await session.exec(select(Outbox).where(col(Outbox.id).in_(list(ids))))
    return {row.id or 0: row for row in rows.all()}


async def set_delivery(session: AsyncSession, outbox_ids: Sequence[int], state: str) -> None:
    """The message-log rows of these outbox rows follow their delivery state."""
    if outbox_ids:
        await session.exec(
            update(MessageLog)
            .where(col(MessageLog.outbox_id).in_(outbox_ids))
            .values(delivery=state)
        )


async def mark_unreachable(
    session: AsyncSession, identity_ids: Iterable[int], now: datetime
) -> None:
    """The platform says these chats can no longer be reached (blocked, not on it)."""
    for identity_id in identity_ids:
        identity = await session.get(ChannelIdentity, identity_id)
        if identity is not None:
            identity.unreachable_at = now
            session.add(identity)
