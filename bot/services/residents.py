"""Residents: consent under UU PDP, language preference and a remembered NIK."""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.services.subscriptions import SubscriptionService
from storage.models import Resident

# Bump when the consent notice changes materially; residents are then asked again.
CONSENT_VERSION = "2026-11"


class ResidentService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @staticmethod
    def has_consented(resident: Resident) -> bool:
        return resident.consent_version == CONSENT_VERSION

    async def record_consent(self, resident: Resident, at: datetime) -> None:
        resident.consent_version = CONSENT_VERSION
        resident.consent_at = at
        resident.consent_declined_at = None
        self.session.add(resident)

    async def record_decline(self, resident: Resident, at: datetime) -> None:
        """No consent: nothing remembered, and no distribution news to any of their chats."""
        resident.consent_version = None
        resident.consent_declined_at = at
        await self.forget_nik(resident)
        if resident.id is not None:
            await SubscriptionService(self.session).end_for_resident(resident.id, at)

    async def save_nik(self, resident: Resident, nik_hash: str, sealed: str, at: datetime) -> None:
        """Remember a verified NIK, at the resident's explicit request (hash + ciphertext)."""
        resident.saved_nik_hash = nik_hash
        resident.saved_nik_encrypted = sealed
        resident.saved_nik_at = at
        self.session.add(resident)

    async def forget_nik(self, resident: Resident) -> bool:
        """Erase a remembered NIK; False when there was none."""
        had_one = resident.saved_nik_hash is not None
        resident.saved_nik_hash = None
        resident.saved_nik_encrypted = None
        resident.saved_nik_at = None
        self.session.add(resident)
        return had_one

    async def set_locale(self, resident: Resident, locale: str) -> None:
        resident.locale = locale
        self.session.add(resident)
