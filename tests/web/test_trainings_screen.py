"""The dashboard's training screens: the scoped session list, the roster in groups with
masked NIKs, attendance (CSRF, audited), the CSV export, and what viewers may see."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import pytest
from sqlmodel import col, select

from bench.registry_data import person_nik
from bot.i18n import Catalogs
from bot.runtime import Runtime
from bot.services.pii import mask_nik
from bot.services.training_desk import GROUPS
from bot.services.trainings import Applicant, TrainingService
from bot.settings import PROJECT_ROOT
from bot.web.app import WEB_DIR, create_app
from storage.models import AuditLog, Officer, Training, TrainingRegistration, TrainingSession
from storage.types import utcnow
from tests.services.test_reports import LEKSONO, SUKAMAJU
from tests.web.test_dashboard import Office, seed_office

SCREENS = ("dash_trainings.html", "dash_training_session.html", "dash_registry.html")


@dataclass
class Sessions:
    office: Office
    started: int  # Leksono, kecamatan-wide, under way: every roster group
    sukamaju_only: int  # Sukamaju, for Sukamaju residents only, in ten days
    wide_in_sukamaju: int  # held in Sukamaju, open to the whole kecamatan
    past: int  # Leksono, last week
    niks: dict[str, str]  # name → NIK of everyone registered

    @property
    def client(self) -> httpx.AsyncClient:
        return self.office.client


async def _sitting(
    runtime: Runtime,
    title: str,
    place_village: str,
    starts_at: datetime,
    seats: int,
    training_village: str | None = None,
) -> int:
    async with runtime.db.transaction() as session:
        service = TrainingService(session, runtime.settings, runtime.catalogs, runtime.vault)
        training = Training(
            slug=re.sub(r"\W+", "-", title.lower()),
            title=title,
            description="Belajar bersama.",
            category="menjahit",
            organiser="Dinas Sosial",
            organiser_kind="dinas",
            village_code=training_village,
        )
        await service.save_training("test", training, starts_at)
        sitting = TrainingSession(
            training_id=training.id or 0,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(hours=6),
            place=f"Balai Desa {title}",
            village_code=place_village,
            seats=seats,
            registration_deadline=starts_at - timedelta(days=1),
        )
        await service.save_session("test", sitting, starts_at - timedelta(days=5))
        return sitting.id or 0


async def _fill(
    runtime: Runtime, session_id: int, first: int, count: int, at: datetime, home: str = LEKSONO
) -> dict[str, str]:
    """`count` residents of `home` register at `at`; returns name → NIK."""
    niks = {}
    async with runtime.db.transaction() as session:
        service = TrainingService(session, runtime.settings, runtime.catalogs, runtime.vault)
        for index in range(first, first + count):
            nik, born, _ = person_nik(index)
            name = f"WARGA {index}"
            applicant = Applicant(nik, born, name, f"08123456{index:04d}", home)
            await service.register(session_id, applicant, at, None, None, "id")
            niks[name] = nik
    return niks


async def _registration(runtime: Runtime, name: str) -> TrainingRegistration:
    async with runtime.db.session() as session:
        statement = select(TrainingRegistration).where(TrainingRegistration.full_name == name)
        return (await session.exec(statement)).one()


async def actor(runtime: Runtime, username: str) -> str:
    """The audit log's name for a signed-in officer ("officer:<id>")."""
    async with runtime.db.session() as session:
        statement = select(Officer.id).where(Officer.username == username)
        return f"officer:{(await session.exec(statement)).one()}"


async def _audit(runtime: Runtime, action: str) -> list[AuditLog]:
    async with runtime.db.session() as session:
        statement = select(AuditLog).where(AuditLog.action == action).order_by(col(AuditLog.id))
        return list((await session.exec(statement)).all())


@pytest.fixture
async def sessions(runtime: Runtime) -> AsyncIterator[Sessions]:
    leksono, sukamaju = await seed_office(runtime)
    now = utcnow()
    before = now - timedelta(days=3)  # when residents registered for the running session
    started = await _sitting(runtime, "Menjahit Dasar", LEKSONO, now - timedelta(hours=1), 3)
    niks = await _fill(runtime, started, 1, 7, before)  # 3 seats, 4 on the waitlist
    async with runtime.db.transaction() as session:
        service = TrainingService(session, runtime.settings, runtime.catalogs, runtime.vault)
        by_name = {r.full_name: r for r in (await session.exec(select(TrainingRegistration))).all()}
        await service.cancel(by_name["WARGA 1"], before)  # WARGA 4 is offered the seat …
        later = before + timedelta(hours=runtime.settings.training_offer_hours, minutes=1)
        # … and lets the offer lapse, so WARGA 5 is offered it next.
        assert await service.expire_offer(by_name["WARGA 4"].id or 0, later)
    soon = now + timedelta(days=10)
    sukamaju_only = await _sitting(runtime, "Membatik Sukamaju", SUKAMAJU, soon, 10, SUKAMAJU)
    niks |= await _fill(runtime, sukamaju_only, 20, 1, now, SUKAMAJU)
    wide = await _sitting(runtime, "Komputer Pemuda", SUKAMAJU, soon + timedelta(days=1), 10)
    last_week = now - timedelta(days=7)
    past = await _sitting(runtime, "Memasak Sehat", LEKSONO, last_week, 10, LEKSONO)
    app = create_app(runtime)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        office = Office(runtime, client, leksono, sukamaju)
        yield Sessions(office, started, sukamaju_only, wide, past, niks)


async def test_signed_out_goes_to_the_sign_in_page(sessions: Sessions) -> None:
    for path in (
        "/trainings",
        f"/trainings/sessions/{sessions.started}",
        f"/trainings/sessions/{sessions.started}/roster.csv",
    ):
        response = await sessions.client.get(path)
        assert response.status_code == 303 and response.headers["location"] == "/login", path
    posted = await sessions.client.post(
        f"/trainings/sessions/{sessions.started}/attendance", data={"csrf": "x"}
    )
    assert posted.status_code == 401


async def test_the_list_is_scoped_and_upcoming_comes_first(sessions: Sessions) -> None:
    await sessions.office.sign_in("darmo")  # Leksono
    page = await sessions.client.get("/trainings")
    assert page.status_code == 200
    text = page.text
    assert "Menjahit Dasar" in text and "Komputer Pemuda" in text  # kecamatan-wide
    assert "Memasak Sehat" in text  # Leksono, past
    assert "Membatik Sukamaju" not in text  # another village's own training
    upcoming, past = text.index("Akan datang"), text.index("Sudah lewat")
    assert upcoming < text.index("Menjahit Dasar") < text.index("Komputer Pemuda") < past
    assert past < text.index("Memasak Sehat")
    row = text[text.index("Menjahit Dasar") : text.index("Komputer Pemuda")]
    cells = re.findall(r'<td class="num">(\d+)', row)
    assert cells == ["3", "2", "2"]  # seats, confirmed, waitlist
    assert "+1 ditawari" in row
    await sessions.office.sign_in("wati")  # Sukamaju
    text = (await sessions.client.get("/trainings")).text
    assert "Membatik Sukamaju" in text and "Menjahit Dasar" in text
    assert "Memasak Sehat" not in text
    for everyone in ("camat", "pengamat"):
        await sessions.office.sign_in(everyone)
        text = (await sessions.client.get("/trainings?lang=en")).text
        assert "Training sessions" in text
        for title in ("Menjahit Dasar", "Membatik Sukamaju", "Komputer Pemuda", "Memasak Sehat"):
            assert title in text, (everyone, title)


async def test_the_roster_in_groups_with_masked_niks_is_audited(sessions: Sessions) -> None:
    await sessions.office.sign_in("darmo")
    page = await sessions.client.get(f"/trainings/sessions/{sessions.started}")
    assert page.status_code == 200
    text = page.text
    for nik in sessions.niks.values():
        assert nik not in text  # the whole NIK never reaches the page
    for name in ("WARGA 2", "WARGA 3", "WARGA 5", "WARGA 6", "WARGA 7", "WARGA 1", "WARGA 4"):
        assert name in text
        assert mask_nik(sessions.niks[name]) in text
    sections = {
        status: text.index(heading)
        for status, heading in (
            ("confirmed", "<h2>Terdaftar (dapat kursi)"),
            ("offered", "<h2>Ditawari kursi kosong"),
            ("waitlisted", "<h2>Daftar tunggu"),
            ("cancelled", "Batal <span"),
            ("expired", "Tawaran lewat waktu <span"),
        )
    }
    assert sorted(sections, key=sections.__getitem__) == list(GROUPS)

    def group_of(name: str) -> str:
        at = text.index(f"{name}<") if f"{name}<" in text else text.index(f"{name} ")
        return max((s for s in sections if sections[s] < at), key=sections.__getitem__)

    assert [group_of(f"WARGA {n}") for n in (2, 3, 5, 6, 7, 1, 4)] == [
        "confirmed",
        "confirmed",
        "offered",
        "waitlisted",
        "waitlisted",
        "cancelled",
        "expired",
    ]
    waitlist = text[sections["waitlisted"] : sections["cancelled"]]
    assert re.search(r'<td class="num">1</td>\s*<td>WARGA 6', waitlist)
    assert re.search(r'<td class="num">2</td>\s*<td>WARGA 7', waitlist)
    assert "081234560002" in text  # officers see phones
    second = await _registration(sessions.office.runtime, "WARGA 2")
    assert second.code[:3] in text
    views = await _audit(sessions.office.runtime, "training.roster_view")
    assert [(v.actor, v.outcome, v.detail["session"]) for v in views] == [
        (await actor(sessions.office.runtime, "darmo"), "shown", sessions.started)
    ]


async def test_attendance_needs_its_csrf_token_and_is_saved(sessions: Sessions) -> None:
    runtime = sessions.office.runtime
    await sessions.office.sign_in("darmo")
    path = f"/trainings/sessions/{sessions.started}"
    two = await _registration(runtime, "WARGA 2")
    three = await _registration(runtime, "WARGA 3")
    six = await _registration(runtime, "WARGA 6")  # on the waitlist: not on the sheet
    marks = {"listed": [str(two.id), str(three.id), str(six.id)], "present": [str(two.id)]}
    missing = await sessions.client.post(f"{path}/attendance", data=marks)
    wrong = await sessions.client.post(f"{path}/attendance", data={**marks, "csrf": "0" * 64})
    assert missing.status_code == 403 and wrong.status_code == 403
    assert (await _registration(runtime, "WARGA 2")).attended is None
    csrf = await sessions.office.csrf(path)
    saved = await sessions.client.post(f"{path}/attendance", data={**marks, "csrf": csrf})
    assert saved.status_code == 303 and saved.headers["location"].startswith(path)
    assert (await _registration(runtime, "WARGA 2")).attended is True
    assert (await _registration(runtime, "WARGA 3")).attended is False
    assert (await _registration(runtime, "WARGA 6")).attended is None
    page = await sessions.client.get(saved.headers["location"])
    assert "Kehadiran tersimpan (2 perubahan)." in page.text
    assert re.search(rf'name="present" value="{two.id}" checked', page.text)
    assert not re.search(rf'name="present" value="{three.id}" checked', page.text)
    again = await sessions.client.post(f"{path}/attendance", data={**marks, "csrf": csrf})
    assert again.status_code == 303  # nothing changed, nothing written again
    marks_rows = await _audit(runtime, "training.attendance")
    assert sorted(row.detail["registration"] for row in marks_rows) == sorted(
        [two.id or 0, three.id or 0]
    )
    assert (await sessions.client.get(f"{path}/attendance")).status_code in (404, 405)


async def test_attendance_waits_for_the_day_of_the_session(sessions: Sessions) -> None:
    await sessions.office.sign_in("wati")
    path = f"/trainings/sessions/{sessions.sukamaju_only}"
    page = await sessions.client.get(path)
    assert "Kehadiran bisa dicatat mulai hari pelaksanaan" in page.text
    assert 'name="present"' not in page.text
    csrf = await sessions.office.csrf(path)
    early = await sessions.client.post(
        f"{path}/attendance", data={"csrf": csrf, "listed": "1", "present": "1"}
    )
    assert early.status_code == 409 and "hari pelaksanaan" in early.text
    assert (await _registration(sessions.office.runtime, "WARGA 20")).attended is None


async def test_the_roster_downloads_as_csv_without_nik(sessions: Sessions) -> None:
    await sessions.office.sign_in("darmo")
    response = await sessions.client.get(f"/trainings/sessions/{sessions.started}/roster.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    assert response.headers["cache-control"] == "private, no-store"
    lines = response.text.lstrip("\ufeff").splitlines()
    assert lines[0] == "kode,nama,telepon,status,prioritas,hadir"
    assert len(lines) == 8 and "WARGA 2" in response.text
    for nik in sessions.niks.values():
        assert nik not in response.text and mask_nik(nik) not in response.text
    exports = await _audit(sessions.office.runtime, "training.export")
    darmo = await actor(sessions.office.runtime, "darmo")
    assert [(e.actor, e.outcome) for e in exports] == [(darmo, "ok")]


async def test_another_villages_session_is_not_found_and_audited(sessions: Sessions) -> None:
    await sessions.office.sign_in("darmo")
    path = f"/trainings/sessions/{sessions.sukamaju_only}"
    page = await sessions.client.get(path)
    assert page.status_code == 404 and "Sesi pelatihan tidak ditemukan" in page.text
    assert "WARGA 20" not in page.text
    assert (await sessions.client.get(f"{path}/roster.csv")).status_code == 404
    csrf = await sessions.office.csrf("/trainings")
    marks = {"csrf": csrf, "listed": "1", "present": "1"}
    assert (await sessions.client.post(f"{path}/attendance", data=marks)).status_code == 404
    assert (await sessions.client.get("/trainings/sessions/999999")).status_code == 404
    # A kecamatan-wide training's session elsewhere is one the officer may open.
    wide = await sessions.client.get(f"/trainings/sessions/{sessions.wide_in_sukamaju}")
    assert wide.status_code == 200
    denied = await _audit(sessions.office.runtime, "training.session.view")
    assert len(denied) == 4 and {row.outcome for row in denied} == {"denied"}
    assert {row.detail["session"] for row in denied} == {sessions.sukamaju_only, 999999}


async def test_a_viewer_sees_counts_but_no_people(sessions: Sessions) -> None:
    runtime = sessions.office.runtime
    await sessions.office.sign_in("pengamat")
    path = f"/trainings/sessions/{sessions.started}"
    page = await sessions.client.get(path)
    assert page.status_code == 200
    assert "Sebagai pemantau, Anda melihat jumlah pendaftar saja" in page.text
    assert "WARGA" not in page.text and "0812345" not in page.text
    for nik in sessions.niks.values():
        assert mask_nik(nik) not in page.text
    assert 'name="present"' not in page.text and "roster.csv" not in page.text
    assert re.search(r"Terdaftar \(dapat kursi\) <b>2</b>", page.text)
    assert re.search(r"Daftar tunggu <b>2</b>", page.text)
    csv_file = await sessions.client.get(f"{path}/roster.csv")
    assert csv_file.status_code == 403 and "WARGA" not in csv_file.text
    csrf = await sessions.office.csrf(path)
    two = await _registration(runtime, "WARGA 2")
    marks = {"csrf": csrf, "listed": str(two.id), "present": str(two.id)}
    assert (await sessions.client.post(f"{path}/attendance", data=marks)).status_code == 403
    assert (await _registration(runtime, "WARGA 2")).attended is None
    views = await _audit(runtime, "training.roster_view")
    assert {v.outcome for v in views} == {"counts_only"}
    refused = await _audit(runtime, "training.export") + await _audit(
        runtime, "training.attendance"
    )
    assert [row.outcome for row in refused] == ["denied", "denied"]


def test_every_screen_key_is_in_every_catalog() -> None:
    catalogs = Catalogs(PROJECT_ROOT / "locales", "id")
    used: set[str] = set()
    for name in SCREENS:
        template = (WEB_DIR / "templates" / name).read_text()
        used |= set(re.findall(r"\bt\([\"']([a-z_.]+)[\"']", template))
    for module in ("trainings.py", "registry.py"):
        used |= set(re.findall(r"\"(scr\.[a-z_.]+)\"", (WEB_DIR / module).read_text()))
    dynamic = {key for key in used if key.endswith(".")}
    used -= dynamic
    assert dynamic == {"scr.session.group.", "scr.registry.state."}
    used |= {f"scr.session.group.{status}" for status in GROUPS}
    used |= {f"scr.registry.state.{s}" for s in ("aktif", "verifikasi", "nonaktif", "ditolak")}
    used |= {"scr.nav.trainings", "scr.nav.registry"}
    for lang in ("id", "en"):
        assert used - catalogs.keys(lang) == set(), lang
