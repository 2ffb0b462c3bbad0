"""Registry import and status look-up over a large fictional register (issue 3).

Import: `bansos registry import` (validation with stdnum, keyed hashes, AES-GCM for
NIK and No. KK, batched upsert into three tables) against the sqlite3 shell's `.import`
of the same CSV into one plain table, in the same run. Memory: resident set size
sampled while the import runs (it should stay flat as rows go by).

Floor: the same sqlite3 shell, same CSV, writing into our own schema with SQL alone
(`sha3()` in C standing in for the HMAC and the AES-GCM, no validation, no Python). It
shows what the database work of a keyed, three-table upsert costs before any Python runs,
so whether a target relative to `.import` can be met at all.

Look-up: on the imported database, the status check a resident triggers (rate-limit
counts; person, village, enrolments and schedules in one read; name match; audit row;
commit) and that registry read alone, each against one raw indexed
`SELECT … WHERE nik_hash = ?` through the same driver.
Rows: BENCH_REGISTRY_ROWS (default 1,000,000).
"""

from __future__ import annotations

import asyncio
import os
import random
import resource
import shutil
import sqlite3
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench.registry_data import person_nik, write_csv
from bot.services.pii import PiiVault
from bot.services.registry_import import RegistryImport
from bot.services.status_check import StatusCheck
from bot.settings import Settings
from storage.db import Database
from storage.migrate import upgrade
from storage.repositories import registry as registry_repo
from storage.types import utcnow

ROWS = int(os.environ.get("BENCH_REGISTRY_ROWS", "1000000"))
LOOKUPS = 2000
PAGE = os.sysconf("SC_PAGE_SIZE")


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE / 2**20


def _sqlite3_shell() -> str:
    shell = shutil.which("sqlite3")
    if shell is None:
        raise SystemExit("bench needs the sqlite3 shell (apt-get install sqlite3)")
    return shell


def _baseline_import(csv_path: Path, workdir: Path) -> float:
    target = workdir / "baseline.sqlite3"
    started = time.perf_counter()
    subprocess.run(
        [_sqlite3_shell(), str(target), ".mode csv", f".import {csv_path} registry"],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


FLOOR_SQL = """
PRAGMA journal_mode=WAL;
PRAGMA synchronous=NORMAL;
.mode csv
.import {csv} registry
BEGIN;
INSERT OR IGNORE INTO village (code, name, kecamatan, created_at)
  SELECT DISTINCT kode_desa, nama_desa, '', '2026-01-01 00:00:00' FROM registry;
INSERT INTO household (kk_hash, kk_encrypted, village_code, address, rt, rw)
  SELECT lower(hex(sha3(no_kk, 256))), hex(sha3(no_kk || '#', 384)), kode_desa, alamat, rt, rw
  FROM registry WHERE true
  ON CONFLICT (kk_hash) DO UPDATE SET village_code = excluded.village_code,
    address = excluded.address, rt = excluded.rt, rw = excluded.rw;
INSERT INTO registry_person (nik_hash, nik_encrypted, full_name, birth_date, sex,
    household_id, village_code, address, rt, rw, updated_at)
  SELECT lower(hex(sha3(r.nik, 256))), hex(sha3(r.nik || '#', 384)), r.nama, r.tanggal_lahir,
    r.jenis_kelamin, h.id, r.kode_desa, r.alamat, r.rt, r.rw, '2026-01-01 00:00:00.000000'
  FROM registry r JOIN household h ON h.kk_hash = lower(hex(sha3(r.no_kk, 256))) WHERE true
  ON CONFLICT (nik_hash) DO UPDATE SET full_name = excluded.full_name,
    household_id = excluded.household_id, address = excluded.address;
INSERT INTO enrolment (person_id, programme, status, period, updated_at, import_line)
  SELECT p.id, r.program, r.status, r.periode, '2026-01-01 00:00:00.000000', r.rowid
  FROM registry r JOIN registry_person p ON p.nik_hash = lower(hex(sha3(r.nik, 256))) WHERE true
  ON CONFLICT (person_id, programme) DO UPDATE SET status = excluded.status,
    period = excluded.period;
COMMIT;
"""


def _floor_import(csv_path: Path, workdir: Path) -> float:
    """Our schema filled by the sqlite3 shell with SQL alone: the database work's own cost."""
    target = workdir / "floor.sqlite3"
    upgrade(f"sqlite+aiosqlite:///{target}")
    started = time.perf_counter()
    subprocess.run(
        [_sqlite3_shell(), str(target)],
        input=FLOOR_SQL.format(csv=csv_path),
        text=True,
        check=True,
        capture_output=True,
    )
    elapsed = time.perf_counter() - started
    with sqlite3.connect(target) as conn:
        (people,) = conn.execute("SELECT count(*) FROM registry_person").fetchone()
    assert people > 0, "the floor run wrote nothing"
    return elapsed


async def _our_import(settings: Settings, csv_path: Path) -> tuple[float, list[float], int]:
    db = Database(settings.database_url)
    vault = PiiVault(settings.secret_key.get_secret_value())
    samples: list[float] = []

    def on_progress(done: int, total: int) -> None:
        samples.append(_rss_mb())

    started = time.perf_counter()
    report = await RegistryImport(db, vault, settings).run(csv_path, on_progress=on_progress)
    elapsed = time.perf_counter() - started
    await db.dispose()
    assert report.rows_failed == 0, report.errors_by_code
    return elapsed, samples, report.rows_read


def _percentiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.99) - 1]


async def _lookups(settings: Settings, people: int) -> dict[str, tuple[float, float]]:
    db = Database(settings.database_url)
    vault = PiiVault(settings.secret_key.get_secret_value())
    rng = random.Random(3)
    targets = [vault.lookup_hash(person_nik(rng.randrange(people))[0]) for _ in range(LOOKUPS)]
    timings: dict[str, list[float]] = {"raw": [], "read": [], "check": []}
    for index, nik_hash in enumerate(targets):
        started = time.perf_counter()
        async with db.session() as session:
            conn = await session.connection()
            found = await conn.exec_driver_sql(
                "SELECT * FROM registry_person WHERE nik_hash = ?", (nik_hash,)
            )
            row = found.first()
        timings["raw"].append(time.perf_counter() - started)
        assert row is not None
        name = str(row._mapping["full_name"])

        started = time.perf_counter()
        async with db.session() as session:
            assert await registry_repo.registered_person(session, nik_hash, utcnow()) is not None
        timings["read"].append(time.perf_counter() - started)

        started = time.perf_counter()
        async with db.transaction() as session:
            check = StatusCheck(session, settings)
            answer = await check.look_up(f"bench:{index}", nik_hash, name, utcnow())
            assert answer is not None
        timings["check"].append(time.perf_counter() - started)
    await db.dispose()
    return {name: _percentiles(values) for name, values in timings.items()}


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bansos-bench-") as tmp:
        workdir = Path(tmp)
        csv_path = workdir / "registry.csv"
        people = write_csv(csv_path, ROWS)
        size_mb = csv_path.stat().st_size / 2**20
        url = f"sqlite+aiosqlite:///{workdir / 'bansos.sqlite3'}"
        upgrade(url)
        settings = Settings(_env_file=None, database_url=url)
        baseline = _baseline_import(csv_path, workdir)
        floor = _floor_import(csv_path, workdir)
        ours, samples, rows = asyncio.run(_our_import(settings, csv_path))
        tenth = samples[max(0, len(samples) // 10 - 1)] if samples else 0.0
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        lookups = asyncio.run(_lookups(settings, people))

    print(f"\nRegistry import: {rows:,} rows, {people:,} people, {size_mb:.0f} MB CSV (SQLite)")
    print("| | ours | baseline | ratio |")
    print("|---|---:|---:|---:|")
    print(
        f"| import time | {ours:.1f} s | {baseline:.1f} s (sqlite3 `.import`) "
        f"| {ours / baseline:.1f}x |"
    )
    print(
        f"| floor: our schema filled by the sqlite3 shell, SQL only | {floor:.1f} s "
        f"| {baseline:.1f} s | {floor / baseline:.1f}x |"
    )
    print(f"| import rows/s | {rows / ours:,.0f} | {rows / baseline:,.0f} | |")
    print(
        f"| memory (RSS) | {tenth:.0f} MB at 10 %, {samples[-1] if samples else 0:.0f} MB at "
        f"100 %, peak {peak:.0f} MB | | |"
    )
    raw_p50, raw_p99 = lookups["raw"]
    for name, label in (("read", "registry read"), ("check", "full status check")):
        p50, p99 = lookups[name]
        print(
            f"| {label} p50 / p99 | {p50 * 1e3:.2f} / {p99 * 1e3:.2f} ms "
            f"| {raw_p50 * 1e3:.2f} / {raw_p99 * 1e3:.2f} ms (raw indexed SELECT) "
            f"| {p50 / raw_p50:.1f}x / {p99 / raw_p99:.1f}x |"
        )


if __name__ == "__main__":
    main()
