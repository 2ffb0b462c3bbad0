"""Who wants distribution news: subscriptions per village and programme, and STOP/MULAI.

Subscribing is the resident's own choice in a chat, recorded with its time. STOP (or
BERHENTI) stops every broadcast to that chat but keeps the subscriptions, so MULAI brings
back exactly what the resident had chosen. The sender checks the stop at send time too,
so a STOP during a broadcast takes effect at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.services.audit import AuditTrail, identity_actor
from bot.services.registry_rows import PROGRAMMES
from storage.models import ChannelIdentity, Subscription


class SubscriptionService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def of(self, identity_id: int) -> list[Subscription]:
        statement = (
            select(Subscription)
            .where(Subscription.identity_id == identity_id)
            .order_by(col(Subscription.village_code), col(Subscription.programme))
        )
        return list((await self.session.exec(statement)).all())

    async def subscribe(
        self, identity_id: int, village_code: str, programmes: Iterable[str], now: datetime
    ) -> int:
        """Add what is missing and lift a STOP; returns how many subscriptions were added."""
        wanted = [p for p in dict.fromkeys(programmes) if p in PROGRAMMES]
        have = {(s.village_code, s.programme) for s in await self.of(identity_id)}
        added = 0
        for programme in wanted:
            if (village_code, programme) not in have:
                self.session.add(
                    Subscription(
                        identity_id=identity_id,
                        village_code=village_code,
                        programme=programme,
                        created_at=now,
                    )
                )
                added += 1
        await self._set_stopped(identity_id, None)
        AuditTrail(self.session).record(
            identity_actor(identity_id),
            "subscription.add",
            "ok",
            now,
            village=village_code,
            programmes=wanted,
        )
        await self.session.flush()
        return added

    async def stop(self, identity_id: int, now: datetime) -> bool:
        """STOP: no more broadcasts. False when the chat had nothing to stop."""
        identity = await self.session.get(ChannelIdentity, identity_id)
        if identity is None:
            return False
        had = bool(await self.of(identity_id)) and identity.broadcasts_stopped_at is None
        await self._set_stopped(identity_id, now)
        AuditTrail(self.session).record(identity_actor(identity_id), "subscription.stop", "ok", now)
        return had

    async def resume(self, identity_id: int, now: datetime) -> list[Subscription]:
        """MULAI: broadcasts again, to the subscriptions kept. Empty: none to resume."""
        subscriptions = await self.of(identity_id)
        if subscriptions:
            await self._set_stopped(identity_id, None)
            AuditTrail(self.session).record(
                identity_actor(identity_id), "subscription.resume", "ok", now
            )
        return subscriptions

    async def end_for_resident(self, resident_id: int, now: datetime) -> int:
        """Consent withdrawn: every chat of the resident loses its subscriptions and gets
        no more broadcasts, including those already on their way. Returns how many
        subscriptions ended."""
        identities = (
            await self.session.exec(
                select(ChannelIdentity).where(ChannelIdentity.resident_id == resident_id)
            )
        ).all()
        ended = 0
        for identity in identities:
            assert identity.id is not None
            for subscription in await self.of(identity.id):
                await self.session.delete(subscription)
                ended += 1
            await self._set_stopped(identity.id, now)
        if ended:
            AuditTrail(self.session).record(
                f"resident:{resident_id}", "subscription.end", "ok", now, count=ended
            )
        return ended

    async def is_stopped(self, identity_id: int) -> bool:
        identity = await self.session.get(ChannelIdentity, identity_id)
        return identity is not None and identity.broadcasts_stopped_at is not None

    async def _set_stopped(self, identity_id: int, at: datetime | None) -> None:
        identity = await self.session.get(ChannelIdentity, identity_id)
        if identity is not None and identity.broadcasts_stopped_at != at:
            identity.broadcasts_stopped_at = at
            self.session.add(identity)
