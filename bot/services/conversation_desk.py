"""Officers and a resident's conversation: reading the whole history (audited), taking it
over to answer by hand while the bot stays silent, and handing it back.

Who may open a conversation: admins, and officers of a village where the resident filed a
named report (not one naming that officer). Viewers never see conversations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.i18n import Catalogs
from bot.messages import Choice
from bot.services.audit import AuditTrail
from bot.services.outbox import OutboxQueue
from bot.services.reports import NotAllowed, ReportNotFound, Viewer
from storage.models import ChannelIdentity, Conversation, MessageLog, Report, Resident

HISTORY_LIMIT = 300
MAX_MESSAGE = 4000


@dataclass(frozen=True, slots=True)
class ConversationView:
    resident: Resident
    identities: Sequence[ChannelIdentity]
    messages: Sequence[MessageLog]
    taken_over_by: int | None


class ConversationDesk:
    def __init__(self, session: AsyncSession, catalogs: Catalogs) -> None:
        self.session = session
        self.catalogs = catalogs
        self.audit = AuditTrail(session)

    async def _allowed(self, viewer: Viewer, resident_id: int, now: datetime) -> Resident:
        resident = await self.session.get(Resident, resident_id)
        allowed = resident is not None and viewer.role == "admin"
        if resident is not None and viewer.role == "officer":
            # A conversation shows every report the resident filed in it: an officer may
            # open it only when they may see each of those with its reporter (named, in
            # their villages, not about them). A confidential report, or another village's,
            # would otherwise be read off the conversation.
            statement = select(
                Report.identity_mode, Report.village_code, Report.accused_officer_id
            ).where(Report.resident_id == resident_id)
            reports = (await self.session.exec(statement)).all()
            allowed = bool(reports) and all(
                mode == "named" and village in viewer.villages and accused != viewer.officer_id
                for mode, village, accused in reports
            )
        if not allowed or resident is None:
            self.audit.record(
                viewer.actor, "conversation.view", "denied", now, resident=resident_id
            )
            raise ReportNotFound(resident_id)
        return resident

    async def view(self, viewer: Viewer, resident_id: int, now: datetime) -> ConversationView:
        """Every message in and out on every channel of this resident, oldest first."""
        resident = await self._allowed(viewer, resident_id, now)
        identities = await self._identities(resident_id)
        ids = [i.id for i in identities if i.id is not None]
        statement = (
            select(MessageLog)
            .where(col(MessageLog.identity_id).in_(ids))
            .order_by(col(MessageLog.created_at).desc(), col(MessageLog.id).desc())
            .limit(HISTORY_LIMIT)
        )
        messages = list(reversed((await self.session.exec(statement)).all()))
        conversations = await self._conversations(ids)
        holder = next((c.taken_over_by for c in conversations if c.taken_over_by), None)
        self.audit.record(viewer.actor, "conversation.view", "shown", now, resident=resident_id)
        return ConversationView(resident, identities, messages, holder)

    async def take_over(self, viewer: Viewer, resident_id: int, now: datetime) -> None:
        self._writer(viewer)
        await self._allowed(viewer, resident_id, now)
        ids = [i.id for i in await self._identities(resident_id) if i.id is not None]
        for conversation in await self._conversations(ids):
            conversation.taken_over_by = viewer.officer_id
            conversation.taken_over_at = now
            self.session.add(conversation)
        self.audit.record(viewer.actor, "conversation.take_over", "ok", now, resident=resident_id)

    async def hand_back(self, viewer: Viewer, resident_id: int, now: datetime) -> None:
        """The bot answers again; the resident is told and offered the menu."""
        self._writer(viewer)
        await self._allowed(viewer, resident_id, now)
        identities = await self._identities(resident_id)
        ids = [i.id for i in identities if i.id is not None]
        for conversation in await self._conversations(ids):
            if conversation.taken_over_by is None:
                continue
            conversation.taken_over_by = None
            conversation.taken_over_at = None
            conversation.dialog, conversation.step, conversation.data = "menu", "choose", {}
            conversation.offered_choices = []
            self.session.add(conversation)
        latest = _latest(identities)
        if latest is not None:
            await OutboxQueue(self.session, self.catalogs).queue(
                latest.id or 0,
                (await self._locale(resident_id)),
                "conversation.handed_back",
                {},
                (Choice("nav:menu", "common.back_to_menu"),),
            )
        self.audit.record(viewer.actor, "conversation.hand_back", "ok", now, resident=resident_id)

    async def send(self, viewer: Viewer, resident_id: int, text: str, now: datetime) -> None:
        """An officer's own words to the resident, on the channel they used last."""
        self._writer(viewer)
        await self._allowed(viewer, resident_id, now)
        text = text.strip()[:MAX_MESSAGE]
        if not text:
            raise ValueError("empty message")
        latest = _latest(await self._identities(resident_id))
        if latest is None:
            raise ReportNotFound(resident_id)
        await OutboxQueue(self.session, self.catalogs).queue(
            latest.id or 0,
            await self._locale(resident_id),
            "conversation.officer",
            {"message": text},
        )
        self.audit.record(viewer.actor, "conversation.send", "ok", now, resident=resident_id)

    async def _identities(self, resident_id: int) -> Sequence[ChannelIdentity]:
        statement = select(ChannelIdentity).where(ChannelIdentity.resident_id == resident_id)
        return (await self.session.exec(statement)).all()

    async def _conversations(self, identity_ids: Sequence[int]) -> Sequence[Conversation]:
        statement = select(Conversation).where(col(Conversation.identity_id).in_(identity_ids))
        return (await self.session.exec(statement)).all()

    async def _locale(self, resident_id: int) -> str:
        resident = await self.session.get(Resident, resident_id)
        return self.catalogs.normalize_locale(resident.locale if resident else None)

    @staticmethod
    def _writer(viewer: Viewer) -> None:
        if viewer.role == "viewer":
            raise NotAllowed("viewers are read-only")


def _latest(identities: Sequence[ChannelIdentity]) -> ChannelIdentity | None:
    reachable = [i for i in identities if i.unreachable_at is None] or list(identities)
    return max(
        reachable,
        key=lambda i: (i.last_inbound_at or i.created_at, i.id or 0),
        default=None,
    )
