"""Identities, conversations, the message log and inbound events. Never commits."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import ChannelIdentity, Conversation, InboundEvent, MessageLog, Resident


async def find_identity(
    session: AsyncSession, channel: str, external_id: str
) -> ChannelIdentity | None:
    statement = select(ChannelIdentity).where(
        ChannelIdentity.channel == channel, ChannelIdentity.external_id == external_id
    )
    return (await session.exec(statement)).first()


async def create_identity(
    session: AsyncSession,
    channel: str,
    external_id: str,
    display_name: str | None,
    phone: str | None = None,
) -> ChannelIdentity:
    """A new resident with its first identity; raises IntegrityError if one raced us."""
    resident = Resident(display_name=display_name)
    session.add(resident)
    await session.flush()
    assert resident.id is not None
    identity = ChannelIdentity(
        channel=channel, external_id=external_id, resident_id=resident.id, phone=phone
    )
    session.add(identity)
    await session.flush()
    return identity


async def lock_conversation(session: AsyncSession, identity_id: int) -> Conversation | None:
    """The row lock that makes one resident's messages run one after the other."""
    statement = (
        select(Conversation)
        .where(Conversation.identity_id == identity_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.exec(statement)).first()


async def find_inbound_event(
    session: AsyncSession, channel: str, platform_id: str
) -> InboundEvent | None:
    """The event, row-locked: two workers handed the same update take turns, and the second
    sees it processed (SQLite has one writer anyway)."""
    statement = (
        select(InboundEvent)
        .where(InboundEvent.channel == channel, InboundEvent.platform_id == platform_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.exec(statement)).first()


async def message_history(
    session: AsyncSession, identity_id: int, limit: int = 100
) -> Sequence[MessageLog]:
    statement = (
        select(MessageLog)
        .where(MessageLog.identity_id == identity_id)
        .order_by(col(MessageLog.created_at).desc(), col(MessageLog.id).desc())
        .limit(limit)
    )
    rows = list((await session.exec(statement)).all())
    rows.reverse()
    return rows
