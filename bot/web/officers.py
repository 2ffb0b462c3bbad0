"""Dashboard: officer accounts, for admins. Create an account (a random first password is
shown once, to hand over in person), set its villages, deactivate or reactivate it.
Deactivating ends its dashboard sessions and API tokens at their next use."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.services.officers import ROLES, OfficerError, OfficerService
from bot.web.dashboard import Dashboard, Desk, form_value, require_admin
from bot.web.notices import Kind, error_url, notice_url, read_notice
from bot.web.paths import ObjectId
from storage.models import Village
from storage.types import utcnow


def officers_router(dash: Dashboard) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    runtime = dash.runtime

    async def listing(
        request: Request, desk: Desk, session: AsyncSession, **extra: str
    ) -> Response:
        accounts = await OfficerService(session, runtime.vault).all()
        villages = (await session.exec(select(Village).order_by(col(Village.name)))).all()
        query = request.query_params
        t = dash.translator(desk.locale)
        context = {
            "desk": desk,
            "accounts": accounts,
            "villages": villages,
            "roles": ROLES,
            "message": read_notice(query, t),
            "error": read_notice(query, t, "error"),
            **extra,
        }
        return dash.page(request, "dash_officers.html", context, desk.locale)

    @router.get("/officers", response_class=HTMLResponse)
    async def officers(request: Request) -> Response:
        async with dash.work() as session:
            desk = await dash.desk(request, session, utcnow())
            require_admin(desk)
            return await listing(request, desk, session)

    @router.post("/officers", response_class=HTMLResponse)
    async def create(request: Request) -> Response:
        """The first password is shown once in this answer (never in a URL or a log)."""
        now = utcnow()
        password = secrets.token_urlsafe(12)
        async with dash.work() as session:
            desk, form = await dash.posted(request, session, now)
            require_admin(desk)
            try:
                officer = await OfficerService(session, runtime.vault).add(
                    form_value(form, "username").lower(),
                    form_value(form, "role"),
                    [code for code in form.get("village", []) if code],
                    password,
                    now,
                    form_value(form, "name"),
                    actor=desk.viewer.actor,
                )
            except OfficerError as error:
                return _refused(error)
            await session.flush()
            page = await listing(
                request, desk, session, created=officer.username, new_password=password
            )
        page.headers["Cache-Control"] = "no-store"
        return page

    @router.post("/officers/{officer_id}/{action}")
    async def change(request: Request, officer_id: ObjectId, action: str) -> Response:
        now = utcnow()
        async with dash.work() as session:
            desk, form = await dash.posted(request, session, now)
            require_admin(desk)
            service = OfficerService(session, runtime.vault)
            try:
                if action in ("deactivate", "activate"):
                    await service.set_active(
                        desk.viewer.actor, officer_id, action == "activate", now
                    )
                elif action == "villages":
                    codes = [code for code in form.get("village", []) if code]
                    await service.set_villages(desk.viewer.actor, officer_id, codes, now)
                else:
                    return _back("dash.off.error.other", "error")
            except OfficerError as error:
                return _refused(error)
        return _back("dash.report.saved")

    return router


# The service's refusals are English words for the CLI; the page names them by catalog key.
_REFUSALS = (
    ("username", "dash.off.error.username"),
    ("role", "dash.off.error.role"),
    ("an officer needs at least one", "dash.off.error.villages_needed"),
    ("unknown village", "dash.off.error.unknown_village"),
    ("no such officer", "dash.off.error.not_found"),
    ("you cannot deactivate your own", "dash.off.error.self"),
)


def _refused(error: OfficerError) -> Response:
    text = str(error)
    if text.endswith("already exists"):
        return _back("dash.off.error.taken", "error")
    key = next((key for start, key in _REFUSALS if text.startswith(start)), None)
    return _back(key or "dash.off.error.other", "error")


def _back(key: str, kind: Kind = "done") -> Response:
    url = error_url("/officers", key) if kind == "error" else notice_url("/officers", key)
    return RedirectResponse(url, status_code=303)
