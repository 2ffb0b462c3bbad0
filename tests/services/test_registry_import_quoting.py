"""The registry import's error report (the CLI's and the dashboard's): a cell it quotes
never shows a raw NIK, and a header naming a column twice is reported as such."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.runtime import Runtime
from bot.services.registry_reader import UnreadableFile
from bot.services.registry_rows import quoted
from tests.services.test_registry_import import BUDI, HEADER, _import, _write

NIK = "3307991203759002"


@pytest.mark.parametrize(
    ("cell", "shown"),
    [
        (NIK, "3307********9002"),
        (f"PKH {NIK}", "PKH 3307********9002"),
        ("3307.9912.0375.9002", "3307********9002"),
        ("12345678901234567890123", "*" * 23),  # longer than any NIK: hidden whole
        ("BPNT", "BPNT"),
        ("x" * 100, "x" * 59 + "…"),
    ],
)
def test_a_quoted_cell_has_its_nik_like_numbers_masked(cell: str, shown: str) -> None:
    assert quoted(cell) == shown


async def test_a_nik_in_the_programme_column_is_masked(runtime: Runtime, tmp_path: Path) -> None:
    shifted = BUDI.replace(",PKH,aktif,", f",{NIK},aktif,")
    _, errors = await _import(runtime, _write(tmp_path, f"{HEADER}\n{shifted}\n"), dry_run=True)
    assert [(e.code, e.value) for e in errors] == [("unknown_programme", "3307********9002")]


async def test_a_column_named_twice_is_reported_as_a_duplicate(
    runtime: Runtime, tmp_path: Path
) -> None:
    path = _write(tmp_path, "nik,nik,nama\n3307994505800001,3307994505800001,Siti\n")
    with pytest.raises(UnreadableFile) as raised:
        await _import(runtime, path, dry_run=True)
    assert (raised.value.code, raised.value.detail) == ("duplicate_columns", "nik")
