"""Dashboard and API robustness: bad input is a clean answer in the page's language, never
a 500, a raw exception name, English on an Indonesian page, or text a link chose."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlmodel import select

from bot.runtime import Runtime
from bot.services.reports import ReportService
from bot.services.tickets import display_code
from bot.web import registry_import
from bot.web.app import create_app
from storage.models import ChannelIdentity, Report
from storage.types import utcnow
from tests.services.test_registry_import import BUDI, HEADER
from tests.services.test_reports import _draft
from tests.web.test_api import World, world
from tests.web.test_dashboard import Office, office

__all__ = ["office", "world"]

HUGE = str(2**64)
NOTICE = re.compile(r'<p class="notice" role="status">([^<]*)</p>')


@pytest.fixture
async def api(runtime: Runtime, world: World) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def test_non_finite_numbers_in_json_are_a_clean_422(
    api: httpx.AsyncClient, world: World
) -> None:
    headers = {"content-type": "application/json"}
    for raw in ("NaN", "Infinity", "-Infinity", "1e999"):
        chat = await api.post("/chat/messages", content=f'{{"text": {raw}}}', headers=headers)
        assert chat.status_code == 422, (raw, chat.text[:200])
        assert "NaN" not in chat.text and "Infinity" not in chat.text
        body = f'{{"programme": "BPNT", "latitude": {raw}}}'
        schedule = await api.post(
            "/api/v1/schedules", content=body, headers={**headers, **world.auth("camat")}
        )
        assert schedule.status_code == 422, (raw, schedule.text[:200])
        assert json.loads(schedule.text)["detail"]


async def test_a_huge_body_is_not_echoed_back(api: httpx.AsyncClient, world: World) -> None:
    big = {"text": ["x" * 1000] * 5000}  # 5 MB where a string belongs
    answer = await api.post("/chat/messages", json=big)
    assert answer.status_code == 422 and len(answer.content) < 2000
    short = await api.post("/chat/messages", json={"text": 12})
    assert short.json()["detail"][0]["input"] == 12  # small input is still shown


async def test_ids_too_large_or_not_numbers_are_the_not_found_page(office: Office) -> None:
    await office.sign_in("camat")
    for path in (
        f"/reports/{HUGE}",
        f"/reports/{2**31}",
        "/reports/abc",
        "/reports/0",
        f"/residents/{HUGE}",
        f"/trainings/sessions/{HUGE}",
        f"/trainings/sessions/{HUGE}/roster.csv",
    ):
        page = await office.client.get(path)
        assert page.status_code == 404, (path, page.text[:200])
        assert "Halaman tidak ditemukan" in page.text and "<html" in page.text, path
    csrf = await office.csrf()
    for path in (
        f"/reports/{HUGE}/note",
        f"/residents/{HUGE}/take",
        f"/trainings/sessions/{HUGE}/attendance",
        f"/officers/{HUGE}/deactivate",
    ):
        posted = await office.client.post(path, data={"csrf": csrf, "message": "x"})
        assert posted.status_code == 404, (path, posted.text[:200])


async def test_audit_dates_at_the_calendar_edges_fall_back_with_a_notice(office: Office) -> None:
    await office.sign_in("camat")
    for query in ("from=0001-01-01", "to=9999-12-31", "from=9999-12-31&to=9999-12-31"):
        page = await office.client.get(f"/audit?{query}")
        assert page.status_code == 200, query
        assert "saringan tanggal diabaikan" in page.text, query
    backwards = await office.client.get("/audit?from=2026-12-10&to=2026-12-01")
    assert "Tanggal awal jatuh sesudah tanggal akhir" in backwards.text
    fine = await office.client.get("/audit?from=2026-12-01&to=2026-12-10")
    assert "saringan tanggal diabaikan" not in fine.text


async def test_audit_csv_is_not_cached_and_has_the_security_headers(office: Office) -> None:
    await office.sign_in("camat")
    export = await office.client.get("/audit.csv")
    assert export.status_code == 200
    assert "no-store" in export.headers["cache-control"]
    assert export.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" in export.headers


async def test_bulk_ids_take_ascii_digits_only(office: Office) -> None:
    await office.sign_in("camat")
    csrf = await office.csrf()
    answer = await office.client.post(
        "/reports/bulk",
        data={"csrf": csrf, "action": "assign", "assignee": "²", "report": ["²", "¹²", HUGE]},
    )
    assert answer.status_code == 303
    shown = await office.client.get(answer.headers["location"])
    assert "0 laporan diperbarui" in shown.text
    marks = await office.client.post(
        f"/trainings/sessions/{HUGE[:5]}/attendance",
        data={"csrf": csrf, "listed": ["²", HUGE], "present": ["²"]},
    )
    assert marks.status_code != 500


async def test_bulk_with_an_unknown_action_changes_and_counts_nothing(office: Office) -> None:
    await office.sign_in("camat")
    csrf = await office.csrf()
    reports = [str(office.leksono_report), str(office.sukamaju_report)]
    for action in ("foo", ""):
        answer = await office.client.post(
            "/reports/bulk", data={"csrf": csrf, "action": action, "report": reports}
        )
        shown = await office.client.get(answer.headers["location"])
        assert "Pilih dulu tindakannya" in shown.text
        assert "diperbarui" not in shown.text


async def test_bulk_skips_are_explained_in_the_pages_language(office: Office) -> None:
    await office.sign_in("camat")
    csrf = await office.csrf()
    leksono, sukamaju = office.leksono_report, office.sukamaju_report
    rejected = await office.client.post(
        "/reports/bulk",
        data={"csrf": csrf, "action": "status", "status": "ditolak", "report": [str(leksono)]},
    )
    shown = await office.client.get(rejected.headers["location"])
    assert "ReasonRequired" not in shown.text
    async with office.runtime.db.session() as session:
        stored = await session.get(Report, leksono)
    assert stored is not None
    code = display_code(stored.code)  # officers know reports by their codes, not row ids
    assert f"penolakan perlu alasan (tolak satu per satu di halaman laporan): {code}" in (
        shown.text
    )
    wati = str(office.ids["wati"])  # serves Sukamaju, not Leksono
    assigned = await office.client.post(
        "/reports/bulk",
        data={
            "csrf": csrf,
            "action": "assign",
            "assignee": wati,
            "report": [str(leksono), str(sukamaju), "999999"],
        },
    )
    shown = await office.client.get(assigned.headers["location"])
    notice = NOTICE.search(shown.text)
    assert notice, shown.text[:500]
    assert "1 laporan diperbarui" in notice.group(1)
    assert f"tidak bisa menangani laporan ini: {code}" in notice.group(1)
    assert "tidak ditemukan: 1 laporan" in notice.group(1)
    assert "the officer" not in shown.text and "NotAllowed" not in shown.text
    english = await office.client.get(assigned.headers["location"] + "&lang=en")
    assert "1 reports updated" in english.text or "1 report" in english.text


async def test_notices_come_from_catalog_keys_not_from_the_link(office: Office) -> None:
    await office.sign_in("camat")
    for path in (
        "/?done=Akun Anda diblokir",
        f"/reports/{office.leksono_report}?done=Akun Anda diblokir",
        "/officers?done=Akun Anda diblokir&error=Akun Anda diblokir",
        "/settings?done=Akun Anda diblokir&error=Akun Anda diblokir",
        "/?done=dash.bulk.done&count=Akun Anda diblokir",
    ):
        page = await office.client.get(path)
        assert page.status_code == 200, path
        assert "Akun Anda diblokir" not in page.text, path
    saved = await office.client.get(f"/reports/{office.leksono_report}?done=dash.report.saved")
    assert NOTICE.search(saved.text)


async def test_officer_errors_are_in_the_pages_language(office: Office) -> None:
    await office.sign_in("camat")
    csrf = await office.csrf("/officers")
    own = await office.client.post(
        f"/officers/{office.ids['camat']}/deactivate", data={"csrf": csrf}
    )
    page = await office.client.get(own.headers["location"])
    assert "tidak bisa menonaktifkan akun Anda sendiri" in page.text
    assert "you cannot" not in page.text
    no_village = await office.client.post(
        "/officers", data={"csrf": csrf, "username": "budi", "role": "officer"}
    )
    page = await office.client.get(no_village.headers["location"])
    assert "paling sedikit satu desa" in page.text and "--village" not in page.text
    unknown = await office.client.post(
        "/officers",
        data={"csrf": csrf, "username": "budi", "role": "officer", "village": "1234567890"},
    )
    page = await office.client.get(unknown.headers["location"])
    assert "belum terdaftar" in page.text and "unknown village" not in page.text
    missing = await office.client.post(f"/officers/{2**31 - 1}/activate", data={"csrf": csrf})
    page = await office.client.get(missing.headers["location"])
    assert "Akun petugas tidak ditemukan" in page.text and "no such officer" not in page.text


async def test_merging_a_report_into_itself_says_so(office: Office) -> None:
    await office.sign_in("camat")
    path = f"/reports/{office.leksono_report}"
    async with office.runtime.db.session() as session:
        report = await session.get(Report, office.leksono_report)
    assert report is not None
    csrf = await office.csrf(path)
    merged = await office.client.post(f"{path}/merge", data={"csrf": csrf, "into": report.code})
    assert merged.status_code == 409
    assert "tidak bisa digabung ke dirinya sendiri" in merged.text
    assert "merged" not in merged.text


async def test_a_button_tap_shows_its_label_in_the_conversation(office: Office) -> None:
    chat = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(office.runtime)), base_url="http://t"
    )
    try:
        await chat.post("/chat/messages", json={"text": "halo"})
        await chat.post("/chat/messages", json={"choice_id": "welcome:agree"})
        await chat.post("/chat/messages", json={"choice_id": "no:such:button"})
        async with office.runtime.db.transaction() as session:
            identity = (
                await session.exec(
                    select(ChannelIdentity).where(ChannelIdentity.channel == "webchat")
                )
            ).one()
            service = ReportService(session, office.runtime.settings, office.runtime.catalogs)
            await service.file(_draft(), identity.resident_id, identity.id, utcnow())
        await office.sign_in("darmo")
        page = await office.client.get(f"/residents/{identity.resident_id}")
        assert page.status_code == 200
        assert "welcome:agree" not in page.text and "no:such:button" not in page.text
        assert "▸ Setuju" in page.text or "▸ Saya setuju" in page.text, page.text
        assert "▸ (menekan tombol)" in page.text
    finally:
        await chat.aclose()


async def test_a_viewer_sees_whom_a_report_was_assigned_to(office: Office) -> None:
    await office.sign_in("camat")
    path = f"/reports/{office.leksono_report}"
    csrf = await office.csrf(path)
    await office.client.post(
        f"{path}/assign", data={"csrf": csrf, "assignee": str(office.ids["darmo"])}
    )
    await office.sign_in("pengamat")
    page = await office.client.get(path)
    timeline = page.text[page.text.index('class="timeline"') :]
    assert "→ Darmo" in timeline and "→ belum ada" not in timeline.lower()


async def test_a_nik_in_the_wrong_column_is_masked_in_the_dry_run(office: Office) -> None:
    await office.sign_in("camat")
    shifted = BUDI.replace(",PKH,aktif,", ",3307991203759002,aktif,")
    csrf = await office.csrf("/registry/import")
    files = {"file": ("dtsen.csv", f"{HEADER}\n{shifted}\n".encode(), "text/csv")}
    checked = await office.client.post("/registry/import", data={"csrf": csrf}, files=files)
    assert checked.status_code == 200
    assert "3307991203759002" not in checked.text
    assert "3307********9002" in checked.text


async def test_a_duplicated_column_is_reported_as_such(office: Office) -> None:
    await office.sign_in("camat")
    csrf = await office.csrf("/registry/import")
    files = {"file": ("dtsen.csv", b"nik,nik,nama\n3307994505800001,1,Siti\n", "text/csv")}
    checked = await office.client.post("/registry/import", data={"csrf": csrf}, files=files)
    assert "Kolom muncul lebih dari sekali: nik" in checked.text
    assert "Kolom wajib tidak ditemukan" not in checked.text


async def test_a_broken_xlsx_is_explained_without_an_exception_name(office: Office) -> None:
    await office.sign_in("camat")
    csrf = await office.csrf("/registry/import")
    files = {"file": ("dtsen.xlsx", b"not a zip at all", "application/octet-stream")}
    checked = await office.client.post("/registry/import", data={"csrf": csrf}, files=files)
    assert "File XLSX tidak bisa dibuka" in checked.text
    assert "BadZipFile" not in checked.text and "KeyError" not in checked.text


async def test_a_chunked_upload_past_the_limit_stops_with_a_413_page(
    office: Office, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(registry_import, "MAX_UPLOAD", 64 * 1024)
    await office.sign_in("camat")
    csrf = await office.csrf("/registry/import")
    boundary = "batas"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n{csrf}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    ).encode()
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        yield head + (HEADER + "\n").encode()
        for _ in range(64):  # 1 MB in all, no Content-Length
            sent += 1
            yield (BUDI + "\n").encode() * 200
        yield f"\r\n--{boundary}--\r\n".encode()

    answer = await office.client.post(
        "/registry/import",
        content=chunks(),
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert answer.status_code == 413
    assert "File terlalu besar" in answer.text and "<html" in answer.text
    assert not list((office.runtime.settings.media_dir / "imports").glob("*"))
    declared = await office.client.post(
        "/registry/import",
        content=b"x" * (65 * 1024),
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert declared.status_code == 413 and "File terlalu besar" in declared.text


async def test_sign_in_needs_the_forms_token(office: Office) -> None:
    office.client.cookies.clear()
    forged = await office.client.post(
        "/login", data={"username": "camat", "password": "kata-sandi-rahasia-1"}
    )
    assert forged.status_code == 403 and "bansos_officer" not in forged.headers.get(
        "set-cookie", ""
    )
    office.client.cookies.clear()
    await office.client.get("/login")
    stolen = await office.csrf("/login")
    office.client.cookies.clear()  # another browser: the token does not fit its cookie
    await office.client.get("/login")
    other = await office.client.post(
        "/login", data={"username": "camat", "password": "kata-sandi-rahasia-1", "csrf": stolen}
    )
    assert other.status_code == 403
    assert (await office.sign_in("camat")).status_code == 303
