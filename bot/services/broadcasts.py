"""Broadcasts: the office tells every subscriber of some villages and programmes.

An officer composes one (free text per language, or built from a schedule), previews the
audience per channel and language, and sends it now or at a set time, optionally with a
reminder the day before the distribution. When it starts, its recipients become outbox
rows in a few set-based statements, unique on (broadcast, chat): nobody gets it twice, and
a restart adds only who is missing. The channel senders then deliver them within the
platform's limits, after conversation replies, and skip any chat that said STOP since.

Pause leaves the rows waiting; cancel skips the ones not sent yet. A form is sent once: its
one-time token becomes the broadcast's unique key. When a schedule changes, the broadcasts
built from it that have not started get its new details (and their reminder a new time);
of those that started, every message still waiting (a web chat row waits for its visitor)
gets them too, and the officer is told how many went out with the old ones.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import JSON, exists, func, literal, update
from sqlalchemy import select as core_select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.expression import case
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.i18n import Catalogs
from bot.services.audit import AuditTrail
from bot.services.registry_rows import PROGRAMMES
from bot.services.reports import Viewer
from bot.services.schedules import (
    FollowUp,
    ScheduleLike,
    ScheduleService,
    ScheduleView,
    check_may_write,
    may_see,
    schedule_text,
)
from bot.settings import Settings
from storage.models import (
    Broadcast,
    ChannelIdentity,
    DistributionSchedule,
    MessageLog,
    Outbox,
    Resident,
    Subscription,
    Village,
)

CHANNELS = ("telegram", "whatsapp", "webchat")
# The web chat fetches its messages while its page is open: a row of it waits for the
# visitor to come back, not for a sender, so it does not keep a broadcast open.
FETCHED_CHANNELS = ("webchat",)
MESSAGE_KEY = "broadcast.message"
MAX_TEXT = 1500
REMINDER_HOUR = 7  # local time, the day before a distribution
ACTIVE = ("scheduled", "sending", "paused")
STATES = ("pending", "sending", "sent", "delivered", "read", "failed", "skipped")
# A row in these has reached its chat, or is on its way there: its text stays as it went.
GONE = ("sending", "sent", "delivered", "read")
ACTIONS = ("pause", "resume", "cancel")
# The message each kind built from a schedule wraps the schedule's text in ("check" is the
# "sudah terima?" question, see distribution_checks).
SCHEDULE_KEYS = {
    "schedule": "broadcast.schedule",
    "reminder": "broadcast.reminder",
    "check": "check.question",
}
RATE_WINDOW = timedelta(seconds=60)  # the ETA's rate: over this, or since the start if shorter
FORM_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,43}$")
REPEAT_WINDOW = timedelta(minutes=10)  # an identical broadcast composed within it is a repeat


class BroadcastError(ValueError):
    """The field that is wrong (catalog key suffix `bc.bad_<field>`)."""


class BroadcastNotFound(LookupError):
    pass


class BroadcastStateError(ValueError):
    """The action does not fit the broadcast's state (a paused one cannot be paused)."""


class UnknownAction(LookupError):
    """Not one of ACTIONS."""


class BroadcastRepeated(ValueError):
    """This form (or the same broadcast, just now) was sent already: the existing one's id."""

    def __init__(self, broadcast_id: int) -> None:
        super().__init__(broadcast_id)
        self.broadcast_id = broadcast_id


@dataclass(frozen=True, slots=True)
class Audience:
    villages: tuple[str, ...]
    programmes: tuple[str, ...]
    channels: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class BroadcastDraft:
    audience: Audience
    send_at: datetime
    texts: dict[str, str] = field(default_factory=dict)  # locale → text (free text)
    schedule_id: int | None = None
    reminder: bool = False
    form_token: str = ""  # one per composer form: the same form is sent once
    beyond_schedule_ok: bool = False  # the officer confirmed an audience the schedule lacks


@dataclass(frozen=True, slots=True)
class Progress:
    broadcast: Broadcast
    counts: dict[str, int]
    eta_seconds: float | None
    to_fetch: int = 0  # web chat rows waiting for their visitor to open the chat again

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def remaining(self) -> int:
        return self.counts.get("pending", 0) + self.counts.get("sending", 0)

    @property
    def done(self) -> int:
        return self.total - self.remaining


def distribution_days(
    catalogs: Catalogs, locale: str, schedule: ScheduleLike, zone: ZoneInfo
) -> str:
    """The day a distribution was held ("Rabu, 16 Desember 2026"), or its first and last
    day when it spans several, in the office's zone. A window ending at midnight ends on
    the day before."""
    first = schedule.starts_at.astimezone(zone)
    last = (schedule.ends_at - timedelta(microseconds=1)).astimezone(zone)
    if last.date() <= first.date():
        return catalogs.when(locale, first, zone, "format.long_date")
    first_key = "format.long_day" if first.year == last.year else "format.long_date"
    return catalogs.t(
        locale,
        "check.days",
        {
            "first": catalogs.when(locale, first, zone, first_key),
            "last": catalogs.when(locale, last, zone, "format.long_date"),
        },
    )


class BroadcastService:
    def __init__(self, session: AsyncSession, settings: Settings, catalogs: Catalogs) -> None:
        self.session = session
        self.settings = settings
        self.catalogs = catalogs

    # -- as an officer (dashboard and API) -------------------------------------------------

    async def compose_as(
        self, viewer: Viewer, draft: BroadcastDraft, now: datetime
    ) -> list[Broadcast]:
        """`compose` within the officer's villages, from a schedule they can see."""
        check_may_write(viewer, draft.audience.villages)
        if draft.schedule_id is not None:
            await ScheduleService(self.session).get_for(viewer, draft.schedule_id)
        if not FORM_TOKEN.fullmatch(draft.form_token):
            repeated = await self._repeat_of(draft, viewer.officer_id, now)
            if repeated is not None:
                raise BroadcastRepeated(repeated)
        return await self.compose(draft, viewer.officer_id, viewer.actor, now)

    async def _repeat_of(
        self, draft: BroadcastDraft, officer_id: int | None, now: datetime
    ) -> int | None:
        """An identical broadcast (source, text, audience, sender) composed just now."""
        candidates = await self.session.exec(
            select(Broadcast).where(
                col(Broadcast.created_at) >= now - REPEAT_WINDOW,
                col(Broadcast.kind).in_(["free", "schedule"]),
                col(Broadcast.status) != "cancelled",
            )
        )
        texts = self._free_texts(draft) if draft.schedule_id is None else None
        for broadcast in candidates.all():
            same_source = (
                broadcast.schedule_id == draft.schedule_id
                if texts is None
                else broadcast.kind == "free" and broadcast.texts == texts
            )
            if (
                same_source
                and broadcast.created_by == officer_id
                and sorted(broadcast.villages) == sorted(draft.audience.villages)
                and sorted(broadcast.programmes) == sorted(draft.audience.programmes)
                and sorted(broadcast.channels) == sorted(draft.audience.channels)
            ):
                return broadcast.id
        return None

    async def get_for(self, viewer: Viewer, broadcast_id: int) -> Broadcast:
        broadcast = await self.get(broadcast_id)
        if not may_see(viewer, broadcast.villages):
            raise BroadcastNotFound(broadcast_id)
        return broadcast

    async def act_as(
        self, viewer: Viewer, broadcast_id: int, action: str, now: datetime
    ) -> Broadcast:
        """Pause, resume or cancel, by someone who may write for all its villages."""
        broadcast = await self.get_for(viewer, broadcast_id)
        check_may_write(viewer, broadcast.villages)
        actions = {"pause": self.pause, "resume": self.resume, "cancel": self.cancel}
        if action not in actions:
            raise UnknownAction(action)
        return await actions[action](broadcast_id, viewer.actor, now)

    async def listing_for(self, viewer: Viewer, limit: int = 50) -> list[Broadcast]:
        return [b for b in await self.listing(limit * 4) if may_see(viewer, b.villages)][:limit]

    # -- composing -------------------------------------------------------------------------

    async def compose(
        self, draft: BroadcastDraft, officer_id: int | None, actor: str, now: datetime
    ) -> list[Broadcast]:
        """The broadcast, and its reminder when asked for and still in the future. A form
        token already used raises BroadcastRepeated (also when the other one is being
        composed at this very moment)."""
        await self.check_draft(draft, now)
        key = f"form:{draft.form_token}" if FORM_TOKEN.fullmatch(draft.form_token) else None
        if key is not None:
            await self._refuse_used(key)
        reminder_at: datetime | None = None
        if draft.schedule_id is not None:
            view = await ScheduleService(self.session).get(draft.schedule_id)
            schedule = view.schedule
            if not draft.beyond_schedule_ok and self.beyond_schedule(draft.audience, view):
                raise BroadcastError("beyond_schedule")
            texts = self.texts_for_schedule(schedule, SCHEDULE_KEYS["schedule"])
            kind = "schedule"
            if draft.reminder:
                reminder_at = self.reminder_time(schedule.starts_at)
        else:
            texts = self._free_texts(draft)
            kind = "free"
        first = self._new(kind, draft, texts, officer_id, draft.send_at, now)
        first.key = key
        made = [first]
        if reminder_at is not None and reminder_at > max(now, draft.send_at):
            schedule_texts = self.texts_for_schedule(schedule, SCHEDULE_KEYS["reminder"])
            made.append(self._new("reminder", draft, schedule_texts, officer_id, reminder_at, now))
        try:
            async with self.session.begin_nested():
                self.session.add_all(made)
                await self.session.flush()
        except IntegrityError:
            # The same form, composed in a parallel request that committed first.
            if key is None:
                raise
            await self._refuse_used(key)
            raise
        for broadcast in made:
            AuditTrail(self.session).record(
                actor,
                "broadcast.compose",
                "ok",
                now,
                broadcast=broadcast.id,
                kind=broadcast.kind,
                villages=list(draft.audience.villages),
                programmes=list(draft.audience.programmes),
                channels=list(draft.audience.channels),
            )
        return made

    def _new(
        self,
        kind: str,
        draft: BroadcastDraft,
        texts: dict[str, str],
        officer_id: int | None,
        send_at: datetime,
        now: datetime,
    ) -> Broadcast:
        return Broadcast(
            kind=kind,
            schedule_id=draft.schedule_id,
            texts=texts,
            villages=list(draft.audience.villages),
            programmes=list(draft.audience.programmes),
            channels=list(draft.audience.channels),
            send_at=max(send_at, now),
            created_by=officer_id,
            created_at=now,
        )

    async def _refuse_used(self, key: str) -> None:
        used = await self.session.exec(select(Broadcast.id).where(Broadcast.key == key))
        existing = used.first()
        if existing is not None:
            raise BroadcastRepeated(existing)

    async def check_draft(self, draft: BroadcastDraft, now: datetime) -> None:
        """What compose refuses, for the preview too (BroadcastError naming the field)."""
        await self._check_audience(draft.audience)
        if draft.send_at < now - timedelta(minutes=5):
            raise BroadcastError("send_at")
        if draft.schedule_id is None:
            self._free_texts(draft)

    def _free_texts(self, draft: BroadcastDraft) -> dict[str, str]:
        texts = {k: v.strip() for k, v in draft.texts.items() if v and v.strip()}
        if any(k not in self.catalogs.locales for k in texts):
            raise BroadcastError("locale")
        if self.settings.default_locale not in texts:
            raise BroadcastError("text")
        if any(len(v) > MAX_TEXT for v in texts.values()):
            raise BroadcastError("text_length")
        return texts

    @staticmethod
    def beyond_schedule(audience: Audience, view: ScheduleView) -> bool:
        """Whether the audience reaches villages or programmes the schedule does not serve."""
        return not set(audience.villages) <= set(view.villages) or not set(audience.programmes) <= {
            view.schedule.programme
        }

    # -- following a schedule ----------------------------------------------------------------

    async def schedule_changed(
        self, schedule: DistributionSchedule, actor: str, now: datetime
    ) -> FollowUp:
        """The broadcasts built from a changed schedule: those not started yet get its new
        text and, for a reminder, a new time (now, when the distribution is tomorrow and
        07.00 has passed; cancelled, when it is later today or over). Of those that started,
        the messages still waiting get the new text; the ones that reached someone with the
        old details are named with how many, so the officer can send a correction."""
        rows = await self.session.exec(
            select(Broadcast)
            .where(
                Broadcast.schedule_id == schedule.id,
                col(Broadcast.kind).in_(list(SCHEDULE_KEYS)),
            )
            .order_by(col(Broadcast.id))
            .with_for_update()
        )
        updated: list[int] = []
        sent_now: list[int] = []
        dropped: list[int] = []
        already_out: list[int] = []
        reached: list[int] = []
        for broadcast in rows.all():
            assert broadcast.id is not None
            texts = self.texts_for_schedule(schedule, SCHEDULE_KEYS[broadcast.kind])
            started = broadcast.started_at is not None or broadcast.status not in (
                "scheduled",
                "paused",
            )
            if started:
                rebuilt, went_out = await self._follow_rows(broadcast, texts)
                if went_out:
                    already_out.append(broadcast.id)
                    reached.append(went_out)
                if rebuilt:
                    updated.append(broadcast.id)
                    broadcast.texts = texts
                    self.session.add(broadcast)
                if rebuilt or went_out:
                    self._audit_follow(
                        actor, now, broadcast, schedule, rebuilt=rebuilt, went_out=went_out
                    )
                continue
            before = (dict(broadcast.texts), broadcast.send_at)
            broadcast.texts = texts
            if broadcast.kind == "reminder":
                plan = self._reminder_plan(schedule, now)
                if plan is None:
                    broadcast.status, broadcast.finished_at = "cancelled", now
                    dropped.append(broadcast.id)
                elif plan <= now:
                    broadcast.send_at = now
                    sent_now.append(broadcast.id)
                else:
                    broadcast.send_at = plan
            if (dict(broadcast.texts), broadcast.send_at) != before or broadcast.id in dropped:
                updated.append(broadcast.id)
                self.session.add(broadcast)
                self._audit_follow(actor, now, broadcast, schedule)
        return FollowUp(
            tuple(updated), tuple(sent_now), tuple(dropped), tuple(already_out), tuple(reached)
        )

    def _audit_follow(
        self,
        actor: str,
        now: datetime,
        broadcast: Broadcast,
        schedule: DistributionSchedule,
        **counts: Any,
    ) -> None:
        AuditTrail(self.session).record(
            actor,
            "broadcast.follow_schedule",
            "ok",
            now,
            broadcast=broadcast.id,
            schedule=schedule.id,
            status=broadcast.status,
            **counts,
        )

    async def _follow_rows(self, broadcast: Broadcast, texts: dict[str, str]) -> tuple[int, int]:
        """A started broadcast's rows against its schedule's new texts, a few set-based
        statements per language: the rows still waiting (pending, on any channel) get the
        new text in their own language; rows being sent or sent stay as they are. Returns
        (rows rebuilt, rows that went out or are going out with other details)."""
        rebuilt = went_out = 0
        for locale in self.catalogs.locales:
            params, text = self._row_text(broadcast.message_key, texts, locale)
            stale = (
                col(Outbox.broadcast_id) == broadcast.id,
                col(Outbox.locale) == locale,
                col(Outbox.text) != text,
            )
            gone = await self.session.exec(
                select(func.count()).where(*stale, col(Outbox.status).in_(GONE))
            )
            went_out += int(gone.one())
            result = await self.session.exec(
                update(Outbox)
                .where(*stale, col(Outbox.status) == "pending")
                .values(params=params, text=text)
                .execution_options(synchronize_session=False)
            )
            rebuilt += int(result.rowcount or 0)
            # The conversation view shows each message's log row: the new text there too
            # (found by the row's text, so a row sent between the two statements is right).
            await self.session.exec(
                update(MessageLog)
                .where(
                    col(MessageLog.outbox_id).in_(
                        select(Outbox.id).where(
                            col(Outbox.broadcast_id) == broadcast.id,
                            col(Outbox.locale) == locale,
                            col(Outbox.text) == text,
                        )
                    ),
                    col(MessageLog.text) != text,
                )
                .values(text=text)
                .execution_options(synchronize_session=False)
            )
        return rebuilt, went_out

    def _reminder_plan(self, schedule: DistributionSchedule, now: datetime) -> datetime | None:
        """When the day-before reminder goes: its time; `now` when that has passed but the
        distribution is still tomorrow; None when "tomorrow" would no longer be true."""
        at = self.reminder_time(schedule.starts_at)
        if at > now:
            return at
        zone = self.settings.zone
        tomorrow = now.astimezone(zone).date() + timedelta(days=1)
        if schedule.starts_at.astimezone(zone).date() == tomorrow:
            return now
        return None

    def reminder_time(self, starts_at: datetime) -> datetime:
        zone = self.settings.zone
        day_before = starts_at.astimezone(zone).date() - timedelta(days=1)
        return datetime.combine(day_before, time(REMINDER_HOUR), tzinfo=zone)

    def texts_for_schedule(self, schedule: ScheduleLike, key: str) -> dict[str, str]:
        """The message per language, built from the schedule's fields: the whole schedule
        as `{schedule}`, or its parts (`{programme}`, `{phase}`, `{days}`, `{place}`)."""
        zone = self.settings.zone
        return {
            locale: self.catalogs.t(
                locale,
                key,
                {
                    "schedule": schedule_text(self.catalogs, locale, schedule, zone),
                    "programme": self.catalogs.t(locale, f"programme.{schedule.programme}"),
                    "phase": schedule.phase,
                    "days": distribution_days(self.catalogs, locale, schedule, zone),
                    "place": schedule.place,
                },
            )
            for locale in self.catalogs.locales
        }

    async def _check_audience(self, audience: Audience) -> None:
        if not audience.villages:
            raise BroadcastError("villages")
        known = (
            await self.session.exec(
                select(Village.code).where(col(Village.code).in_(list(audience.villages)))
            )
        ).all()
        if len(set(known)) != len(set(audience.villages)):
            raise BroadcastError("villages")
        if not audience.programmes or any(p not in PROGRAMMES for p in audience.programmes):
            raise BroadcastError("programmes")
        if not audience.channels or any(c not in CHANNELS for c in audience.channels):
            raise BroadcastError("channels")

    # -- the audience ----------------------------------------------------------------------

    def _locale_expr(self) -> Any:
        others = [loc for loc in self.catalogs.locales if loc != self.settings.default_locale]
        if not others:
            return literal(self.settings.default_locale)
        return case(
            (col(Resident.locale).in_(others), col(Resident.locale)),
            else_=literal(self.settings.default_locale),
        )

    def _audience(self, audience: Audience) -> Any:
        """One row per reachable, not stopped chat subscribed to any of the pairs."""
        return (
            select(
                col(ChannelIdentity.id).label("identity_id"),
                col(ChannelIdentity.channel).label("channel"),
                self._locale_expr().label("locale"),
            )
            .join(Resident, col(Resident.id) == col(ChannelIdentity.resident_id))
            .where(
                exists().where(
                    col(Subscription.identity_id) == col(ChannelIdentity.id),
                    col(Subscription.village_code).in_(list(audience.villages)),
                    col(Subscription.programme).in_(list(audience.programmes)),
                ),
                col(ChannelIdentity.channel).in_(list(audience.channels)),
                col(ChannelIdentity.broadcasts_stopped_at).is_(None),
                col(ChannelIdentity.unreachable_at).is_(None),
            )
        )

    async def preview(self, audience: Audience) -> dict[tuple[str, str], int]:
        """(channel, locale) → how many chats would get it now."""
        if not audience.villages or not audience.programmes or not audience.channels:
            return {}
        chats = self._audience(audience).subquery()
        rows = await self.session.exec(
            select(chats.c.channel, chats.c.locale, func.count())
            .group_by(chats.c.channel, chats.c.locale)
            .order_by(chats.c.channel, chats.c.locale)
        )
        return {(str(channel), str(locale)): int(count) for channel, locale, count in rows.all()}

    # -- running ---------------------------------------------------------------------------

    async def start_due(self, now: datetime) -> list[Broadcast]:
        """Broadcasts whose time has come: their recipients become outbox rows."""
        due = (
            await self.session.exec(
                select(Broadcast)
                .where(Broadcast.status == "scheduled", col(Broadcast.send_at) <= now)
                .order_by(col(Broadcast.send_at))
                .with_for_update(skip_locked=True)
            )
        ).all()
        started = []
        for broadcast in due:
            if not await self._still_due(broadcast, now):
                continue
            broadcast.recipients = await self.materialise(broadcast, now)
            broadcast.status, broadcast.started_at = "sending", now
            self.session.add(broadcast)
            started.append(broadcast)
        return started

    async def _still_due(self, broadcast: Broadcast, now: datetime) -> bool:
        """A broadcast built from a schedule goes out with the schedule as it is now, even
        when it was changed by a path that did not update it; a reminder whose schedule
        moved goes at its new time (or not at all)."""
        if broadcast.kind not in SCHEDULE_KEYS or broadcast.schedule_id is None:
            return True
        schedule = await self.session.get(DistributionSchedule, broadcast.schedule_id)
        if schedule is None:
            return True
        broadcast.texts = self.texts_for_schedule(schedule, SCHEDULE_KEYS[broadcast.kind])
        self.session.add(broadcast)
        if broadcast.kind != "reminder" or (
            self.reminder_time(schedule.starts_at) == broadcast.send_at
        ):
            return True
        plan = self._reminder_plan(schedule, now)
        if plan is None:
            broadcast.status, broadcast.finished_at = "cancelled", now
            return False
        broadcast.send_at = max(plan, now)
        return plan <= now

    def _row_text(
        self, message_key: str, texts: dict[str, str], locale: str
    ) -> tuple[dict[str, str], str]:
        """An outbox row's params and text in one language (the default one's body when
        the broadcast has none in it)."""
        body = texts.get(locale) or texts.get(self.settings.default_locale, "")
        params = {"body": body}
        return params, self.catalogs.t(locale, message_key, params)

    async def materialise(self, broadcast: Broadcast, now: datetime) -> int:
        """Insert the missing outbox and message-log rows; returns the recipients in all."""
        assert broadcast.id is not None
        audience = Audience(
            tuple(broadcast.villages), tuple(broadcast.programmes), tuple(broadcast.channels)
        )
        chats = self._audience(audience).subquery()
        key = broadcast.message_key
        for locale in self.catalogs.locales:
            params, text = self._row_text(key, broadcast.texts, locale)
            rows = core_select(
                chats.c.identity_id,
                chats.c.channel,
                literal(locale),
                literal(key),
                literal(params, JSON),
                literal(broadcast.choices, JSON),
                literal(text),
                literal(False),
                literal("pending"),
                literal(""),
                literal(0),
                literal(now),
                literal(""),
                literal(0),
                literal(broadcast.id),
            ).where(
                chats.c.locale == locale,
                ~exists().where(
                    col(Outbox.broadcast_id) == broadcast.id,
                    col(Outbox.identity_id) == chats.c.identity_id,
                ),
            )
            await self.session.exec(
                Outbox.__table__.insert().from_select(  # type: ignore[attr-defined]
                    [
                        "identity_id", "channel", "locale", "message_key", "params",
                        "choices", "text", "ask_contact", "status", "reason", "attempts",
                        "created_at", "sent_as", "parts_sent", "broadcast_id",
                    ],
                    rows,
                )
            )  # fmt: skip
        logs = core_select(
            col(Outbox.identity_id),
            col(Outbox.channel),
            literal("out"),
            literal("push"),
            col(Outbox.text),
            col(Outbox.message_key),
            literal({}, JSON),
            col(Outbox.id),
            literal("pending"),
            literal(now),
        ).where(
            col(Outbox.broadcast_id) == broadcast.id,
            ~exists().where(col(MessageLog.outbox_id) == col(Outbox.id)),
        )
        await self.session.exec(
            MessageLog.__table__.insert().from_select(  # type: ignore[attr-defined]
                [
                    "identity_id", "channel", "direction", "kind", "text", "message_key",
                    "payload", "outbox_id", "delivery", "created_at",
                ],
                logs,
            )
        )  # fmt: skip
        total = await self.session.exec(
            select(func.count()).where(col(Outbox.broadcast_id) == broadcast.id)
        )
        return int(total.one())

    async def finish_done(self, now: datetime) -> int:
        """Sending broadcasts with nothing left to send are done (web chat rows are handed
        over whenever their visitor comes back, done or not)."""
        waiting = exists().where(
            col(Outbox.broadcast_id) == col(Broadcast.id),
            col(Outbox.status).in_(["pending", "sending"]),
            col(Outbox.channel).not_in(FETCHED_CHANNELS),
        )
        result = await self.session.exec(
            update(Broadcast)
            .where(col(Broadcast.status) == "sending", ~waiting)
            .values(status="done", finished_at=now)
        )
        return int(result.rowcount or 0)

    # -- officer actions -------------------------------------------------------------------

    async def get(self, broadcast_id: int) -> Broadcast:
        broadcast = await self.session.get(Broadcast, broadcast_id)
        if broadcast is None:
            raise BroadcastNotFound(broadcast_id)
        return broadcast

    async def pause(self, broadcast_id: int, actor: str, now: datetime) -> Broadcast:
        return await self._move(broadcast_id, ("scheduled", "sending"), "paused", actor, now)

    async def resume(self, broadcast_id: int, actor: str, now: datetime) -> Broadcast:
        broadcast = await self.get(broadcast_id)
        target = "sending" if broadcast.started_at is not None else "scheduled"
        return await self._move(broadcast_id, ("paused",), target, actor, now)

    async def cancel(self, broadcast_id: int, actor: str, now: datetime) -> Broadcast:
        """Skips every row not sent yet: also of a done broadcast whose web chat rows still
        wait for their visitors."""
        allowed: tuple[str, ...] = ACTIVE
        if await self.has_pending(broadcast_id):
            allowed = (*ACTIVE, "done")
        broadcast = await self._move(broadcast_id, allowed, "cancelled", actor, now)
        await self.session.exec(
            update(Outbox)
            .where(col(Outbox.broadcast_id) == broadcast_id, col(Outbox.status) == "pending")
            .values(status="skipped", reason="cancelled")
        )
        await self.session.exec(
            update(MessageLog)
            .where(
                col(MessageLog.outbox_id).in_(
                    select(Outbox.id).where(
                        col(Outbox.broadcast_id) == broadcast_id, col(Outbox.reason) == "cancelled"
                    )
                )
            )
            .values(delivery="skipped")
        )
        broadcast.finished_at = broadcast.finished_at or now
        self.session.add(broadcast)
        return broadcast

    async def has_pending(self, broadcast_id: int) -> bool:
        pending = await self.session.exec(
            select(Outbox.id)
            .where(col(Outbox.broadcast_id) == broadcast_id, col(Outbox.status) == "pending")
            .limit(1)
        )
        return pending.first() is not None

    async def _move(
        self, broadcast_id: int, allowed: Sequence[str], target: str, actor: str, now: datetime
    ) -> Broadcast:
        broadcast = await self.get(broadcast_id)
        if broadcast.status not in allowed:
            raise BroadcastStateError(broadcast.status)
        before, broadcast.status = broadcast.status, target
        self.session.add(broadcast)
        AuditTrail(self.session).record(
            actor, f"broadcast.{target}", "ok", now, broadcast=broadcast_id, before=before
        )
        return broadcast

    # -- progress --------------------------------------------------------------------------

    async def progress(self, broadcast_id: int, now: datetime) -> Progress:
        broadcast = await self.get(broadcast_id)
        rows = await self.session.exec(
            select(Outbox.status, Outbox.channel, func.count())
            .where(col(Outbox.broadcast_id) == broadcast_id)
            .group_by(col(Outbox.status), col(Outbox.channel))
        )
        counts = dict.fromkeys(STATES, 0)
        to_fetch = 0
        for status, channel, count in rows.all():
            counts[str(status)] += int(count)
            if status == "pending" and channel in FETCHED_CHANNELS:
                to_fetch += int(count)
        to_send = counts["pending"] + counts["sending"] - to_fetch
        eta = None
        if broadcast.status == "sending" and broadcast.started_at is not None and to_send:
            # The rate achieved over the last minute, or since the start when that is shorter.
            since = max(broadcast.started_at, now - RATE_WINDOW)
            seconds = max((now - since).total_seconds(), 1.0)
            recent = await self.session.exec(
                select(func.count()).where(
                    col(Outbox.broadcast_id) == broadcast_id, col(Outbox.sent_at) >= since
                )
            )
            per_second = int(recent.one()) / seconds
            eta = to_send / per_second if per_second else None
        return Progress(broadcast, counts, eta, to_fetch)

    async def listing(self, limit: int = 50) -> list[Broadcast]:
        statement = select(Broadcast).order_by(col(Broadcast.id).desc()).limit(limit)
        return list((await self.session.exec(statement)).all())
