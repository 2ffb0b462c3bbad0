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
from bot.web.dashboard import Dashboard, Desk, require_admin
from storage.models import AuditLog
from storage.repositories import audit as audit_repo
from storage.types import utcnow

EXPORT_LIMIT = 50_000


def audit_router(dash: Dashboard) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    async def rows(request: Request, limit: int) -> tuple[Desk, list[AuditLog], bool]:
        now = utcnow()
        query = request.query_params
        zone = dash.runtime.settings.zone
        since, bad_since = _day(query.get("from", ""), zone)
        until, bad_until = _day(query.get("to", ""), zone)
        async with dash.work() as session:
            desk = await dash.desk(request, session, now)
            require_admin(desk)
            found = await audit_repo.search(
                session,
                actor=query.get("actor", "")[:64],
                action=query.get("action", "")[:48],
                outcome=query.get("outcome", "")[:24],
                since=since,
                until=until + timedelta(days=1) if until else None,
                limit=limit,
            )
            AuditTrail(session).record(desk.viewer.actor, "audit.view", "ok", now, rows=len(found))
        return desk, list(found), bad_since or bad_until

    @router.get("/audit", response_class=HTMLResponse)
    async def audit_page(request: Request) -> Response:
        desk, found, bad_date = await rows(request, 500)
        context = {
            "desk": desk,
            "rows": found,
            "query": request.query_params,
            "bad_date": bad_date,
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
        headers = {"Content-Disposition": 'attachment; filename="audit.csv"'}
        return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)

    @router.get("/simulator", response_class=HTMLResponse)
    async def simulator(request: Request) -> Response:
        async with dash.work() as session:
            desk = await dash.desk(request, session, utcnow())
        return dash.page(request, "dash_simulator.html", {"desk": desk}, desk.locale)

    return router


def _day(text: str, zone: tzinfo) -> tuple[datetime | None, bool]:
    """Midnight of a YYYY-MM-DD day in the office's zone; (None, True) when unreadable."""
    if not text:
        return None, False
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        return None, True
    return datetime.combine(day, time(), tzinfo=zone), False
