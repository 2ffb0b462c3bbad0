"""Dashboard page for looking people up in the aid register, by NIK or by name.

A NIK travels only in a POST body (with the CSRF token), never in a URL, and is never
written back into the page: results show it masked. The search and its audit live in
`RegistrySearch`; this module only turns answers and refusals into the page.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.services.nik import InvalidNik, NikProblem
from bot.services.registry_search import (
    NAME_MIN_LETTERS,
    NameTooShort,
    RegistryClosed,
    RegistrySearch,
    RegistrySearchError,
)
from bot.web.dashboard import Dashboard
from storage.types import utcnow

MAX_TYPED = 200
NIK_PROBLEMS = {
    NikProblem.NO_DIGITS: "scr.registry.nik.no_digits",
    NikProblem.SEVERAL_NUMBERS: "scr.registry.nik.several",
    NikProblem.LOOKALIKE_LETTERS: "scr.registry.nik.letters",
    NikProblem.LENGTH: "scr.registry.nik.length",
    NikProblem.BIRTH_DATE: "scr.registry.nik.birth_date",
    NikProblem.REGION: "scr.registry.nik.region",
}


def registry_router(dash: Dashboard) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    runtime = dash.runtime

    @asynccontextmanager
    async def work() -> AsyncIterator[AsyncSession]:
        """`dash.work()`, committing the audit row of a refused search before the refusal."""
        refused: Exception | None = None
        async with dash.work() as session:
            try:
                yield session
            except (RegistrySearchError, InvalidNik) as error:
                refused = error
        if refused is not None:
            raise refused

    def closed(request: Request) -> Response:
        locale = dash.locale(request)
        text = dash.translator(locale)("scr.registry.viewer_refused")
        return dash.page(request, "dash_error.html", {"error": text}, locale, 403)

    @router.get("/registry", response_class=HTMLResponse)
    async def registry_page(request: Request) -> Response:
        now = utcnow()
        try:
            async with work() as session:
                desk = await dash.desk(request, session, now)
                search = RegistrySearch(session, runtime.vault)
                search.refuse_viewers(desk.viewer, now)
                villages = await search.villages(desk.viewer)
        except RegistryClosed:
            return closed(request)
        context = {"desk": desk, "villages": villages, "searched": None}
        return dash.page(request, "dash_registry.html", context, desk.locale)

    @router.post("/registry/search", response_class=HTMLResponse)
    async def registry_search(request: Request) -> Response:
        now = utcnow()
        context: dict[str, Any] = {"searched": None, "results": [], "error": ""}
        status = 200
        try:
            async with work() as session:
                desk, form = await dash.posted(request, session, now)
                search = RegistrySearch(session, runtime.vault)
                t = dash.translator(desk.locale)
                by = (form.get("by") or [""])[0]
                typed = (form.get("q") or [""])[0].strip()[:MAX_TYPED]
                village = (form.get("village") or [""])[0].strip()
                context["villages"] = await search.villages(desk.viewer)
                if by == "name":
                    context.update(searched="name", name=typed, village=village)
                    allowed = {v.code for v in context["villages"]}
                    try:
                        context["results"] = await search.by_name(
                            desk.viewer, typed, now, village if village in allowed else None
                        )
                    except NameTooShort:
                        context["error"] = t("scr.registry.name_too_short", count=NAME_MIN_LETTERS)
                        status = 422
                else:
                    # Whatever was typed is not echoed back: it may be a whole NIK.
                    context["searched"] = "nik"
                    try:
                        context["results"] = await search.by_nik(desk.viewer, typed, now)
                    except InvalidNik as invalid:
                        context["error"] = t(NIK_PROBLEMS[invalid.problem], count=invalid.digits)
                        status = 422
        except RegistryClosed:
            return closed(request)
        context["desk"] = desk
        return dash.page(request, "dash_registry.html", context, desk.locale, status)

    return router
