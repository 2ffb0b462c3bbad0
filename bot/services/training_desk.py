"""The officers' side of training, scoped per officer: which sessions they may see, the
roster as they may see it, attendance and the export.

An officer sees the sessions held in their villages plus every session of a kecamatan-wide
training (one without a village of its own); admins and viewers see all sessions. Another
session is "not found", and the attempt is audited. A roster shows names, so every look at
one is audited; viewers get the counts only. A NIK is shown masked, never whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, true
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.i18n import Catalogs
from bot.services.audit import AuditTrail
from bot.services.pii import PiiVault, UnreadableSecret, mask_nik
from bot.services.reports import Viewer
from bot.services.trainings import SessionInfo, TrainingError, TrainingService
from bot.settings import Settings
from storage.models import Training, TrainingRegistration, TrainingSession, Village

GROUPS = ("confirmed", "offered", "waitlisted", "cancelled", "expired")
COUNTED = ("confirmed", "offered", "waitlisted")
UNREADABLE_NIK = "*" * 16


class SessionHidden(TrainingError):
    """No such session, or not one this officer may see (the two are not told apart)."""


class RosterClosed(TrainingError):
    """Viewers see counts, never the people: no names, phones or export."""


class AttendanceTooEarly(TrainingError):
    """Attendance is taken from the day of the session, not before."""

    def __init__(self, starts_at: datetime) -> None:
        super().__init__("attendance before the session's day")
        self.starts_at = starts_at


@dataclass(frozen=True, slots=True)
class SessionLine:
    """One session in the list, with its seats and how they are taken."""

    info: SessionInfo
    confirmed: int
    offered: int
    waitlisted: int

    @property
    def id(self) -> int:
        return self.info.session.id or 0


@dataclass(frozen=True, slots=True)
class RosterLine:
    registration: TrainingRegistration
    masked_nik: str
    phone: str
    position: int  # place on the waitlist (1 = next in line); 0 elsewhere


@dataclass(frozen=True, slots=True)
class Roster:
    info: SessionInfo
    counts: dict[str, int]
    groups: dict[str, list[RosterLine]]  # empty lists when the people are hidden
    people_shown: bool
    attendance_open: bool


class TrainingDesk:
    def __init__(
        self, session: AsyncSession, settings: Settings, catalogs: Catalogs, vault: PiiVault
    ) -> None:
        self.session = session
        self.settings = settings
        self.vault = vault
        self.trainings = TrainingService(session, settings, catalogs, vault)
        self.audit = AuditTrail(session)

    # -- the list --------------------------------------------------------------------------

    async def sessions(
        self, viewer: Viewer, now: datetime
    ) -> tuple[list[SessionLine], list[SessionLine]]:
        """(upcoming, past): sessions not yet over, soonest first; then the rest, latest
        first."""
        statement = (
            select(TrainingSession, Training, Village.name)
            .join(Training, col(Training.id) == col(TrainingSession.training_id))
            .join(Village, col(Village.code) == col(TrainingSession.village_code))
            .where(self._visible(viewer))
            .order_by(col(TrainingSession.starts_at), col(TrainingSession.id))
        )
        rows = (await self.session.exec(statement)).all()
        counts = await self._counts([sitting.id or 0 for sitting, _, _ in rows])
        lines = []
        for sitting, training, village_name in rows:
            confirmed, offered, waitlisted = (
                counts.get((sitting.id or 0, status), 0) for status in COUNTED
            )
            seats_left = max(0, sitting.seats - confirmed - offered)
            info = SessionInfo(sitting, training, village_name, seats_left)
            lines.append(SessionLine(info, confirmed, offered, waitlisted))
        upcoming = [line for line in lines if line.info.session.ends_at >= now]
        past = [line for line in lines if line.info.session.ends_at < now]
        past.sort(key=lambda line: line.info.session.starts_at, reverse=True)
        return upcoming, past

    # -- one session -------------------------------------------------------------------------

    async def session_for(self, viewer: Viewer, session_id: int, now: datetime) -> SessionInfo:
        """A session this officer may see; anything else is SessionHidden (and audited)."""
        statement = (
            select(TrainingSession.id)
            .join(Training, col(Training.id) == col(TrainingSession.training_id))
            .where(col(TrainingSession.id) == session_id, self._visible(viewer))
        )
        if (await self.session.exec(statement)).first() is None:
            self.audit.record(
                viewer.actor, "training.session.view", "denied", now, session=session_id
            )
            raise SessionHidden(session_id)
        return await self.trainings.session_info(session_id)

    async def roster(self, viewer: Viewer, session_id: int, now: datetime) -> Roster:
        """The registrations in groups; people only for admins and officers (audited)."""
        info = await self.session_for(viewer, session_id, now)
        groups = await self.trainings.roster(session_id)
        counts = {status: len(groups.get(status, [])) for status in GROUPS}
        shown = viewer.role != "viewer"
        self.audit.record(
            viewer.actor,
            "training.roster_view",
            "shown" if shown else "counts_only",
            now,
            session=session_id,
            people=sum(counts.values()) if shown else 0,
        )
        lines: dict[str, list[RosterLine]] = {status: [] for status in GROUPS}
        if shown:
            for status in GROUPS:
                for place, registration in enumerate(groups.get(status, []), start=1):
                    # The roster's order (aid recipients first, then by id) is the line.
                    position = place if status == "waitlisted" else 0
                    lines[status].append(
                        RosterLine(
                            registration,
                            self._masked(registration.nik_encrypted),
                            registration.phone,
                            position,
                        )
                    )
        return Roster(info, counts, lines, shown, shown and self.attendance_open(info, now))

    def attendance_open(self, info: SessionInfo, now: datetime) -> bool:
        zone = self.settings.zone
        return info.session.starts_at.astimezone(zone).date() <= now.astimezone(zone).date()

    async def mark_attendance(
        self, viewer: Viewer, session_id: int, present: set[int], listed: set[int], now: datetime
    ) -> int:
        """Everyone `listed` on the sheet (confirmed registrations of this session) is marked
        present when in `present`, else absent. Returns how many marks changed; unchanged
        marks are not written again. The service audits each change."""
        if viewer.role == "viewer":
            self.audit.record(
                viewer.actor, "training.attendance", "denied", now, session=session_id
            )
            raise RosterClosed(session_id)
        info = await self.session_for(viewer, session_id, now)
        if not self.attendance_open(info, now):
            raise AttendanceTooEarly(info.session.starts_at)
        groups = await self.trainings.roster(session_id)
        changed = 0
        for registration in groups.get("confirmed", []):
            if registration.id not in listed:
                continue
            attended = registration.id in present
            if registration.attended is attended:
                continue
            await self.trainings.mark_attendance(viewer.actor, registration, attended, now)
            changed += 1
        return changed

    async def export_csv(self, viewer: Viewer, session_id: int, now: datetime) -> str:
        """The roster as CSV (no NIK); the service audits the export."""
        if viewer.role == "viewer":
            self.audit.record(viewer.actor, "training.export", "denied", now, session=session_id)
            raise RosterClosed(session_id)
        await self.session_for(viewer, session_id, now)
        return await self.trainings.export_csv(viewer.actor, session_id, now)

    # -- internals -------------------------------------------------------------------------

    def _visible(self, viewer: Viewer) -> ColumnElement[bool]:
        if viewer.role in ("admin", "viewer"):
            return true()
        return or_(
            col(TrainingSession.village_code).in_(sorted(viewer.villages)),
            col(Training.village_code).is_(None),
        )

    async def _counts(self, session_ids: list[int]) -> dict[tuple[int, str], int]:
        if not session_ids:
            return {}
        statement = (
            select(TrainingRegistration.session_id, TrainingRegistration.status, func.count())
            .where(col(TrainingRegistration.session_id).in_(session_ids))
            .group_by(col(TrainingRegistration.session_id), col(TrainingRegistration.status))
        )
        rows = (await self.session.exec(statement)).all()
        return {(session_id, status): int(n) for session_id, status, n in rows}

    def _masked(self, encrypted: str) -> str:
        try:
            return mask_nik(self.vault.decrypt(encrypted))
        except UnreadableSecret:
            return UNREADABLE_NIK  # sealed with another SECRET_KEY: nothing to show
