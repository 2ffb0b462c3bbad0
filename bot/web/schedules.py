"""Dashboard: distribution schedules (jadwal penyaluran). Officers write the schedules of
their villages; admins all; viewers read. The scoping, the checks (the same as the API's)
and the audit are the service's; this module turns forms into `ScheduleInput` and refusals
into pages. Saving a change updates the broadcasts built from the schedule that have not
started yet and the messages still waiting of those that started, and the listing says
which (and which reached how many chats with the old details)."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.services.broadcasts import BroadcastService
from bot.services.registry_rows import PROGRAMMES
from bot.services.schedules import (
    FollowUp,
    ScheduleError,
    ScheduleInput,
    ScheduleNotFound,
    ScheduleService,
    ScheduleView,
)
from bot.services.villages import VillageDirectory
from bot.web.dashboard import Dashboard, Desk, form_value
from bot.web.notices import notice_url, read_notice
from bot.web.paths import ObjectId
from storage.types import utcnow

PAST_DAYS = 30
# FollowUp's fields, carried to the listing in its query
FOLLOW_UPS = ("updated", "sent_now", "dropped", "already_out", "already_out_chats")
_ID_LIST = re.compile(r"[0-9]{1,10}(,[0-9]{1,10}){0,29}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TIME = re.compile(r"[0-9]{2}:[0-9]{2}")


def parse_moment(day: str, clock: str, zone: ZoneInfo, name: str = "window") -> datetime:
    """A date (YYYY-MM-DD) and a time (HH:MM) typed in the office's zone, as an aware
    datetime; ScheduleError(name) for anything else."""
    if not _DATE.fullmatch(day) or not _TIME.fullmatch(clock):
        raise ScheduleError(name)
    try:
        return datetime.combine(date.fromisoformat(day), time.fromisoformat(clock), tzinfo=zone)
    except ValueError:
        raise ScheduleError(name) from None


def _raw(form: dict[str, list[str]], name: str) -> str:
    """A text field, trimmed, as typed: a NUL in it is for the service to refuse."""
    values = form.get(name) or [""]
    return values[0].strip()


def _float(text: str) -> float | None:
    text = text.strip().replace(",", ".")
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise ScheduleError("location") from None


def schedule_input(form: dict[str, list[str]], zone: ZoneInfo) -> ScheduleInput:
    """The form as the service's input. The end date may be left empty: the start's day."""
    day = form_value(form, "day")
    end_day = form_value(form, "end_day") or day
    return ScheduleInput(
        programme=form_value(form, "programme"),
        phase=_raw(form, "phase"),
        starts_at=parse_moment(day, form_value(form, "start"), zone, "starts_at"),
        ends_at=parse_moment(end_day, form_value(form, "end"), zone, "ends_at"),
        place=_raw(form, "place"),
        villages={
            code: form_value(form, f"rts_{code}") for code in form.get("village", []) if code
        },
        bring=_raw(form, "bring"),
        note=_raw(form, "note"),
        latitude=_float(form_value(form, "latitude")),
        longitude=_float(form_value(form, "longitude")),
    )


def schedules_router(dash: Dashboard) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    runtime = dash.runtime
    zone = runtime.settings.zone

    def service_for(session: AsyncSession) -> ScheduleService:
        """The schedules, and the broadcasts that follow a change of one."""
        follower = BroadcastService(session, runtime.settings, runtime.catalogs)
        return ScheduleService(session, follower)

    def not_found(request: Request, desk: Desk) -> Response:
        text = dash.translator(desk.locale)("scr.schedule.not_found")
        return dash.page(request, "dash_error.html", {"error": text}, desk.locale, 404)

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
        say = dash.translator(desk.locale)
        follow = {name: _numbers(request.query_params.get(name, "")) for name in FOLLOW_UPS}
        notes = [
            say(f"scr.schedule.follow.{name}", ids=", ".join(f"#{i}" for i in ids))
            for name, ids in follow.items()
            if ids and name not in ("already_out", "already_out_chats")
        ]
        out, chats = follow["already_out"], follow["already_out_chats"]
        went_out = ""  # also when the two lists do not pair up: not a query this page made
        if len(out) == len(chats):
            went_out = ", ".join(
                say("scr.schedule.follow.out_item", id=i, count=n)
                for i, n in zip(out, chats, strict=True)
            )
        context = {
            "desk": desk,
            "upcoming": [v for v in views if v.schedule.ends_at >= now],
            "past": [v for v in views if v.schedule.ends_at < now],
            "names": names,
            "now": now,
            "message": " ".join([read_notice(request.query_params, say), *notes]).strip(),
            "warning": say("scr.schedule.follow.already_out", ids=went_out) if went_out else "",
        }
        return dash.page(request, "dash_schedules.html", context, desk.locale)

    @router.get("/schedules/new", response_class=HTMLResponse)
    async def new(request: Request) -> Response:
        async with dash.work() as session:
            desk = await dash.desk(request, session, utcnow())
        return await editor(request, desk, None)

    @router.get("/schedules/{schedule_id}", response_class=HTMLResponse)
    async def edit(request: Request, schedule_id: ObjectId) -> Response:
        async with dash.work() as session:
            desk = await dash.desk(request, session, utcnow())
            try:
                view = await ScheduleService(session).get_for(desk.viewer, schedule_id)
            except ScheduleNotFound:
                return not_found(request, desk)
        return await editor(request, desk, view)

    @router.post("/schedules")
    async def create(request: Request) -> Response:
        return await _save(request, None)

    @router.post("/schedules/{schedule_id}")
    async def update(request: Request, schedule_id: ObjectId) -> Response:
        return await _save(request, schedule_id)

    async def _save(request: Request, schedule_id: int | None) -> Response:
        now = utcnow()
        async with dash.work() as session:
            desk, form = await dash.posted(request, session, now)
            service = service_for(session)
            try:
                view = await service.save_as(
                    desk.viewer, schedule_input(form, zone), now, schedule_id
                )
            except ScheduleNotFound:
                return not_found(request, desk)
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
        target = notice_url("/schedules", "scr.schedule.saved", id=view.id)
        follow = _follow_query(view.follow_up)
        return RedirectResponse(target + (f"&{follow}" if follow else ""), status_code=303)

    return router


def _follow_query(follow_up: FollowUp) -> str:
    """The broadcast ids a change touched, for the listing to name (numbers only)."""
    lists = {name: getattr(follow_up, name) for name in FOLLOW_UPS}
    return urlencode({name: ",".join(map(str, ids)) for name, ids in lists.items() if ids})


def _numbers(text: str) -> list[str]:
    """ "3,4" → ["3", "4"]; [] for anything that is not a short list of numbers."""
    return text.split(",") if _ID_LIST.fullmatch(text) else []


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
        "end_day": end.date().isoformat(),
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
            "programme", "phase", "day", "start", "end_day", "end", "place",
            "latitude", "longitude", "bring", "note",
        )
    }  # fmt: skip
    values["villages"] = {
        code: form_value(form, f"rts_{code}") for code in form.get("village", []) if code
    }
    return values
