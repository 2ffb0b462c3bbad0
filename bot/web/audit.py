"""Dashboard: the audit log for admins (filter, export; append-only: no route changes a
row) and the chat simulator (the web chat, embedded, to try journeys as a resident)."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, time, timedelta, tzinfo

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from bot.services.audit import AuditTrail
from bot.web.dashboard import SECURITY_HEADERS, Dashboard, Desk, require_admin
from storage.models import AuditLog
from storage.repositories import audit as audit_repo
from storage.types import utcnow

EXPORT_LIMIT = 50_000
YEARS = range(2000, 2101)  # as the monitoring pages: a day whose next day is a date too


def audit_router(dash: Dashboard) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    async def rows(request: Request, limit: int) -> tuple[Desk, list[AuditLog], str]:
        now = utcnow()
        query = request.query_params
        since, until, date_problem = _period(
            query.get("from", ""), query.get("to", ""), dash.runtime.settings.zone
        )
        async with dash.work() as session:
            desk = await dash.desk(request, session, now)
            require_admin(desk)
            found = await audit_repo.search(
                session,
                actor=query.get("actor", "")[:64],
                action=query.get("action", "")[:48],
                outcome=query.get("outcome", "")[:24],
                since=since,
                until=until,
                limit=limit,
            )
            AuditTrail(session).record(desk.viewer.actor, "audit.view", "ok", now, rows=len(found))
        return desk, list(found), date_problem

    @router.get("/audit", response_class=HTMLResponse)
    async def audit_page(request: Request) -> Response:
        desk, found, date_problem = await rows(request, 500)
        context = {
            "desk": desk,
            "rows": found,
            "query": request.query_params,
            "date_problem": date_problem,
            "export": "/audit.csv?" + str(request.query_params),
            "as_json": lambda detail: json.dumps(detail, ensure_ascii=False, sort_keys=True),
        }
        return dash.page(request, "dash_audit.html", context, desk.locale)

    @router.get("/audit.csv")
    async def audit_csv(request: Request) -> Response:
        _, found, _ = await rows(request, EXPORT_LIMIT)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["id", "waktu_utc", "pelaku", "tindakan", "hasil", "subjek", "rincian"])
        for row in found:
            writer.writerow(
                [
                    row.id,
                    row.created_at.isoformat(timespec="seconds"),
                    row.actor,
                    row.action,
                    row.outcome,
                    row.subject_hash or "",
                    json.dumps(row.detail, ensure_ascii=False, sort_keys=True),
                ]
            )
        headers = {
            **SECURITY_HEADERS,
            "Content-Disposition": 'attachment; filename="audit.csv"',
            "Cache-Control": "private, no-store",
        }
        return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)

    @router.get("/simulator", response_class=HTMLResponse)
    async def simulator(request: Request) -> Response:
        async with dash.work() as session:
            desk = await dash.desk(request, session, utcnow())
        return dash.page(request, "dash_simulator.html", {"desk": desk}, desk.locale)

    return router


def _period(first: str, last: str, zone: tzinfo) -> tuple[datetime | None, datetime | None, str]:
    """From midnight of `first` to midnight after `last` (YYYY-MM-DD, local days, both
    included; either may be empty), or no date filter and the catalog key of the notice
    saying why: a day not understood or outside 2000-2100, or `last` before `first`."""
    try:
        since, until = _day(first), _day(last)
    except ValueError:
        return None, None, "dash.audit.bad_date"
    if since and until and since > until:
        return None, None, "dash.audit.bad_range"
    return (
        datetime.combine(since, time(), tzinfo=zone) if since else None,
        datetime.combine(until + timedelta(days=1), time(), tzinfo=zone) if until else None,
        "",
    )


def _day(text: str) -> date | None:
    if not text.strip():
        return None
    day = date.fromisoformat(text.strip())
    if day.year not in YEARS:
        raise ValueError(text)
    return day
