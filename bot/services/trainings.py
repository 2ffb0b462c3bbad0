"""Skills training: open sessions, eligibility, seat allocation with a waitlist, offers of
freed seats, reminders, and the officer side (roster, attendance, export, figures).

Seat allocation is atomic: the session row is locked (`FOR UPDATE` on PostgreSQL; SQLite
has one writer) while seats are counted and the registration is written. A freed seat is
offered to the first on the waitlist, who has `TRAINING_OFFER_HOURS` to accept it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.i18n import Catalogs
from bot.messages import Choice
from bot.services.audit import AuditTrail
from bot.services.jobs import JobQueue
from bot.services.outbox import OutboxQueue
from bot.services.pii import PiiVault
from bot.services.tickets import display_code, new_code
from bot.settings import Settings
from storage.models import (
    Enrolment,
    RegistryPerson,
    Training,
    TrainingRegistration,
    TrainingSession,
    Village,
)
from storage.repositories import registry as registry_repo

HOLDING = ("confirmed", "offered")  # statuses that take a seat
ACTIVE = ("confirmed", "offered", "waitlisted")
REMINDERS = (("day_before", timedelta(days=1)), ("two_hours", timedelta(hours=2)))


class TrainingError(Exception):
    """Base of the training domain's errors."""


class NotEligible(TrainingError):
    def __init__(self, reason: str, **params: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.params = params


class AlreadyRegistered(TrainingError):
    def __init__(self, registration: TrainingRegistration) -> None:
        super().__init__(registration.code)
        self.registration = registration


class SessionNotFound(TrainingError):
    """No such session."""


@dataclass(frozen=True, slots=True)
class SessionInfo:
    session: TrainingSession
    training: Training
    village_name: str
    seats_left: int


@dataclass(frozen=True, slots=True)
class Applicant:
    nik: str
    birth_date: date
    full_name: str
    phone: str
    home_village: str | None = None
    answers: dict[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    registration: TrainingRegistration
    position: int  # 0 when a seat is held


def age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


class TrainingService:
    def __init__(
        self, session: AsyncSession, settings: Settings, catalogs: Catalogs, vault: PiiVault
    ) -> None:
        self.session = session
        self.settings = settings
        self.catalogs = catalogs
        self.vault = vault
        self.jobs = JobQueue(session)
        self.outbox = OutboxQueue(session, catalogs)
        self.audit = AuditTrail(session)

    # -- what residents see ------------------------------------------------------------------

    async def open_sessions(self, now: datetime, home_village: str | None) -> list[SessionInfo]:
        """Sessions still taking registrations: the resident's village first, then by date."""
        infos = await self._session_infos(
            col(TrainingSession.registration_deadline) > now,
            col(TrainingSession.starts_at) > now,
        )
        return sorted(infos, key=lambda info: info.session.village_code != home_village)

    async def session_info(self, session_id: int) -> SessionInfo:
        infos = await self._session_infos(col(TrainingSession.id) == session_id)
        if not infos:
            raise SessionNotFound(session_id)
        return infos[0]

    async def _session_infos(self, *conditions: ColumnElement[bool]) -> list[SessionInfo]:
        """Sessions with their training, village name and seats left, soonest first."""
        statement = (
            select(TrainingSession, Training, Village.name)
            .join(Training, col(Training.id) == col(TrainingSession.training_id))
            .join(Village, col(Village.code) == col(TrainingSession.village_code))
            .where(*conditions)
            .order_by(col(TrainingSession.starts_at))
        )
        rows = (await self.session.exec(statement)).all()
        held = await self._held_counts([s.id or 0 for s, _, _ in rows])
        return [
            SessionInfo(s, t, name, max(0, s.seats - held.get(s.id or 0, 0))) for s, t, name in rows
        ]

    def check_eligible(self, info: SessionInfo, applicant: Applicant, now: datetime) -> None:
        """Raise NotEligible with the reason a resident will read."""
        session, training = info.session, info.training
        if session.starts_at <= now:
            raise NotEligible("started")
        if session.registration_deadline <= now:
            raise NotEligible("deadline")
        age = age_on(applicant.birth_date, session.starts_at.astimezone(self.settings.zone).date())
        if training.min_age is not None and age < training.min_age:
            raise NotEligible("too_young", age=age, min=training.min_age)
        if training.max_age is not None and age > training.max_age:
            raise NotEligible("too_old", age=age, max=training.max_age)
        self.check_village(info, applicant.home_village)

    def check_village(self, info: SessionInfo, village_code: str | None) -> None:
        """Raise NotEligible when the training is for one village and this is not it."""
        if info.training.village_code and village_code != info.training.village_code:
            raise NotEligible("village", village=info.village_name)

    async def home_village(self, nik_hash: str) -> str | None:
        """The register's village for a NIK. Only for the resident's own remembered NIK:
        looking up a typed NIK would tell a stranger whether it is in the register."""
        person = await registry_repo.person_by_nik_hash(self.session, nik_hash)
        return person.village_code if person else None

    async def register(
        self,
        session_id: int,
        applicant: Applicant,
        now: datetime,
        resident_id: int | None,
        identity_id: int | None,
        locale: str,
    ) -> Outcome:
        """A seat while seats remain, else the waitlist. One registration per NIK."""
        locked = await self._lock(session_id)
        info = await self.session_info(locked.id or 0)
        self.check_eligible(info, applicant, now)
        nik_hash = self.vault.lookup_hash(applicant.nik)
        existing = (
            await self.session.exec(
                select(TrainingRegistration).where(
                    TrainingRegistration.session_id == session_id,
                    TrainingRegistration.nik_hash == nik_hash,
                )
            )
        ).first()
        if existing is not None and existing.status in ACTIVE:
            raise AlreadyRegistered(existing)
        if existing is not None:
            # A new registration after a cancelled one joins the line anew: a fresh row (and
            # id) keeps the waitlist in the order the session lock let people in.
            await self.session.delete(existing)
            await self.session.flush()
        registration = TrainingRegistration(
            code=await self._unused_code(),
            session_id=session_id,
            nik_hash=nik_hash,
            nik_encrypted=self.vault.encrypt(applicant.nik),
            full_name=applicant.full_name,
            phone=applicant.phone,
            status="waitlisted",
        )
        registration.full_name = applicant.full_name
        registration.phone = applicant.phone
        registration.resident_id = resident_id
        registration.identity_id = identity_id
        registration.locale = locale
        registration.answers = dict(applicant.answers or {})
        # Decided silently: it orders the waitlist, and residents are never told why.
        registration.priority = info.training.priority_recipients and await self._receives_aid(
            nik_hash
        )
        registration.created_at = registration.updated_at = now
        registration.attended = None
        registration.offered_until = None
        registration.status = "confirmed" if info.seats_left > 0 else "waitlisted"
        self.session.add(registration)
        await self.session.flush()
        if registration.status == "confirmed":
            await self._schedule_reminders(registration, locked, now)
            return Outcome(registration, 0)
        return Outcome(registration, await self.waitlist_position(registration))

    async def waitlist_position(self, registration: TrainingRegistration) -> int:
        """1 for the next in line: aid recipients first where the training says so."""
        # The line is the order of ids: ids are drawn while the session row is locked.
        earlier = col(TrainingRegistration.id) < (registration.id or 0)
        same_rank = and_(col(TrainingRegistration.priority) == registration.priority, earlier)
        before = (
            same_rank
            if registration.priority
            else or_(col(TrainingRegistration.priority).is_(True), same_rank)
        )
        ahead = select(func.count()).where(
            TrainingRegistration.session_id == registration.session_id,
            TrainingRegistration.status == "waitlisted",
            before,
        )
        return int((await self.session.exec(ahead)).one()) + 1

    async def of_resident(
        self, resident_id: int
    ) -> Sequence[tuple[TrainingRegistration, TrainingSession, Training]]:
        statement = (
            select(TrainingRegistration, TrainingSession, Training)
            .join(TrainingSession, col(TrainingSession.id) == col(TrainingRegistration.session_id))
            .join(Training, col(Training.id) == col(TrainingSession.training_id))
            .where(TrainingRegistration.resident_id == resident_id)
            .order_by(col(TrainingSession.starts_at).desc())
        )
        return (await self.session.exec(statement)).all()

    async def registration_for(self, session_id: int, nik_hash: str) -> TrainingRegistration | None:
        """This NIK's active registration for the session, if any."""
        statement = select(TrainingRegistration).where(
            TrainingRegistration.session_id == session_id,
            TrainingRegistration.nik_hash == nik_hash,
            col(TrainingRegistration.status).in_(ACTIVE),
        )
        return (await self.session.exec(statement)).first()

    async def by_code(self, code: str) -> TrainingRegistration | None:
        statement = select(TrainingRegistration).where(TrainingRegistration.code == code)
        return (await self.session.exec(statement)).first()

    async def cancel(self, registration: TrainingRegistration, now: datetime) -> None:
        """Cancel; a freed seat is offered to the next on the waitlist."""
        await self._lock(registration.session_id)
        freed = registration.status in HOLDING
        if registration.status not in ACTIVE:
            return
        registration.status = "cancelled"
        registration.updated_at = now
        self.session.add(registration)
        await self.jobs.cancel(_job_keys(registration))
        if freed:
            await self.offer_next(registration.session_id, now)

    async def accept_offer(self, registration: TrainingRegistration, now: datetime) -> bool:
        """The promoted resident takes the seat; False when the offer is no longer open."""
        session = await self._lock(registration.session_id)
        if (
            registration.status != "offered"
            or registration.offered_until is None
            or registration.offered_until <= now
        ):
            return False
        registration.status = "confirmed"
        registration.offered_until = None
        registration.updated_at = now
        self.session.add(registration)
        await self.jobs.cancel([f"training:{registration.id}:offer"])
        await self._schedule_reminders(registration, session, now)
        return True

    async def offer_next(self, session_id: int, now: datetime) -> TrainingRegistration | None:
        """Offer a free seat (if any) to the first on the waitlist, and tell them."""
        session = await self._lock(session_id)
        if session.starts_at <= now:
            return None
        held = (await self._held_counts([session_id])).get(session_id, 0)
        if held >= session.seats:
            return None
        statement = (
            select(TrainingRegistration)
            .where(
                TrainingRegistration.session_id == session_id,
                TrainingRegistration.status == "waitlisted",
            )
            .order_by(col(TrainingRegistration.priority).desc(), col(TrainingRegistration.id))
            .limit(1)
        )
        nxt = (await self.session.exec(statement)).first()
        if nxt is None:
            return None
        hours = self.settings.training_offer_hours
        nxt.status = "offered"
        nxt.offered_until = min(now + timedelta(hours=hours), session.starts_at)
        nxt.updated_at = now
        self.session.add(nxt)
        await self.session.flush()
        await self.jobs.schedule(
            f"training:{nxt.id}:offer", "training.offer_expiry", nxt.offered_until, {"id": nxt.id}
        )
        if nxt.identity_id is not None:
            training = await self.session.get(Training, session.training_id)
            params = {
                "title": training.title if training else "",
                "until": self.catalogs.when(nxt.locale, nxt.offered_until, self.settings.zone),
                "code": display_code(nxt.code),
            }
            choices = (
                Choice(f"seat:{nxt.code}:yes", "training.offer_accept"),
                Choice(f"seat:{nxt.code}:no", "training.offer_decline"),
            )
            await self.outbox.queue(
                nxt.identity_id, nxt.locale, "training.push.offer", params, choices
            )
        return nxt

    async def expire_offer(self, registration_id: int, now: datetime) -> bool:
        registration = await self.session.get(TrainingRegistration, registration_id)
        if registration is None or registration.status != "offered":
            return False
        if registration.offered_until is not None and registration.offered_until > now:
            return False
        registration.status = "expired"
        registration.updated_at = now
        self.session.add(registration)
        await self.offer_next(registration.session_id, now)
        return True

    async def send_reminder(self, registration_id: int, which: str, now: datetime) -> bool:
        registration = await self.session.get(TrainingRegistration, registration_id)
        if registration is None or registration.status != "confirmed":
            return False
        info = await self.session_info(registration.session_id)
        if info.session.starts_at <= now or registration.identity_id is None:
            return False
        zone = self.settings.zone
        params = {
            "title": info.training.title,
            "when": self.catalogs.when(registration.locale, info.session.starts_at, zone),
            "place": info.session.place,
            "code": display_code(registration.code),
        }
        await self.outbox.queue(
            registration.identity_id,
            registration.locale,
            f"training.push.reminder_{which}",
            params,
            dedupe_key=f"training:{registration.id}:{which}",
        )
        return True

    # -- officers --------------------------------------------------------------------------------

    async def save_training(self, actor: str, training: Training, now: datetime) -> Training:
        """Create or edit a training (title, description, organiser, eligibility, questions)."""
        low, high = training.min_age, training.max_age
        if low is not None and high is not None and low > high:
            raise TrainingError("min_age is above max_age")
        self.session.add(training)
        await self.session.flush()
        self.audit.record(actor, "training.save", "ok", now, training=training.id)
        return training

    async def save_session(
        self, actor: str, sitting: TrainingSession, now: datetime
    ) -> TrainingSession:
        """Create or edit a session. More seats are offered to the waitlist at once; fewer
        seats than are already taken are refused."""
        if sitting.ends_at <= sitting.starts_at:
            raise TrainingError("a session must end after it starts")
        if sitting.registration_deadline > sitting.starts_at:
            raise TrainingError("registration must close before the session starts")
        if sitting.id is not None:
            await self._lock(sitting.id)
            held = (await self._held_counts([sitting.id])).get(sitting.id, 0)
            if sitting.seats < held:
                raise TrainingError(f"{held} seats are already taken")
        self.session.add(sitting)
        await self.session.flush()
        assert sitting.id is not None
        while await self.offer_next(sitting.id, now) is not None:
            pass
        self.audit.record(actor, "training.session.save", "ok", now, session=sitting.id)
        return sitting

    async def roster(self, session_id: int) -> dict[str, list[TrainingRegistration]]:
        statement = (
            select(TrainingRegistration)
            .where(TrainingRegistration.session_id == session_id)
            .order_by(col(TrainingRegistration.priority).desc(), col(TrainingRegistration.id))
        )
        groups: dict[str, list[TrainingRegistration]] = {
            "confirmed": [],
            "offered": [],
            "waitlisted": [],
            "cancelled": [],
            "expired": [],
        }
        for registration in (await self.session.exec(statement)).all():
            groups.setdefault(registration.status, []).append(registration)
        return groups

    async def mark_attendance(
        self, actor: str, registration: TrainingRegistration, attended: bool, now: datetime
    ) -> None:
        if registration.status != "confirmed":
            raise TrainingError("only confirmed participants attend")
        registration.attended = attended
        registration.updated_at = now
        self.session.add(registration)
        self.audit.record(actor, "training.attendance", "ok", now, registration=registration.id)

    async def export_csv(self, actor: str, session_id: int, now: datetime) -> str:
        roster = await self.roster(session_id)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["kode", "nama", "telepon", "status", "prioritas", "hadir"])
        for status in ("confirmed", "offered", "waitlisted", "cancelled", "expired"):
            for r in roster.get(status, []):
                attended = "" if r.attended is None else ("ya" if r.attended else "tidak")
                writer.writerow(
                    [
                        display_code(r.code),
                        r.full_name,
                        r.phone,
                        status,
                        "ya" if r.priority else "",
                        attended,
                    ]
                )
        self.audit.record(actor, "training.export", "ok", now, session=session_id)
        return out.getvalue()

    async def figures(self, now: datetime) -> list[dict[str, Any]]:
        """Per training and village: seats, fill rate, attendance and no-show rates."""
        statement = select(TrainingSession, Training.title).join(
            Training, col(Training.id) == col(TrainingSession.training_id)
        )
        rows = (await self.session.exec(statement)).all()
        totals: dict[tuple[str, str], dict[str, int]] = {}
        for session, title in rows:
            roster = await self.roster(session.id or 0)
            key = (title, session.village_code)
            bucket = totals.setdefault(key, {"seats": 0, "confirmed": 0, "marked": 0, "came": 0})
            bucket["seats"] += session.seats
            bucket["confirmed"] += len(roster["confirmed"])
            marked = [r for r in roster["confirmed"] if r.attended is not None]
            bucket["marked"] += len(marked)
            bucket["came"] += sum(1 for r in marked if r.attended)
        figures = []
        for (title, village), b in sorted(totals.items()):
            figures.append(
                {
                    "training": title,
                    "village": village,
                    "seats": b["seats"],
                    "confirmed": b["confirmed"],
                    "fill_rate": b["confirmed"] / b["seats"] if b["seats"] else 0.0,
                    "attendance_rate": b["came"] / b["marked"] if b["marked"] else None,
                    "no_show_rate": 1 - b["came"] / b["marked"] if b["marked"] else None,
                }
            )
        return figures

    # -- internals -------------------------------------------------------------------------------

    async def _lock(self, session_id: int) -> TrainingSession:
        statement = (
            select(TrainingSession)
            .where(TrainingSession.id == session_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        session = (await self.session.exec(statement)).first()
        if session is None:
            raise SessionNotFound(session_id)
        return session

    async def _held_counts(self, session_ids: Sequence[int]) -> dict[int, int]:
        if not session_ids:
            return {}
        statement = (
            select(TrainingRegistration.session_id, func.count())
            .where(
                col(TrainingRegistration.session_id).in_(list(session_ids)),
                col(TrainingRegistration.status).in_(HOLDING),
            )
            .group_by(col(TrainingRegistration.session_id))
        )
        return {sid: int(n) for sid, n in (await self.session.exec(statement)).all()}

    async def _receives_aid(self, nik_hash: str) -> bool:
        statement = (
            select(Enrolment.id)
            .join(RegistryPerson, col(RegistryPerson.id) == col(Enrolment.person_id))
            .where(RegistryPerson.nik_hash == nik_hash, Enrolment.status == "aktif")
            .limit(1)
        )
        return (await self.session.exec(statement)).first() is not None

    async def _schedule_reminders(
        self, registration: TrainingRegistration, session: TrainingSession, now: datetime
    ) -> None:
        for which, before in REMINDERS:
            if session.starts_at - before <= now:
                continue  # too late for this one: a reminder after the fact helps nobody
            await self.jobs.schedule(
                f"training:{registration.id}:{which}",
                "training.reminder",
                session.starts_at - before,
                {"id": registration.id, "which": which},
            )

    async def _unused_code(self) -> str:
        for _ in range(5):
            code = new_code()
            if await self.by_code(code) is None:
                return code
        raise RuntimeError("no unused registration code")


def _job_keys(registration: TrainingRegistration) -> list[str]:
    return [f"training:{registration.id}:{which}" for which, _ in REMINDERS] + [
        f"training:{registration.id}:offer"
    ]
