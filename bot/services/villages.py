"""The villages (desa/kelurahan) of the kecamatan: from the settings and the registry.

Other journeys ask "which village?"; `match` finds it the way residents spell it
("Lekosno" → Leksono) with rapidfuzz.
"""

from __future__ import annotations

from collections.abc import Sequence

from rapidfuzz import fuzz, process
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.services.registry_rows import village_key
from bot.settings import Settings
from storage.models import Village
from storage.repositories import registry as registry_repo

MATCH_SCORE = 80.0


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
