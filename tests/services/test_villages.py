"""The kecamatan's villages: from VILLAGES in the settings and from the registry."""

from __future__ import annotations

import pytest

from bot.runtime import Runtime
from bot.services.villages import VillageDirectory
from bot.settings import Settings

VILLAGES = {
    "3307992001": "Sukamaju",
    "3307992002": "Mekarsari",
    "3307992003": "Karanganyar",
    "3307992006": "Leksono",
}


async def test_settings_villages_are_synced_and_renamed(runtime: Runtime) -> None:
    settings = runtime.settings.model_copy(update={"villages": VILLAGES})
    async with runtime.db.transaction() as session:
        assert await VillageDirectory(session).sync_from_settings(settings) == 4
    async with runtime.db.transaction() as session:
        assert await VillageDirectory(session).sync_from_settings(settings) == 0
    renamed = settings.model_copy(update={"villages": {**VILLAGES, "3307992006": "Leksana"}})
    async with runtime.db.transaction() as session:
        assert await VillageDirectory(session).sync_from_settings(renamed) == 1
        names = [v.name for v in await VillageDirectory(session).all()]
    assert names == ["Karanganyar", "Leksana", "Mekarsari", "Sukamaju"]


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("Lekosno", "Leksono"),
        ("desa leksono", "Leksono"),
        ("MEKARSARI", "Mekarsari"),
        ("karang anyar", "Karanganyar"),
        ("sukamju", "Sukamaju"),
        ("Jakarta", None),
        ("", None),
    ],
)
async def test_village_names_are_matched_as_residents_spell_them(
    runtime: Runtime, typed: str, expected: str | None
) -> None:
    settings = runtime.settings.model_copy(update={"villages": VILLAGES})
    async with runtime.db.transaction() as session:
        directory = VillageDirectory(session)
        await directory.sync_from_settings(settings)
        found = await directory.match(typed)
    assert (found.name if found else None) == expected


def test_villages_setting_is_json_with_ten_digit_codes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VILLAGES", '{"3307992006": "Leksono"}')
    assert Settings(_env_file=None).villages == {"3307992006": "Leksono"}
    monkeypatch.setenv("VILLAGES", '{"33079": "Leksono"}')
    with pytest.raises(ValueError, match="10-digit"):
        Settings(_env_file=None)
