"""The officers' dashboard over HTTP: sign-in, sessions, CSRF, access per object, and the
inbox → report → assign → reply → status flow (the browser test drives it in Chromium)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
import pytest
from sqlmodel import col, select

from bot.runtime import Runtime
from bot.services.officers import OfficerService
from bot.web.app import create_app
from storage.models import (
    AuditLog,
    Officer,
    OfficerSession,
    Outbox,
    Report,
    ReportEvent,
    Village,
)
from storage.types import utcnow
from tests.services.test_reports import LEKSONO, SUKAMAJU, _draft, _file, _resident

PASSWORD = "kata-sandi-rahasia-1"


@dataclass
class Office:
    runtime: Runtime
    client: httpx.AsyncClient
    leksono_report: int
    sukamaju_report: int
    # Officer ids by username (PostgreSQL's sequences do not restart at 1 between tests).
    ids: dict[str, int] = field(default_factory=dict)

    async def sign_in(self, username: str, password: str = PASSWORD) -> httpx.Response:
        self.client.cookies.clear()
        csrf = await self.csrf("/login")  # the sign-in form is bound to a cookie too
        data = {"username": username, "password": password, "csrf": csrf}
        return await self.client.post("/login", data=data)

    async def csrf(self, path: str = "/") -> str:
        page = await self.client.get(path)
        match = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
        assert match, page.text[:500]
        return match.group(1)


async def seed_office(runtime: Runtime) -> tuple[int, int]:
    """Two villages, an admin, an officer per village, a viewer, and one report in each
    village; returns the two report ids (Leksono, Sukamaju)."""
    now = utcnow()
    async with runtime.db.transaction() as session:
        session.add(Village(code=LEKSONO, name="Leksono", kecamatan="Sukamaju"))
        session.add(Village(code=SUKAMAJU, name="Sukamaju", kecamatan="Sukamaju"))
        await session.flush()
        officers = OfficerService(session, runtime.vault)
        await officers.add("camat", "admin", [], PASSWORD, now, "Ibu Camat")
        await officers.add("darmo", "officer", [LEKSONO], PASSWORD, now, "Darmo")
        await officers.add("wati", "officer", [SUKAMAJU], PASSWORD, now, "Wati")
        await officers.add("pengamat", "viewer", [], PASSWORD, now, "Pengamat")
    who = await _resident(runtime, "Ibu <b>Sri</b>")
    leksono = await _file(runtime, _draft(), who, now)
    sukamaju = await _file(runtime, _draft(village_code=SUKAMAJU), who, now)
    return leksono.id or 0, sukamaju.id or 0


@pytest.fixture
async def office(runtime: Runtime) -> AsyncIterator[Office]:
    leksono, sukamaju = await seed_office(runtime)
    async with runtime.db.session() as session:
        ids = {o.username: o.id or 0 for o in (await session.exec(select(Officer))).all()}
    app = create_app(runtime)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield Office(runtime, client, leksono, sukamaju, ids)


async def test_sign_in_inbox_and_the_whole_report_flow(office: Office) -> None:
    assert (await office.client.get("/")).status_code == 303  # to the sign-in page
    signed = await office.sign_in("darmo")
    assert signed.status_code == 303 and signed.headers["location"] == "/"
    cookie = signed.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    inbox = await office.client.get("/")
    assert inbox.status_code == 200 and "Laporan warga" in inbox.text
    assert f'/reports/{office.leksono_report}"' in inbox.text
    assert f'/reports/{office.sukamaju_report}"' not in inbox.text  # another village
    assert "Content-Security-Policy" in inbox.headers
    path = f"/reports/{office.leksono_report}"
    page = await office.client.get(path)
    assert "Ketua kelompok memotong" in page.text
    assert "Ibu &lt;b&gt;Sri&lt;/b&gt;" in page.text  # escaped, never markup
    csrf = await office.csrf(path)
    for action, data in (
        ("assign", {"assignee": str(office.ids["darmo"])}),
        ("reply", {"message": "Kami cek ke ketua kelompok minggu ini."}),
        ("note", {"message": "Telepon ketua kelompok hari Senin."}),
        ("status", {"status": "diverifikasi", "message": "Sudah kami cek."}),
        ("status", {"status": "ditindaklanjuti", "message": ""}),
        ("status", {"status": "selesai", "message": "Uang sudah dikembalikan."}),
    ):
        response = await office.client.post(f"{path}/{action}", data={"csrf": csrf, **data})
        assert response.status_code == 303, (action, response.text[:300])
    page = await office.client.get(path)
    assert "Uang sudah dikembalikan." in page.text and "Telepon ketua kelompok" in page.text
    async with office.runtime.db.session() as session:
        report = await session.get(Report, office.leksono_report)
        pushes = (await session.exec(select(Outbox).order_by(col(Outbox.id)))).all()
    assert report is not None and report.status == "selesai"
    assert report.assignee_id == office.ids["darmo"]
    keys = [row.message_key for row in pushes]
    assert "report.push.reply" in keys and keys.count("report.push.status") == 3
    assert "Telepon ketua" not in " ".join(row.text for row in pushes)  # notes stay inside


async def test_forms_need_their_csrf_token(office: Office) -> None:
    await office.sign_in("darmo")
    path = f"/reports/{office.leksono_report}"
    missing = await office.client.post(f"{path}/note", data={"message": "tanpa token"})
    wrong = await office.client.post(f"{path}/note", data={"message": "x", "csrf": "0" * 64})
    assert missing.status_code == 403 and wrong.status_code == 403
    other_session = await office.csrf(path)
    await office.sign_in("darmo")  # a new session: the old form's token no longer fits
    stale = await office.client.post(f"{path}/note", data={"message": "x", "csrf": other_session})
    assert stale.status_code == 403
    async with office.runtime.db.session() as session:
        notes = (await session.exec(select(ReportEvent).where(ReportEvent.kind == "note"))).all()
    assert notes == []
    assert (await office.client.get(f"{path}/note")).status_code in (404, 405)  # no GET changes


async def test_another_villages_report_is_not_found_and_audited(office: Office) -> None:
    await office.sign_in("darmo")
    path = f"/reports/{office.sukamaju_report}"
    assert (await office.client.get(path)).status_code == 404
    csrf = await office.csrf()
    changed = await office.client.post(f"{path}/status", data={"csrf": csrf, "status": "selesai"})
    assert changed.status_code == 404
    assert (await office.client.get("/reports/999999")).status_code == 404
    async with office.runtime.db.session() as session:
        denied = (await session.exec(select(AuditLog).where(AuditLog.outcome == "denied"))).all()
    assert len(denied) >= 2


async def test_a_viewer_reads_but_cannot_change(office: Office) -> None:
    await office.sign_in("pengamat")
    path = f"/reports/{office.leksono_report}"
    page = await office.client.get(path)
    assert page.status_code == 200 and "Ketua kelompok memotong" not in page.text
    assert "<dt>Kapan</dt>" not in page.text  # free text the resident typed, like the story
    csrf = await office.csrf()
    refused = await office.client.post(f"{path}/status", data={"csrf": csrf, "status": "selesai"})
    assert refused.status_code == 403


async def test_wrong_transitions_and_rejections_without_reason(office: Office) -> None:
    await office.sign_in("camat")
    path = f"/reports/{office.leksono_report}"
    csrf = await office.csrf(path)
    skip = await office.client.post(f"{path}/status", data={"csrf": csrf, "status": "selesai"})
    assert skip.status_code == 409
    bare = await office.client.post(f"{path}/status", data={"csrf": csrf, "status": "ditolak"})
    assert bare.status_code == 422 and "Alasan penolakan" in bare.text
    empty = await office.client.post(f"{path}/reply", data={"csrf": csrf, "message": "  "})
    assert empty.status_code == 422


async def test_logout_ends_the_session_on_the_server(office: Office) -> None:
    await office.sign_in("darmo")
    token = office.client.cookies.get("bansos_officer")
    csrf = await office.csrf()
    assert (await office.client.post("/logout", data={"csrf": csrf})).status_code == 303
    office.client.cookies.set("bansos_officer", token or "")  # a copied cookie is no use
    assert (await office.client.get("/")).status_code == 303
    async with office.runtime.db.session() as session:
        rows = (await session.exec(select(OfficerSession))).all()
    assert all(row.ended_at is not None for row in rows)
    assert all(row.token_hash != token for row in rows)  # only its hash is stored


async def test_idle_sessions_end(office: Office) -> None:
    await office.sign_in("darmo")
    async with office.runtime.db.transaction() as session:
        for row in (await session.exec(select(OfficerSession))).all():
            row.last_seen_at = utcnow() - timedelta(minutes=31)
            session.add(row)
    assert (await office.client.get("/")).status_code == 303


async def test_brute_force_sign_in_is_throttled(office: Office) -> None:
    for _ in range(5):
        assert (await office.sign_in("darmo", "tebakan-salah")).status_code == 401
    throttled = await office.sign_in("darmo")  # even the right password waits now
    assert throttled.status_code == 401 and "Terlalu banyak percobaan" in throttled.text
    unknown = await office.sign_in("tidak-ada", "apa-saja-123")
    assert unknown.status_code == 401 and "salah" in unknown.text


async def test_bulk_assign_and_english(office: Office) -> None:
    await office.sign_in("camat")
    csrf = await office.csrf()
    ids = [str(office.leksono_report), str(office.sukamaju_report)]
    done = await office.client.post(
        "/reports/bulk", data={"csrf": csrf, "action": "assign_me", "report": ids}
    )
    assert done.status_code == 303
    async with office.runtime.db.session() as session:
        reports = (await session.exec(select(Report))).all()
    assert {r.assignee_id for r in reports} == {office.ids["camat"]}
    english = await office.client.get("/?lang=en")
    assert "Residents&#39; reports" in english.text and 'lang="en"' in english.text


async def test_merging_a_duplicate_into_the_main_report(office: Office) -> None:
    await office.sign_in("camat")
    async with office.runtime.db.session() as session:
        main = await session.get(Report, office.leksono_report)
        assert main is not None
    path = f"/reports/{office.sukamaju_report}"
    csrf = await office.csrf(path)
    unknown = await office.client.post(f"{path}/merge", data={"csrf": csrf, "into": "ZZZZ-9999"})
    assert unknown.status_code == 404
    merged = await office.client.post(
        f"{path}/merge", data={"csrf": csrf, "into": main.code.lower()}
    )
    assert merged.status_code == 303
    async with office.runtime.db.session() as session:
        duplicate = await session.get(Report, office.sukamaju_report)
    assert duplicate is not None and duplicate.merged_into_id == office.leksono_report
    assert duplicate.status == "selesai"
    inbox = await office.client.get("/")
    assert "selesai <b>0</b>" in inbox.text  # a merged duplicate is not counted twice


async def test_a_report_goes_only_to_an_officer_of_its_village(office: Office) -> None:
    await office.sign_in("camat")
    path = f"/reports/{office.leksono_report}"
    csrf = await office.csrf(path)
    wati_id, darmo_id = str(office.ids["wati"]), str(office.ids["darmo"])
    wati = await office.client.post(f"{path}/assign", data={"csrf": csrf, "assignee": wati_id})
    assert wati.status_code == 403  # Wati serves Sukamaju, not Leksono
    darmo = await office.client.post(f"{path}/assign", data={"csrf": csrf, "assignee": darmo_id})
    assert darmo.status_code == 303
    page = await office.client.get(path)
    assert f'<option value="{wati_id}"' not in page.text  # not offered either


async def test_bulk_assign_to_an_officer_skips_reports_outside_their_villages(
    office: Office,
) -> None:
    await office.sign_in("camat")
    csrf = await office.csrf()
    ids = [str(office.leksono_report), str(office.sukamaju_report)]
    done = await office.client.post(
        "/reports/bulk",
        data={"csrf": csrf, "action": "assign", "assignee": str(office.ids["darmo"]),
              "report": ids},
    )  # fmt: skip
    assert done.status_code == 303
    notice = (await office.client.get(done.headers["location"])).text
    assert "1 laporan diperbarui" in notice and "Dilewati" in notice
    async with office.runtime.db.session() as session:
        leksono = await session.get(Report, office.leksono_report)
        sukamaju = await session.get(Report, office.sukamaju_report)
    assert leksono is not None and leksono.assignee_id == office.ids["darmo"]
    assert sukamaju is not None and sukamaju.assignee_id is None  # Darmo serves Leksono only
