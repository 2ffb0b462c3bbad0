"""Reports (laporan), proposals (usul) and objections (sanggah): filing, the status
lifecycle with its SLA clocks, what officers may see, and what residents are told.

Every change is a `ReportEvent`. A public message reaches the resident through the outbox
(never for an anonymous report); an internal note never does. Village scoping, the
confidential identity and the conflict-of-interest rule are enforced here, not in a UI.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from rapidfuzz import fuzz
from sqlalchemy import ColumnElement, and_, case, func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.i18n import Catalogs
from bot.messages import Choice
from bot.services.audit import AuditTrail
from bot.services.outbox import OutboxQueue
from bot.services.tickets import display_code, new_code
from bot.services.working_days import WorkingCalendar
from bot.settings import Settings
from bot.text import fold, redact_id_numbers
from storage.models import (
    ChannelIdentity,
    Officer,
    OfficerVillage,
    Outbox,
    Report,
    ReportEvent,
    ReportEvidence,
    Resident,
    Village,
)
from storage.repositories import audit as audit_repo

KINDS = (
    "belum_terima",
    "potongan",
    "sanggah",
    "usul",
    "oknum",
    "barang",
    "penyaluran",
    "lainnya",
)
IDENTITY_MODES = ("named", "confidential", "anonymous")
OPEN = ("baru", "diverifikasi", "ditindaklanjuti")
TRANSITIONS: dict[str, frozenset[str]] = {
    "baru": frozenset({"diverifikasi", "ditolak"}),
    "diverifikasi": frozenset({"ditindaklanjuti", "selesai", "ditolak"}),
    "ditindaklanjuti": frozenset({"selesai", "ditolak"}),
    "selesai": frozenset({"ditindaklanjuti"}),
    "ditolak": frozenset({"diverifikasi"}),
}
DUPLICATE_SCORE = 90.0
DUPLICATE_WINDOW = timedelta(hours=24)
CHECK_BACK_AFTER = timedelta(days=14)
ACCUSED_SCORE = 90.0
# Kinds whose subject may name an officer (misconduct, or who asked for a deduction): such
# a report is for admins only, never for the officer named.
ACCUSING_KINDS = frozenset({"oknum", "potongan"})
CODE_ATTEMPTS = 5
EXPORT_LIMIT = 100_000
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CODE_LOOKUP = "report.code_lookup"
WRONG_CODES_PER_WINDOW = 10
CODE_WINDOW = timedelta(hours=1)


class ReportError(Exception):
    """Base of the report domain's errors; routes and dialogs map them to answers."""


class ReportNotFound(ReportError):
    """No such report, or not one this officer may see (the two are not told apart)."""


class NotAllowed(ReportError):
    """The officer's role does not allow this action."""


class InvalidTransition(ReportError):
    def __init__(self, current: str, wanted: str) -> None:
        super().__init__(f"{current} → {wanted}")
        self.current = current
        self.wanted = wanted


class CodeLookupLimited(ReportError):
    """Too many wrong ticket codes from one identity; `retry_at` is when it may try again."""

    def __init__(self, retry_at: datetime) -> None:
        super().__init__("too many wrong codes")
        self.retry_at = retry_at


class ReasonRequired(ReportError):
    """Rejecting a report ("ditolak") needs a reason the resident will read."""


@dataclass(frozen=True, slots=True)
class EvidenceFile:
    sha256: str
    kind: str
    mime_type: str
    size: int
    received_at: datetime
    filename: str = ""


@dataclass
class ReportDraft:
    kind: str
    description: str
    identity_mode: str
    locale: str
    programme: str = ""
    village_code: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    happened: str = ""
    subject: str = ""
    evidence: list[EvidenceFile] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Viewer:
    """An officer as the services see them: role and villages."""

    officer_id: int
    role: str
    villages: frozenset[str]

    @property
    def actor(self) -> str:
        return f"officer:{self.officer_id}"


@dataclass(frozen=True, slots=True)
class ReportFilter:
    status: str | None = None
    kind: str | None = None
    village_code: str | None = None
    programme: str | None = None
    overdue: bool = False
    assignee_id: int | None = None
    unassigned: bool = False


@dataclass(frozen=True, slots=True)
class PublicEvent:
    at: datetime
    status: str
    message: str


@dataclass(frozen=True, slots=True)
class PublicReport:
    """What a resident may know about a report: never internal notes or officers."""

    code: str
    kind: str
    status: str
    created_at: datetime
    events: tuple[PublicEvent, ...]


def visible_to(viewer: Viewer) -> ColumnElement[bool]:
    """The reports an officer may see: admins all, officers their villages, viewers all
    villages; never one naming the officer looking, nor (for others than admins) any report
    that names an officer."""
    not_accused = or_(
        col(Report.accused_officer_id).is_(None),
        col(Report.accused_officer_id) != viewer.officer_id,
    )
    if viewer.role == "admin":
        return not_accused
    if viewer.role == "viewer":
        return and_(not_accused, col(Report.accused_officer_id).is_(None))
    return and_(
        not_accused,
        col(Report.accused_officer_id).is_(None),
        col(Report.village_code).in_(sorted(viewer.villages)),
    )


async def viewer_for(session: AsyncSession, officer_id: int) -> Viewer:
    officer = await session.get(Officer, officer_id)
    if officer is None or not officer.active:
        raise NotAllowed("unknown or inactive officer")
    rows = await session.exec(
        select(OfficerVillage.village_code).where(OfficerVillage.officer_id == officer_id)
    )
    return Viewer(officer_id, officer.role, frozenset(rows.all()))


class ReportService:
    def __init__(self, session: AsyncSession, settings: Settings, catalogs: Catalogs) -> None:
        self.session = session
        self.settings = settings
        self.catalogs = catalogs
        self.calendar = WorkingCalendar(settings.zone, settings.extra_days_off)
        self.audit = AuditTrail(session)
        self.outbox = OutboxQueue(session, catalogs)

    # -- residents -------------------------------------------------------------------------

    async def find_duplicate(
        self, resident_id: int, kind: str, village_code: str | None, text: str, now: datetime
    ) -> Report | None:
        """The resident's own open report this one repeats (same type and village, ≥ 90 %
        similar text, within 24 hours), if any."""
        statement = select(Report).where(
            Report.resident_id == resident_id,
            Report.kind == kind,
            Report.village_code == village_code,
            col(Report.status).in_(OPEN),
            col(Report.created_at) >= now - DUPLICATE_WINDOW,
            col(Report.merged_into_id).is_(None),
        )
        wanted = fold(text)
        for report in (await self.session.exec(statement)).all():
            if fuzz.ratio(fold(report.description), wanted) >= DUPLICATE_SCORE:
                return report
        return None

    async def file(
        self,
        draft: ReportDraft,
        resident_id: int | None,
        identity_id: int | None,
        now: datetime,
    ) -> Report:
        """File a report. Anonymous reports keep neither resident nor identity."""
        if draft.kind not in KINDS or draft.identity_mode not in IDENTITY_MODES:
            raise ValueError("unknown report type or identity mode")
        anonymous = draft.identity_mode == "anonymous"
        if anonymous:
            # The exact second would match the chat's last activity: keep only the hour.
            now = now.replace(minute=0, second=0, microsecond=0)
        report = Report(
            code=await self._unused_code(),
            kind=draft.kind,
            programme=draft.programme,
            village_code=draft.village_code,
            latitude=draft.latitude,
            longitude=draft.longitude,
            happened=draft.happened[:80],
            subject=draft.subject[:300],
            description=draft.description,
            identity_mode=draft.identity_mode,
            resident_id=None if anonymous else resident_id,
            identity_id=None if anonymous else identity_id,
            locale=draft.locale,
            created_at=now,
            updated_at=now,
            verify_due_at=self.calendar.add(now, self.sla_days(draft.kind, "verify")),
        )
        if draft.kind in ACCUSING_KINDS and draft.subject:
            report.accused_officer_id = await self._named_officer(draft.subject)
        self.session.add(report)
        await self.session.flush()
        self._attach(report, draft.evidence, set())
        note = "accused officer named: admins only" if report.accused_officer_id else ""
        self._event(report, "filed", "resident", now, status_to="baru", internal_note=note)
        return report

    async def add_to(
        self, report: Report, text: str, evidence: Sequence[EvidenceFile], now: datetime
    ) -> None:
        """The resident adds to their open report instead of filing a second one."""
        assert report.id is not None
        statement = select(ReportEvidence.sha256).where(ReportEvidence.report_id == report.id)
        self._attach(report, evidence, set((await self.session.exec(statement)).all()))
        report.last_resident_reply_at = now
        report.updated_at = now
        self.session.add(report)
        self._event(report, "resident", "resident", now, public_message=text)

    async def by_code(self, code: str) -> Report | None:
        return (await self.session.exec(select(Report).where(Report.code == code))).first()

    async def look_up_code(self, actor: str, code: str, now: datetime) -> Report | None:
        """A report by its code, for whoever holds it; wrong codes are limited and audited,
        so probing for codes is slow and visible."""
        wrong, oldest = await audit_repo.count_since(
            self.session, actor, CODE_LOOKUP, "not_found", now - CODE_WINDOW
        )
        if wrong >= WRONG_CODES_PER_WINDOW and oldest is not None:
            raise CodeLookupLimited(oldest + CODE_WINDOW)
        report = await self.by_code(code)
        self.audit.record(actor, CODE_LOOKUP, "found" if report else "not_found", now)
        return report

    async def of_resident(self, resident_id: int, limit: int = 10) -> Sequence[Report]:
        statement = (
            select(Report)
            .where(Report.resident_id == resident_id)
            .order_by(col(Report.created_at).desc())
            .limit(limit)
        )
        return (await self.session.exec(statement)).all()

    async def public_view(self, report: Report) -> PublicReport:
        assert report.id is not None
        statement = (
            select(ReportEvent)
            .where(ReportEvent.report_id == report.id)
            .order_by(col(ReportEvent.at), col(ReportEvent.id))
        )
        events = [
            PublicEvent(event.at, event.status_to, event.public_message)
            for event in (await self.session.exec(statement)).all()
            if event.public_message or event.status_to
        ]
        return PublicReport(
            report.code, report.kind, report.status, report.created_at, tuple(events)
        )

    async def rate(self, report: Report, rating: int, now: datetime) -> None:
        if report.status != "selesai" or not 1 <= rating <= 5:
            raise InvalidTransition(report.status, "rated")
        report.rating = rating
        report.updated_at = now
        self.session.add(report)
        self._event(report, "rating", "resident", now, internal_note=f"rating {rating}")

    async def comment_on_rating(self, report: Report, comment: str, now: datetime) -> None:
        report.rating_comment = comment[:2000]
        self.session.add(report)
        self._event(report, "rating", "resident", now, internal_note=comment[:2000])

    async def check_back_answer(
        self, report: Report, still_solved: bool, comment: str, now: datetime
    ) -> None:
        """The 14-day check-back: a bad answer (problem back, pressure) reopens the report."""
        report.checked_back_at = now
        report.last_resident_reply_at = now
        self.session.add(report)
        if still_solved:
            self._event(report, "check_back", "resident", now, internal_note="still solved")
            return
        note = comment[:2000] or "problem back or pressure reported"
        self._event(report, "check_back", "resident", now, internal_note=note)
        await self._move(report, "ditindaklanjuti", "system", now, "")

    # -- officers ------------------------------------------------------------------------------

    def _visible(self, viewer: Viewer) -> ColumnElement[bool]:
        return visible_to(viewer)

    async def get(self, viewer: Viewer, report_id: int, now: datetime) -> Report:
        """A report this officer may see; anything else is 'not found' (and audited)."""
        statement = select(Report).where(Report.id == report_id, self._visible(viewer))
        report = (await self.session.exec(statement)).first()
        if report is None:
            self.audit.record(viewer.actor, "report.view", "denied", now, report_id=report_id)
            raise ReportNotFound(report_id)
        return report

    async def search(
        self, viewer: Viewer, filters: ReportFilter, now: datetime, limit: int = 200
    ) -> Sequence[Report]:
        """Reports this officer may see, most urgent first (earliest SLA deadline)."""
        statement = select(Report).where(self._visible(viewer), *self._conditions(filters, now))
        due = case(
            (col(Report.status) == "baru", col(Report.verify_due_at)),
            (col(Report.status) == "diverifikasi", col(Report.follow_up_due_at)),
            else_=None,
        )
        statement = statement.order_by(
            case((col(Report.status).in_(("selesai", "ditolak")), 1), else_=0),
            case((due.is_(None), 1), else_=0),
            due,
            col(Report.created_at),
        ).limit(limit)
        return (await self.session.exec(statement)).all()

    async def codes_of(self, viewer: Viewer, report_ids: Sequence[int]) -> dict[int, str]:
        """The ticket codes of those of `report_ids` this officer may see (by id): a code
        is the key residents follow a report with, so no other code is ever given."""
        if not report_ids:
            return {}
        statement = select(Report.id, Report.code).where(
            col(Report.id).in_(sorted(set(report_ids))), self._visible(viewer)
        )
        rows = (await self.session.exec(statement)).all()
        return {report_id: code for report_id, code in rows if report_id is not None}

    async def counts_by_status(self, viewer: Viewer) -> dict[str, int]:
        statement = (
            select(Report.status, func.count())
            .where(self._visible(viewer), col(Report.merged_into_id).is_(None))
            .group_by(col(Report.status))
        )
        return {status: int(count) for status, count in (await self.session.exec(statement)).all()}

    def _conditions(self, filters: ReportFilter, now: datetime) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = [col(Report.merged_into_id).is_(None)]
        if filters.status:
            conditions.append(col(Report.status) == filters.status)
        if filters.kind:
            conditions.append(col(Report.kind) == filters.kind)
        if filters.village_code:
            conditions.append(col(Report.village_code) == filters.village_code)
        if filters.programme:
            conditions.append(col(Report.programme) == filters.programme)
        if filters.assignee_id is not None:
            conditions.append(col(Report.assignee_id) == filters.assignee_id)
        if filters.unassigned:
            conditions.append(col(Report.assignee_id).is_(None))
        if filters.overdue:
            conditions.append(overdue_clause(now))
        return conditions

    async def reporter(self, viewer: Viewer, report: Report, now: datetime) -> dict[str, Any]:
        """Who reported, as far as this officer may know; every look is audited."""
        allowed = report.identity_mode == "named" and viewer.role in ("admin", "officer")
        allowed = allowed or (report.identity_mode == "confidential" and viewer.role == "admin")
        outcome = "shown" if allowed and report.identity_id is not None else "hidden"
        self.audit.record(viewer.actor, "report.identity", outcome, now, report_id=report.id)
        if outcome == "hidden" or report.identity_id is None:
            return {"mode": report.identity_mode}
        identity = await self.session.get(ChannelIdentity, report.identity_id)
        resident = await self.session.get(Resident, report.resident_id or 0)
        return {
            "mode": report.identity_mode,
            "channel": identity.channel if identity else "",
            "phone": identity.phone if identity else None,
            "name": resident.display_name if resident else None,
        }

    async def evidence(
        self, viewer: Viewer, report: Report, now: datetime
    ) -> Sequence[ReportEvidence]:
        if viewer.role == "viewer":
            raise NotAllowed("viewers see no evidence")
        statement = select(ReportEvidence).where(ReportEvidence.report_id == report.id)
        files = (await self.session.exec(statement)).all()
        self.audit.record(
            viewer.actor, "report.evidence", "shown", now, report_id=report.id, files=len(files)
        )
        return files

    async def assign(
        self, viewer: Viewer, report: Report, assignee_id: int | None, now: datetime
    ) -> None:
        self._writer(viewer)
        if assignee_id is not None:
            if assignee_id == report.accused_officer_id:
                raise NotAllowed("the accused officer cannot handle this report")
            assignee = await viewer_for(self.session, assignee_id)
            if assignee.role == "viewer":
                raise NotAllowed("viewers cannot be assigned")
            if assignee.role == "officer" and report.village_code not in assignee.villages:
                raise NotAllowed("the officer does not serve this report's village")
        report.assignee_id = assignee_id
        report.updated_at = now
        self.session.add(report)
        self._event(report, "assigned", viewer.actor, now, internal_note=f"→ {assignee_id}")

    async def change_status(
        self,
        viewer: Viewer,
        report: Report,
        status: str,
        now: datetime,
        public_message: str = "",
    ) -> None:
        self._writer(viewer)
        if status == "ditolak" and not public_message.strip():
            raise ReasonRequired()
        await self._move(report, status, viewer.actor, now, public_message.strip()[:4000])

    async def add_note(self, viewer: Viewer, report: Report, note: str, now: datetime) -> None:
        self._writer(viewer)
        self._event(report, "note", viewer.actor, now, internal_note=note.strip()[:4000])

    async def reply(self, viewer: Viewer, report: Report, message: str, now: datetime) -> None:
        self._writer(viewer)
        message = message.strip()[:4000]
        report.last_officer_reply_at = now
        report.updated_at = now
        self.session.add(report)
        self._event(report, "reply", viewer.actor, now, public_message=message)
        answer = (Choice(f"answer:{report.code}", "report.answer"),)
        await self._push(report, "report.push.reply", {"message": message}, answer)

    async def merge(self, viewer: Viewer, duplicate: Report, into: Report, now: datetime) -> None:
        """Close `duplicate` into `into`; its resident is told which code to follow."""
        self._writer(viewer)
        if duplicate.id == into.id or into.merged_into_id is not None:
            raise InvalidTransition(duplicate.status, "merged")
        duplicate.merged_into_id = into.id
        message = self.catalogs.t(
            duplicate.locale, "report.merged_message", {"code": display_code(into.code)}
        )
        self._event(into, "merged", viewer.actor, now, internal_note=f"+ {duplicate.code}")
        await self._move(duplicate, "selesai", viewer.actor, now, message, force=True)

    async def timeline(self, viewer: Viewer, report: Report) -> Sequence[ReportEvent]:
        """Every event of a report, oldest first; viewers get no internal notes, except
        whom an "assigned" event names ("→ <officer id>"), as the report's details do."""
        statement = (
            select(ReportEvent)
            .where(ReportEvent.report_id == report.id)
            .order_by(col(ReportEvent.at), col(ReportEvent.id))
        )
        events = list((await self.session.exec(statement)).all())
        if viewer.role == "viewer":
            for event in events:
                self.session.expunge(event)
                if event.kind != "assigned":
                    event.internal_note = ""
                if event.kind == "resident":  # residents' own words are personal data
                    event.public_message = ""
        return events

    async def deliveries(self, report: Report, limit: int = 200) -> list[Outbox]:
        """The messages queued to the reporter about this report, with their delivery state."""
        if report.identity_id is None:
            return []
        statement = (
            select(Outbox)
            .where(
                Outbox.identity_id == report.identity_id,
                col(Outbox.message_key).startswith("report.push."),
                col(Outbox.created_at) >= report.created_at,
            )
            .order_by(col(Outbox.id))
            .limit(limit)
        )
        code = display_code(report.code)
        return [row for row in (await self.session.exec(statement)).all()
                if row.params.get("code") == code]  # fmt: skip

    async def assignable(self, report: Report) -> Sequence[Officer]:
        """Officers who may take this report: admins, and officers of its village; never
        the officer it names."""
        in_village = select(OfficerVillage.officer_id).where(
            OfficerVillage.village_code == (report.village_code or "")
        )
        statement = (
            select(Officer)
            .where(
                Officer.active,
                or_(col(Officer.role) == "admin", col(Officer.id).in_(in_village)),
                col(Officer.role) != "viewer",
            )
            .order_by(col(Officer.username))
        )
        return [o for o in (await self.session.exec(statement)).all()
                if o.id != report.accused_officer_id]  # fmt: skip

    async def export_csv(self, viewer: Viewer, filters: ReportFilter, now: datetime) -> str:
        """The reports this officer may see, as CSV (the inbox's filters, most urgent first),
        with the officer's and the village's names. Never a reporter's identity nor a NIK
        (NIK-like numbers are masked again); viewers get no subject and no story. Cells a
        spreadsheet would run as formulas are neutralised. Every export is audited."""
        reports = await self.search(viewer, filters, now, limit=EXPORT_LIMIT)
        named = await self.session.exec(select(Officer.id, Officer.display_name, Officer.username))
        officers = {officer_id: name or login for officer_id, name, login in named.all()}
        villages = dict((await self.session.exec(select(Village.code, Village.name))).all())
        private = viewer.role == "viewer"
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(
            ["kode", "jenis", "program", "kode_desa", "desa", "status", "dibuat", "terlambat",
             "petugas", "identitas", "pihak", "isi"]
        )  # fmt: skip
        for report in reports:
            village = report.village_code or ""
            assignee = officers.get(report.assignee_id) if report.assignee_id else None
            row = [
                display_code(report.code),
                report.kind,
                report.programme,
                village,
                villages.get(village, ""),
                report.status,
                report.created_at.astimezone(self.settings.zone).isoformat(timespec="minutes"),
                "ya" if is_overdue(report, now) else "",
                assignee or "",
                report.identity_mode,
                "" if private else redact_id_numbers(report.subject),
                "" if private else redact_id_numbers(report.description),
            ]
            writer.writerow([_csv_cell(value) for value in row])
        detail = {k: v for k, v in asdict(filters).items() if v not in (None, False, "")}
        self.audit.record(
            viewer.actor, "report.export", "ok", now, rows=len(reports), filters=detail
        )
        return out.getvalue()

    # -- clocks --------------------------------------------------------------------------------

    async def close_unanswered(self, now: datetime) -> int:
        """Close reports whose resident has not answered for the auto-close period."""
        statement = (
            select(Report)
            .where(
                col(Report.status).in_(("diverifikasi", "ditindaklanjuti")),
                col(Report.last_officer_reply_at).is_not(None),
            )
            .with_for_update(skip_locked=True)  # several instances run the clocks
        )
        closed = 0
        for report in (await self.session.exec(statement)).all():
            replied = report.last_officer_reply_at
            assert replied is not None
            if report.last_resident_reply_at and report.last_resident_reply_at > replied:
                continue
            days = self.sla_days(report.kind, "auto_close")
            if self.calendar.between(replied, now) >= days:
                message = self.catalogs.t(report.locale, "report.auto_closed", {"days": days})
                await self._move(report, "selesai", "system", now, message)
                closed += 1
        return closed

    async def send_check_backs(self, now: datetime) -> int:
        """Ask residents, 14 days after 'selesai', whether the problem stayed solved."""
        statement = (
            select(Report)
            .where(
                Report.status == "selesai",
                col(Report.check_back_at) <= now,
                col(Report.checked_back_at).is_(None),
                col(Report.identity_id).is_not(None),
            )
            .with_for_update(skip_locked=True)
        )
        sent = 0
        for report in (await self.session.exec(statement)).all():
            code = display_code(report.code)
            choices = (
                Choice(f"checkback:{report.code}:ok", "report.check_back_ok"),
                Choice(f"checkback:{report.code}:bad", "report.check_back_bad"),
            )
            await self._push(report, "report.push.check_back", {"code": code}, choices)
            report.checked_back_at = now
            self.session.add(report)
            sent += 1
        return sent

    # -- internals -----------------------------------------------------------------------------

    async def _move(
        self,
        report: Report,
        status: str,
        actor: str,
        now: datetime,
        public_message: str,
        force: bool = False,
    ) -> None:
        if not force and status not in TRANSITIONS.get(report.status, frozenset()):
            raise InvalidTransition(report.status, status)
        previous = report.status
        report.status = status
        report.updated_at = now
        if status == "diverifikasi":
            report.follow_up_due_at = self.calendar.add(
                now, self.sla_days(report.kind, "follow_up")
            )
        if status in ("selesai", "ditolak"):
            report.closed_at = now
            report.status_reason = public_message if status == "ditolak" else ""
        if status == "selesai":
            report.check_back_at = now + CHECK_BACK_AFTER
            report.checked_back_at = None
        if status == "ditindaklanjuti" and previous in ("selesai", "ditolak"):
            report.closed_at = None
        if public_message:
            report.last_officer_reply_at = now
        self.session.add(report)
        self._event(
            report,
            "status",
            actor,
            now,
            status_from=previous,
            status_to=status,
            public_message=public_message,
        )
        label = self.catalogs.t(report.locale, f"report.status.{status}")
        await self._push(
            report, "report.push.status", {"status": label, "message": public_message or "-"}
        )
        if status == "selesai" and report.merged_into_id is None:
            rate = tuple(
                Choice(f"rate:{report.code}:{n}", "report.rate_option", {"n": n})
                for n in range(5, 0, -1)
            )
            await self._push(report, "report.push.rate", {}, rate)

    async def _push(
        self,
        report: Report,
        key: str,
        params: dict[str, Any],
        choices: Sequence[Choice] = (),
    ) -> None:
        if report.identity_id is None:  # anonymous: nobody to tell, by design
            return
        full = {"code": display_code(report.code), **params}
        await self.outbox.queue(report.identity_id, report.locale, key, full, choices)

    def _event(
        self,
        report: Report,
        kind: str,
        actor: str,
        now: datetime,
        *,
        status_from: str = "",
        status_to: str = "",
        public_message: str = "",
        internal_note: str = "",
    ) -> None:
        assert report.id is not None
        self.session.add(
            ReportEvent(
                report_id=report.id,
                at=now,
                kind=kind,
                actor=actor,
                status_from=status_from,
                status_to=status_to,
                public_message=public_message,
                internal_note=internal_note,
            )
        )

    def _attach(self, report: Report, files: Sequence[EvidenceFile], known: set[str]) -> None:
        """Evidence rows for the files not attached yet (one row per content hash)."""
        assert report.id is not None
        for item in files:
            if item.sha256 in known:
                continue
            known.add(item.sha256)
            self.session.add(
                ReportEvidence(
                    report_id=report.id,
                    sha256=item.sha256,
                    kind=item.kind,
                    mime_type=item.mime_type,
                    size=item.size,
                    filename=item.filename[:200],
                    received_at=item.received_at,
                )
            )

    def _writer(self, viewer: Viewer) -> None:
        if viewer.role == "viewer":
            raise NotAllowed("viewers are read-only")

    def sla_days(self, kind: str, clock: str) -> int:
        override = self.settings.sla_by_type.get(kind, {}).get(clock)
        if override is not None:
            return override
        return {
            "verify": self.settings.sla_verify_days,
            "follow_up": self.settings.sla_follow_up_days,
            "auto_close": self.settings.sla_auto_close_days,
        }[clock]

    async def _unused_code(self) -> str:
        for _ in range(CODE_ATTEMPTS):
            code = new_code()
            if await self.by_code(code) is None:
                return code
        raise RuntimeError("no unused ticket code after several tries")

    async def _named_officer(self, subject: str) -> int | None:
        wanted = fold(subject)
        officers = (await self.session.exec(select(Officer).where(Officer.active))).all()
        for officer in officers:
            for name in (officer.display_name, officer.username):
                if name and fuzz.token_set_ratio(fold(name), wanted) >= ACCUSED_SCORE:
                    return officer.id
        return None


def _csv_cell(value: str) -> str:
    """A text cell a spreadsheet would run as a formula gets a leading apostrophe."""
    return "'" + value if value.startswith(FORMULA_START) else value


def overdue_clause(now: datetime) -> ColumnElement[bool]:
    return or_(
        and_(col(Report.status) == "baru", col(Report.verify_due_at) < now),
        and_(col(Report.status) == "diverifikasi", col(Report.follow_up_due_at) < now),
    )


def is_overdue(report: Report, now: datetime) -> bool:
    if report.status == "baru":
        return report.verify_due_at is not None and report.verify_due_at < now
    if report.status == "diverifikasi":
        return report.follow_up_due_at is not None and report.follow_up_due_at < now
    return False
