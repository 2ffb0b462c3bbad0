"""Dashboard pages for training: the sessions, a session's roster, attendance and export.

The routes are thin: `TrainingDesk` scopes, audits and refuses; this module only turns its
answers and refusals into pages. A refusal's audit row is committed before the error page.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.services.training_desk import (
    GROUPS,
    AttendanceTooEarly,
    RosterClosed,
    SessionHidden,
    TrainingDesk,
)
from bot.services.trainings import TrainingError
from bot.web.dashboard import SECURITY_HEADERS, Dashboard
from bot.web.notices import notice_url, read_notice
from bot.web.paths import ObjectId, form_id
from storage.types import utcnow

MAX_MARKS = 2000


def trainings_router(dash: Dashboard) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    runtime = dash.runtime

    def desk_for(session: AsyncSession) -> TrainingDesk:
        return TrainingDesk(session, runtime.settings, runtime.catalogs, runtime.vault)

    @asynccontextmanager
    async def work() -> AsyncIterator[AsyncSession]:
        """`dash.work()`, committing what the desk recorded before a refusal is raised."""
        refused: TrainingError | None = None
        async with dash.work() as session:
            try:
                yield session
            except TrainingError as error:
                refused = error
        if refused is not None:
            raise refused

    def refusal(request: Request, error: TrainingError) -> Response:
        locale = dash.locale(request)
        t = dash.translator(locale)
        if isinstance(error, SessionHidden):
            text, status = t("scr.training.not_found"), 404
        elif isinstance(error, RosterClosed):
            text, status = t("scr.training.viewer_refused"), 403
        elif isinstance(error, AttendanceTooEarly):
            zone = runtime.settings.zone
            day = error.starts_at.astimezone(zone).strftime("%d-%m-%Y")
            text, status = t("scr.training.attendance_too_early", day=day), 409
        else:
            text, status = t("scr.training.refused"), 409
        return dash.page(request, "dash_error.html", {"error": text}, locale, status)

    @router.get("/trainings", response_class=HTMLResponse)
    async def sessions(request: Request) -> Response:
        now = utcnow()
        async with work() as session:
            desk = await dash.desk(request, session, now)
            upcoming, past = await desk_for(session).sessions(desk.viewer, now)
        context = {"desk": desk, "upcoming": upcoming, "past": past}
        return dash.page(request, "dash_trainings.html", context, desk.locale)

    @router.get("/trainings/sessions/{session_id}", response_class=HTMLResponse)
    async def roster(request: Request, session_id: ObjectId) -> Response:
        now = utcnow()
        try:
            async with work() as session:
                desk = await dash.desk(request, session, now)
                roster = await desk_for(session).roster(desk.viewer, session_id, now)
        except TrainingError as error:
            return refusal(request, error)
        context = {
            "desk": desk,
            "roster": roster,
            "info": roster.info,
            "groups": GROUPS,
            "message": read_notice(request.query_params, dash.translator(desk.locale)),
        }
        return dash.page(request, "dash_training_session.html", context, desk.locale)

    @router.post("/trainings/sessions/{session_id}/attendance")
    async def attendance(request: Request, session_id: ObjectId) -> Response:
        now = utcnow()
        try:
            async with work() as session:
                desk, form = await dash.posted(request, session, now)
                listed = _ids(form.get("listed", []))
                present = _ids(form.get("present", [])) & listed
                changed = await desk_for(session).mark_attendance(
                    desk.viewer, session_id, present, listed, now
                )
        except TrainingError as error:
            return refusal(request, error)
        return RedirectResponse(
            notice_url(
                f"/trainings/sessions/{session_id}", "scr.training.attendance_saved", count=changed
            ),
            status_code=303,
        )

    @router.get("/trainings/sessions/{session_id}/roster.csv")
    async def roster_csv(request: Request, session_id: ObjectId) -> Response:
        now = utcnow()
        try:
            async with work() as session:
                desk = await dash.desk(request, session, now)
                text = await desk_for(session).export_csv(desk.viewer, session_id, now)
        except TrainingError as error:
            return refusal(request, error)
        headers = {
            "Content-Disposition": f'attachment; filename="peserta-sesi-{session_id}.csv"',
            "Cache-Control": "private, no-store",
            **SECURITY_HEADERS,
        }
        # The byte-order mark lets Excel, which most offices open CSV files with, read UTF-8.
        return Response("\ufeff" + text, media_type="text/csv; charset=utf-8", headers=headers)

    return router


def _ids(values: list[str]) -> set[int]:
    return {n for n in map(form_id, values[:MAX_MARKS]) if n is not None}
