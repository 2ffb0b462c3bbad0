"""`bansos registry import FILE`: stream, validate and upsert the aid register.

Rows are read one at a time and written in batches, each batch in its own transaction,
so memory stays flat and the bot keeps answering between batches. A re-import updates;
it never duplicates: people are keyed by the NIK's keyed hash, households by the No. KK's,
enrolments by (person, programme). A second row for the same person and programme in the
same file is refused as a duplicate, found through the enrolment's `import_run_id`, so no
per-row state is kept in memory.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from bot.services.audit import AuditTrail
from bot.services.pii import PiiVault
from bot.services.registry_reader import RegistryFile, SourceRow, UnreadableFile
from bot.services.registry_rows import RegistryRow, RowError, RowRejected, validate_row, village_key
from bot.settings import Settings
from storage.db import Database
from storage.models import ImportRun
from storage.repositories import registry_writes as writes
from storage.types import utcnow

log = logging.getLogger(__name__)

BATCH_ROWS = 1000


@dataclass
class ImportReport:
    source: str
    dry_run: bool
    rows_read: int = 0
    rows_failed: int = 0
    people_created: int = 0
    people_updated: int = 0
    enrolments_created: int = 0
    enrolments_updated: int = 0
    unchanged: int = 0
    villages_added: int = 0
    ignored_columns: tuple[str, ...] = ()
    errors_by_code: dict[str, int] = field(default_factory=dict)
    run_id: int | None = None

    @property
    def rows_ok(self) -> int:
        return self.rows_read - self.rows_failed


def _rows(source: RegistryFile) -> Iterator[SourceRow]:
    """The file's rows. A header naming a column twice (`nik,nik,nama`) is reported as
    that, not as the columns it lacks because of it."""
    try:
        yield from source.rows()
    except UnreadableFile as unreadable:
        twice = sorted({name for name in source.columns if source.columns.count(name) > 1})
        if unreadable.code == "missing_columns" and twice:
            raise UnreadableFile("duplicate_columns", ", ".join(twice)) from None
        raise


def summary_text(say: Callable[..., str], report: ImportReport) -> str:
    """The import's one-paragraph summary in the catalog's words (`say(key, **params)`)."""
    mode = say("import.mode.dry_run" if report.dry_run else "import.mode.real")
    return say(
        "import.summary",
        mode=mode,
        rows=report.rows_read,
        ok=report.rows_ok,
        failed=report.rows_failed,
        people_created=report.people_created,
        people_updated=report.people_updated,
        enrolments_created=report.enrolments_created,
        enrolments_updated=report.enrolments_updated,
        unchanged=report.unchanged,
        villages=report.villages_added,
    )


ErrorSink = Callable[[RowError], None]
Progress = Callable[[int, int], None]


class RegistryImport:
    def __init__(
        self, db: Database, vault: PiiVault, settings: Settings, actor: str = "cli"
    ) -> None:
        self.db = db
        self.vault = vault
        self.settings = settings
        self.actor = actor  # who is recorded in the audit log for the import

    async def run(
        self,
        path: Path,
        *,
        dry_run: bool = False,
        on_error: ErrorSink | None = None,
        on_progress: Progress | None = None,
        today: date | None = None,
    ) -> ImportReport:
        source = RegistryFile(path)
        report = ImportReport(source=path.name, dry_run=dry_run)
        today = today or utcnow().astimezone(self.settings.zone).date()
        villages = await self._villages()
        codes_by_name = {village_key(name): code for code, name in villages.items()}
        run_id = None if dry_run else await self._open_run(path.name)
        report.run_id = run_id
        seen: dict[int, int] = {}  # dry run only: (NIK, programme) digest → first line

        def fail(error: RowError) -> None:
            report.rows_failed += 1
            report.errors_by_code[error.code] = report.errors_by_code.get(error.code, 0) + 1
            if on_error is not None:
                on_error(error)

        batch: list[RegistryRow] = []
        for source_row in _rows(source):
            report.ignored_columns = source.ignored_columns
            report.rows_read += 1
            row = self._validated(source_row, codes_by_name, today, fail)
            if row is not None:
                batch.append(row)
            if len(batch) >= BATCH_ROWS:
                await self._flush(batch, villages, run_id, report, fail, seen)
                batch = []
                if on_progress is not None:
                    on_progress(source.progress(), source.total)
        await self._flush(batch, villages, run_id, report, fail, seen)
        if on_progress is not None:
            on_progress(source.total, source.total)
        await self._close_run(run_id, report)
        return report

    def _validated(
        self,
        source_row: SourceRow,
        codes_by_name: dict[str, str],
        today: date,
        fail: ErrorSink,
    ) -> RegistryRow | None:
        try:
            return validate_row(source_row.line, source_row.cells, codes_by_name, today)
        except RowRejected as rejected:
            fail(RowError(source_row.line, rejected.code, rejected.column, rejected.value))
            return None

    async def _villages(self) -> dict[str, str]:
        async with self.db.transaction() as session:
            conn = await session.connection()
            return await writes.village_names(conn)

    async def _open_run(self, source: str) -> int:
        async with self.db.transaction() as session:
            run = ImportRun(source=source[:300])
            session.add(run)
            await session.flush()
            assert run.id is not None
            return run.id

    async def _close_run(self, run_id: int | None, report: ImportReport) -> None:
        if run_id is None:
            return
        async with self.db.transaction() as session:
            run = await session.get(ImportRun, run_id)
            assert run is not None
            now = utcnow()
            run.finished_at = now
            run.rows_read = report.rows_read
            run.rows_failed = report.rows_failed
            run.people_created = report.people_created
            run.people_updated = report.people_updated
            run.enrolments_created = report.enrolments_created
            run.enrolments_updated = report.enrolments_updated
            session.add(run)
            AuditTrail(session).record(
                self.actor,
                "registry.import",
                "ok",
                now,
                run_id=run_id,
                source=report.source,
                rows_read=report.rows_read,
                rows_failed=report.rows_failed,
            )

    async def _flush(
        self,
        batch: list[RegistryRow],
        villages: dict[str, str],
        run_id: int | None,
        report: ImportReport,
        fail: ErrorSink,
        seen: dict[int, int],
    ) -> None:
        if not batch:
            return
        keyed = _without_batch_duplicates(batch, self.vault, fail)
        if run_id is None:
            await self._dry_run_batch(keyed, report, fail, seen)
            return
        async with self.db.transaction() as session:
            conn = await session.connection()
            await self._add_villages(conn, keyed, villages, report)
            writer = _BatchWriter(conn, self.vault, run_id, report, fail)
            await writer.write(keyed)

    async def _add_villages(
        self,
        conn: AsyncConnection,
        rows: list[_KeyedRow],
        villages: dict[str, str],
        report: ImportReport,
    ) -> None:
        new: dict[str, str] = {}
        for keyed in rows:
            code = keyed.row.village_code
            if code not in villages and code not in new:
                new[code] = keyed.row.village_name or code
        if not new:
            return
        kecamatan = self.settings.kecamatan_name
        await writes.insert_villages(
            conn, [{"code": c, "name": n, "kecamatan": kecamatan} for c, n in new.items()]
        )
        villages.update(new)
        report.villages_added += len(new)

    async def _dry_run_batch(
        self,
        rows: list[_KeyedRow],
        report: ImportReport,
        fail: ErrorSink,
        seen: dict[int, int],
    ) -> None:
        """Count what a real run would do, reading but never writing."""
        fresh: list[_KeyedRow] = []
        for keyed in rows:
            digest = int.from_bytes(
                hashlib.blake2b(
                    f"{keyed.nik_hash}|{keyed.row.programme}".encode(), digest_size=8
                ).digest()
            )
            first = seen.setdefault(digest, keyed.row.line)
            if first != keyed.row.line:
                fail(RowError(keyed.row.line, "duplicate", "nik", other_line=first))
            else:
                fresh.append(keyed)
        async with self.db.session() as session:
            conn = await session.connection()
            people = await writes.people_by_hash(conn, {k.nik_hash for k in fresh})
            ids = [int(person["id"]) for person in people.values()]
            enrolments = await writes.enrolments_of_people(conn, ids)
        new_people: set[str] = set()
        for keyed in fresh:
            person = people.get(keyed.nik_hash)
            if person is None:
                if keyed.nik_hash not in new_people:
                    new_people.add(keyed.nik_hash)
                    report.people_created += 1
                report.enrolments_created += 1
            elif (int(person["id"]), keyed.row.programme) in enrolments:
                report.enrolments_updated += 1
            else:
                report.enrolments_created += 1


@dataclass(frozen=True, slots=True)
class _KeyedRow:
    row: RegistryRow
    nik_hash: str
    kk_hash: str | None


def _without_batch_duplicates(
    batch: Iterable[RegistryRow], vault: PiiVault, fail: ErrorSink
) -> list[_KeyedRow]:
    first_line: dict[tuple[str, str], int] = {}
    kept: list[_KeyedRow] = []
    for row in batch:
        nik_hash = vault.lookup_hash(row.nik)
        key = (nik_hash, row.programme)
        if key in first_line:
            fail(RowError(row.line, "duplicate", "nik", other_line=first_line[key]))
            continue
        first_line[key] = row.line
        kk_hash = vault.lookup_hash(row.no_kk) if row.no_kk else None
        kept.append(_KeyedRow(row, nik_hash, kk_hash))
    return kept


class _BatchWriter:
    """Upserts one batch: households, then people, then enrolments."""

    def __init__(
        self,
        conn: AsyncConnection,
        vault: PiiVault,
        run_id: int,
        report: ImportReport,
        fail: ErrorSink,
    ) -> None:
        self.conn = conn
        self.vault = vault
        self.run_id = run_id
        self.report = report
        self.fail = fail
        self.now = utcnow()

    async def write(self, rows: list[_KeyedRow]) -> None:
        households = await self._households(rows)
        people = await self._people(rows, households)
        await self._enrolments(rows, people)

    async def _households(self, rows: list[_KeyedRow]) -> dict[str, int]:
        latest = {k.kk_hash: k for k in rows if k.kk_hash is not None}
        existing = await writes.households_by_hash(self.conn, latest.keys())
        inserts, updates = [], []
        for kk_hash, keyed in latest.items():
            values = _household_values(keyed.row)
            current = existing.get(kk_hash)
            if current is None:
                assert keyed.row.no_kk is not None
                inserts.append(
                    {"kk_hash": kk_hash, "kk_encrypted": self.vault.encrypt(keyed.row.no_kk)}
                    | values
                )
            elif _differs(current, values):
                updates.append({"row_id": current["id"]} | values)
        ids = {kk_hash: int(row["id"]) for kk_hash, row in existing.items()}
        ids.update(await writes.insert_households(self.conn, inserts))
        await writes.update_by_id(self.conn, "household", updates)
        return ids

    async def _people(self, rows: list[_KeyedRow], households: dict[str, int]) -> dict[str, int]:
        latest = {k.nik_hash: k for k in rows}
        existing = await writes.people_by_hash(self.conn, latest.keys())
        inserts, updates = [], []
        for nik_hash, keyed in latest.items():
            household_id = households.get(keyed.kk_hash) if keyed.kk_hash else None
            values = _person_values(keyed.row, household_id)
            current = existing.get(nik_hash)
            if current is None:
                inserts.append(
                    {
                        "nik_hash": nik_hash,
                        "nik_encrypted": self.vault.encrypt(keyed.row.nik),
                        "updated_at": self.now,
                    }
                    | values
                )
                self.report.people_created += 1
            elif _differs(current, values):
                updates.append({"row_id": current["id"], "updated_at": self.now} | values)
                self.report.people_updated += 1
        ids = {nik_hash: int(row["id"]) for nik_hash, row in existing.items()}
        ids.update(await writes.insert_people(self.conn, inserts))
        await writes.update_by_id(self.conn, "person", updates)
        return ids

    async def _enrolments(self, rows: list[_KeyedRow], people: dict[str, int]) -> None:
        existing = await writes.enrolments_of_people(self.conn, set(people.values()))
        inserts, updates = [], []
        for keyed in rows:
            row = keyed.row
            person_id = people[keyed.nik_hash]
            current = existing.get((person_id, row.programme))
            mark = {"import_run_id": self.run_id, "import_line": row.line}
            if current is None:
                inserts.append(
                    {
                        "person_id": person_id,
                        "programme": row.programme,
                        "status": row.status,
                        "period": row.period,
                        "updated_at": self.now,
                    }
                    | mark
                )
                self.report.enrolments_created += 1
                continue
            if current["import_run_id"] == self.run_id:
                self.fail(RowError(row.line, "duplicate", "nik", other_line=current["import_line"]))
                continue
            changed = current["status"] != row.status or current["period"] != row.period
            values: dict[str, Any] = {"status": row.status, "period": row.period} | mark
            values["updated_at"] = self.now if changed else current["updated_at"]
            updates.append({"row_id": current["id"]} | values)
            if changed:
                self.report.enrolments_updated += 1
            else:
                self.report.unchanged += 1
        await writes.insert_enrolments(self.conn, inserts)
        await writes.update_by_id(self.conn, "enrolment", updates)


def _household_values(row: RegistryRow) -> dict[str, Any]:
    return {"village_code": row.village_code, "address": row.address, "rt": row.rt, "rw": row.rw}


def _person_values(row: RegistryRow, household_id: int | None) -> dict[str, Any]:
    return {
        "full_name": row.name,
        "birth_date": row.birth_date,
        "sex": row.sex,
        "household_id": household_id,
        "village_code": row.village_code,
        "address": row.address,
        "rt": row.rt,
        "rw": row.rw,
    }


def _differs(current: dict[str, Any], values: dict[str, Any]) -> bool:
    return any(_comparable(current.get(key)) != _comparable(value) for key, value in values.items())


def _comparable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.date()
    return value
