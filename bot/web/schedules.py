"""Dashboard: distribution schedules (jadwal penyaluran). Officers write the schedules of
their villages; admins all; viewers read. The scoping and the audit are the service's;
this module turns forms into `ScheduleInput` and refusals into pages."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from bot.services.registry_rows import PROGRAMMES
from bot.services.schedules import (
    ScheduleError,
    ScheduleInput,
    ScheduleNotFound,
    ScheduleService,
    ScheduleView,
)
from bot.services.villages import VillageDirectory
from bot.web.dashboard import Dashboard, Desk, form_value
from storage.types import utcnow

PAST_DAYS = 30


def parse_moment(day: str, clock: str, zone: ZoneInfo) -> datetime:
    """A date and a time typed in the office's zone, as an aware datetime."""
    try:
        return datetime.combine(date.fromisoformat(day), time.fromisoformat(clock), tzinfo=zone)
    except ValueError:
        raise ScheduleError("window") from None


def _float(text: str) -> float | None:
    text = text.strip().replace(",", ".")
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise ScheduleError("location") from None


def schedule_input(form: dict[str, list[str]], zone: ZoneInfo) -> ScheduleInput:
    day = form_value(form, "day")
    return ScheduleInput(
        programme=form_value(form, "programme"),
        phase=form_value(form, "phase"),
        starts_at=parse_moment(day, form_value(form, "start"), zone),
        ends_at=parse_moment(day, form_value(form, "end"), zone),
        place=form_value(form, "place"),
        villages={
            code: form_value(form, f"rts_{code}") for code in form.get("village", []) if code
        },
        bring=form_value(form, "bring"),
        note=form_value(form, "note"),
        latitude=_float(form_value(form, "latitude")),
        longitude=_float(form_value(form, "longitude")),
    )


def schedules_router(dash: Dashboard) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    zone = dash.runtime.settings.zone

    async def editor(
        request: Request,
        desk: Desk,
        view: ScheduleView | None,
        error: str = "",
        form: dict[str, list[str]] | None = None,
        status_code: int = 200,
    ) -> Response:
        async with dash.work() as session:
            villages = await VillageDirectory(session).all()
        if desk.viewer.role == "officer":
            villages = [v for v in villages if v.code in desk.viewer.villages]
        values = _form_values(view, zone) if form is None else _typed(form)
        context = {
            "desk": desk,
            "view": view,
            "villages": villages,
            "programmes": PROGRAMMES,
            "values": values,
            "error": error,
        }
        return dash.page(request, "dash_schedule_edit.html", context, desk.locale, status_code)

    @router.get("/schedules", response_class=HTMLResponse)
    async def listing(request: Request) -> Response:
        now = utcnow()
        async with dash.work() as session:
            desk = await dash.desk(request, session, now)
            views = await ScheduleService(session).listing_for(
                desk.viewer, now - timedelta(days=PAST_DAYS)
            )
            names = {v.code: v.name for v in await VillageDirectory(session).all()}
        context = {
            "desk": desk,
            "upcoming": [v for v in views if v.schedule.ends_at >= now],
            "past": [v for v in views if v.schedule.ends_at < now],
            "names": names,
            "message": request.query_params.get("done", ""),
        }
        return dash.page(request, "dash_schedules.html", context, desk.locale)

    @router.get("/schedules/new", response_class=HTMLResponse)
    async def new(request: Request) -> Response:
        async with dash.work() as session:
            desk = await dash.desk(request, session, utcnow())
        return await editor(request, desk, None)

    @router.get("/schedules/{schedule_id}", response_class=HTMLResponse)
    async def edit(request: Request, schedule_id: int) -> Response:
        async with dash.work() as session:
            desk = await dash.desk(request, session, utcnow())
            try:
                view = await ScheduleService(session).get_for(desk.viewer, schedule_id)
            except ScheduleNotFound:
                return dash.not_found(request, desk)
        return await editor(request, desk, view)

    @router.post("/schedules")
    async def create(request: Request) -> Response:
        return await _save(request, None)

    @router.post("/schedules/{schedule_id}")
    async def update(request: Request, schedule_id: int) -> Response:
        return await _save(request, schedule_id)

    async def _save(request: Request, schedule_id: int | None) -> Response:
        now = utcnow()
        async with dash.work() as session:
            desk, form = await dash.posted(request, session, now)
            service = ScheduleService(session)
            try:
                view = await service.save_as(
                    desk.viewer, schedule_input(form, zone), now, schedule_id
                )
            except ScheduleNotFound:
                return dash.not_found(request, desk)
            except ScheduleError as error:
                failed: ScheduleError | None = error
            else:
                failed = None
        if failed is not None:
            say = dash.translator(desk.locale)
            current = None
            if schedule_id is not None:
                async with dash.work() as session:
                    current = await ScheduleService(session).get_for(desk.viewer, schedule_id)
            text = say(f"scr.schedule.bad_{failed}")
            return await editor(request, desk, current, text, form, 422)
        done = dash.translator(desk.locale)("scr.schedule.saved", id=view.id)
        return RedirectResponse("/schedules?" + urlencode({"done": done}), status_code=303)

    return router


def _form_values(view: ScheduleView | None, zone: ZoneInfo) -> dict[str, object]:
    if view is None:
        return {"villages": {}, "programme": "PKH"}
    s = view.schedule
    start, end = s.starts_at.astimezone(zone), s.ends_at.astimezone(zone)
    return {
        "programme": s.programme,
        "phase": s.phase,
        "day": start.date().isoformat(),
        "start": start.strftime("%H:%M"),
        "end": end.strftime("%H:%M"),
        "place": s.place,
        "latitude": "" if s.latitude is None else f"{s.latitude:.6f}",
        "longitude": "" if s.longitude is None else f"{s.longitude:.6f}",
        "bring": s.bring,
        "note": s.note,
        "villages": dict(view.villages),
    }


def _typed(form: dict[str, list[str]]) -> dict[str, object]:
    """What the officer typed, to show the form again after a refusal."""
    values: dict[str, object] = {
        name: form_value(form, name)
        for name in (
            "programme", "phase", "day", "start", "end", "place",
            "latitude", "longitude", "bring", "note",
        )
    }  # fmt: skip
    values["villages"] = {
        code: form_value(form, f"rts_{code}") for code in form.get("village", []) if code
    }
    return values
