"""`bansos registry import`: clean, dirty and re-imported files, CSV and XLSX."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlmodel import SQLModel, func, select

from bot.runtime import Runtime
from bot.services.registry_import import ImportReport, RegistryImport
from bot.services.registry_reader import UnreadableFile
from bot.services.registry_rows import RowError
from storage.models import Enrolment, Household, ImportRun, RegistryPerson, Village

HEADER = (
    "nik,no_kk,nama,tanggal_lahir,jenis_kelamin,alamat,rt,rw,kode_desa,nama_desa,program,"
    "status,periode"
)
HOME = "Dusun Krajan,1,2,3307992006,Leksono"
SITI = f"3307994505800001,3307990101200001,Siti Aminah,1980-05-05,P,{HOME},PKH,aktif,Tahap 4 2026"
SITI_BPNT = SITI.replace(",PKH,aktif,", ",BPNT,verifikasi,")
BUDI = f"3307991203750002,3307990101200001,Budi Santoso,1975-03-12,L,{HOME},PKH,aktif,Tahap 4 2026"
CLEAN = "\n".join([HEADER, SITI, SITI_BPNT, BUDI]) + "\n"


async def _import(
    runtime: Runtime, path: Path, dry_run: bool = False
) -> tuple[ImportReport, list[RowError]]:
    errors: list[RowError] = []
    importer = RegistryImport(runtime.db, runtime.vault, runtime.settings)
    report = await importer.run(path, dry_run=dry_run, on_error=errors.append)
    return report, errors


async def _count(runtime: Runtime, model: type[SQLModel]) -> int:
    async with runtime.db.session() as session:
        return (await session.exec(select(func.count()).select_from(model))).one()


def _write(tmp_path: Path, text: str, name: str = "dtsen.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


async def test_clean_file_creates_people_households_enrolments(
    runtime: Runtime, tmp_path: Path
) -> None:
    report, errors = await _import(runtime, _write(tmp_path, CLEAN))
    assert errors == []
    assert (report.rows_read, report.rows_failed) == (3, 0)
    assert (report.people_created, report.enrolments_created) == (2, 3)
    assert await _count(runtime, RegistryPerson) == 2
    assert await _count(runtime, Household) == 1
    assert await _count(runtime, Enrolment) == 3
    async with runtime.db.session() as session:
        people = (await session.exec(select(RegistryPerson))).all()
        siti = next(p for p in people if p.full_name == "SITI AMINAH")
        assert (siti.rt, siti.rw, siti.sex, siti.village_code) == ("001", "002", "P", "3307992006")
        assert runtime.vault.decrypt(siti.nik_encrypted) == "3307994505800001"
        assert siti.nik_hash == runtime.vault.lookup_hash("3307994505800001")
        assert (await session.get(Village, "3307992006")) is not None
        run = (await session.exec(select(ImportRun))).one()
        assert run.finished_at is not None and run.rows_read == 3


async def test_reimport_updates_and_never_duplicates(runtime: Runtime, tmp_path: Path) -> None:
    path = _write(tmp_path, CLEAN)
    await _import(runtime, path)
    again, errors = await _import(runtime, path)
    assert errors == []
    assert (again.people_created, again.enrolments_created, again.unchanged) == (0, 0, 3)
    changed = CLEAN.replace("BPNT,verifikasi", "BPNT,aktif").replace(
        "Dusun Krajan,1,2", "Dusun Baru,3,2"
    )
    third, _ = await _import(runtime, _write(tmp_path, changed, "changed.csv"))
    assert third.enrolments_updated == 1
    assert third.people_updated == 2
    assert await _count(runtime, RegistryPerson) == 2
    assert await _count(runtime, Enrolment) == 3
    async with runtime.db.session() as session:
        statuses = {e.programme: e.status for e in (await session.exec(select(Enrolment))).all()}
        assert statuses["BPNT"] == "aktif"


async def test_dirty_file_keeps_good_rows_and_reports_bad_ones_by_line(
    runtime: Runtime, tmp_path: Path
) -> None:
    lines = [
        HEADER,
        SITI,  # line 2: good
        SITI.replace("3307994505800001", "330799450580001"),  # 3: 15-digit NIK
        BUDI.replace("1975-03-12", "1975-02-30"),  # 4: no such date
        BUDI.replace(",PKH,", ",BANSOS BERAS,"),  # 5: unknown programme
        SITI,  # 6: duplicate of line 2
        BUDI.replace(",aktif,", ",mungkin,"),  # 7: unknown status
        BUDI.replace("3307991203750002", "9907991203750002"),  # 8: no such region
        BUDI.replace(",L,", ",X,"),  # 9: sex
        BUDI.replace("3307992006", "33079"),  # 10: village code
        BUDI,  # 11: good
    ]
    report, errors = await _import(runtime, _write(tmp_path, "\n".join(lines)))
    by_line = {error.line: error for error in errors}
    assert by_line[3].code == "nik_length" and by_line[3].value == "15"
    assert by_line[4].code == "bad_date"
    assert by_line[5].code == "unknown_programme"
    assert by_line[6].code == "duplicate" and by_line[6].other_line == 2
    assert by_line[7].code == "unknown_status"
    assert by_line[8].code == "nik_region"
    assert by_line[9].code == "bad_sex"
    assert by_line[10].code == "bad_village_code"
    assert sorted(by_line) == [3, 4, 5, 6, 7, 8, 9, 10]
    assert (report.rows_read, report.rows_failed) == (10, 8)
    assert await _count(runtime, RegistryPerson) == 2
    assert await _count(runtime, Enrolment) == 2


async def test_duplicates_are_found_across_batches(
    runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.services.registry_import.BATCH_ROWS", 2)
    text = "\n".join([HEADER, SITI, BUDI, SITI_BPNT, SITI, BUDI]) + "\n"
    for dry_run in (True, False):
        report, errors = await _import(runtime, _write(tmp_path, text), dry_run=dry_run)
        assert [(e.line, e.code, e.other_line) for e in errors] == [
            (5, "duplicate", 2),
            (6, "duplicate", 3),
        ], dry_run
        assert report.enrolments_created == 3


async def test_header_variants_bom_semicolons_and_regional_spellings(
    runtime: Runtime, tmp_path: Path
) -> None:
    text = (
        "NIK KTP;NOMOR KK;NAMA LENGKAP;TGL LAHIR;JK;ALAMAT;RT;RW;DESA/KELURAHAN;JENIS BANSOS;"
        "STATUS KEPESERTAAN;TAHAP;KETERANGAN\r\n"
        "3307 9945 0580 0001;3307990101200001;siti aminah;05/05/1980;Perempuan;Krajan;RT 01;"
        "02;Desa Leksono;Sembako;Aktif;Tahap 4 2026;catatan\r\n"
        "3307991203750002;;BUDI SANTOSO;;Laki-laki;Krajan;1;2;LEKSONO;KIS;non aktif;;\r\n"
    )
    async with runtime.db.transaction() as session:
        session.add(Village(code="3307992006", name="Leksono", kecamatan="Sukamaju"))
    report, errors = await _import(runtime, _write(tmp_path, text, encoding="utf-8-sig"))
    assert errors == []
    assert report.ignored_columns == ("KETERANGAN",)
    async with runtime.db.session() as session:
        enrolments = (await session.exec(select(Enrolment))).all()
        assert {(e.programme, e.status) for e in enrolments} == {
            ("BPNT", "aktif"),
            ("PBI-JK", "nonaktif"),
        }
        budi = (
            await session.exec(
                select(RegistryPerson).where(RegistryPerson.full_name == "BUDI SANTOSO")
            )
        ).one()
        assert budi.birth_date.isoformat() == "1975-03-12"  # from the NIK
        assert budi.household_id is None


async def test_windows_1252_file_is_read(runtime: Runtime, tmp_path: Path) -> None:
    text = CLEAN.replace("Siti Aminah", "Siti Aminah Ñ")
    report, errors = await _import(runtime, _write(tmp_path, text, encoding="cp1252"))
    assert errors == [] and report.rows_read == 3


async def test_xlsx_with_numbers_and_dates_in_cells(runtime: Runtime, tmp_path: Path) -> None:
    from datetime import datetime

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["NIK", "No KK", "Nama", "Tanggal Lahir", "L/P", "Alamat", "RT", "RW",
                  "Kode Desa", "Nama Desa", "Program", "Status", "Periode"])  # fmt: skip
    sheet.append([3307994505800001, "3307990101200001", "Siti Aminah", datetime(1980, 5, 5),
                  "P", "Krajan", 1, 2, 3307992006, "Leksono", "PKH", "aktif", "4"])  # fmt: skip
    sheet.append([None] * 13)
    sheet.append(["3307991203750002", None, "Budi Santoso", "1975-03-12", "L", "Krajan", "001",
                  "002", "3307992006", "Leksono", "PIP", "ditolak", ""])  # fmt: skip
    path = tmp_path / "dtsen.xlsx"
    book.save(path)
    report, errors = await _import(runtime, path)
    assert errors == []
    assert (report.rows_read, report.people_created, report.enrolments_created) == (2, 2, 2)


async def test_dry_run_counts_but_writes_nothing(runtime: Runtime, tmp_path: Path) -> None:
    report, _ = await _import(runtime, _write(tmp_path, CLEAN), dry_run=True)
    assert (report.people_created, report.enrolments_created) == (2, 3)
    for model in (RegistryPerson, Enrolment, Household, ImportRun, Village):
        assert await _count(runtime, model) == 0


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "empty"),
        ("nama,program\nSiti,PKH\n", "missing_columns"),
        (HEADER + ",nik\n", "duplicate_columns"),
    ],
)
async def test_unusable_files_are_refused_whole(
    runtime: Runtime, tmp_path: Path, text: str, code: str
) -> None:
    with pytest.raises(UnreadableFile) as raised:
        await _import(runtime, _write(tmp_path, text))
    assert raised.value.code == code


async def test_a_database_dump_reveals_no_nik(runtime: Runtime, tmp_path: Path) -> None:
    await _import(runtime, _write(tmp_path, CLEAN))
    async with runtime.db.session() as session:
        conn = await session.connection()
        for table in SQLModel.metadata.sorted_tables:
            for row in (await conn.execute(table.select())).all():
                dumped = repr(tuple(row))
                assert "3307994505800001" not in dumped
                assert "3307990101200001" not in dumped


def test_cli_import_reports_errors_to_a_file(
    tmp_path: Path, repo_root: Path, migrated_url: str
) -> None:
    if not migrated_url.startswith("sqlite"):
        pytest.skip("the CLI run uses its own SQLite file")
    path = _write(tmp_path, CLEAN + SITI.replace("3307994505800001", "12345") + "\n")
    env = {
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite3'}",
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(repo_root),
    }
    bansos = [sys.executable, "-m", "bot.cli", "registry", "import", str(path)]
    dry = subprocess.run(
        [*bansos, "--dry-run"], env=env, capture_output=True, text=True, check=False
    )
    assert dry.returncode == 1, dry.stderr
    assert "Uji coba" in dry.stdout and "baris 5: NIK harus 16 angka" in dry.stdout
    done = subprocess.run(bansos, env=env, capture_output=True, text=True, check=False)
    assert "Impor selesai: 4 baris dibaca, 3 diterima, 1 ditolak" in done.stdout
    report = (tmp_path / "dtsen.csv.errors.csv").read_text(encoding="utf-8")
    assert report.splitlines() == [
        "baris,kolom,alasan",
        '5,nik,"NIK harus 16 angka, di baris ini 5 angka"',
    ]
    assert "3307994505800001" not in done.stdout + done.stderr + report
