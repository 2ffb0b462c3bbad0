"""Streaming a registry file (CSV or XLSX) row by row, with a progress measure.

Nothing here holds more than one row: a million-row file costs the same memory as a
small one. CSV: UTF-8 with or without BOM (else Windows-1252, as older Excel writes),
comma, semicolon or tab separated. XLSX: the first sheet, read-only.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.services.registry_rows import REQUIRED, canonical_header, text_of

SNIFF_BYTES = 64 * 1024


class UnreadableFile(Exception):
    """The file is not a registry file we can read; `code` names why."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail


@dataclass(frozen=True, slots=True)
class SourceRow:
    line: int
    cells: dict[str, object]


class RegistryFile:
    """Iterate `rows()`; `progress()` says how far along the file is (0…total)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.total = path.stat().st_size
        self._done = 0
        self.columns: tuple[str, ...] = ()
        self.ignored_columns: tuple[str, ...] = ()

    def progress(self) -> int:
        return self._done

    def rows(self) -> Iterator[SourceRow]:
        if self.path.suffix.lower() in {".xlsx", ".xlsm"}:
            return self._xlsx_rows()
        return self._csv_rows()

    def _header(self, raw: list[object]) -> list[str | None]:
        names = [canonical_header(text_of(cell)) for cell in raw]
        seen = [name for name in names if name is not None]
        self.columns = tuple(seen)
        self.ignored_columns = tuple(
            text_of(cell) for cell, name in zip(raw, names, strict=True) if name is None
        )
        missing = sorted(REQUIRED - set(seen))
        if "kode_desa" not in seen and "nama_desa" not in seen:
            missing.append("kode_desa")
        if missing:
            raise UnreadableFile("missing_columns", ", ".join(missing))
        duplicated = sorted({name for name in seen if seen.count(name) > 1})
        if duplicated:
            raise UnreadableFile("duplicate_columns", ", ".join(duplicated))
        return names

    def _csv_rows(self) -> Iterator[SourceRow]:
        with self.path.open("rb") as raw:
            head = raw.read(SNIFF_BYTES)
            raw.seek(0)
            encoding = _encoding(head)
            text = io.TextIOWrapper(raw, encoding=encoding, newline="")
            reader = csv.reader(text, delimiter=_delimiter(head.decode(encoding, "replace")))
            try:
                header = next(reader, None)
            except (UnicodeDecodeError, csv.Error):
                raise UnreadableFile("bad_csv", "1") from None
            if header is None:
                raise UnreadableFile("empty")
            names = self._header(list(header))
            try:
                for record in reader:
                    if not any(field.strip() for field in record):
                        continue
                    self._done = raw.tell()
                    yield SourceRow(reader.line_num, _cells(names, record))
            except UnicodeDecodeError:
                raise UnreadableFile("encoding", str(reader.line_num + 1)) from None
            except csv.Error as error:
                raise UnreadableFile("bad_csv", f"{reader.line_num}: {error}") from None
            self._done = self.total

    def _xlsx_rows(self) -> Iterator[SourceRow]:
        from openpyxl import load_workbook

        try:
            book = load_workbook(self.path, read_only=True, data_only=True)
        except Exception as error:  # openpyxl raises many kinds for a broken file
            raise UnreadableFile("bad_xlsx", type(error).__name__) from None
        try:
            sheet = book.worksheets[0]
            rows = sheet.iter_rows(values_only=True)
            header = next(rows, None)
            if header is None:
                raise UnreadableFile("empty")
            names = self._header(list(header))
            total_rows = sheet.max_row or 0
            for number, values in enumerate(rows, start=2):
                if total_rows:
                    self._done = self.total * number // total_rows
                if not any(text_of(value) for value in values):
                    continue
                yield SourceRow(number, _cells(names, list(values)))
            self._done = self.total
        finally:
            book.close()


def _cells(names: list[str | None], values: Sequence[object]) -> dict[str, object]:
    return {name: value for name, value in zip(names, values, strict=False) if name is not None}


def _encoding(head: bytes) -> str:
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        # A multi-byte character cut at the end of the sample is still UTF-8.
        if error.start < len(head) - 3:
            return "cp1252"
    return "utf-8"


def _delimiter(sample: str) -> str:
    first_line = sample.splitlines()[0] if sample else ""
    counts = {sep: first_line.count(sep) for sep in (",", ";", "\t", "|")}
    return max(counts, key=lambda sep: counts[sep]) if any(counts.values()) else ","
