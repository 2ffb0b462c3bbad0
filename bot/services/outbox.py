"""Messages to residents outside a conversation step (status changes, replies, check-backs).

Each is a row first (DESIGN.md rule 3); the channel senders deliver pending rows within
the platform's limits. The text is rendered at queue time, in the resident's language,
so the dashboard shows exactly what was sent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.i18n import Catalogs
from bot.messages import Choice
from storage.models import ChannelIdentity, Outbox


class OutboxQueue:
    def __init__(self, session: AsyncSession, catalogs: Catalogs) -> None:
        self.session = session
        self.catalogs = catalogs

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
        return row
