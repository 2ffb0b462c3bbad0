"""The officers' JSON API at /api/v1: bearer tokens, village scoping, the status lifecycle,
error answers, the OpenAPI document, the CLI token, and schemathesis over every operation."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, get_args

import httpx
import pytest
import schemathesis
from anyio.from_thread import start_blocking_portal
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance
from sqlalchemy import delete
from sqlmodel import SQLModel, col, select

from bot.runtime import Runtime, build_runtime
from bot.services.officer_auth import OfficerAuth
from bot.services.officers import OfficerService
from bot.services.registry_rows import PROGRAMMES
from bot.services.reports import IDENTITY_MODES, KINDS, TRANSITIONS, ReportDraft, ReportService
from bot.settings import Settings
from bot.web.api import IdentityMode, Kind, Programme, Status, api_app
from storage.db import Database
from storage.models import (
    ApiToken,
    AuditLog,
    ChannelIdentity,
    Officer,
    Outbox,
    Report,
    Resident,
    Village,
)

LEKSONO, SUKAMAJU = "3307992006", "3307992001"
MONDAY = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 09:00 in Jakarta
PASSWORD = "kata-sandi-yang-panjang"
DESCRIPTION = "Ketua kelompok Pak Joko memotong 50 ribu dari setiap penerima PKH."


@dataclass
class World:
    tokens: dict[str, str]
    ids: dict[str, int]
    leksono: str  # report codes
    sukamaju: str
    identity_id: int
    clock: list[datetime] = field(default_factory=lambda: [MONDAY + timedelta(hours=1)])

    def auth(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[username]}"}


async def _build_world(db: Database, settings: Settings, runtime: Runtime | None = None) -> World:
    """Two villages, an admin, an officer per village, a viewer, each with an API token,
    and one named report per village from the same resident."""
    runtime = runtime or build_runtime(settings, db)
    async with db.transaction() as session:
        session.add(Village(code=LEKSONO, name="Leksono", kecamatan="Sukamaju"))
        session.add(Village(code=SUKAMAJU, name="Sukamaju", kecamatan="Sukamaju"))
        await session.flush()
        officers = OfficerService(session, runtime.vault)
        auth = OfficerAuth(session, runtime.vault)
        tokens, ids = {}, {}
        for username, role, villages in (
            ("camat", "admin", []),
            ("darmo", "officer", [LEKSONO]),
            ("wati", "officer", [SUKAMAJU]),
            ("pengamat", "viewer", []),
        ):
            officer = await officers.add(username, role, villages, PASSWORD, MONDAY)
            tokens[username] = await auth.new_api_token(officer, MONDAY)
            ids[username] = officer.id or 0
        resident = Resident(display_name="Ibu Sri", locale="id")
        session.add(resident)
        await session.flush()
        identity = ChannelIdentity(
            channel="telegram", external_id="sri", resident_id=resident.id or 0, phone="0812"
        )
        session.add(identity)
        await session.flush()
        reports = ReportService(session, runtime.settings, runtime.catalogs)
        codes = []
        for village in (LEKSONO, SUKAMAJU):
            draft = ReportDraft(
                kind="potongan",
                description=DESCRIPTION,
                identity_mode="named",
                locale="id",
                programme="PKH",
                village_code=village,
                subject="Pak Joko",
            )
            report = await reports.file(draft, resident.id, identity.id, MONDAY)
            codes.append(report.code)
    return World(tokens, ids, codes[0], codes[1], identity.id or 0)


@pytest.fixture
async def world(runtime: Runtime) -> World:
    return await _build_world(runtime.db, runtime.settings, runtime)


def _app(runtime: Runtime, world: World | None = None) -> FastAPI:
    app = FastAPI()
    clock = (lambda: world.clock[0]) if world else (lambda: MONDAY)
    app.mount("/api/v1", api_app(runtime, clock=clock))
    return app


@pytest.fixture
async def client(runtime: Runtime, world: World) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=_app(runtime, world))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def _outbox(runtime: Runtime) -> list[Outbox]:
    async with runtime.db.session() as session:
        return list((await session.exec(select(Outbox).order_by(col(Outbox.id)))).all())


# -- authentication ----------------------------------------------------------------------------


async def test_requests_without_a_valid_token_are_401(
    runtime: Runtime, world: World, client: httpx.AsyncClient
) -> None:
    async with runtime.db.transaction() as session:
        auth = OfficerAuth(session, runtime.vault)
        wati = await session.get(Officer, world.ids["wati"])
        darmo = await session.get(Officer, world.ids["darmo"])
        assert wati is not None and darmo is not None
        revoked = await auth.new_api_token(wati, MONDAY)
        await session.flush()
        row = (await session.exec(select(ApiToken).order_by(col(ApiToken.id).desc()))).first()
        assert row is not None
        row.revoked_at = MONDAY
        session.add(row)
        darmo.active = False
        session.add(darmo)
    cases: list[tuple[dict[str, str], str]] = [
        ({}, "Bearer"),
        ({"Authorization": f"Basic {world.tokens['camat']}"}, "Bearer"),
        ({"Authorization": "Bearer"}, "Bearer"),
        ({"Authorization": "Bearer not-a-token"}, 'Bearer error="invalid_token"'),
        ({"Authorization": "Bearer bsn_" + "A" * 43}, 'Bearer error="invalid_token"'),
        ({"Authorization": f"Bearer {world.tokens['camat']}x"}, 'Bearer error="invalid_token"'),
        ({"Authorization": f"Bearer {revoked}"}, 'Bearer error="invalid_token"'),
        ({"Authorization": f"Bearer {world.tokens['darmo']}"}, 'Bearer error="invalid_token"'),
    ]
    for headers, challenge in cases:
        for method, path in (
            ("GET", "/api/v1/reports"),
            ("GET", "/api/v1/reports/counts"),
            ("GET", f"/api/v1/reports/{world.leksono}"),
            ("POST", f"/api/v1/reports/{world.leksono}/notes"),
        ):
            response = await client.request(method, path, headers=headers, json={"note": "x"})
            assert response.status_code == 401, (headers, path, response.text)
            assert response.headers["www-authenticate"] == challenge
            assert response.json() == {"detail": "missing or invalid bearer token"}
    still_valid = await client.get("/api/v1/reports", headers=world.auth("wati"))
    assert still_valid.status_code == 200  # revoking one token leaves the others alone
    async with runtime.db.session() as session:
        looks = await session.exec(select(AuditLog).where(AuditLog.action == "report.view"))
        assert looks.all() == []  # refused before any report was looked up


async def test_a_token_marks_its_last_use(
    runtime: Runtime, world: World, client: httpx.AsyncClient
) -> None:
    assert (await client.get("/api/v1/reports", headers=world.auth("camat"))).status_code == 200
    async with runtime.db.session() as session:
        used = (
            await session.exec(select(ApiToken).where(ApiToken.officer_id == world.ids["camat"]))
        ).one()
    assert used.last_used_at == world.clock[0]


# -- reading -----------------------------------------------------------------------------------

SUMMARY_KEYS = {
    "code",
    "display_code",
    "kind",
    "status",
    "programme",
    "village_code",
    "assignee_id",
    "created_at",
    "updated_at",
    "verify_due_at",
    "follow_up_due_at",
    "overdue",
}


async def test_lists_show_what_the_officer_may_see_without_personal_data(
    world: World, client: httpx.AsyncClient
) -> None:
    admin = await client.get("/api/v1/reports", headers=world.auth("camat"))
    assert admin.status_code == 200
    assert {r["code"] for r in admin.json()} == {world.leksono, world.sukamaju}
    for summary in admin.json():
        assert set(summary) == SUMMARY_KEYS
        assert summary["status"] == "baru" and summary["overdue"] is False
        assert summary["display_code"] == f"{summary['code'][:4]}-{summary['code'][4:]}"
    assert DESCRIPTION not in admin.text and "Pak Joko" not in admin.text
    darmo = await client.get("/api/v1/reports", headers=world.auth("darmo"))
    assert [r["code"] for r in darmo.json()] == [world.leksono]
    viewer = await client.get("/api/v1/reports", headers=world.auth("pengamat"))
    assert len(viewer.json()) == 2

    async def codes(**params: Any) -> list[str]:
        response = await client.get("/api/v1/reports", params=params, headers=world.auth("camat"))
        assert response.status_code == 200, response.text
        return [r["code"] for r in response.json()]

    assert await codes(village_code=SUKAMAJU) == [world.sukamaju]
    assert await codes(status="selesai") == []
    assert await codes(kind="barang") == []
    assert len(await codes(kind="potongan", programme="PKH", unassigned="true")) == 2
    assert await codes(assignee_id=world.ids["darmo"]) == []
    first, second = await codes(limit=1), await codes(limit=1, offset=1)
    assert len(first) == len(second) == 1 and first != second
    assert await codes(offset=2) == []
    world.clock[0] = MONDAY + timedelta(days=5)  # Saturday: three working days have passed
    assert len(await codes(overdue="true")) == 2
    refused: list[dict[str, Any]] = [
        {"limit": 0},
        {"limit": 201},
        {"offset": -1},
        {"status": "hilang"},
        {"assignee_id": 2**40},
        {"village_code": "33\x0007"},
        {"overdue": "kadang"},
    ]
    for bad in refused:
        response = await client.get("/api/v1/reports", params=bad, headers=world.auth("camat"))
        assert response.status_code == 422, bad


async def test_counts_by_status(world: World, client: httpx.AsyncClient) -> None:
    await client.post(
        f"/api/v1/reports/{world.sukamaju}/status",
        json={"status": "ditolak", "public_message": "Bukan wilayah kami."},
        headers=world.auth("camat"),
    )
    everything = await client.get("/api/v1/reports/counts", headers=world.auth("camat"))
    assert everything.json() == {
        "baru": 1,
        "diverifikasi": 0,
        "ditindaklanjuti": 0,
        "selesai": 0,
        "ditolak": 1,
        "total": 2,
    }
    darmo = await client.get("/api/v1/reports/counts", headers=world.auth("darmo"))
    assert darmo.json()["total"] == 1 and darmo.json()["baru"] == 1


async def test_detail_by_code_with_timeline_and_notes(
    world: World, client: httpx.AsyncClient
) -> None:
    typed = f"{world.leksono[:4]}-{world.leksono[4:]}".lower()
    response = await client.get(f"/api/v1/reports/{typed}", headers=world.auth("darmo"))
    assert response.status_code == 200, response.text
    detail = response.json()
    assert detail["code"] == world.leksono
    assert detail["description"] == DESCRIPTION and detail["subject"] == "Pak Joko"
    assert detail["identity_mode"] == "named" and detail["notes"] == []
    assert [(e["kind"], e["status_to"]) for e in detail["timeline"]] == [("filed", "baru")]
    assert "phone" not in response.text and "0812" not in response.text


async def test_another_villages_report_is_not_found_and_the_attempt_is_audited(
    runtime: Runtime, world: World, client: httpx.AsyncClient
) -> None:
    hidden = await client.get(f"/api/v1/reports/{world.sukamaju}", headers=world.auth("darmo"))
    missing = await client.get("/api/v1/reports/ZZZZ-9999", headers=world.auth("darmo"))
    nonsense = await client.get("/api/v1/reports/bukan-kode", headers=world.auth("darmo"))
    assert hidden.status_code == missing.status_code == nonsense.status_code == 404
    assert hidden.json() == missing.json() == nonsense.json() == {"detail": "report not found"}
    change = await client.post(
        f"/api/v1/reports/{world.sukamaju}/status",
        json={"status": "diverifikasi", "public_message": "Kami cek."},
        headers=world.auth("darmo"),
    )
    assert change.status_code == 404
    async with runtime.db.session() as session:
        denied = (
            await session.exec(
                select(AuditLog).where(AuditLog.action == "report.view").order_by(col(AuditLog.id))
            )
        ).all()
        report = (await session.exec(select(Report).where(Report.code == world.sukamaju))).one()
    assert [(row.actor, row.outcome) for row in denied] == [
        (f"officer:{world.ids['darmo']}", "denied")
    ] * 2
    assert all(row.detail == {"report_id": report.id} for row in denied)
    assert report.status == "baru"
    assert await _outbox(runtime) == []


async def test_viewers_read_without_personal_data_and_cannot_change_anything(
    runtime: Runtime, world: World, client: httpx.AsyncClient
) -> None:
    async with runtime.db.transaction() as session:
        service = ReportService(session, runtime.settings, runtime.catalogs)
        report = await service.by_code(world.leksono)
        assert report is not None
        await service.add_to(report, "Saya Sri, NIK saya 3307…", [], MONDAY)
    await client.post(
        f"/api/v1/reports/{world.leksono}/notes",
        json={"note": "Ketua kelompok sudah dihubungi."},
        headers=world.auth("darmo"),
    )
    response = await client.get(f"/api/v1/reports/{world.leksono}", headers=world.auth("pengamat"))
    assert response.status_code == 200
    detail = response.json()
    assert detail["description"] is None and detail["subject"] is None
    assert detail["happened"] is None  # what the resident typed, like the story
    assert detail["notes"] is None
    assert [e["kind"] for e in detail["timeline"]] == ["filed", "resident"]
    assert detail["timeline"][1]["message"] is None
    assert "Sri" not in response.text and "dihubungi" not in response.text
    officer_view = await client.get(f"/api/v1/reports/{world.leksono}", headers=world.auth("darmo"))
    assert officer_view.json()["timeline"][1]["message"].startswith("Saya Sri")
    assert [n["note"] for n in officer_view.json()["notes"]] == ["Ketua kelompok sudah dihubungi."]
    for action, body in (
        ("status", {"status": "diverifikasi", "public_message": "Dicek."}),
        ("assign", {"assignee_id": world.ids["darmo"]}),
        ("reply", {"message": "Halo"}),
        ("notes", {"note": "catatan"}),
    ):
        refused = await client.post(
            f"/api/v1/reports/{world.leksono}/{action}", json=body, headers=world.auth("pengamat")
        )
        assert refused.status_code == 403, action
        assert refused.json() == {"detail": "viewers are read-only"}
    assert await _outbox(runtime) == []


# -- changing ----------------------------------------------------------------------------------


async def test_transitions_are_checked_and_a_rejection_needs_a_reason(
    runtime: Runtime, world: World, client: httpx.AsyncClient
) -> None:
    url = f"/api/v1/reports/{world.leksono}/status"
    admin = world.auth("camat")
    skipped = await client.post(url, json={"status": "selesai"}, headers=admin)
    assert skipped.status_code == 409
    assert skipped.json() == {
        "detail": "a report in baru cannot move to selesai",
        "current": "baru",
        "wanted": "selesai",
    }
    for reason in ("", "   "):
        rejected = await client.post(
            url, json={"status": "ditolak", "public_message": reason}, headers=admin
        )
        assert rejected.status_code == 422
        assert rejected.json()["detail"][0]["loc"] == ["body", "public_message"]
        assert rejected.json()["detail"][0]["type"] == "reason_required"
    bodies: list[dict[str, Any]] = [
        {"status": "hilang"},
        {},
        {"status": "diverifikasi", "extra": 1},
        {"status": "diverifikasi", "public_message": "a\x00b"},
        {"status": "diverifikasi", "public_message": "x" * 4001},
    ]
    for bad in bodies:
        assert (await client.post(url, json=bad, headers=admin)).status_code == 422, bad
    broken = await client.post(
        url, content=b"{not json", headers={**admin, "Content-Type": "application/json"}
    )
    assert broken.status_code == 422
    invalid: list[tuple[str, dict[str, Any]]] = [
        ("reply", {"message": " \n "}),
        ("notes", {"note": ""}),
        ("reply", {"message": "x" * 4001}),
        ("assign", {"assignee_id": 0}),
    ]
    for action, body in invalid:
        response = await client.post(
            f"/api/v1/reports/{world.leksono}/{action}", json=body, headers=admin
        )
        assert response.status_code == 422, (action, body)
    assert await _outbox(runtime) == []
    async with runtime.db.session() as session:
        report = (await session.exec(select(Report).where(Report.code == world.leksono))).one()
    assert report.status == "baru"


async def test_text_that_is_not_unicode_is_refused_with_a_clean_422(
    world: World, client: httpx.AsyncClient
) -> None:
    """A lone surrogate ("\\ud800") is echoed back by FastAPI's validation error; plain
    JSONResponse cannot encode it and answers 500."""
    headers = {**world.auth("camat"), "Content-Type": "application/json"}
    for raw in (b'{"note": "\\ud800abc"}', b'{"note": "ok", "\\ud800": 1}'):
        response = await client.post(
            f"/api/v1/reports/{world.leksono}/notes", content=raw, headers=headers
        )
        assert response.status_code == 422, raw
        assert response.json()["detail"]
    not_utf8 = await client.post(
        f"/api/v1/reports/{world.leksono}/notes", content=b'{"note": "\xff"}', headers=headers
    )
    assert not_utf8.status_code == 400
    assert not_utf8.json() == {"detail": "There was an error parsing the body"}
    query = await client.get("/api/v1/reports?village_code=%ED%A0%80", headers=headers)
    assert query.status_code == 422


async def test_a_status_change_reaches_the_resident_and_the_timeline(
    runtime: Runtime, world: World, client: httpx.AsyncClient
) -> None:
    base = f"/api/v1/reports/{world.leksono}"
    moved = await client.post(
        f"{base}/status",
        json={"status": "diverifikasi", "public_message": "Laporan sedang kami periksa."},
        headers=world.auth("darmo"),
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["status"] == "diverifikasi"
    assert moved.json()["follow_up_due_at"] is not None
    outbox = await _outbox(runtime)
    assert [(row.message_key, row.identity_id) for row in outbox] == [
        ("report.push.status", world.identity_id)
    ]
    assert "Laporan sedang kami periksa." in outbox[0].text
    replied = await client.post(
        f"{base}/reply", json={"message": "Mohon kirim foto kuitansi."}, headers=world.auth("darmo")
    )
    assert replied.status_code == 200
    noted = await client.post(
        f"{base}/notes", json={"note": "Rahasia: saksi Pak Budi"}, headers=world.auth("darmo")
    )
    assert noted.status_code == 200
    assert [row.message_key for row in await _outbox(runtime)] == [
        "report.push.status",
        "report.push.reply",
    ]
    assert all("Pak Budi" not in row.text for row in await _outbox(runtime))
    detail = (await client.get(base, headers=world.auth("darmo"))).json()
    assert [(e["kind"], e["status_to"], e["message"]) for e in detail["timeline"]] == [
        ("filed", "baru", ""),
        ("status", "diverifikasi", "Laporan sedang kami periksa."),
        ("reply", None, "Mohon kirim foto kuitansi."),
    ]
    assert detail["timeline"][1]["actor"] == f"officer:{world.ids['darmo']}"
    assert [n["note"] for n in detail["notes"]] == ["Rahasia: saksi Pak Budi"]
    rejected = await client.post(
        f"{base}/status",
        json={"status": "ditolak", "public_message": "Tidak cukup bukti."},
        headers=world.auth("camat"),
    )
    assert rejected.json()["status_reason"] == "Tidak cukup bukti."
    assert rejected.json()["closed_at"] is not None


async def test_assigning(runtime: Runtime, world: World, client: httpx.AsyncClient) -> None:
    url = f"/api/v1/reports/{world.leksono}/assign"
    admin = world.auth("camat")
    taken = await client.post(url, json={"assignee_id": world.ids["darmo"]}, headers=admin)
    assert taken.status_code == 200 and taken.json()["assignee_id"] == world.ids["darmo"]
    mine = await client.get(
        "/api/v1/reports", params={"assignee_id": world.ids["darmo"]}, headers=admin
    )
    assert [r["code"] for r in mine.json()] == [world.leksono]
    to_viewer = await client.post(url, json={"assignee_id": world.ids["pengamat"]}, headers=admin)
    assert to_viewer.status_code == 403
    to_nobody = await client.post(url, json={"assignee_id": 999_999}, headers=admin)
    assert to_nobody.status_code == 403
    released = await client.post(url, json={"assignee_id": None}, headers=admin)
    assert released.status_code == 200 and released.json()["assignee_id"] is None
    notes = [n["kind"] for n in released.json()["notes"]]
    assert notes == ["assigned", "assigned"]
    assert await _outbox(runtime) == []


async def test_a_database_outage_is_503(runtime: Runtime) -> None:
    broken = Database("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    app = _app(build_runtime(runtime.settings, broken))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        for method, path in (
            ("GET", "/api/v1/reports"),
            ("POST", "/api/v1/reports/K7QM2XHD/notes"),
        ):
            response = await c.request(
                method, path, headers={"Authorization": "Bearer bsn_x"}, json={"note": "x"}
            )
            assert response.status_code == 503, response.text
            assert response.json() == {"detail": "service temporarily unavailable"}
    await broken.dispose()


# -- the contract ------------------------------------------------------------------------------


def test_the_published_vocabularies_are_the_services() -> None:
    assert set(get_args(Status)) == set(TRANSITIONS)
    assert set(get_args(Kind)) == set(KINDS)
    assert set(get_args(IdentityMode)) == set(IDENTITY_MODES)
    assert set(get_args(Programme)) == set(PROGRAMMES)


async def test_the_openapi_document(runtime: Runtime) -> None:
    transport = httpx.ASGITransport(app=_app(runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/api/v1/openapi.json")
        assert (await client.get("/api/v1/docs")).status_code == 404
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    assert document["servers"] == [{"url": "/api/v1"}]
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "bsn_…",
        "description": "An API token from `bansos officer token USERNAME`.",
    }
    expected = {
        "/reports": {"get"},
        "/reports.csv": {"get"},
        "/reports/counts": {"get"},
        "/reports/{code}": {"get"},
        "/reports/{code}/status": {"post"},
        "/reports/{code}/assign": {"post"},
        "/reports/{code}/reply": {"post"},
        "/reports/{code}/notes": {"post"},
        "/schedules": {"get", "post"},
        "/schedules/{schedule_id}": {"get", "put"},
    }
    assert {path: set(ops) for path, ops in document["paths"].items()} == expected
    for path, operations in document["paths"].items():
        for operation in operations.values():
            assert operation["security"] == [{"bearerAuth": []}], path
            assert {"401", "503"} <= set(operation["responses"]), path
            assert {"200", "201"} & set(operation["responses"]), path
            if path.startswith("/reports/{code}/"):
                assert {"400", "403", "404", "409", "422"} <= set(operation["responses"]), path
    summary = document["components"]["schemas"]["ReportSummary"]["properties"]
    assert set(summary) == SUMMARY_KEYS


# -- the CLI -----------------------------------------------------------------------------------


async def test_cli_prints_a_token_that_works(
    runtime: Runtime, world: World, tmp_path: Path, repo_root: Path, migrated_url: str
) -> None:
    env = {
        "DATABASE_URL": migrated_url,
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(repo_root),
    }

    def bansos(username: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "bot.cli", "officer", "token", username]
        return subprocess.run(
            command, env=env, cwd=tmp_path, capture_output=True, text=True, check=False
        )

    made = await asyncio.to_thread(bansos, "wati")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token.startswith("bsn_") and "\n" not in token
    assert "shown only this once" in made.stderr
    unknown = await asyncio.to_thread(bansos, "siapa")
    assert unknown.returncode != 0
    assert "no officer siapa" in unknown.stderr and unknown.stdout == ""
    transport = httpx.ASGITransport(app=_app(runtime, world))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        mine = await client.get("/api/v1/reports", headers={"Authorization": f"Bearer {token}"})
    assert mine.status_code == 200
    assert [r["code"] for r in mine.json()] == [world.sukamaju]
    async with runtime.db.session() as session:
        rows = (await session.exec(select(ApiToken.token_hash))).all()
        audited = (
            await session.exec(select(AuditLog).where(AuditLog.action == "officer.api_token"))
        ).all()
    assert token not in rows and len(rows) == 5
    assert len(audited) == 5 and audited[-1].detail == {"officer": world.ids["wati"]}


# -- schemathesis ------------------------------------------------------------------------------


async def _fresh_world(url: str, settings: Settings) -> World:
    db = Database(url)
    try:
        async with db.transaction() as session:
            for table in reversed(SQLModel.metadata.sorted_tables):
                await session.exec(delete(table))
        return await _build_world(db, settings)
    finally:
        await db.dispose()


@pytest.fixture
def fuzz_target(settings: Settings, migrated_url: str) -> Iterator[tuple[FastAPI, World]]:
    """The API over its own database handle: schemathesis runs the app on its own event loop
    in another thread, so nothing may be shared with the test's loop."""
    with start_blocking_portal() as portal:
        world = portal.call(_fresh_world, migrated_url, settings)
    db = Database(migrated_url)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await db.dispose()

    app = FastAPI(lifespan=lifespan)
    app.mount("/api/v1", api_app(build_runtime(settings, db), clock=lambda: world.clock[0]))
    try:
        yield app, world
    finally:
        shutdown_lifespans()  # disposes the database on the loop that used it


def test_schemathesis_finds_no_server_error_and_every_answer_matches_the_schema(
    fuzz_target: tuple[FastAPI, World],
) -> None:
    app, world = fuzz_target
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    headers = world.auth("camat")
    checks = [not_a_server_error, response_schema_conformance, status_code_conformance]
    operations = [result.ok() for result in schema.get_all_operations() if isinstance(result, Ok)]
    assert len(operations) == 12
    for operation in operations:
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(mode), real_code=st.booleans())
            @settings(
                max_examples=20,
                derandomize=True,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def run(case: schemathesis.Case[Any], real_code: bool) -> None:
                # Random codes only meet "not found": half the time, aim at a real report.
                if real_code and case.path_parameters and "code" in case.path_parameters:
                    case.path_parameters["code"] = world.leksono
                case.call_and_validate(headers=headers, checks=checks)

            run()
