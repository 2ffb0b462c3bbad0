"""The report CSV export: the inbox's button and `/reports/export.csv` on the dashboard,
`/api/v1/reports.csv` on the API; the inbox's filters and access rules, no NIK, no
reporter, audited."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlmodel import col, select

from bot.runtime import Runtime
from bot.services.officer_auth import OfficerAuth
from bot.services.reports import ReportService, viewer_for
from bot.services.tickets import display_code
from bot.web.app import create_app
from storage.models import AuditLog, Officer, Report
from storage.types import utcnow
from tests.services.test_reports import LEKSONO, SUKAMAJU, _draft, _file, _resident
from tests.web.test_dashboard import Office, seed_office

RAW_NIK = "3307991234567890"
HEADER = ["kode", "jenis", "program", "kode_desa", "desa", "status", "dibuat", "terlambat",
          "petugas", "identitas", "pihak", "isi"]  # fmt: skip


@pytest.fixture
async def office(runtime: Runtime) -> AsyncIterator[Office]:
    leksono, sukamaju = await seed_office(runtime)
    async with runtime.db.session() as session:
        ids = {o.username: o.id or 0 for o in (await session.exec(select(Officer))).all()}
    transport = httpx.ASGITransport(app=create_app(runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield Office(runtime, client, leksono, sukamaju, ids)


def _rows(response: httpx.Response) -> list[dict[str, str]]:
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == HEADER, rows[0]
    return [dict(zip(HEADER, row, strict=True)) for row in rows[1:]]


async def _more_reports(office: Office) -> str:
    """A confidential Leksono report naming an agent (a formula and a raw NIK in its text, as
    older or API-filed data might hold), assigned to Darmo; returns its code."""
    who = await _resident(office.runtime, "Ibu Rahasia")
    draft = _draft(
        identity_mode="confidential",
        subject='=HYPERLINK("http://x") Agen Bu Tini',
        description=f"Agen memotong 30 ribu, NIK saya {RAW_NIK}, di e-warong.",
    )
    report = await _file(office.runtime, draft, who, utcnow())
    async with office.runtime.db.transaction() as session:
        camat = (await session.exec(select(Officer).where(Officer.username == "camat"))).one()
        admin = await viewer_for(session, camat.id or 0)
        service = ReportService(session, office.runtime.settings, office.runtime.catalogs)
        loaded = await service.get(admin, report.id or 0, utcnow())
        await service.assign(admin, loaded, office.ids["darmo"], utcnow())
    return display_code(report.code)


async def _exports(office: Office) -> list[AuditLog]:
    async with office.runtime.db.session() as session:
        statement = select(AuditLog).where(AuditLog.action == "report.export")
        return list((await session.exec(statement.order_by(col(AuditLog.id)))).all())


async def test_the_inbox_offers_the_export_with_its_filters(office: Office) -> None:
    assert (await office.client.get("/reports/export.csv")).status_code == 303  # sign in first
    await office.sign_in("camat")
    inbox = await office.client.get(f"/?village={LEKSONO}&kind=potongan&done=dash.report.saved")
    link = f'href="/reports/export.csv?village={LEKSONO}&amp;kind=potongan" download'
    assert link in inbox.text and "Unduh CSV" in inbox.text


async def test_an_admin_exports_names_subjects_and_stories_but_no_nik(office: Office) -> None:
    code = await _more_reports(office)
    await office.sign_in("camat")
    response = await office.client.get("/reports/export.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["cache-control"] == "private, no-store"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "Content-Security-Policy" in response.headers
    assert response.headers["content-disposition"].startswith('attachment; filename="laporan-')
    assert RAW_NIK not in response.text and "3307********7890" in response.text
    assert "Ibu Rahasia" not in response.text and "Sri" not in response.text  # no reporter
    rows = {row["kode"]: row for row in _rows(response)}
    assert len(rows) == 3
    mine = rows[code]
    assert (mine["kode_desa"], mine["desa"], mine["petugas"]) == (LEKSONO, "Leksono", "Darmo")
    assert mine["identitas"] == "confidential"
    assert mine["pihak"] == '\'=HYPERLINK("http://x") Agen Bu Tini'  # never run as a formula
    assert "Agen memotong 30 ribu" in mine["isi"]
    filtered = _rows(await office.client.get(f"/reports/export.csv?village={SUKAMAJU}"))
    assert [row["desa"] for row in filtered] == ["Sukamaju"]
    audited = await _exports(office)
    assert [(a.actor, a.detail["rows"]) for a in audited] == [
        (f"officer:{office.ids['camat']}", 3),
        (f"officer:{office.ids['camat']}", 1),
    ]
    assert audited[1].detail["filters"] == {"village_code": SUKAMAJU}


async def test_an_officer_exports_their_villages_and_a_viewer_no_personal_data(
    office: Office,
) -> None:
    code = await _more_reports(office)
    await office.sign_in("darmo")
    darmo = _rows(await office.client.get("/reports/export.csv"))
    assert {row["desa"] for row in darmo} == {"Leksono"} and len(darmo) == 2
    assert code in {row["kode"] for row in darmo}
    await office.sign_in("pengamat")
    response = await office.client.get("/reports/export.csv")
    viewer = _rows(response)
    assert len(viewer) == 3
    assert all(row["pihak"] == "" and row["isi"] == "" for row in viewer)
    for personal in ("Ketua kelompok", "Agen", "Tini", RAW_NIK):
        assert personal not in response.text
    assert len(await _exports(office)) == 2


async def test_the_api_exports_the_same_way(office: Office) -> None:
    await _more_reports(office)
    tokens = {}
    async with office.runtime.db.transaction() as session:
        auth = OfficerAuth(session, office.runtime.vault)
        for username in ("darmo", "pengamat"):
            officer = await session.get(Officer, office.ids[username])
            assert officer is not None
            tokens[username] = await auth.new_api_token(officer, utcnow())
    assert (await office.client.get("/api/v1/reports.csv")).status_code == 401
    headers = {"Authorization": f"Bearer {tokens['darmo']}"}
    response = await office.client.get("/api/v1/reports.csv?kind=potongan", headers=headers)
    assert response.status_code == 200 and response.headers["cache-control"] == "private, no-store"
    rows = _rows(response)
    assert {row["desa"] for row in rows} == {"Leksono"} and len(rows) == 2
    assert RAW_NIK not in response.text and "Agen memotong" in response.text
    headers = {"Authorization": f"Bearer {tokens['pengamat']}"}
    response = await office.client.get("/api/v1/reports.csv", headers=headers)
    assert all(row["isi"] == "" and row["pihak"] == "" for row in _rows(response))
    bad = await office.client.get("/api/v1/reports.csv?kind=bukan", headers=headers)
    assert bad.status_code == 422
    assert len(await _exports(office)) == 2
    async with office.runtime.db.session() as session:
        assert len((await session.exec(select(Report))).all()) == 3
