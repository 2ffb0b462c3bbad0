"""Dashboard: the office's settings, for admins.

The villages of the kecamatan are data: an admin adds one or corrects its name here
(audited). Everything else is the environment (`.env`), read once at start: this screen
shows what the running instance uses, with secrets shown only as "set" or "not set", so an
admin can check a deployment without a shell.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.services.villages import VillageDirectory, VillageError
from bot.settings import DEFAULT_SECRET_KEY, Settings
from bot.web.dashboard import Dashboard, form_value, require_admin
from bot.web.notices import Kind, error_url, notice_url, read_notice
from storage.types import utcnow


def configuration(settings: Settings) -> Iterator[tuple[str, str, bool]]:
    """(ENV_NAME, value as shown, is a secret) for every setting, in declaration order. A
    secret's value is only its state: "set", "unset" or "default" (the refused dev key)."""
    for name, field in type(settings).model_fields.items():
        value = getattr(settings, name)
        env = name.upper()
        if "SecretStr" in str(field.annotation):
            if value is None:
                yield env, "unset", True
            elif name == "secret_key" and value.get_secret_value() == DEFAULT_SECRET_KEY:
                yield env, "default", True
            else:
                yield env, "set", True
        elif name == "database_url":
            try:
                shown = make_url(value).render_as_string(hide_password=True)
            except ArgumentError:
                shown = "?"
            yield env, shown, False
        elif isinstance(value, dict | list):
            yield env, json.dumps(value, default=str, ensure_ascii=False), False
        else:
            yield env, "" if value is None else str(value), False


def office_settings_router(dash: Dashboard) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    runtime = dash.runtime

    @router.get("/settings", response_class=HTMLResponse)
    async def show(request: Request) -> Response:
        async with dash.work() as session:
            desk = await dash.desk(request, session, utcnow())
            require_admin(desk)
            villages = await VillageDirectory(session).all()
            t = dash.translator(desk.locale)
            context = {
                "desk": desk,
                "villages": villages,
                "from_env": set(runtime.settings.villages),
                "config": list(configuration(runtime.settings)),
                "message": read_notice(request.query_params, t),
                "error": read_notice(request.query_params, t, "error"),
            }
            return dash.page(request, "dash_settings.html", context, desk.locale)

    @router.post("/settings/villages")
    async def save_village(request: Request) -> Response:
        now = utcnow()
        async with dash.work() as session:
            desk, form = await dash.posted(request, session, now)
            require_admin(desk)
            try:
                await VillageDirectory(session).save(
                    form_value(form, "code"),
                    form_value(form, "name"),
                    runtime.settings.kecamatan_name,
                    desk.viewer.actor,
                    now,
                )
            except VillageError as error:
                return _back(f"scr.settings.bad_{error}", "error")
        return _back("dash.report.saved")

    return router


def _back(key: str, kind: Kind = "done") -> Response:
    url = error_url("/settings", key) if kind == "error" else notice_url("/settings", key)
    return RedirectResponse(url, status_code=303)
