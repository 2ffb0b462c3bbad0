"""Messages to residents outside a conversation step (status changes, replies, check-backs).

Each is a row first (DESIGN.md rule 3); the channel senders deliver pending rows within
the platform's limits. The text is rendered at queue time, in the resident's language,
so the dashboard shows exactly what was sent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlmodel import col, update
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.i18n import Catalogs
from bot.messages import Choice, Reply
from storage.models import ChannelIdentity, MessageLog, Outbox
from storage.repositories import outbox as outbox_repo


class OutboxQueue:
    def __init__(self, session: AsyncSession, catalogs: Catalogs) -> None:
        self.session = session
        self.catalogs = catalogs

    async def queue_reply(
        self,
        identity: ChannelIdentity,
        locale: str,
        reply: Reply,
        replaces_message_id: str | None = None,
    ) -> Outbox:
        """A conversation reply, for channels that deliver through the outbox."""
        assert identity.id is not None
        row = Outbox(
            identity_id=identity.id,
            channel=identity.channel,
            locale=locale,
            message_key=reply.key,
            params=dict(reply.params),
            choices=[[c.id, c.key, dict(c.params)] for c in reply.choices],
            text=self.catalogs.t(locale, reply.key, reply.params),
            ask_contact=reply.ask_contact,
            replaces_message_id=replaces_message_id,
        )
        self.session.add(row)
        return row

    async def queue(
        self,
        identity_id: int,
        locale: str,
        key: str,
        params: Mapping[str, Any] | None = None,
        choices: Sequence[Choice] = (),
        dedupe_key: str | None = None,
    ) -> Outbox | None:
        """Queue one message; None when the identity no longer exists."""
        identity = await self.session.get(ChannelIdentity, identity_id)
        if identity is None:
            return None
        locale = self.catalogs.normalize_locale(locale)
        row = Outbox(
            identity_id=identity_id,
            channel=identity.channel,
            locale=locale,
            message_key=key,
            params=dict(params or {}),
            choices=[[c.id, c.key, dict(c.params)] for c in choices],
            text=self.catalogs.t(locale, key, params),
            dedupe_key=dedupe_key,
        )
        self.session.add(row)
        await self.session.flush()
        # The conversation's record shows it now, with its delivery state as it moves.
        self.session.add(push_log(row, "pending", row.created_at))
        return row


def push_log(
    row: Outbox, delivery: str, at: datetime, labels: list[dict[str, str]] | None = None
) -> MessageLog:
    """The message-log row of a pushed message (not a reply within a conversation step)."""
    payload: dict[str, object] = {"outbox_id": row.id}
    if labels:
        payload["choices"] = labels
    return MessageLog(
        identity_id=row.identity_id,
        channel=row.channel,
        direction="out",
        kind="push",
        text=row.text,
        message_key=row.message_key,
        payload=payload,
        outbox_id=row.id,
        delivery=delivery,
        created_at=at,
    )


async def deliver_pending(
    session: AsyncSession, catalogs: Catalogs, identity_id: int, now: datetime, limit: int = 20
) -> list[tuple[Outbox, list[dict[str, str]]]]:
    """For channels that fetch their messages (the web chat): hand over the pending rows of
    one identity, mark them sent and log them, all in the caller's transaction."""
    delivered = []
    for row in await outbox_repo.claim_pending_for(session, identity_id, limit):
        row.status = "sent"
        row.sent_at = now
        row.attempts += 1
        session.add(row)
        labels = [
            {"id": str(c[0]), "label": catalogs.t(row.locale, str(c[1]), dict(c[2]))}
            for c in row.choices
        ]
        delivered.append((row, labels))
        logged = await session.exec(
            update(MessageLog)
            .where(col(MessageLog.outbox_id) == row.id)
            .values(delivery="sent", payload={"outbox_id": row.id, "choices": labels})
        )
        if not logged.rowcount:  # queued before pushes were logged at queue time
            session.add(push_log(row, "sent", now, labels))
    return delivered
