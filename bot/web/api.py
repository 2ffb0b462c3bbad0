"""The officers' JSON API, a sub-application mounted at `/api/v1`.

    app.mount("/api/v1", api_app(runtime))

Callers send `Authorization: Bearer bsn_…` (a token from `bansos officer token USERNAME`).
Reports are addressed by their public code ("K7QM2XHD"; "k7qm-2xhd" is read the same way);
distribution schedules (jadwal penyaluran) by their id.
Routes are thin: each request is one unit of work (`SessionDep`), the services decide who may
see and change what, and domain exceptions become HTTP answers in one place
(`_install_error_handlers`). The OpenAPI document is served at `/api/v1/openapi.json`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, get_args

from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.engine import StorageUnavailable
from bot.runtime import Runtime
from bot.services.broadcasts import BroadcastService
from bot.services.officer_auth import OfficerAuth
from bot.services.reports import (
    InvalidTransition,
    NotAllowed,
    ReasonRequired,
    ReportError,
    ReportFilter,
    ReportNotFound,
    ReportService,
    Viewer,
    is_overdue,
    viewer_for,
)
from bot.services.schedules import (
    LIMITS,
    MAX_WINDOW,
    ScheduleError,
    ScheduleInput,
    ScheduleNotFound,
    ScheduleService,
    ScheduleView,
    normalise_rts,
)
from bot.services.tickets import display_code, read_code
from bot.web.paths import MAX_ID as MAX_ID
from storage.models import Report, ReportEvent
from storage.types import utcnow

log = logging.getLogger(__name__)

API_VERSION = "1.0.0"
MAX_LIMIT = 200
MAX_OFFSET = 10_000
MAX_TEXT = 4000
MAX_ECHO = 200  # the longest input (as JSON) a validation error repeats back
NO_NUL = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL characters

# The vocabularies of the report service, spelled out so that the OpenAPI schema lists them
# (tests/web/test_api.py checks they match `TRANSITIONS`, `KINDS`, `IDENTITY_MODES`).
Status = Literal["baru", "diverifikasi", "ditindaklanjuti", "selesai", "ditolak"]
Kind = Literal[
    "belum_terima", "potongan", "sanggah", "usul", "oknum", "barang", "penyaluran", "lainnya"
]
IdentityMode = Literal["named", "confidential", "anonymous"]
Programme = Literal["PKH", "BPNT", "BLT", "PBI-JK", "PIP"]
OfficerId = Annotated[int, Field(ge=1, le=MAX_ID)]
STATUSES = frozenset(get_args(Status))


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must contain more than white space")
    return value


Text = Annotated[
    str,
    Field(min_length=1, max_length=MAX_TEXT, pattern=NO_NUL, description="Not blank."),
    AfterValidator(_not_blank),
]


# -- models ------------------------------------------------------------------------------------


class Problem(BaseModel):
    """Why a request was refused."""

    detail: str


class TransitionProblem(Problem):
    """The report's status does not allow the requested move."""

    current: Status
    wanted: str


class ReportSummary(BaseModel):
    """A report in a list: no personal data (no reporter, no description)."""

    code: str = Field(description="The ticket code, 8 Crockford base32 characters.")
    display_code: str = Field(description='The code as residents see it: "K7QM-2XHD".')
    kind: Kind
    status: Status
    programme: str = Field(description='"" when the resident named no programme.')
    village_code: str | None
    assignee_id: int | None
    created_at: datetime
    updated_at: datetime
    verify_due_at: datetime | None
    follow_up_due_at: datetime | None
    overdue: bool = Field(description="Past its SLA deadline for the current status.")


class TimelineEntry(BaseModel):
    """A public step of the report: a status change or a message the resident saw or sent."""

    at: datetime
    kind: str = Field(description="filed, status, reply, resident, merged, …")
    actor: str = Field(description='"resident", "system" or "officer:<id>".')
    status_from: Status | None
    status_to: Status | None
    message: str | None = Field(
        description="What the resident was told or wrote; null for a viewer when the "
        "resident wrote it (it may hold personal data)."
    )


class InternalNote(BaseModel):
    """An entry only officers see; never sent to the resident."""

    at: datetime
    kind: str = Field(description="note, assigned, rating, check_back, filed, …")
    actor: str
    note: str


class ReportDetail(ReportSummary):
    """One report. Viewers (read-only role) get none of what residents typed (description,
    subject, when it happened) and no internal notes."""

    identity_mode: IdentityMode
    description: str | None
    subject: str | None
    happened: str | None
    status_reason: str = Field(description="The reason given to the resident on rejection.")
    closed_at: datetime | None
    rating: int | None
    timeline: list[TimelineEntry]
    notes: list[InternalNote] | None = Field(description="null for viewers.")


class StatusCounts(BaseModel):
    """How many reports this officer may see, per status."""

    baru: int = 0
    diverifikasi: int = 0
    ditindaklanjuti: int = 0
    selesai: int = 0
    ditolak: int = 0
    total: int = 0


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StatusChange(_Body):
    status: Status
    public_message: str = Field(
        default="",
        max_length=MAX_TEXT,
        pattern=NO_NUL,
        description="Sent to the resident; required (not blank) for ditolak.",
    )


class Assignment(_Body):
    assignee_id: OfficerId | None = Field(description="null takes the report off everyone.")


class ReplyIn(_Body):
    message: Text


class NoteIn(_Body):
    note: Text


class ReportFilterQuery(BaseModel):
    """Filters of `GET /reports.csv` (the fields of the service's `ReportFilter`)."""

    status: Status | None = None
    kind: Kind | None = None
    village_code: str | None = Field(default=None, max_length=13, pattern=r"^[0-9.]+$")
    programme: Programme | None = None
    overdue: bool = False
    assignee_id: OfficerId | None = None
    unassigned: bool = False

    def to_filter(self) -> ReportFilter:
        return ReportFilter(
            status=self.status,
            kind=self.kind,
            village_code=self.village_code,
            programme=self.programme,
            overdue=self.overdue,
            assignee_id=self.assignee_id,
            unassigned=self.unassigned,
        )


class ReportQuery(ReportFilterQuery):
    """Filters of `GET /reports` and paging."""

    limit: int = Field(default=50, ge=1, le=MAX_LIMIT)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)


# Distribution schedules. The limits are the service's (`LIMITS`) and the storage's, so that
# input the service would refuse, or the database could not hold, is a 422 here.
MAX_VILLAGES = 500
MAX_RTS = 200  # schedule_village.rts, once normalised ("001,002,…")
EARLIEST_YEAR, LATEST_YEAR = 2000, 2100
PAST = timedelta(days=366)  # `include_past`: the schedules of the last year too


def _in_utc(value: datetime) -> datetime:
    try:
        moment = value.astimezone(UTC)
    except OverflowError:  # "9999-12-31T23:00:00-05:00" is past datetime's range in UTC
        raise ValueError("out of range") from None
    if not EARLIEST_YEAR <= moment.year <= LATEST_YEAR:
        raise ValueError(f"must fall between {EARLIEST_YEAR} and {LATEST_YEAR}")
    return moment


def _rts(value: str) -> str:
    try:
        rts = normalise_rts(value)
    except ScheduleError:
        raise ValueError("RT numbers of 1 to 3 digits, separated by commas") from None
    if len(rts) > MAX_RTS:
        raise ValueError("too many RTs; leave it empty for every RT")
    return rts


Moment = Annotated[
    AwareDatetime,
    Field(
        description="With its UTC offset (2026-11-30T08:00:00+07:00); answered in UTC; "
        f"between {EARLIEST_YEAR} and {LATEST_YEAR}."
    ),
    AfterValidator(_in_utc),
]
VillageCode = Annotated[
    str, Field(pattern=r"^[0-9]{10}$", description="The 10-digit Kemendagri village code.")
]
Rts = Annotated[
    str,
    Field(
        max_length=MAX_RTS,
        pattern=r"^[0-9 ,;/]*$",
        description='"" for every RT, else RT numbers ("1, 2" is answered as "001,002").',
    ),
    AfterValidator(_rts),
]
Phase = Annotated[
    str,
    Field(
        min_length=1,
        max_length=LIMITS["phase"],
        pattern=NO_NUL,
        description='Not blank; the round as residents know it: "Tahap 4 2026".',
    ),
    AfterValidator(_not_blank),
]
Place = Annotated[
    str,
    Field(
        min_length=1,
        max_length=LIMITS["place"],
        pattern=NO_NUL,
        description='Not blank; where to go: "Balai Desa Leksono".',
    ),
    AfterValidator(_not_blank),
]
Latitude = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
Longitude = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]


class ServedVillage(BaseModel):
    """A village a schedule serves, optionally narrowed to some RTs."""

    code: str
    rts: str = Field(description='"" for every RT, else "001,002".')


class ScheduleFollowUp(BaseModel):
    """Broadcast ids, by what a schedule change did to them."""

    updated: list[int] = Field(
        default=[], description="Not started yet: text rebuilt, reminder time moved."
    )
    sent_now: list[int] = Field(default=[], description="Reminders whose time had passed.")
    dropped: list[int] = Field(default=[], description="Reminders too late to make sense.")
    already_out: list[int] = Field(
        default=[], description="Went out with the old details: consider a correction."
    )


class ScheduleOut(BaseModel):
    """A distribution schedule (jadwal penyaluran): when and where aid is handed out."""

    id: int
    programme: Programme
    phase: str
    starts_at: datetime
    ends_at: datetime
    place: str
    latitude: float | None
    longitude: float | None
    bring: str = Field(description='What to bring; "" for the usual documents (KTP, KK, KKS).')
    note: str
    villages: list[ServedVillage]
    follow_up: ScheduleFollowUp = Field(
        default_factory=ScheduleFollowUp,
        description="After a change (PUT): what happened to the broadcasts built from it.",
    )


class ServedVillageIn(_Body):
    code: VillageCode
    rts: Rts = ""


class ScheduleIn(_Body):
    """A schedule to save. At most 14 days from start to end (`MAX_WINDOW`); latitude and
    longitude come together or not at all; an officer names only their own villages."""

    programme: Programme
    phase: Phase
    starts_at: Moment
    ends_at: Moment
    place: Place
    villages: list[ServedVillageIn] = Field(min_length=1, max_length=MAX_VILLAGES)
    bring: Annotated[str, Field(max_length=LIMITS["bring"], pattern=NO_NUL)] = ""
    note: Annotated[str, Field(max_length=LIMITS["note"], pattern=NO_NUL)] = ""
    latitude: Latitude | None = None
    longitude: Longitude | None = None

    @field_validator("villages")
    @classmethod
    def _each_village_once(cls, villages: list[ServedVillageIn]) -> list[ServedVillageIn]:
        if len({village.code for village in villages}) != len(villages):
            raise ValueError("each village at most once")
        return villages

    def to_input(self) -> ScheduleInput:
        return ScheduleInput(
            programme=self.programme,
            phase=self.phase,
            starts_at=self.starts_at,
            ends_at=self.ends_at,
            place=self.place,
            villages={village.code: village.rts for village in self.villages},
            bring=self.bring,
            note=self.note,
            latitude=self.latitude,
            longitude=self.longitude,
        )


# -- dependencies ------------------------------------------------------------------------------


class Unauthenticated(Exception):
    """No bearer token, or one that is unknown, revoked or belongs to an inactive officer."""

    def __init__(self, token_given: bool) -> None:
        super().__init__("missing or invalid bearer token")
        self.token_given = token_given


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _now(request: Request) -> datetime:
    clock: Callable[[], datetime] = request.app.state.clock
    return clock()


async def _unit_of_work(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request, committed before the response is sent.

    A domain refusal (`ReportError`) still commits what the service recorded before refusing,
    such as the audit row of a denied look at another village's report; the services check
    before they change anything, so nothing else is half-written. Any other error rolls back.
    """
    refused: ReportError | None = None
    async with _runtime(request).db.transaction() as session:
        try:
            yield session
        except ReportError as error:
            refused = error
    if refused is not None:
        raise refused


_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearerAuth",
    bearerFormat="bsn_…",
    description="An API token from `bansos officer token USERNAME`.",
)

RuntimeDep = Annotated[Runtime, Depends(_runtime)]
NowDep = Annotated[datetime, Depends(_now)]
SessionDep = Annotated[AsyncSession, Depends(_unit_of_work, scope="function")]
CredentialsDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def _current_viewer(
    runtime: RuntimeDep, session: SessionDep, credentials: CredentialsDep, now: NowDep
) -> Viewer:
    if credentials is None:
        raise Unauthenticated(token_given=False)
    auth = OfficerAuth(session, runtime.vault)
    officer = await auth.officer_for_api_token(credentials.credentials, now)
    if officer is None or officer.id is None:
        raise Unauthenticated(token_given=True)
    try:
        return await viewer_for(session, officer.id)
    except NotAllowed:
        raise Unauthenticated(token_given=True) from None


def _report_service(runtime: RuntimeDep, session: SessionDep) -> ReportService:
    return ReportService(session, runtime.settings, runtime.catalogs)


def _schedule_service(runtime: RuntimeDep, session: SessionDep) -> ScheduleService:
    """The schedules, and the broadcasts that follow a change of one."""
    follower = BroadcastService(session, runtime.settings, runtime.catalogs)
    return ScheduleService(session, follower)


ViewerDep = Annotated[Viewer, Depends(_current_viewer)]
ServiceDep = Annotated[ReportService, Depends(_report_service)]
SchedulesDep = Annotated[ScheduleService, Depends(_schedule_service)]
CodePath = Annotated[
    str,
    Path(description='The ticket code, "K7QM2XHD" (also read: "k7qm-2xhd", O for 0, I for 1).'),
]
ScheduleIdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="The schedule's id.")]


# -- shaping -----------------------------------------------------------------------------------


async def _load(service: ReportService, viewer: Viewer, code: str, now: datetime) -> Report:
    """The report behind a typed code, if this officer may see it (the service audits a
    denied look); anything else is the same 'not found'."""
    wanted = read_code(code)
    found = await service.by_code(wanted) if wanted else None
    if found is None or found.id is None:
        raise ReportNotFound(code)
    return await service.get(viewer, found.id, now)


def _summary_fields(report: Report, now: datetime) -> dict[str, object]:
    return {
        "code": report.code,
        "display_code": display_code(report.code),
        "kind": report.kind,
        "status": report.status,
        "programme": report.programme,
        "village_code": report.village_code,
        "assignee_id": report.assignee_id,
        "created_at": report.created_at,
        "updated_at": report.updated_at,
        "verify_due_at": report.verify_due_at,
        "follow_up_due_at": report.follow_up_due_at,
        "overdue": is_overdue(report, now),
    }


def _summary(report: Report, now: datetime) -> ReportSummary:
    return ReportSummary.model_validate(_summary_fields(report, now))


def _timeline(events: Sequence[ReportEvent], viewer: Viewer) -> list[TimelineEntry]:
    viewer_only = viewer.role == "viewer"
    return [
        TimelineEntry.model_validate(
            {
                "at": event.at,
                "kind": event.kind,
                "actor": event.actor,
                "status_from": event.status_from or None,
                "status_to": event.status_to or None,
                "message": (
                    None if viewer_only and event.actor == "resident" else event.public_message
                ),
            }
        )
        for event in events
        # The service blanks residents' own words for viewers; the step still shows.
        if event.status_to or event.public_message or event.kind == "resident"
    ]


def _notes(events: Sequence[ReportEvent], viewer: Viewer) -> list[InternalNote] | None:
    if viewer.role == "viewer":
        return None
    return [
        InternalNote(at=event.at, kind=event.kind, actor=event.actor, note=event.internal_note)
        for event in events
        if event.internal_note
    ]


async def _detail(
    service: ReportService, viewer: Viewer, report: Report, now: datetime
) -> ReportDetail:
    events = await service.timeline(viewer, report)
    private = viewer.role == "viewer"
    return ReportDetail.model_validate(
        {
            **_summary_fields(report, now),
            "identity_mode": report.identity_mode,
            "description": None if private else report.description,
            "subject": None if private else report.subject,
            "happened": None if private else report.happened,
            "status_reason": report.status_reason,
            "closed_at": report.closed_at,
            "rating": report.rating,
            "timeline": _timeline(events, viewer),
            "notes": _notes(events, viewer),
        }
    )


def _schedule(view: ScheduleView) -> ScheduleOut:
    schedule = view.schedule
    return ScheduleOut.model_validate(
        {
            "id": view.id,
            "programme": schedule.programme,
            "phase": schedule.phase,
            "starts_at": schedule.starts_at,
            "ends_at": schedule.ends_at,
            "place": schedule.place,
            "latitude": schedule.latitude,
            "longitude": schedule.longitude,
            "bring": schedule.bring,
            "note": schedule.note,
            "villages": [{"code": code, "rts": rts} for code, rts in sorted(view.villages.items())],
            "follow_up": {
                "updated": list(view.follow_up.updated),
                "sent_now": list(view.follow_up.sent_now),
                "dropped": list(view.follow_up.dropped),
                "already_out": list(view.follow_up.already_out),
            },
        }
    )


# -- responses ---------------------------------------------------------------------------------


class SafeJSONResponse(JSONResponse):
    """JSON that survives text which is not valid Unicode: a lone surrogate in a query or a
    body is echoed back by a validation error, and plain `JSONResponse` fails to encode it
    (a 500). Such a character is written as "?" instead."""

    def render(self, content: Any) -> bytes:
        text = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        return text.encode("utf-8", "replace")


def validation_problem(error: RequestValidationError) -> Response:
    """FastAPI's 422, without repeating input that is long (a 5 MB body) or that JSON cannot
    hold (NaN, Infinity, 1e999, which Python's JSON parser reads into a body)."""
    problems = []
    for problem in jsonable_encoder(error.errors()):
        if "input" in problem and not _echoable(problem["input"]):
            del problem["input"]
        if "ctx" in problem and not _echoable(problem["ctx"]):
            del problem["ctx"]
        problems.append(problem)
    return SafeJSONResponse({"detail": problems}, status_code=422)


def _echoable(value: Any) -> bool:
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return len(text) <= MAX_ECHO


# -- the app -----------------------------------------------------------------------------------

Responses = dict[int | str, dict[str, Any]]
_PROBLEM: dict[str, Any] = {"model": Problem}
_COMMON: Responses = {
    401: {**_PROBLEM, "description": "No valid bearer token"},
    503: {**_PROBLEM, "description": "The database is unavailable; try again"},
}
_ONE: Responses = {
    404: {**_PROBLEM, "description": "No such report, or not one this officer may see"}
}
_UNREADABLE: Responses = {
    400: {**_PROBLEM, "description": "The body could not be read (not UTF-8)"}
}
_WRITE: Responses = {
    **_ONE,
    **_UNREADABLE,
    403: {**_PROBLEM, "description": "The officer's role does not allow this"},
    409: {"model": TransitionProblem, "description": "The status does not allow this move"},
}
_ONE_SCHEDULE: Responses = {
    404: {**_PROBLEM, "description": "No such schedule, or not one this officer may see"}
}
_NEW_SCHEDULE: Responses = {
    **_UNREADABLE,
    403: {
        **_PROBLEM,
        "description": "A viewer, or an officer naming a village that is not theirs",
    },
}
_SCHEDULE_WRITE: Responses = {**_NEW_SCHEDULE, **_ONE_SCHEDULE}


def api_app(runtime: Runtime, *, clock: Callable[[], datetime] = utcnow) -> FastAPI:
    """The `/api/v1` sub-application; `clock` is for tests."""
    api = FastAPI(
        title="bansos-bot officer API",
        version=API_VERSION,
        description="Reports (laporan, usul, sanggah) for officers, by ticket code; "
        "distribution schedules (jadwal penyaluran).",
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
        servers=[{"url": "/api/v1"}],
        responses=_COMMON,
        default_response_class=SafeJSONResponse,
    )
    api.state.runtime = runtime
    api.state.clock = clock

    @api.get("/reports", operation_id="listReports", summary="Reports, most urgent first")
    async def list_reports(
        viewer: ViewerDep,
        service: ServiceDep,
        now: NowDep,
        query: Annotated[ReportQuery, Query()],
    ) -> list[ReportSummary]:
        # The service has a limit but no offset: fetch up to the page's end and cut.
        found = await service.search(viewer, query.to_filter(), now, query.offset + query.limit)
        return [_summary(report, now) for report in found[query.offset :]]

    @api.get(
        "/reports.csv",
        operation_id="exportReports",
        summary="Reports as CSV, with the list's filters",
        response_class=Response,
        responses={
            200: {
                "description": "One row per report (no reporter, no NIK; viewers get no "
                "subject and no story); the export is audited.",
                "content": {"text/csv": {"schema": {"type": "string"}}},
            }
        },
    )
    async def export_reports(
        viewer: ViewerDep,
        service: ServiceDep,
        now: NowDep,
        query: Annotated[ReportFilterQuery, Query()],
    ) -> Response:
        text = await service.export_csv(viewer, query.to_filter(), now)
        headers = {
            "Content-Disposition": 'attachment; filename="laporan.csv"',
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        }
        return Response(text, media_type="text/csv; charset=utf-8", headers=headers)

    @api.get("/reports/counts", operation_id="countReports", summary="Reports per status")
    async def count_reports(viewer: ViewerDep, service: ServiceDep) -> StatusCounts:
        counts = await service.counts_by_status(viewer)
        known = {status: n for status, n in counts.items() if status in STATUSES}
        return StatusCounts.model_validate({**known, "total": sum(counts.values())})

    @api.get("/reports/{code}", operation_id="getReport", summary="One report", responses=_ONE)
    async def get_report(
        code: CodePath, viewer: ViewerDep, service: ServiceDep, now: NowDep
    ) -> ReportDetail:
        report = await _load(service, viewer, code, now)
        return await _detail(service, viewer, report, now)

    @api.post(
        "/reports/{code}/status",
        operation_id="changeStatus",
        summary="Move the report; the resident is told",
        responses=_WRITE,
    )
    async def change_status(
        code: CodePath, body: StatusChange, viewer: ViewerDep, service: ServiceDep, now: NowDep
    ) -> ReportDetail:
        report = await _load(service, viewer, code, now)
        await service.change_status(viewer, report, body.status, now, body.public_message)
        return await _detail(service, viewer, report, now)

    @api.post(
        "/reports/{code}/assign",
        operation_id="assignReport",
        summary="Give the report to an officer",
        responses=_WRITE,
    )
    async def assign(
        code: CodePath, body: Assignment, viewer: ViewerDep, service: ServiceDep, now: NowDep
    ) -> ReportDetail:
        report = await _load(service, viewer, code, now)
        await service.assign(viewer, report, body.assignee_id, now)
        return await _detail(service, viewer, report, now)

    @api.post(
        "/reports/{code}/reply",
        operation_id="replyToReporter",
        summary="Send the resident a message",
        responses=_WRITE,
    )
    async def reply(
        code: CodePath, body: ReplyIn, viewer: ViewerDep, service: ServiceDep, now: NowDep
    ) -> ReportDetail:
        report = await _load(service, viewer, code, now)
        await service.reply(viewer, report, body.message, now)
        return await _detail(service, viewer, report, now)

    @api.post(
        "/reports/{code}/notes",
        operation_id="addNote",
        summary="Add an internal note (never sent to the resident)",
        responses=_WRITE,
    )
    async def add_note(
        code: CodePath, body: NoteIn, viewer: ViewerDep, service: ServiceDep, now: NowDep
    ) -> ReportDetail:
        report = await _load(service, viewer, code, now)
        await service.add_note(viewer, report, body.note, now)
        return await _detail(service, viewer, report, now)

    @api.get(
        "/schedules",
        operation_id="listSchedules",
        summary="Distribution schedules not yet over, soonest first",
    )
    async def list_schedules(
        viewer: ViewerDep,
        schedules: SchedulesDep,
        now: NowDep,
        include_past: Annotated[
            bool, Query(description="Also the schedules that ended within the last year.")
        ] = False,
    ) -> list[ScheduleOut]:
        # An officer sees the schedules serving one of their villages; others see all.
        since = now - PAST if include_past else now
        return [_schedule(view) for view in await schedules.listing_for(viewer, since, MAX_LIMIT)]

    @api.get(
        "/schedules/{schedule_id}",
        operation_id="getSchedule",
        summary="One distribution schedule",
        responses=_ONE_SCHEDULE,
    )
    async def get_schedule(
        schedule_id: ScheduleIdPath, viewer: ViewerDep, schedules: SchedulesDep
    ) -> ScheduleOut:
        return _schedule(await schedules.get_for(viewer, schedule_id))

    @api.post(
        "/schedules",
        operation_id="createSchedule",
        summary="Add a distribution schedule",
        status_code=201,
        responses=_NEW_SCHEDULE,
    )
    async def create_schedule(
        body: ScheduleIn, viewer: ViewerDep, schedules: SchedulesDep, now: NowDep
    ) -> ScheduleOut:
        return _schedule(await schedules.save_as(viewer, body.to_input(), now))

    @api.put(
        "/schedules/{schedule_id}",
        operation_id="updateSchedule",
        summary="Change a distribution schedule (every field; the villages are replaced)",
        responses=_SCHEDULE_WRITE,
    )
    async def update_schedule(
        schedule_id: ScheduleIdPath,
        body: ScheduleIn,
        viewer: ViewerDep,
        schedules: SchedulesDep,
        now: NowDep,
    ) -> ScheduleOut:
        return _schedule(await schedules.save_as(viewer, body.to_input(), now, schedule_id))

    _install_error_handlers(api)
    return api


def _problem(status: int, detail: str, headers: dict[str, str] | None = None) -> Response:
    return SafeJSONResponse({"detail": detail}, status_code=status, headers=headers)


# The fields a `ScheduleError` names → (the body field to fix, what is wrong).
_SCHEDULE_PROBLEMS = {
    "programme": ("programme", "unknown programme"),
    "phase": ("phase", f"required, at most {LIMITS['phase']} characters"),
    "place": ("place", f"required, at most {LIMITS['place']} characters"),
    "bring": ("bring", f"at most {LIMITS['bring']} characters"),
    "note": ("note", f"at most {LIMITS['note']} characters"),
    "window": ("ends_at", f"after starts_at, at most {MAX_WINDOW.days} days later"),
    "location": ("latitude", "latitude and longitude come together, or not at all"),
    "villages": ("villages", "at least one village, each one known"),
    "rts": ("villages", "RT numbers of 1 to 3 digits, separated by commas"),
}


def _install_error_handlers(api: FastAPI) -> None:
    """The one place where domain exceptions and outages become HTTP answers."""

    @api.exception_handler(Unauthenticated)
    async def unauthenticated(_: Request, error: Unauthenticated) -> Response:
        challenge = 'Bearer error="invalid_token"' if error.token_given else "Bearer"
        return _problem(401, str(error), {"WWW-Authenticate": challenge})

    @api.exception_handler(ReportNotFound)
    async def not_found(_: Request, __: ReportNotFound) -> Response:
        return _problem(404, "report not found")

    @api.exception_handler(ScheduleNotFound)
    async def schedule_not_found(_: Request, __: ScheduleNotFound) -> Response:
        return _problem(404, "schedule not found")

    @api.exception_handler(NotAllowed)
    async def not_allowed(_: Request, error: NotAllowed) -> Response:
        return _problem(403, str(error) or "not allowed")

    @api.exception_handler(InvalidTransition)
    async def invalid_transition(_: Request, error: InvalidTransition) -> Response:
        body = {
            "detail": f"a report in {error.current} cannot move to {error.wanted}",
            "current": error.current,
            "wanted": error.wanted,
        }
        return SafeJSONResponse(body, status_code=409)

    @api.exception_handler(ReasonRequired)
    async def reason_required(_: Request, __: ReasonRequired) -> Response:
        # The shape of FastAPI's own validation errors, so clients handle one 422.
        problem = {
            "loc": ["body", "public_message"],
            "msg": "a reason for the resident is required to reject a report",
            "type": "reason_required",
        }
        return SafeJSONResponse({"detail": [problem]}, status_code=422)

    @api.exception_handler(ScheduleError)
    async def bad_schedule(_: Request, error: ScheduleError) -> Response:
        # The service's refusal, in the shape of FastAPI's own validation errors (as above);
        # `loc` is the body field to fix, `type` keeps the service's name for it.
        field = str(error)
        where, message = _SCHEDULE_PROBLEMS.get(field, (field, "invalid"))
        problem = {"loc": ["body", where], "msg": message, "type": f"schedule_{field}"}
        return SafeJSONResponse({"detail": [problem]}, status_code=422)

    @api.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, error: RequestValidationError) -> Response:
        return validation_problem(error)

    async def unavailable(_: Request, error: Exception) -> Response:
        original = getattr(error, "orig", None)
        log.error("api: database unavailable: %s", type(original or error).__name__)
        return _problem(503, "service temporarily unavailable", {"Retry-After": "5"})

    for outage in (DBAPIError, PoolTimeout, OSError, StorageUnavailable):
        api.add_exception_handler(outage, unavailable)
