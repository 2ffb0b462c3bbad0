"""Outbox rows: claim pending ones for a sender. Never commits."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Outbox


async def claim_pending_for(
    session: AsyncSession, identity_id: int, limit: int = 20
) -> Sequence[Outbox]:
    """Pending rows of one identity, oldest first, locked so no other sender takes them."""
    statement = (
        select(Outbox)
        .where(Outbox.identity_id == identity_id, Outbox.status == "pending")
        .order_by(col(Outbox.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return (await session.exec(statement)).all()
