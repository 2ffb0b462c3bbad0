"""Monitoring pages over HTTP: sign-in, village scoping, what viewers see, CSV downloads,
the period form (bad input never fails), the hotspots page and the SVG charts."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlmodel import select

from bot.runtime import Runtime
from bot.web.app import create_app
from bot.web.charts import bar_chart, column_chart
from bot.web.monitoring import choose_period, csv_text
from storage.models import AuditLog, Officer, Village
from storage.types import utcnow
from tests.services.test_reports import LEKSONO, SUKAMAJU, _draft, _file, _resident
from tests.web.test_dashboard import Office, seed_office

SIDOMULYO = "3307992003"
JAKARTA = ZoneInfo("Asia/Jakarta")


@pytest.fixture
async def office(runtime: Runtime) -> AsyncIterator[Office]:
    leksono, sukamaju = await seed_office(runtime)
    app = create_app(runtime)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield Office(runtime, client, leksono, sukamaju)


def _rows(response: httpx.Response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.text)))


async def _hotspot(office: Office) -> list[int]:
    """Four more "potongan" reports in Leksono naming one agent (five there in all), a
    quiet third village; returns the new reports' ids."""
    async with office.runtime.db.transaction() as session:
        session.add(Village(code=SIDOMULYO, name="Sidomulyo", kecamatan="Sukamaju"))
    who = await _resident(office.runtime, "Pak Budi")
    now = utcnow()
    ids = []
    for n in range(4):
        draft = _draft(subject="Agen Bu Tini", description=f"Dipotong 50 ribu, kejadian {n}")
        ids.append((await _file(office.runtime, draft, who, now)).id or 0)
    return ids


async def test_the_pages_need_sign_in(office: Office) -> None:
    for path in ("/monitoring", "/clusters", "/monitoring/types.csv"):
        response = await office.client.get(path)
        assert response.status_code == 303 and response.headers["location"] == "/login", path


async def test_an_admin_sees_figures_with_charts_and_csv_links(office: Office) -> None:
    await office.sign_in("camat")
    page = await office.client.get("/monitoring")
    assert page.status_code == 200 and "Pemantauan" in page.text
    assert "Content-Security-Policy" in page.headers
    assert page.text.count('<svg class="chart" role="img"') >= 4
    assert "<title>Laporan per jenis</title>" in page.text
    assert "<script" not in page.text
    today = utcnow().astimezone(JAKARTA).date()
    query = f"start={today - timedelta(days=29)}&amp;end={today}"
    assert f'href="/monitoring/types.csv?{query}"' in page.text
    assert f'href="/clusters?{query}"' in page.text
    async with office.runtime.db.session() as session:
        audited = (
            await session.exec(select(AuditLog).where(AuditLog.action == "monitoring.view"))
        ).all()
        camat = (await session.exec(select(Officer).where(Officer.username == "camat"))).one()
    assert [(row.outcome, row.detail["page"]) for row in audited] == [("ok", "monitoring")]
    assert audited[0].actor == f"officer:{camat.id}"


async def test_a_village_officer_sees_only_their_village(office: Office) -> None:
    await office.sign_in("darmo")
    villages = _rows(await office.client.get("/monitoring/villages.csv"))
    assert villages == [["kode_desa", "desa", "jumlah"], [LEKSONO, "Leksono", "1"]]
    kinds = dict(_rows(await office.client.get("/monitoring/types.csv"))[1:])
    assert kinds["potongan"] == "1"
    await office.sign_in("camat")
    kinds = dict(_rows(await office.client.get("/monitoring/types.csv"))[1:])
    assert kinds["potongan"] == "2"
    villages = _rows(await office.client.get("/monitoring/villages.csv"))
    assert sorted(row[0] for row in villages[1:]) == sorted([LEKSONO, SUKAMAJU])


async def test_a_viewer_sees_figures_but_no_personal_data(office: Office) -> None:
    await _hotspot(office)
    await office.sign_in("pengamat")
    page = await office.client.get("/monitoring")
    assert page.status_code == 200 and '<svg class="chart"' in page.text
    clusters = await office.client.get("/clusters")
    exported = await office.client.get("/monitoring/clusters.csv")
    for response in (page, clusters, exported):
        assert response.status_code == 200
        for personal in ("Ketua kelompok memotong", "Dipotong 50 ribu", "Sri", "Budi", "Tini"):
            assert personal not in response.text
    assert "Pihak #1" in clusters.text
    subjects = [row[:5] for row in _rows(exported) if row[0] == "subject"]
    assert subjects == [["subject", "1", "#1", "4", "ya"]]  # against 2 reports naming nobody


async def test_csv_downloads_have_a_header_and_rows(office: Office) -> None:
    await office.sign_in("camat")
    response = await office.client.get("/monitoring/statuses.csv?start=2026-01-01&end=2026-12-31")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    disposition = response.headers["content-disposition"]
    assert disposition == 'attachment; filename="pemantauan-statuses-2026-01-01-2026-12-31.csv"'
    assert response.headers["x-content-type-options"] == "nosniff"
    rows = _rows(response)
    assert rows[0] == ["status", "jumlah"]
    assert rows[1:] == [["baru", "2"], ["diverifikasi", "0"], ["ditindaklanjuti", "0"],
                        ["selesai", "0"], ["ditolak", "0"]]  # fmt: skip
    for figure in ("timeline", "durations", "sla", "ratings", "lookups", "trainings", "delivery",
                   "clusters"):  # fmt: skip
        download = await office.client.get(f"/monitoring/{figure}.csv")
        assert download.status_code == 200 and len(_rows(download)[0]) >= 2, figure
    assert (await office.client.get("/monitoring/nothing.csv")).status_code == 404


async def test_the_period_filters_reports(office: Office) -> None:
    who = await _resident(office.runtime, "Ibu Ani")
    long_ago = utcnow() - timedelta(days=60)
    await _file(office.runtime, _draft(kind="usul"), who, long_ago)
    await office.sign_in("camat")
    recent = dict(_rows(await office.client.get("/monitoring/types.csv"))[1:])
    assert recent["usul"] == "0" and recent["potongan"] == "2"
    day = long_ago.astimezone(JAKARTA).date()
    then = await office.client.get(f"/monitoring/types.csv?start={day}&end={day}")
    counts = dict(_rows(then)[1:])
    assert counts["usul"] == "1" and counts["potongan"] == "0"
    page = await office.client.get(f"/monitoring?start={day}&end={day}")
    assert page.status_code == 200 and f'value="{day}"' in page.text


BAD_DATES = (
    "start=2026-13-45&end=2026-11-30",
    "start=kemarin&end=",
    "start=2026-11-30&end=2026-11-01",
    "start=1900-01-01&end=2026-11-01",
    "start=9999-12-31&end=9999-12-31",
    "start=2020-01-01&end=2026-11-30",
    "start=%00%FF&end=' OR 1=1 --",
)


async def test_bad_dates_fall_back_to_the_last_30_days(office: Office) -> None:
    await office.sign_in("camat")
    for query in BAD_DATES:
        for path in ("/monitoring", "/clusters"):
            page = await office.client.get(f"{path}?{query}")
            assert page.status_code == 200, (path, query)
            assert "Tanggal yang diisi tidak bisa dipakai" in page.text
        assert (await office.client.get(f"/monitoring/types.csv?{query}")).status_code == 200
    fine = await office.client.get("/monitoring")
    assert "Tanggal yang diisi tidak bisa dipakai" not in fine.text


async def test_clusters_flag_the_busy_village_and_link_to_its_reports(office: Office) -> None:
    new = await _hotspot(office)
    await office.sign_in("camat")
    page = await office.client.get("/clusters")
    assert page.status_code == 200 and "Titik rawan potongan/pungli" in page.text
    flagged = page.text.split("<details>")[0]  # the first card: villages, flagged only
    assert "Leksono" in flagged and "menonjol" in flagged
    for report_id in [office.leksono_report, *new]:
        assert f'href="/reports/{report_id}"' in page.text
    exported = _rows(await office.client.get("/monitoring/clusters.csv"))
    assert exported[0] == ["dimensi", "kunci", "kelompok", "jumlah", "menonjol", "kode_laporan"]
    rows = {(row[0], row[2]): row for row in exported[1:]}
    assert rows[("village", "Leksono")][1:5] == [LEKSONO, "Leksono", "5", "ya"]
    assert rows[("village", "Sukamaju")][3:5] == ["1", ""]
    assert rows[("subject", "Agen Bu Tini")][3:5] == ["4", "ya"]
    assert len(rows[("subject", "Agen Bu Tini")][5].split()) == 4  # the codes, to look up
    report = await office.client.get(f"/reports/{new[0]}")
    assert report.status_code == 200  # the link leads somewhere the officer may go


async def test_the_page_speaks_english_and_escapes_village_names(office: Office) -> None:
    async with office.runtime.db.transaction() as session:
        session.add(Village(code=SIDOMULYO, name='<img src=x onerror="alert(1)">', kecamatan="S"))
    who = await _resident(office.runtime, "Ibu Ani")
    await _file(office.runtime, _draft(village_code=SIDOMULYO), who, utcnow())
    await office.sign_in("camat")
    page = await office.client.get("/monitoring?lang=en")
    assert page.status_code == 200 and "Reports by type" in page.text
    assert "<img src=x" not in page.text and "&lt;img src=x" in page.text


def test_choose_period() -> None:
    now = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    default = choose_period({}, JAKARTA, now)
    assert (default.first, default.last, default.invalid) == (
        date(2026, 10, 25),
        date(2026, 11, 23),
        False,
    )
    assert default.period.start == datetime(2026, 10, 24, 17, 0, tzinfo=UTC)
    assert default.period.end == datetime(2026, 11, 23, 17, 0, tzinfo=UTC)
    one_day = choose_period({"start": "2026-11-01", "end": "2026-11-01"}, JAKARTA, now)
    assert one_day.period.end - one_day.period.start == timedelta(days=1) and not one_day.invalid
    only_end = choose_period({"end": "2026-11-10"}, JAKARTA, now)
    assert only_end.first == date(2026, 10, 12)
    assert choose_period({"start": "2026-02-30"}, JAKARTA, now).invalid
    assert choose_period({"start": "2026-12-01"}, JAKARTA, now).invalid  # after today
    assert one_day.query == "start=2026-11-01&end=2026-11-01"


def test_charts_are_accessible_svg_with_escaped_labels() -> None:
    svg = str(bar_chart('Per desa <b>"&"</b>', [("<script>alert(1)</script>", 3), ("Leksono", 1)]))
    assert svg.startswith('<svg class="chart" role="img" viewBox="0 0 400 ')
    assert "<title>Per desa &lt;b&gt;&quot;&amp;&quot;&lt;/b&gt;</title>" in svg
    assert "<script" not in svg and "&lt;script&gt;alert(1)&lt;/script&gt;" in svg
    assert "<desc>&lt;script&gt;alert(1)&lt;/script&gt;: 3; Leksono: 1</desc>" in svg
    columns = str(column_chart("Per hari", [(f"{n} Nov", n) for n in range(1, 31)]))
    assert columns.count("<rect") == 30 and columns.count('class="tick"') <= 8
    assert 'role="img"' in columns and "<title>Per hari</title>" in columns
    assert str(bar_chart("Kosong", [])) == "" and str(column_chart("Kosong", [])) == ""


def test_csv_cells_that_look_like_formulas_are_defused() -> None:
    text = csv_text((["kelompok", "jumlah"], [['=HYPERLINK("x")', 1], ["-", 2], ["Tini", -3]]))
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[1][0] == '\'=HYPERLINK("x")' and rows[2][0] == "'-" and rows[3] == ["Tini", "-3"]
