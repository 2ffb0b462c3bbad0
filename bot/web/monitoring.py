"""Monitoring pages (pemantauan): figures with charts, CSV downloads, and the hotspots of
"potongan/pungli" reports. Read-only; every view and download is audited.

The period comes from `start` and `end` (YYYY-MM-DD, both days included, in the office's
time zone); missing means the last 30 days, and unusable input falls back to that with a
note on the page, never an error.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from babel.dates import format_date
from babel.numbers import format_decimal, format_percent
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from markupsafe import Markup
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.services import monitoring as figures
from bot.services.audit import AuditTrail
from bot.services.broadcast_figures import broadcast_reach, check_answers
from bot.services.monitoring import Board, Period
from bot.services.reports import Viewer
from bot.services.tickets import display_code
from bot.web.charts import bar_chart, column_chart
from bot.web.dashboard import SECURITY_HEADERS, Dashboard, Desk
from storage.types import utcnow

VIEW = "monitoring.view"
DEFAULT_DAYS = 30
MAX_DAYS = 731
YEARS = range(2000, 2101)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

Table = tuple[list[str], list[list[Any]]]
TableMaker = Callable[[AsyncSession, Viewer, Period, datetime], Awaitable[Table]]


@dataclass(frozen=True, slots=True)
class Chosen:
    """The period shown: local days `first`..`last`, both included."""

    first: date
    last: date
    period: Period
    invalid: bool  # the request's dates could not be used: these are the defaults

    @property
    def query(self) -> str:
        return urlencode({"start": self.first.isoformat(), "end": self.last.isoformat()})


def _day(raw: str) -> date:
    if len(raw) != 10:
        raise ValueError(raw)
    day = date.fromisoformat(raw)
    if day.year not in YEARS:
        raise ValueError(raw)
    return day


def _chosen(first: date, last: date, zone: ZoneInfo, invalid: bool) -> Chosen:
    start = datetime.combine(first, time.min, tzinfo=zone).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=zone).astimezone(UTC)
    return Chosen(first, last, Period(start, end, zone), invalid)


def choose_period(query: Mapping[str, str], zone: ZoneInfo, now: datetime) -> Chosen:
    """The period a request asks for; the last 30 days when it asks for none or for one
    that cannot be (bad dates, end before start, longer than MAX_DAYS)."""
    today = now.astimezone(zone).date()
    default_first = today - timedelta(days=DEFAULT_DAYS - 1)
    raw_start = query.get("start", "").strip()
    raw_end = query.get("end", "").strip()
    if not raw_start and not raw_end:
        return _chosen(default_first, today, zone, False)
    try:
        last = _day(raw_end) if raw_end else today
        first = _day(raw_start) if raw_start else last - timedelta(days=DEFAULT_DAYS - 1)
    except ValueError:
        return _chosen(default_first, today, zone, True)
    if first > last or (last - first).days >= MAX_DAYS:
        return _chosen(default_first, today, zone, True)
    return _chosen(first, last, zone, False)


class Numbers:
    """Numbers, rates, durations and days as the officer's language writes them."""

    def __init__(self, locale: str, t: Callable[..., str]) -> None:
        self.locale = locale
        self.t = t

    def count(self, value: float) -> str:
        return str(format_decimal(value, locale=self.locale))

    def decimal(self, value: float | None) -> str:
        if value is None:
            return "-"
        return str(format_decimal(round(value, 1), format="#,##0.#", locale=self.locale))

    def pct(self, value: float | None) -> str:
        if value is None:
            return "-"
        return str(format_percent(value, format="#,##0%", locale=self.locale))

    def hours(self, value: float | None) -> str:
        if value is None:
            return self.t("mon.durations.none")
        if value < 48:
            return self.t("mon.hours", n=self.decimal(value))
        return self.t("mon.days", n=self.decimal(value / 24))

    def day(self, value: date) -> str:
        return str(format_date(value, "d MMM y", locale=self.locale))

    def short_day(self, value: date) -> str:
        return str(format_date(value, "d MMM", locale=self.locale))

    def iso_day(self, value: str) -> str:
        return self.day(date.fromisoformat(value))


def _charts(board: Board, t: Callable[..., str], numbers: Numbers) -> dict[str, Markup]:
    """The charts of the page, labelled in the officer's language."""
    none = t("mon.village.none")
    timeline_title = t(f"mon.timeline.title.{board.timeline.step}")
    lookups = board.lookups.outcomes
    return {
        "types": bar_chart(
            t("mon.types.title"), [(t(f"report.kind.{x.key}"), x.count) for x in board.by_type]
        ),
        "villages": bar_chart(
            t("mon.villages.title"), [(x.name or none, x.count) for x in board.by_village]
        ),
        "statuses": bar_chart(
            t("mon.statuses.title"),
            [(t(f"report.status.{x.key}"), x.count) for x in board.by_status],
        ),
        "timeline": column_chart(
            timeline_title,
            [(numbers.short_day(b.start), b.count) for b in board.timeline.buckets],
        ),
        "ratings": bar_chart(
            t("mon.ratings.title"),
            [(t("mon.ratings.star", n=n), c) for n, c in enumerate(board.ratings.distribution, 1)],
        ),
        "lookups": bar_chart(
            t("mon.lookups.title"), [(t(f"mon.lookups.{key}"), n) for key, n in lookups.items()]
        ),
    }


# -- CSV -------------------------------------------------------------------------------------


def _cell(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _iso(moment: datetime | None) -> str:
    return "" if moment is None else moment.isoformat()


def _ratio(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def csv_text(table: Table) -> str:
    header, rows = table
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows([[_cell(value) for value in row] for row in rows])
    return out.getvalue()


async def _types(session: AsyncSession, viewer: Viewer, period: Period, _: datetime) -> Table:
    tallies = await figures.reports_by_type(session, viewer, period)
    return ["jenis", "jumlah"], [[x.key, x.count] for x in tallies]


async def _villages(session: AsyncSession, viewer: Viewer, period: Period, _: datetime) -> Table:
    tallies = await figures.reports_by_village(session, viewer, period)
    return ["kode_desa", "desa", "jumlah"], [[x.key, x.name, x.count] for x in tallies]


async def _statuses(session: AsyncSession, viewer: Viewer, period: Period, _: datetime) -> Table:
    tallies = await figures.reports_by_status(session, viewer, period)
    return ["status", "jumlah"], [[x.key, x.count] for x in tallies]


async def _timeline(session: AsyncSession, viewer: Viewer, period: Period, _: datetime) -> Table:
    timeline = await figures.reports_over_time(session, viewer, period)
    step = {"day": "hari", "week": "minggu"}[timeline.step]
    return ["mulai", "satuan", "jumlah"], [
        [b.start.isoformat(), step, b.count] for b in timeline.buckets
    ]


async def _durations(session: AsyncSession, viewer: Viewer, period: Period, _: datetime) -> Table:
    found = await figures.durations(session, viewer, period)
    rows = [
        [stage, median.count, "" if median.hours is None else f"{median.hours:.2f}"]
        for stage, median in (("diverifikasi", found.verify), ("selesai", found.resolve))
    ]
    return ["sampai_status", "laporan", "median_jam"], rows


async def _sla(session: AsyncSession, viewer: Viewer, period: Period, now: datetime) -> Table:
    found = await figures.sla_breaches(session, viewer, period, now)
    return ["ukuran", "jumlah"], [
        ["laporan_diperiksa", found.checked],
        ["terlambat_diverifikasi", found.verify_late],
        ["terlambat_ditindaklanjuti", found.follow_up_late],
        ["masih_terlambat_sekarang", found.overdue_now],
    ]


async def _ratings(session: AsyncSession, viewer: Viewer, period: Period, _: datetime) -> Table:
    found = await figures.ratings(session, viewer, period)
    return ["nilai", "jumlah"], [[n, c] for n, c in enumerate(found.distribution, 1)]


async def _lookups(session: AsyncSession, viewer: Viewer, period: Period, _: datetime) -> Table:
    found = await figures.status_lookups(session, viewer, period)
    rows: list[list[Any]] = [[outcome, "", n] for outcome, n in found.outcomes.items()]
    rows += [["refused", scope, n] for scope, n in found.refusals.items()]
    rows.append(["flagged", "", found.flagged])
    return ["hasil", "batas", "jumlah"], rows


async def _trainings(session: AsyncSession, viewer: Viewer, period: Period, _: datetime) -> Table:
    found = await figures.training_rates(session, viewer, period)
    header = ["pelatihan", "kode_desa", "desa", "sesi", "kursi", "terdaftar", "diabsen",
              "hadir", "tingkat_isi", "tingkat_hadir"]  # fmt: skip
    rows = [
        [x.training, x.village_code, x.village, x.sessions, x.seats, x.confirmed, x.marked,
         x.came, _ratio(x.fill_rate), _ratio(x.attendance_rate)]
        for x in found
    ]  # fmt: skip
    return header, rows


async def _delivery(session: AsyncSession, viewer: Viewer, period: Period, _: datetime) -> Table:
    found = await figures.message_delivery(session, viewer, period)
    rows = [[x.channel, state, n] for x in found for state, n in x.counts.items()]
    return ["kanal", "status", "jumlah"], rows


async def _broadcasts(session: AsyncSession, viewer: Viewer, period: Period, _: datetime) -> Table:
    found = await broadcast_reach(session, viewer, period)
    states = ("sent", "delivered", "read", "failed", "skipped", "pending")
    header = ["siaran", "jenis", "mulai", "penerima", *states, "tingkat_sampai"]
    rows = [
        [x.broadcast.id, x.broadcast.kind, _iso(x.broadcast.started_at), x.broadcast.recipients,
         *(x.counts.get(state, 0) for state in states), _ratio(x.rate)]
        for x in found
    ]  # fmt: skip
    return header, rows


async def _checks(session: AsyncSession, viewer: Viewer, period: Period, _: datetime) -> Table:
    found = await check_answers(session, viewer, period)
    header = ["jadwal", "program", "tahap", "selesai", "ditanya", "menunggu", "lengkap",
              "dipotong", "belum_terima", "tidak_tahu_jadwal", "laporan"]  # fmt: skip
    rows = [
        [x.schedule.id, x.schedule.programme, x.schedule.phase, x.schedule.ends_at.isoformat(),
         x.asked, x.waiting, x.answers["complete"], x.answers["deducted"],
         x.answers["not_received"], x.answers["did_not_know"], x.reports]
        for x in found
    ]  # fmt: skip
    return header, rows


async def _clusters(session: AsyncSession, viewer: Viewer, period: Period, _: datetime) -> Table:
    found = await figures.potongan_clusters(session, viewer, period)
    rows = [
        [dimension.name, group.key, _group_name(dimension.name, group), group.count,
         "ya" if group.flagged else "", " ".join(display_code(r.code) for r in group.reports)]
        for dimension in found.dimensions
        for group in dimension.groups
    ]  # fmt: skip
    return ["dimensi", "kunci", "kelompok", "jumlah", "menonjol", "kode_laporan"], rows


def _group_name(dimension: str, group: figures.Group) -> str:
    """A subject hidden from a viewer is "#1", "#2"…, as on the page."""
    if not group.label and dimension == "subject":
        return f"#{group.key}"
    return group.label


TABLES: dict[str, TableMaker] = {
    "types": _types,
    "villages": _villages,
    "statuses": _statuses,
    "timeline": _timeline,
    "durations": _durations,
    "sla": _sla,
    "ratings": _ratings,
    "lookups": _lookups,
    "trainings": _trainings,
    "delivery": _delivery,
    "broadcasts": _broadcasts,
    "checks": _checks,
    "clusters": _clusters,
}


def _csv_response(text: str, name: str) -> Response:
    headers = {
        **SECURITY_HEADERS,
        "Content-Disposition": f'attachment; filename="{name}"',
        "Cache-Control": "private, no-store",
    }
    return Response(text, media_type="text/csv; charset=utf-8", headers=headers)


# -- routes ------------------------------------------------------------------------------------


def _audit(session: AsyncSession, desk: Desk, now: datetime, page: str, chosen: Chosen) -> None:
    AuditTrail(session).record(
        desk.viewer.actor,
        VIEW,
        "ok",
        now,
        page=page,
        start=chosen.first.isoformat(),
        end=chosen.last.isoformat(),
    )


def monitoring_router(dash: Dashboard) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    zone = dash.runtime.settings.zone

    @router.get("/monitoring", response_class=HTMLResponse)
    async def monitoring_page(request: Request) -> Response:
        now = utcnow()
        async with dash.work() as session:
            desk = await dash.desk(request, session, now)
            chosen = choose_period(request.query_params, zone, now)
            board = await figures.board(session, desk.viewer, chosen.period, now)
            _audit(session, desk, now, "monitoring", chosen)
        t = dash.translator(desk.locale)
        numbers = Numbers(desk.locale, t)
        context = {
            "desk": desk,
            "chosen": chosen,
            "board": board,
            "charts": _charts(board, t, numbers),
            "num": numbers,
            "max_days": MAX_DAYS,
            "delivery_states": figures.DELIVERY_STATES,
            "limit_scopes": figures.LIMIT_SCOPES,
        }
        return dash.page(request, "dash_monitoring.html", context, desk.locale)

    @router.get("/monitoring/{figure}.csv")
    async def monitoring_csv(request: Request, figure: str) -> Response:
        now = utcnow()
        async with dash.work() as session:
            desk = await dash.desk(request, session, now)
            make = TABLES.get(figure)
            if make is None:
                error = dash.translator(desk.locale)("mon.error.no_figure")
                context = {"desk": desk, "error": error}
                return dash.page(request, "dash_error.html", context, desk.locale, 404)
            chosen = choose_period(request.query_params, zone, now)
            table = await make(session, desk.viewer, chosen.period, now)
            _audit(session, desk, now, f"{figure}.csv", chosen)
        name = f"pemantauan-{figure}-{chosen.first.isoformat()}-{chosen.last.isoformat()}.csv"
        return _csv_response(csv_text(table), name)

    @router.get("/clusters", response_class=HTMLResponse)
    async def clusters_page(request: Request) -> Response:
        now = utcnow()
        async with dash.work() as session:
            desk = await dash.desk(request, session, now)
            chosen = choose_period(request.query_params, zone, now)
            found = await figures.potongan_clusters(session, desk.viewer, chosen.period)
            _audit(session, desk, now, "clusters", chosen)
        context = {
            "desk": desk,
            "chosen": chosen,
            "clusters": found,
            "rule": {"min": figures.CLUSTER_MIN, "factor": figures.CLUSTER_FACTOR},
            "num": Numbers(desk.locale, dash.translator(desk.locale)),
            "max_days": MAX_DAYS,
        }
        return dash.page(request, "dash_clusters.html", context, desk.locale)

    return router
