"""Dashboard: broadcasts. Compose from a schedule or as free text, preview the audience per
channel and language, send now or later (with the day-before reminder), then watch the
progress and pause, resume or cancel. Scoping, audit and the sending are the services'.

Each composer form carries a one-time token, so sending the same form twice (a double click,
the back button, two tabs of one page) makes one broadcast. A form built from a schedule
starts with the schedule's villages and programme; an audience beyond them is sent only when
the officer ticks that they mean it."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from bot.services.broadcasts import (
    ACTIONS,
    CHANNELS,
    MESSAGE_KEY,
    Audience,
    BroadcastDraft,
    BroadcastError,
    BroadcastNotFound,
    BroadcastRepeated,
    BroadcastService,
    BroadcastStateError,
    UnknownAction,
)
from bot.services.registry_rows import PROGRAMMES
from bot.services.reports import Viewer
from bot.services.schedules import (
    ScheduleError,
    ScheduleNotFound,
    ScheduleService,
    check_may_write,
)
from bot.services.villages import VillageDirectory
from bot.web.dashboard import Dashboard, Desk, form_value
from bot.web.paths import ObjectId, form_id
from bot.web.schedules import parse_moment
from storage.types import utcnow

REFRESH_SECONDS = 10


def broadcasts_router(dash: Dashboard) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    runtime = dash.runtime
    zone = runtime.settings.zone

    def service_for(session: Any) -> BroadcastService:
        return BroadcastService(session, runtime.settings, runtime.catalogs)

    def not_found(request: Request, desk: Desk, key: str) -> Response:
        text = dash.translator(desk.locale)(key)
        return dash.page(request, "dash_error.html", {"error": text}, desk.locale, 404)

    async def composer(
        request: Request,
        desk: Desk,
        form: dict[str, list[str]] | None = None,
        preview: dict[str, Any] | None = None,
        error: str = "",
        status_code: int = 200,
        beyond: bool = False,
    ) -> Response:
        now = utcnow()
        async with dash.work() as session:
            villages = await VillageDirectory(session).all()
            schedules = await ScheduleService(session).listing_for(desk.viewer, now)
            broadcasts = await service_for(session).listing_for(desk.viewer)
        if desk.viewer.role == "officer":
            villages = [v for v in villages if v.code in desk.viewer.villages]
        form = dict(form or {})
        if not form_value(form, "form_token"):
            form["form_token"] = [secrets.token_urlsafe(24)]
        context = {
            "desk": desk,
            "villages": villages,
            "schedules": schedules,
            "broadcasts": broadcasts,
            "programmes": PROGRAMMES,
            "channels": CHANNELS,
            "locales": runtime.catalogs.locales,
            "form": form,
            "preview": preview,
            "error": error,
            "beyond": beyond,
        }
        return dash.page(request, "dash_broadcasts.html", context, desk.locale, status_code)

    @router.get("/broadcasts", response_class=HTMLResponse)
    async def listing(request: Request) -> Response:
        """The composer; `?schedule=ID` starts it from that schedule and its audience."""
        async with dash.work() as session:
            desk = await dash.desk(request, session, utcnow())
            form: dict[str, list[str]] = {}
            chosen = form_id(request.query_params.get("schedule", ""))
            if chosen is not None:
                try:
                    view = await ScheduleService(session).get_for(desk.viewer, chosen)
                except ScheduleNotFound:
                    pass
                else:
                    form = {
                        "source": ["schedule"],
                        "schedule": [str(view.id)],
                        "village": list(view.villages),
                        "programme": [view.schedule.programme],
                    }
        return await composer(request, desk, form)

    @router.post("/broadcasts", response_class=HTMLResponse)
    async def compose(request: Request) -> Response:
        now = utcnow()
        beyond = False
        async with dash.work() as session:
            desk, form = await dash.posted(request, session, now)
            say = dash.translator(desk.locale)
            service = service_for(session)
            try:
                draft = _draft(form, now, zone, runtime.catalogs.locales)
                if form_value(form, "action") == "preview":
                    preview = await _preview(service, desk.viewer, draft, now)
                    made = []
                else:
                    made = await service.compose_as(desk.viewer, draft, now)
            except BroadcastRepeated as repeated:
                target = f"/broadcasts/{repeated.broadcast_id}?repeated=1"
                return RedirectResponse(target, status_code=303)
            except (BroadcastError, ScheduleError) as error:
                failed = say(f"scr.broadcast.bad_{error}")
                beyond = str(error) == "beyond_schedule"
            except ScheduleNotFound:
                failed = say("scr.broadcast.bad_schedule")
            else:
                failed = ""
        if failed:
            return await composer(request, desk, form, None, failed, 422, beyond)
        if not made:
            return await composer(request, desk, form, preview, beyond=preview["beyond"])
        return RedirectResponse(f"/broadcasts/{made[0].id}", status_code=303)

    @router.get("/broadcasts/{broadcast_id}", response_class=HTMLResponse)
    async def progress(request: Request, broadcast_id: ObjectId) -> Response:
        now = utcnow()
        async with dash.work() as session:
            desk = await dash.desk(request, session, now)
            service = service_for(session)
            try:
                await service.get_for(desk.viewer, broadcast_id)
            except BroadcastNotFound:
                return not_found(request, desk, "scr.broadcast.not_found")
            shown = await service.progress(broadcast_id, now)
            names = {v.code: v.name for v in await VillageDirectory(session).all()}
        say = dash.translator(desk.locale)
        repeated = request.query_params.get("repeated") == "1"
        context = {
            "desk": desk,
            "progress": shown,
            "broadcast": shown.broadcast,
            "names": names,
            "refresh": REFRESH_SECONDS if shown.broadcast.status == "sending" else None,
            "message": say("scr.broadcast.repeated") if repeated else "",
            "cancellable": shown.broadcast.status in ("scheduled", "sending", "paused")
            or (shown.broadcast.status == "done" and shown.counts["pending"] > 0),
        }
        return dash.page(request, "dash_broadcast.html", context, desk.locale)

    @router.post("/broadcasts/{broadcast_id}/{action}")
    async def act(request: Request, broadcast_id: ObjectId, action: str) -> Response:
        now = utcnow()
        async with dash.work() as session:
            desk, _ = await dash.posted(request, session, now)
            if action not in ACTIONS:
                return not_found(request, desk, "dash.error.page_not_found")
            try:
                await service_for(session).act_as(desk.viewer, broadcast_id, action, now)
            except BroadcastNotFound:
                return not_found(request, desk, "scr.broadcast.not_found")
            except UnknownAction:
                return not_found(request, desk, "dash.error.page_not_found")
            except BroadcastStateError as error:
                say = dash.translator(desk.locale)
                text = say("scr.broadcast.bad_state", state=say(f"scr.broadcast.state.{error}"))
                return dash.page(request, "dash_error.html", {"error": text}, desk.locale, 409)
        return RedirectResponse(f"/broadcasts/{broadcast_id}", status_code=303)

    return router


def _draft(
    form: dict[str, list[str]], now: datetime, zone: Any, locales: tuple[str, ...]
) -> BroadcastDraft:
    audience = Audience(
        tuple(v for v in form.get("village", []) if v),
        tuple(p for p in form.get("programme", []) if p),
        tuple(c for c in form.get("channel", []) if c),
    )
    send_at = now
    if form_value(form, "when") == "later":
        try:
            send_at = parse_moment(
                form_value(form, "send_day"), form_value(form, "send_time"), zone
            )
        except ScheduleError:
            raise BroadcastError("send_at") from None
    token = form_value(form, "form_token")
    if form_value(form, "source") == "schedule":
        schedule = form_id(form_value(form, "schedule"))
        if schedule is None:
            raise BroadcastError("schedule")
        return BroadcastDraft(
            audience,
            send_at,
            schedule_id=schedule,
            reminder="reminder" in form,
            form_token=token,
            beyond_schedule_ok="beyond_ok" in form,
        )
    # Only the languages the form offers: a field for any other is not the officer's text.
    texts = {locale: form_value(form, f"text_{locale}") for locale in locales}
    return BroadcastDraft(audience, send_at, texts, form_token=token)


async def _preview(
    service: BroadcastService, viewer: Viewer, draft: BroadcastDraft, now: datetime
) -> dict[str, Any]:
    """The counts per channel and language, the text each language will read, and whether
    the audience goes beyond the schedule; refused like sending would be."""
    check_may_write(viewer, draft.audience.villages)
    await service.check_draft(draft, now)
    counts = await service.preview(draft.audience)
    beyond = False
    if draft.schedule_id is not None:
        view = await ScheduleService(service.session).get_for(viewer, draft.schedule_id)
        texts = service.texts_for_schedule(view.schedule, "broadcast.schedule")
        beyond = service.beyond_schedule(draft.audience, view)
    else:
        texts = {k: v for k, v in draft.texts.items() if v.strip()}
    shown = {
        locale: service.catalogs.t(locale, MESSAGE_KEY, {"body": text})
        for locale, text in texts.items()
    }
    return {"counts": counts, "total": sum(counts.values()), "texts": shown, "beyond": beyond}
