"""One row of a registry file (DESIGN.md section 5): header names and value checks.

Real exports name their columns in many ways ("NIK KTP", "NAMA LENGKAP",
"DESA/KELURAHAN") and write values in many ways ("Sembako", "Laki-laki", "05/03/1980").
This module maps them onto the canonical columns and refuses what cannot be trusted,
with a reason code the CLI renders from the catalog (`import.error.<code>`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from bot.services.names import normalise_name
from bot.services.nik import (
    NIK_LENGTH,
    InvalidNik,
    NikProblem,
    birth_date_from_nik,
    known_region,
    parse_nik,
)
from bot.text import redact_id_numbers

COLUMNS = (
    "nik",
    "no_kk",
    "nama",
    "tanggal_lahir",
    "jenis_kelamin",
    "alamat",
    "rt",
    "rw",
    "kode_desa",
    "nama_desa",
    "program",
    "status",
    "periode",
)
REQUIRED = frozenset({"nik", "nama", "program", "status"})
MAX_QUOTED = 60
_LONG_DIGITS = re.compile(r"\d{14,}")
PROGRAMMES = ("PKH", "BPNT", "BLT", "PBI-JK", "PIP")
STATUSES = ("aktif", "verifikasi", "nonaktif", "ditolak")

_HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "nik": ("nik", "nik ktp", "no nik", "nomor nik", "nomor induk kependudukan", "no ktp",
            "nomor ktp", "nik penerima", "nik kpm", "nik art"),
    "no_kk": ("no kk", "nomor kk", "nokk", "kk", "no kartu keluarga", "nomor kartu keluarga",
              "nkk"),
    "nama": ("nama", "nama lengkap", "nama penerima", "nama sesuai ktp", "nama ktp", "nama kpm",
             "nama art", "nama pengurus"),
    "tanggal_lahir": ("tanggal lahir", "tgl lahir", "tgllahir", "tanggal lahir yyyy mm dd",
                      "tgl lhr", "lahir"),
    "jenis_kelamin": ("jenis kelamin", "jk", "l p", "kelamin", "sex", "gender"),
    "alamat": ("alamat", "alamat lengkap", "alamat rumah"),
    "rt": ("rt",),
    "rw": ("rw",),
    "kode_desa": ("kode desa", "kode wilayah", "kd desa", "kode kelurahan", "kode desa kelurahan",
                  "kode wilayah desa", "id desa"),
    "nama_desa": ("nama desa", "desa", "kelurahan", "desa kelurahan", "nama desa kelurahan",
                  "nama kelurahan"),
    "program": ("program", "jenis bansos", "bansos", "jenis bantuan", "program bansos",
                "nama program"),
    "status": ("status", "status kepesertaan", "status penerima", "status bansos"),
    "periode": ("periode", "tahap", "periode penyaluran", "tahap penyaluran"),
}  # fmt: skip
_HEADERS = {alias: column for column, aliases in _HEADER_ALIASES.items() for alias in aliases}

_PROGRAMME_ALIASES = {
    "PKH": "PKH",
    "PROGRAM KELUARGA HARAPAN": "PKH",
    "BPNT": "BPNT",
    "SEMBAKO": "BPNT",
    "BPNT SEMBAKO": "BPNT",
    "PROGRAM SEMBAKO": "BPNT",
    "BLT": "BLT",
    "BLT DD": "BLT",
    "BLT DANA DESA": "BLT",
    "BLT BBM": "BLT",
    "PBI": "PBI-JK",
    "PBI JK": "PBI-JK",
    "PBI JKN": "PBI-JK",
    "KIS": "PBI-JK",
    "PIP": "PIP",
    "KIP": "PIP",
}
_STATUS_ALIASES = {
    "aktif": "aktif",
    "active": "aktif",
    "verifikasi": "verifikasi",
    "proses verifikasi": "verifikasi",
    "dalam verifikasi": "verifikasi",
    "nonaktif": "nonaktif",
    "non aktif": "nonaktif",
    "tidak aktif": "nonaktif",
    "ditolak": "ditolak",
    "tolak": "ditolak",
}
_SEX_ALIASES = {
    "L": "L",
    "LK": "L",
    "LAKI LAKI": "L",
    "LAKI": "L",
    "PRIA": "L",
    "M": "L",
    "P": "P",
    "PR": "P",
    "PEREMPUAN": "P",
    "WANITA": "P",
    "F": "P",
}
_NON_WORD = re.compile(r"[^0-9a-z]+")
_SEPARATORS = re.compile(r"[\s.\-/]")
_DATE_FORMATS = ("%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y", "%Y/%m/%d", "%d.%m.%Y")
MAX_NAME = 200
MAX_ADDRESS = 300
MAX_PERIOD = 40


def canonical_header(raw: str) -> str | None:
    """'NIK KTP' → 'nik'; '\\ufeffDESA/KELURAHAN' → 'nama_desa'; unknown → None."""
    key = _NON_WORD.sub(" ", raw.replace("\ufeff", "").casefold()).strip()
    snake = key.replace(" ", "_")
    return _HEADERS.get(key) or (snake if snake in COLUMNS else None)


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    code: str
    column: str = ""
    value: str = ""
    other_line: int = 0


class RowRejected(Exception):
    """`value` is the cell as the error report may quote it (`quoted`)."""

    def __init__(self, code: str, column: str = "", value: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.column = column
        self.value = quoted(value)


def quoted(value: str) -> str:
    """A cell fit to repeat in an error report (page, CLI, log): NIK-like numbers masked
    (a NIK in the wrong column is still a NIK), longer digit runs hidden, and short."""
    masked = _LONG_DIGITS.sub(lambda run: "*" * len(run.group(0)), redact_id_numbers(value))
    return masked if len(masked) <= MAX_QUOTED else masked[: MAX_QUOTED - 1] + "…"


@dataclass(frozen=True, slots=True)
class RegistryRow:
    """A validated row: one person in one programme."""

    line: int
    nik: str
    no_kk: str | None
    name: str
    birth_date: date
    sex: str
    address: str
    rt: str
    rw: str
    village_code: str
    village_name: str
    programme: str
    status: str
    period: str


def text_of(value: object) -> str:
    """A cell as text: XLSX numbers keep their digits (no '3.3e+15', no '.0')."""
    if type(value) is str:
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat()
    return str(value).strip()


def validate_row(
    line: int, cells: dict[str, object], village_codes_by_name: dict[str, str], today: date
) -> RegistryRow:
    """The row as a RegistryRow, or RowRejected with the first reason found."""
    nik_text = text_of(cells.get("nik"))
    if not nik_text:
        raise RowRejected("missing", "nik")
    try:
        nik = parse_nik(nik_text)
    except InvalidNik as invalid:
        code = {
            NikProblem.LENGTH: "nik_length",
            NikProblem.BIRTH_DATE: "nik_birth_date",
            NikProblem.REGION: "nik_region",
        }.get(invalid.problem, "nik_format")
        raise RowRejected(code, "nik", str(invalid.digits)) from None
    name = normalise_name(text_of(cells.get("nama")))
    if not name:
        raise RowRejected("missing", "nama")
    if len(name) > MAX_NAME:
        raise RowRejected("too_long", "nama")
    programme = _programme(text_of(cells.get("program")))
    status = _status(text_of(cells.get("status")))
    village_code, village_name = _village(cells, village_codes_by_name)
    period = text_of(cells.get("periode"))
    if len(period) > MAX_PERIOD:
        raise RowRejected("too_long", "periode")
    address = text_of(cells.get("alamat"))
    if len(address) > MAX_ADDRESS:
        raise RowRejected("too_long", "alamat")
    return RegistryRow(
        line=line,
        nik=nik,
        no_kk=_no_kk(text_of(cells.get("no_kk"))),
        name=name,
        birth_date=_birth_date(cells.get("tanggal_lahir"), nik, today),
        sex=_sex(text_of(cells.get("jenis_kelamin")), nik),
        address=address,
        rt=_neighbourhood(text_of(cells.get("rt")), "rt"),
        rw=_neighbourhood(text_of(cells.get("rw")), "rw"),
        village_code=village_code,
        village_name=village_name,
        programme=programme,
        status=status,
        period=period,
    )


def _programme(raw: str) -> str:
    if not raw:
        raise RowRejected("missing", "program")
    key = _NON_WORD.sub(" ", raw.casefold()).strip().upper()
    programme = _PROGRAMME_ALIASES.get(key)
    if programme is None:
        raise RowRejected("unknown_programme", "program", raw)
    return programme


def _status(raw: str) -> str:
    if not raw:
        raise RowRejected("missing", "status")
    status = _STATUS_ALIASES.get(_NON_WORD.sub(" ", raw.casefold()).strip())
    if status is None:
        raise RowRejected("unknown_status", "status", raw)
    return status


def _no_kk(raw: str) -> str | None:
    if not raw:
        return None
    digits = _SEPARATORS.sub("", raw)
    if (
        not (digits.isascii() and digits.isdigit())
        or len(digits) != NIK_LENGTH
        or not known_region(digits[:4])
    ):
        raise RowRejected("no_kk", "no_kk", str(len(digits)))
    return digits


def _birth_date(raw: object, nik: str, today: date) -> date:
    if isinstance(raw, datetime):
        born = raw.date()
    elif isinstance(raw, date):
        born = raw
    else:
        text = text_of(raw)
        if not text:
            try:
                return birth_date_from_nik(nik, today)
            except InvalidNik:
                raise RowRejected("nik_birth_date", "nik") from None
        born = _parse_date(text)
    if born > today or born.year < 1900:
        raise RowRejected("bad_date", "tanggal_lahir", born.isoformat())
    return born


def _parse_date(text: str) -> date:
    if len(text) == 10 and text[4] == "-":
        try:
            return date.fromisoformat(text)  # the documented form, and the fast path
        except ValueError:
            raise RowRejected("bad_date", "tanggal_lahir", text) from None
    for pattern in _DATE_FORMATS:
        try:
            return datetime.strptime(text[:10], pattern).date()
        except ValueError:
            continue
    raise RowRejected("bad_date", "tanggal_lahir", text)


def _sex(raw: str, nik: str) -> str:
    if not raw:
        return "P" if int(nik[6:8]) > 40 else "L"
    sex = _SEX_ALIASES.get(_NON_WORD.sub(" ", raw.casefold()).strip().upper())
    if sex is None:
        raise RowRejected("bad_sex", "jenis_kelamin", raw)
    return sex


def _neighbourhood(raw: str, column: str) -> str:
    """'1', 'RT 01', '001' → '001'."""
    digits = re.sub(r"\D", "", raw)
    if not digits:
        return ""
    if len(digits) > 3:
        raise RowRejected("bad_rt_rw", column, raw)
    return digits.zfill(3)


def village_key(name: str) -> str:
    """'Desa Leksono' and 'LEKSONO' → 'leksono'."""
    key = _NON_WORD.sub(" ", name.casefold()).strip()
    for prefix in ("desa ", "kelurahan ", "kel ", "ds "):
        key = key.removeprefix(prefix)
    return key


def _village(cells: dict[str, object], codes_by_name: dict[str, str]) -> tuple[str, str]:
    name = text_of(cells.get("nama_desa"))
    code = _SEPARATORS.sub("", text_of(cells.get("kode_desa")))
    if code:
        if not (code.isascii() and code.isdigit() and len(code) == 10):
            raise RowRejected("bad_village_code", "kode_desa", code)
        return code, name
    if not name:
        raise RowRejected("missing", "kode_desa")
    known = codes_by_name.get(village_key(name))
    if known is None:
        raise RowRejected("unknown_village", "nama_desa", name)
    return known, name
