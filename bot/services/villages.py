"""The villages (desa/kelurahan) of the kecamatan: from the settings and the registry.

Other journeys ask "which village?"; `match` finds it the way residents spell it
("Lekosno" → Leksono) with rapidfuzz.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from rapidfuzz import fuzz, process
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.services.audit import AuditTrail
from bot.services.registry_rows import village_key
from bot.settings import Settings
from storage.models import Village
from storage.repositories import registry as registry_repo

MATCH_SCORE = 80.0
MAX_NAME = 120


class VillageError(ValueError):
    """Why a village cannot be saved, in words for the admin."""


class VillageDirectory:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def sync_from_settings(self, settings: Settings) -> int:
        """Add or rename the villages named in VILLAGES; returns how many changed."""
        changed = 0
        for code, name in settings.villages.items():
            village = await self.session.get(Village, code)
            if village is None:
                village = Village(code=code, name=name, kecamatan=settings.kecamatan_name)
            elif village.name == name and village.kecamatan == settings.kecamatan_name:
                continue
            village.name = name
            village.kecamatan = settings.kecamatan_name
            self.session.add(village)
            changed += 1
        return changed

    async def save(
        self, code: str, name: str, kecamatan: str, actor: str, now: datetime
    ) -> Village:
        """Add a village or rename one (an admin in the dashboard); audited. A village named
        in VILLAGES takes that name again at the next start: the environment wins."""
        code, name = code.strip(), " ".join(name.split())
        if not (code.isdigit() and len(code) == 10):
            raise VillageError("code")
        if not name or len(name) > MAX_NAME:
            raise VillageError("name")
        village = await self.session.get(Village, code)
        action = "village.add" if village is None else "village.rename"
        before = "" if village is None else village.name
        if village is None:
            village = Village(code=code, name=name, kecamatan=kecamatan)
        village.name = name
        self.session.add(village)
        AuditTrail(self.session).record(
            actor, action, "ok", now, village=code, name=name, before=before
        )
        return village

    async def all(self) -> Sequence[Village]:
        return await registry_repo.villages(self.session)

    async def match(self, text: str) -> Village | None:
        """The village a resident means, or None when no name is close enough."""
        villages = await self.all()
        by_key = {village_key(v.name): v for v in villages}
        wanted = village_key(text)
        if not wanted or not by_key:
            return None
        if wanted in by_key:
            return by_key[wanted]
        best = process.extractOne(wanted, list(by_key), scorer=fuzz.WRatio)
        if best is None or best[1] < MATCH_SCORE:
            return None
        return by_key[best[0]]
