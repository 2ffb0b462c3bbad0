"""A fictional aid register of any size, in the import format of DESIGN.md section 5.

NIKs use region 3307 (a real regency code, so they pass stdnum) with kecamatan codes
90–99, which do not exist there: no generated NIK can belong to a real person. The same
`seed` and `people` always give the same file.
"""

from __future__ import annotations

import csv
import itertools
import random
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

from bot.services.registry_rows import COLUMNS

HEADER = COLUMNS
FIRST = ("SITI", "SRI", "DEWI", "BUDI", "AGUS", "JOKO", "WAHYU", "EKO", "NUR", "RINA", "ANI",
         "TUTI", "SLAMET", "DEDI", "IWAN", "FITRI", "INDAH", "RATNA", "YUSUF", "AHMAD")  # fmt: skip
LAST = ("AMINAH", "RAHAYU", "LESTARI", "SANTOSO", "WIBOWO", "SETIAWAN", "HIDAYAT", "SUSANTI",
        "PRASETYO", "KURNIAWAN", "HANDAYANI", "SAPUTRA", "WULANDARI", "NUGROHO")  # fmt: skip
VILLAGES = tuple(
    (f"33079{k}2{d:03d}", f"DESA {k}{d:03d}") for k in range(0, 10) for d in range(1, 11)
)
PROGRAMMES = ("PKH", "BPNT", "BLT", "PBI-JK", "PIP")
STATUSES = ("aktif",) * 6 + ("verifikasi", "nonaktif", "ditolak")
BIRTH_DAYS = 20000


def person_nik(index: int) -> tuple[str, date, bool]:
    """The index-th person's NIK, birth date and sex: unique for up to 2 billion people."""
    kecamatan = 90 + index % 10
    rest = index // 10
    born = date(1950, 1, 1) + timedelta(days=rest % BIRTH_DAYS)
    serial = rest // BIRTH_DAYS + 1
    female = index % 2 == 1
    day = born.day + (40 if female else 0)
    return (
        f"3307{kecamatan:02d}{day:02d}{born.month:02d}{born.year % 100:02d}{serial:04d}",
        born,
        female,
    )


def rows(people: int | None = None, seed: int = 7) -> Iterator[tuple[str, ...]]:
    """One or two rows (programmes) per person; endless when `people` is None."""
    rng = random.Random(seed)
    for index in itertools.count() if people is None else range(people):
        nik, born, female = person_nik(index)
        kk = f"330790{1 + index % 28:02d}01{20 - index % 10:02d}{index % 10000:04d}"
        code, village = VILLAGES[index % len(VILLAGES)]
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        for programme in rng.sample(PROGRAMMES, k=rng.choice((1, 1, 2))):
            yield (
                nik,
                kk,
                name,
                born.isoformat(),
                "P" if female else "L",
                f"Dusun {index % 7 + 1}",
                f"{index % 12 + 1:03d}",
                f"{index % 5 + 1:03d}",
                code,
                village,
                programme,
                rng.choice(STATUSES),
                "Tahap 4 2026",
            )


def write_csv(path: Path, row_count: int, seed: int = 7) -> int:
    """Write a register of exactly `row_count` data rows; returns how many people it has."""
    people, previous = 0, ""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for row in itertools.islice(rows(None, seed), row_count):
            writer.writerow(row)
            if row[0] != previous:  # a person's rows are consecutive
                people, previous = people + 1, row[0]
    return people
