"""The dashboard's register search: by NIK (keyed hash, never in a URL, never shown whole)
or by a misspelt name, scoped to the officer's villages, closed to viewers, and audited."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlmodel import col, select

from bot.runtime import Runtime
from bot.services.registry_import import RegistryImport
from bot.web.app import create_app
from storage.models import AuditLog
from tests.services.test_registry_import import BUDI, HEADER, SITI, SITI_BPNT
from tests.web.test_dashboard import Office, seed_office
from tests.web.test_trainings_screen import actor

SITI_NIK = "3307994505800001"
BUDI_NIK = "3307991203750002"
RAHMAT_NIK = "3307990708820003"  # lives in Sukamaju
RAHMAT = (
    f"{RAHMAT_NIK},3307990101200009,Rahmat Hidayat,1982-08-07,L,Dusun Kidul,4,1,"
    "3307992001,Sukamaju,BLT,aktif,2026"
)
UNKNOWN_NIK = "3307990101900005"
ALL_NIKS = (SITI_NIK, BUDI_NIK, RAHMAT_NIK, UNKNOWN_NIK)


@pytest.fixture
async def office(runtime: Runtime, tmp_path: Path) -> AsyncIterator[Office]:
    leksono, sukamaju = await seed_office(runtime)
    path = tmp_path / "dtsen.csv"
    path.write_text("\n".join([HEADER, SITI, SITI_BPNT, BUDI, RAHMAT]) + "\n")
    errors: list[object] = []
    await RegistryImport(runtime.db, runtime.vault, runtime.settings).run(
        path, on_error=errors.append
    )
    assert errors == []
    app = create_app(runtime)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield Office(runtime, client, leksono, sukamaju)


async def _search(office: Office, by: str, typed: str, **extra: str) -> httpx.Response:
    csrf = await office.csrf("/registry")
    return await office.client.post(
        "/registry/search", data={"csrf": csrf, "by": by, "q": typed, **extra}
    )


async def _searches(office: Office) -> list[AuditLog]:
    async with office.runtime.db.session() as session:
        statement = (
            select(AuditLog)
            .where(col(AuditLog.action).in_(["registry.search", "registry.view"]))
            .order_by(col(AuditLog.id))
        )
        return list((await session.exec(statement)).all())


async def _no_raw_nik_in_the_audit_log(office: Office) -> None:
    async with office.runtime.db.session() as session:
        rows = (await session.exec(select(AuditLog))).all()
    dumped = json.dumps([row.model_dump(mode="json") for row in rows])
    for nik in ALL_NIKS:
        assert nik not in dumped
        assert nik[:15] not in dumped


def _assert_no_nik(html: str) -> None:
    for nik in ALL_NIKS:
        assert nik not in html
        assert nik[:15] not in html
    assert "3307 9945 0580 0001" not in html  # not even as it was typed


async def test_signed_out_goes_to_the_sign_in_page(office: Office) -> None:
    page = await office.client.get("/registry")
    assert page.status_code == 303 and page.headers["location"] == "/login"
    posted = await office.client.post(
        "/registry/search", data={"csrf": "x", "by": "nik", "q": SITI_NIK}
    )
    assert posted.status_code == 401
    _assert_no_nik(posted.text)
    assert await _searches(office) == []


async def test_the_search_form_keeps_the_nik_out_of_urls(office: Office) -> None:
    await office.sign_in("darmo")
    page = await office.client.get("/registry")
    assert page.status_code == 200 and "Cari data warga" in page.text
    forms = page.text.count('<form method="post" action="/registry/search"')
    assert forms == 2 and 'method="get"' not in page.text
    assert "Content-Security-Policy" in page.headers


async def test_a_nik_typed_with_spaces_finds_the_person(office: Office) -> None:
    await office.sign_in("darmo")
    found = await _search(office, "nik", "3307 9945 0580 0001")
    assert found.status_code == 200
    html = found.text
    assert "SITI AMINAH" in html and "3307********0001" in html
    assert "Leksono" in html and "001/002" in html
    assert "PKH" in html and "BPNT" in html and "Tahap 4 2026" in html
    assert "state-aktif" in html and "state-verifikasi" in html
    assert "BUDI SANTOSO" not in html
    _assert_no_nik(html)
    rows = await _searches(office)
    assert len(rows) == 1
    assert (rows[0].actor, rows[0].outcome) == (await actor(office.runtime, "darmo"), "found")
    assert rows[0].subject_hash == office.runtime.vault.lookup_hash(SITI_NIK)
    assert rows[0].detail == {"mode": "nik", "results": 1}
    await _no_raw_nik_in_the_audit_log(office)


async def test_a_wrong_nik_finds_nobody_and_says_so_kindly(office: Office) -> None:
    await office.sign_in("darmo")
    response = await _search(office, "nik", UNKNOWN_NIK)
    assert response.status_code == 200
    assert "Tidak ada warga dengan NIK itu di data desa Anda" in response.text
    assert "usulan" in response.text
    assert "SITI AMINAH" not in response.text
    _assert_no_nik(response.text)
    (row,) = await _searches(office)
    assert row.outcome == "none"
    assert row.subject_hash == office.runtime.vault.lookup_hash(UNKNOWN_NIK)
    await _no_raw_nik_in_the_audit_log(office)


async def test_a_nik_one_digit_short_gets_the_specific_answer(office: Office) -> None:
    await office.sign_in("darmo")
    short = await _search(office, "nik", SITI_NIK[:15])
    assert short.status_code == 422
    assert "NIK harus 16 angka, yang diketik 15 angka." in short.text
    _assert_no_nik(short.text)
    bad_date = await _search(office, "nik", "3307999999800001")
    assert bad_date.status_code == 422 and "tanggal lahir" in bad_date.text
    rows = await _searches(office)
    assert [(r.outcome, r.subject_hash, r.detail.get("problem")) for r in rows] == [
        ("invalid", None, "length"),
        ("invalid", None, "birth_date"),
    ]
    await _no_raw_nik_in_the_audit_log(office)


async def test_a_misspelt_name_finds_the_person(office: Office) -> None:
    await office.sign_in("darmo")
    found = await _search(office, "name", "sity aminnah")
    assert found.status_code == 200
    assert "SITI AMINAH" in found.text and "3307********0001" in found.text
    assert "BUDI SANTOSO" not in found.text
    assert 'value="sity aminnah"' in found.text  # a name may be shown again; a NIK not
    _assert_no_nik(found.text)
    search, view = await _searches(office)
    assert (search.outcome, search.subject_hash) == ("found", None)
    assert search.detail == {"mode": "name", "results": 1}
    assert (view.action, view.subject_hash) == (
        "registry.view",
        office.runtime.vault.lookup_hash(SITI_NIK),
    )
    reordered = await _search(office, "name", "Santoso Budi")
    assert "BUDI SANTOSO" in reordered.text
    nobody = await _search(office, "name", "Joko Widodo")
    assert "Tidak ada nama yang mirip" in nobody.text
    too_short = await _search(office, "name", "Si")
    assert too_short.status_code == 422 and "paling sedikit 3 huruf" in too_short.text
    await _no_raw_nik_in_the_audit_log(office)


async def test_an_officer_finds_nobody_of_another_village(office: Office) -> None:
    await office.sign_in("darmo")  # Leksono
    by_nik = await _search(office, "nik", RAHMAT_NIK)
    assert "RAHMAT HIDAYAT" not in by_nik.text and "Tidak ada warga" in by_nik.text
    by_name = await _search(office, "name", "Rahmat Hidayat")
    assert "RAHMAT HIDAYAT" not in by_name.text
    rows = await _searches(office)
    assert [r.outcome for r in rows] == ["none", "none"]
    assert rows[0].detail.get("outside_villages") is True
    await office.sign_in("wati")  # Sukamaju
    assert "RAHMAT HIDAYAT" in (await _search(office, "nik", RAHMAT_NIK)).text
    assert "SITI AMINAH" not in (await _search(office, "nik", SITI_NIK)).text
    await office.sign_in("camat")  # admin: every village
    everyone = await _search(office, "name", "a")
    assert everyone.status_code == 422
    assert "RAHMAT HIDAYAT" in (await _search(office, "name", "rahmat hidayat")).text
    assert "SITI AMINAH" in (await _search(office, "nik", SITI_NIK)).text


async def test_viewers_cannot_search_the_register(office: Office) -> None:
    await office.sign_in("pengamat")
    page = await office.client.get("/registry")
    assert page.status_code == 403 and "pemantau tidak melihat data pribadi" in page.text
    csrf = await office.csrf("/")
    posted = await office.client.post(
        "/registry/search", data={"csrf": csrf, "by": "name", "q": "Siti Aminah"}
    )
    assert posted.status_code == 403 and "SITI AMINAH" not in posted.text
    (row,) = await _searches(office)
    assert (row.actor, row.outcome) == (await actor(office.runtime, "pengamat"), "denied")


async def test_a_search_needs_its_csrf_token(office: Office) -> None:
    await office.sign_in("darmo")
    missing = await office.client.post("/registry/search", data={"by": "nik", "q": SITI_NIK})
    wrong = await office.client.post(
        "/registry/search", data={"csrf": "0" * 64, "by": "nik", "q": SITI_NIK}
    )
    assert missing.status_code == 403 and wrong.status_code == 403
    assert "SITI AMINAH" not in missing.text + wrong.text
    assert await _searches(office) == []


async def test_english(office: Office) -> None:
    await office.sign_in("darmo")
    page = await office.client.get("/registry?lang=en")
    assert "Search the aid register" in page.text
    short = await _search(office, "nik", "12345")
    assert "A NIK has 16 digits; 5 were typed." in short.text
