"""Distribution schedules (jadwal penyaluran): officers write them, residents read them.

A schedule serves villages, each optionally narrowed to some RTs ("001,002"). Officers save
them from the dashboard or `/api/v1`; every change is audited. Residents see the upcoming
ones of their village, and the text of a broadcast is built from the same fields, in each
resident's language.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.i18n import Catalogs
from bot.services.audit import AuditTrail
from bot.services.registry_rows import PROGRAMMES
from bot.services.reports import NotAllowed, Viewer
from storage.models import DistributionSchedule, ScheduleVillage, Village

RT = re.compile(r"^\d{1,3}$")
MAX_RTS = 200  # the column's width: about fifty RTs
MAX_WINDOW = timedelta(days=14)
LIMITS = {"phase": 40, "place": 200, "bring": 300, "note": 2000}
EARLIEST_YEAR, LATEST_YEAR = 2000, 2100  # in UTC, as the API documents it


class ScheduleError(ValueError):
    """The field that is wrong (a catalog key suffix: `scr.schedule.bad_<field>`)."""


class ScheduleNotFound(LookupError):
    pass


@dataclass(frozen=True, slots=True)
class FollowUp:
    """What a schedule change did to the broadcasts built from it (their ids)."""

    # Not started yet: text rebuilt, reminder time recomputed; started: the messages still
    # waiting were rebuilt.
    updated: tuple[int, ...] = ()
    sent_now: tuple[int, ...] = ()  # reminders whose time had passed: they go out now
    dropped: tuple[int, ...] = ()  # reminders too late to make sense: cancelled
    # Started, and reached someone (or are being sent) with the old details.
    already_out: tuple[int, ...] = ()
    already_out_chats: tuple[int, ...] = ()  # per `already_out` id: how many chats it reached


class ScheduleFollower(Protocol):
    """Told when a schedule changes, in the same transaction (the broadcasts built from it)."""

    async def schedule_changed(
        self, schedule: DistributionSchedule, actor: str, now: datetime
    ) -> FollowUp: ...


@dataclass(frozen=True, slots=True)
class ScheduleInput:
    programme: str
    phase: str
    starts_at: datetime
    ends_at: datetime
    place: str
    villages: Mapping[str, str]  # village code → "" (every RT) or "001,002"
    bring: str = ""
    note: str = ""
    latitude: float | None = None
    longitude: float | None = None


@dataclass(frozen=True, slots=True)
class ScheduleView:
    schedule: DistributionSchedule
    villages: dict[str, str] = field(default_factory=dict)  # code → rts
    follow_up: FollowUp = field(default_factory=FollowUp)  # after a change

    @property
    def id(self) -> int:
        assert self.schedule.id is not None
        return self.schedule.id


def normalise_rts(text: str) -> str:
    """ "1, 02,003" → "001,002,003"; "" stays "" (every RT). RT numbers run from 1 to 999.
    Raises ScheduleError("rts")."""
    parts = [p.strip() for p in re.split(r"[,\s/;]+", text or "") if p.strip()]
    if any(not RT.match(p) or int(p) == 0 for p in parts):
        raise ScheduleError("rts")
    joined = ",".join(sorted({p.zfill(3) for p in parts}))
    if len(joined) > MAX_RTS:
        raise ScheduleError("rts")
    return joined


def serves_rt(rts: str, rt: str | None) -> bool:
    """'' serves every RT; '001,002' only those, compared as numbers ('1' is '001'). A
    resident whose RT is unknown is shown every schedule of the village."""
    if not rts.strip() or not rt:
        return True
    wanted = {part.strip().lstrip("0") for part in rts.split(",") if part.strip()}
    return rt.strip().lstrip("0") in wanted


def check_moment(moment: datetime, name: str) -> None:
    """An aware time between EARLIEST_YEAR and LATEST_YEAR in UTC, else ScheduleError(name)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ScheduleError(name)
    try:
        year = moment.astimezone(UTC).year
    except OverflowError:  # 0001-01-01 at +07:00 is before datetime's range in UTC
        raise ScheduleError(name) from None
    if not EARLIEST_YEAR <= year <= LATEST_YEAR:
        raise ScheduleError(name)


class ScheduleLike(Protocol):
    """A stored schedule or the status check's copy of one."""

    @property
    def programme(self) -> str: ...

    @property
    def phase(self) -> str: ...

    @property
    def starts_at(self) -> datetime: ...

    @property
    def ends_at(self) -> datetime: ...

    @property
    def place(self) -> str: ...

    @property
    def bring(self) -> str: ...

    @property
    def note(self) -> str: ...

    @property
    def latitude(self) -> float | None: ...

    @property
    def longitude(self) -> float | None: ...


def may_see(viewer: Viewer, villages: Iterable[str]) -> bool:
    """Admins and viewers see every schedule; an officer those serving one of theirs."""
    return viewer.role != "officer" or bool(viewer.villages.intersection(villages))


def check_may_write(viewer: Viewer, villages: Iterable[str]) -> None:
    """Viewers write nothing; an officer writes only for their own villages."""
    if viewer.role == "viewer":
        raise NotAllowed("viewers are read-only")
    if viewer.role == "officer" and not viewer.villages.issuperset(villages):
        raise NotAllowed("a village outside the officer's own")


class ScheduleService:
    def __init__(self, session: AsyncSession, follower: ScheduleFollower | None = None) -> None:
        self.session = session
        self.follower = follower

    async def save_as(
        self, viewer: Viewer, data: ScheduleInput, now: datetime, schedule_id: int | None = None
    ) -> ScheduleView:
        """`save` for an officer: within their villages, and only a schedule they can see."""
        check_may_write(viewer, data.villages)
        if schedule_id is not None:
            # A schedule shared with another officer's village is theirs to change too:
            # an officer may change only one that serves nothing but their own villages.
            check_may_write(viewer, (await self.get_for(viewer, schedule_id)).villages)
        return await self.save(data, viewer.actor, now, schedule_id)

    async def get_for(self, viewer: Viewer, schedule_id: int) -> ScheduleView:
        view = await self.get(schedule_id)
        if not may_see(viewer, view.villages):
            raise ScheduleNotFound(schedule_id)
        return view

    async def listing_for(
        self, viewer: Viewer, since: datetime, limit: int = 200
    ) -> list[ScheduleView]:
        villages = sorted(viewer.villages) if viewer.role == "officer" else None
        return await self.listing(since, limit, villages)

    async def save(
        self, data: ScheduleInput, actor: str, now: datetime, schedule_id: int | None = None
    ) -> ScheduleView:
        await self._check(data)
        if schedule_id is None:
            schedule = DistributionSchedule(
                slug=f"{data.programme.lower()}-{secrets.token_hex(4)}",
                programme=data.programme,
                phase="",
                starts_at=data.starts_at,
                ends_at=data.ends_at,
                place="",
            )
            action = "schedule.add"
        else:
            schedule = (await self.get(schedule_id)).schedule
            action = "schedule.edit"
        schedule.programme, schedule.phase = data.programme, data.phase.strip()
        schedule.starts_at, schedule.ends_at = data.starts_at, data.ends_at
        schedule.place, schedule.bring = data.place.strip(), data.bring.strip()
        schedule.note = data.note.strip()
        schedule.latitude, schedule.longitude = data.latitude, data.longitude
        self.session.add(schedule)
        await self.session.flush()
        assert schedule.id is not None
        await self.session.exec(
            delete(ScheduleVillage).where(col(ScheduleVillage.schedule_id) == schedule.id)
        )
        villages = {code: normalise_rts(rts) for code, rts in data.villages.items()}
        for code, rts in villages.items():
            self.session.add(ScheduleVillage(schedule_id=schedule.id, village_code=code, rts=rts))
        AuditTrail(self.session).record(
            actor, action, "ok", now, schedule=schedule.id, villages=sorted(villages)
        )
        await self.session.flush()
        follow_up = FollowUp()
        if schedule_id is not None and self.follower is not None:
            follow_up = await self.follower.schedule_changed(schedule, actor, now)
        return ScheduleView(schedule, villages, follow_up)

    async def _check(self, data: ScheduleInput) -> None:
        """One validation for the dashboard and the API (which checks the same first)."""
        if data.programme not in PROGRAMMES:
            raise ScheduleError("programme")
        if not data.phase.strip():
            raise ScheduleError("phase")
        if not data.place.strip():
            raise ScheduleError("place")
        for name, limit in LIMITS.items():
            text = getattr(data, name)
            if len(text) > limit or "\x00" in text:  # PostgreSQL text holds no NUL
                raise ScheduleError(name)
        check_moment(data.starts_at, "starts_at")
        check_moment(data.ends_at, "ends_at")
        if data.ends_at <= data.starts_at or data.ends_at - data.starts_at > MAX_WINDOW:
            raise ScheduleError("window")
        if (data.latitude is None) != (data.longitude is None):
            raise ScheduleError("location")
        if (
            data.latitude is not None
            and data.longitude is not None
            and not (-90 <= data.latitude <= 90 and -180 <= data.longitude <= 180)
        ):
            raise ScheduleError("location")
        if not data.villages:
            raise ScheduleError("villages")
        for code, rts in data.villages.items():
            if await self.session.get(Village, code) is None:
                raise ScheduleError("villages")
            normalise_rts(rts)

    async def get(self, schedule_id: int) -> ScheduleView:
        schedule = await self.session.get(DistributionSchedule, schedule_id)
        if schedule is None:
            raise ScheduleNotFound(schedule_id)
        rows = await self.session.exec(
            select(ScheduleVillage).where(ScheduleVillage.schedule_id == schedule_id)
        )
        return ScheduleView(schedule, {row.village_code: row.rts for row in rows.all()})

    async def listing(
        self, since: datetime, limit: int = 200, villages: Sequence[str] | None = None
    ) -> list[ScheduleView]:
        """Schedules that end after `since`, soonest first, with their villages; with
        `villages`, only those serving one of them."""
        statement = select(DistributionSchedule).where(col(DistributionSchedule.ends_at) >= since)
        if villages is not None:
            statement = statement.where(
                col(DistributionSchedule.id).in_(
                    select(ScheduleVillage.schedule_id).where(
                        col(ScheduleVillage.village_code).in_(list(villages))
                    )
                )
            )
        statement = statement.order_by(col(DistributionSchedule.starts_at)).limit(limit)
        return await self._with_villages((await self.session.exec(statement)).all())

    async def upcoming_for(
        self,
        village_code: str,
        now: datetime,
        programmes: Sequence[str] | None = None,
        rt: str | None = None,
    ) -> list[tuple[DistributionSchedule, str]]:
        """What a resident of this village (and RT, when known) can still go to, each with
        the RTs it serves in the village ("" for all)."""
        statement = (
            select(DistributionSchedule, ScheduleVillage)
            .join(ScheduleVillage, col(ScheduleVillage.schedule_id) == col(DistributionSchedule.id))
            .where(
                ScheduleVillage.village_code == village_code,
                col(DistributionSchedule.ends_at) >= now,
            )
            .order_by(col(DistributionSchedule.starts_at))
        )
        if programmes is not None:
            statement = statement.where(col(DistributionSchedule.programme).in_(list(programmes)))
        rows = (await self.session.exec(statement)).all()
        return [(schedule, place.rts) for schedule, place in rows if serves_rt(place.rts, rt)]

    async def _with_villages(self, schedules: Sequence[DistributionSchedule]) -> list[ScheduleView]:
        ids = [s.id for s in schedules if s.id is not None]
        villages: dict[int, dict[str, str]] = {i: {} for i in ids}
        if ids:
            rows = await self.session.exec(
                select(ScheduleVillage).where(col(ScheduleVillage.schedule_id).in_(ids))
            )
            for row in rows.all():
                villages[row.schedule_id][row.village_code] = row.rts
        return [ScheduleView(s, villages.get(s.id or 0, {})) for s in schedules]


def schedule_text(catalogs: Catalogs, locale: str, schedule: ScheduleLike, zone: ZoneInfo) -> str:
    """One schedule in plain words, for the journey and for a broadcast."""
    place = schedule.place
    if schedule.latitude is not None and schedule.longitude is not None:
        place = catalogs.t(
            locale,
            "schedule.place_with_map",
            {"place": place, "lat": f"{schedule.latitude:.5f}", "lon": f"{schedule.longitude:.5f}"},
        )
    text = catalogs.t(
        locale,
        "status.distribution_line",
        {
            "programme": catalogs.t(locale, f"programme.{schedule.programme}"),
            "phase": schedule.phase,
            "when": catalogs.when(locale, schedule.starts_at, zone),
            "until": catalogs.when(locale, schedule.ends_at, zone, "format.time"),
            "place": place,
            "bring": schedule.bring or catalogs.t(locale, "status.bring_default"),
        },
    )
    if schedule.note:
        text += "\n" + catalogs.t(locale, "schedule.note", {"note": schedule.note})
    return text
