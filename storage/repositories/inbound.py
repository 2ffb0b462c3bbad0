"""Inbound platform events (webhook updates) as stored before processing. Never commits."""

from __future__ import annotations

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import InboundEvent


async def inbound_waiting(session: AsyncSession, channel: str) -> bool:
    """Whether the channel has stored events not processed yet."""
    statement = select(InboundEvent.id).where(
        InboundEvent.channel == channel, InboundEvent.status == "received"
    )
    return (await session.exec(statement.limit(1))).first() is not None
