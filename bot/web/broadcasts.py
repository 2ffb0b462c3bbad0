"""Dashboard: broadcasts. Compose from a schedule or as free text, preview the audience per
channel and language, send now or later (with the day-before reminder), then watch the
progress and pause, resume or cancel. Scoping, audit and the sending are the services'."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from bot.services.broadcasts import (
    CHANNELS,
    MESSAGE_KEY,
    Audience,
    BroadcastDraft,
    BroadcastError,
    BroadcastNotFound,
    BroadcastService,
    BroadcastStateError,
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
from bot.web.schedules import parse_moment
from storage.types import utcnow

REFRESH_SECONDS = 10


def broadcasts_router(dash: Dashboard) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    runtime = dash.runtime
    zone = runtime.settings.zone

    def service_for(session: Any) -> BroadcastService:
        return BroadcastService(session, runtime.settings, runtime.catalogs)

    async def composer(
        request: Request,
        desk: Desk,
        form: dict[str, list[str]] | None = None,
        preview: dict[str, Any] | None = None,
        error: str = "",
        status_code: int = 200,
    ) -> Response:
        now = utcnow()
        async with dash.work() as session:
            villages = await VillageDirectory(session).all()
            schedules = await ScheduleService(session).listing_for(desk.viewer, now)
            broadcasts = await service_for(session).listing_for(desk.viewer)
        if desk.viewer.role == "officer":
            villages = [v for v in villages if v.code in desk.viewer.villages]
        context = {
            "desk": desk,
            "villages": villages,
            "schedules": schedules,
            "broadcasts": broadcasts,
            "programmes": PROGRAMMES,
            "channels": CHANNELS,
            "locales": runtime.catalogs.locales,
            "form": form or {},
            "preview": preview,
            "error": error,
        }
        return dash.page(request, "dash_broadcasts.html", context, desk.locale, status_code)

    @router.get("/broadcasts", response_class=HTMLResponse)
    async def listing(request: Request) -> Response:
        async with dash.work() as session:
            desk = await dash.desk(request, session, utcnow())
        return await composer(request, desk)

    @router.post("/broadcasts", response_class=HTMLResponse)
    async def compose(request: Request) -> Response:
        now = utcnow()
        async with dash.work() as session:
            desk, form = await dash.posted(request, session, now)
            say = dash.translator(desk.locale)
            service = service_for(session)
            try:
                draft = _draft(form, now, zone)
                if form_value(form, "action") == "preview":
                    preview = await _preview(service, desk.viewer, draft)
                    made = []
                else:
                    made = await service.compose_as(desk.viewer, draft, now)
            except (BroadcastError, ScheduleError) as error:
                failed = say(f"scr.broadcast.bad_{error}")
            except ScheduleNotFound:
                failed = say("scr.broadcast.bad_schedule")
            else:
                failed = ""
        if failed:
            return await composer(request, desk, form, None, failed, 422)
        if not made:
            return await composer(request, desk, form, preview)
        return RedirectResponse(f"/broadcasts/{made[0].id}", status_code=303)

    @router.get("/broadcasts/{broadcast_id}", response_class=HTMLResponse)
    async def progress(request: Request, broadcast_id: int) -> Response:
        now = utcnow()
        async with dash.work() as session:
            desk = await dash.desk(request, session, now)
            service = service_for(session)
            try:
                await service.get_for(desk.viewer, broadcast_id)
            except BroadcastNotFound:
                return dash.not_found(request, desk)
            shown = await service.progress(broadcast_id, now)
            names = {v.code: v.name for v in await VillageDirectory(session).all()}
        context = {
            "desk": desk,
            "progress": shown,
            "broadcast": shown.broadcast,
            "names": names,
            "refresh": REFRESH_SECONDS if shown.broadcast.status == "sending" else None,
            "message": request.query_params.get("done", ""),
        }
        return dash.page(request, "dash_broadcast.html", context, desk.locale)

    @router.post("/broadcasts/{broadcast_id}/{action}")
    async def act(request: Request, broadcast_id: int, action: str) -> Response:
        now = utcnow()
        async with dash.work() as session:
            desk, _ = await dash.posted(request, session, now)
            try:
                await service_for(session).act_as(desk.viewer, broadcast_id, action, now)
            except BroadcastNotFound:
                return dash.not_found(request, desk)
            except BroadcastStateError as error:
                text = dash.translator(desk.locale)("scr.broadcast.bad_state", state=str(error))
                return dash.page(request, "dash_error.html", {"error": text}, desk.locale, 409)
        return RedirectResponse(f"/broadcasts/{broadcast_id}", status_code=303)

    return router


def _draft(form: dict[str, list[str]], now: datetime, zone: Any) -> BroadcastDraft:
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
    schedule = form_value(form, "schedule")
    if form_value(form, "source") == "schedule":
        if not schedule.isdigit():
            raise BroadcastError("schedule")
        return BroadcastDraft(
            audience, send_at, schedule_id=int(schedule), reminder="reminder" in form
        )
    texts = {key.removeprefix("text_"): values[0] for key, values in form.items()
             if key.startswith("text_") and values}  # fmt: skip
    return BroadcastDraft(audience, send_at, texts)


async def _preview(
    service: BroadcastService, viewer: Viewer, draft: BroadcastDraft
) -> dict[str, Any]:
    """The counts per channel and language, and the text each language will read."""
    check_may_write(viewer, draft.audience.villages)
    counts = await service.preview(draft.audience)
    if draft.schedule_id is not None:
        view = await ScheduleService(service.session).get_for(viewer, draft.schedule_id)
        schedule = view.schedule
        texts = service.texts_for_schedule(schedule, "broadcast.schedule")
    else:
        texts = {k: v for k, v in draft.texts.items() if v.strip()}
    shown = {
        locale: service.catalogs.t(locale, MESSAGE_KEY, {"body": text})
        for locale, text in texts.items()
    }
    return {"counts": counts, "total": sum(counts.values()), "texts": shown}
