"""Monitoring figures (pemantauan) for the officers' dashboard.

Every figure covers reports filed, look-ups made, sessions starting or messages queued in
one period [start, end) of aware UTC datetimes, and sees exactly the reports the viewer may
see in the inbox (`ReportService._visible`: admins everything except reports naming
themselves, viewers all villages but no reports naming an officer, officers only their
villages). Merged duplicates are not counted twice. Counting is done in portable SQL;
medians and calendar buckets are done in Python, because neither is portable SQL.

Nothing here commits and nothing here returns personal data: counts, report ids and codes
(a code is not personal data), and — for admins and officers only — the subject a
"potongan" report names, which clusters group on.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from rapidfuzz import fuzz, process
from sqlalchemy import ColumnElement, Executable, Subquery, and_, case, func, type_coerce
from sqlalchemy import select as sa_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.services.broadcast_figures import BroadcastReach, broadcast_reach, check_answers
from bot.services.distribution_checks import CheckFigures
from bot.services.reports import KINDS, TRANSITIONS, Viewer, is_overdue, visible_to
from bot.services.status_check import HARVEST_FLAG, LOOKUP, LimitScope, LookupOutcome
from bot.text import fold
from storage.models import (
    AuditLog,
    Outbox,
    RegistryPerson,
    Report,
    ReportEvent,
    Training,
    TrainingRegistration,
    TrainingSession,
    Village,
)
from storage.types import UTCDateTime

STATUSES = tuple(TRANSITIONS)  # baru, diverifikasi, ditindaklanjuti, selesai, ditolak
DAILY_UP_TO = 31  # days; longer periods are counted per week (Monday first)
DELIVERY_STATES = ("pending", "sending", "sent", "delivered", "read", "failed", "skipped")
LOOKUP_OUTCOMES = tuple(outcome.value for outcome in LookupOutcome)
LIMIT_SCOPES = tuple(scope.value for scope in LimitScope)
CLUSTER_KIND = "potongan"
CLUSTER_MIN = 3
CLUSTER_FACTOR = 2
SUBJECT_SCORE = 85.0


@dataclass(frozen=True, slots=True)
class Period:
    """[start, end) in UTC; `zone` is the office's, for calendar days and weeks."""

    start: datetime
    end: datetime
    zone: tzinfo = UTC

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("a period needs aware datetimes")
        if self.end <= self.start:
            raise ValueError("a period must end after it starts")

    def day_of(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()

    def days(self) -> list[date]:
        """Every local calendar day the period touches."""
        first = self.day_of(self.start)
        last = self.day_of(self.end - timedelta(microseconds=1))
        return [first + timedelta(days=n) for n in range((last - first).days + 1)]


@dataclass(frozen=True, slots=True)
class Tally:
    key: str
    count: int
    name: str = ""  # a village's name; "" elsewhere


@dataclass(frozen=True, slots=True)
class Bucket:
    start: date
    count: int


@dataclass(frozen=True, slots=True)
class Timeline:
    step: str  # "day" | "week"
    buckets: tuple[Bucket, ...]

    @property
    def total(self) -> int:
        return sum(bucket.count for bucket in self.buckets)


@dataclass(frozen=True, slots=True)
class Median:
    count: int  # reports that reached the status
    hours: float | None


@dataclass(frozen=True, slots=True)
class Durations:
    """Filed → first "diverifikasi", and filed → first "selesai"."""

    verify: Median
    resolve: Median


@dataclass(frozen=True, slots=True)
class SlaBreaches:
    checked: int  # reports filed in the period
    verify_late: int  # left "baru" after its verify due time, or is still "baru" past it
    follow_up_late: int  # likewise for "diverifikasi" and the follow-up due time
    overdue_now: int  # `is_overdue` at `now`
    report_ids: tuple[int, ...]  # every report late on either clock


@dataclass(frozen=True, slots=True)
class Ratings:
    count: int
    mean: float | None
    distribution: tuple[int, int, int, int, int]  # how many rated 1, 2, 3, 4, 5


@dataclass(frozen=True, slots=True)
class Lookups:
    """Aid status look-ups from the audit log. For a village officer only look-ups of a
    NIK registered in their villages count (`scoped`): other rows name no village."""

    outcomes: dict[str, int]  # found, not_found, refused
    refusals: dict[str, int]  # which limit refused them
    flagged: int  # NIKs looked up from too many identities in a day
    scoped: bool

    @property
    def total(self) -> int:
        return sum(self.outcomes.values())


@dataclass(frozen=True, slots=True)
class TrainingRate:
    """Sessions of one training in one village that start in the period, with the rates
    defined as `TrainingService.figures` defines them (confirmed seats over seats;
    attended over confirmed participants whose attendance was marked)."""

    training: str
    village_code: str
    village: str
    sessions: int
    seats: int
    confirmed: int
    marked: int
    came: int

    @property
    def fill_rate(self) -> float:
        return self.confirmed / self.seats if self.seats else 0.0

    @property
    def attendance_rate(self) -> float | None:
        return self.came / self.marked if self.marked else None

    @property
    def no_show_rate(self) -> float | None:
        return 1 - self.came / self.marked if self.marked else None


@dataclass(frozen=True, slots=True)
class Delivery:
    channel: str
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True, slots=True)
class ReportRef:
    id: int
    code: str


@dataclass(frozen=True, slots=True)
class Group:
    key: str
    label: str  # village name, day (ISO), subject as reported; "" when hidden from viewers
    count: int
    flagged: bool
    reports: tuple[ReportRef, ...]


@dataclass(frozen=True, slots=True)
class Dimension:
    name: str  # village | subject | day
    median: float
    groups: tuple[Group, ...]  # non-empty groups, most reports first

    @property
    def flagged(self) -> tuple[Group, ...]:
        return tuple(group for group in self.groups if group.flagged)


@dataclass(frozen=True, slots=True)
class Clusters:
    total: int  # "potongan" reports in the period
    dimensions: tuple[Dimension, ...]


@dataclass(frozen=True, slots=True)
class Board:
    """Every figure of the monitoring page for one viewer and period."""

    period: Period
    by_type: list[Tally]
    by_village: list[Tally]
    by_status: list[Tally]
    timeline: Timeline
    durations: Durations
    sla: SlaBreaches
    ratings: Ratings
    lookups: Lookups
    trainings: list[TrainingRate]
    delivery: list[Delivery]
    broadcasts: list[BroadcastReach]
    checks: list[CheckFigures]

    @property
    def total(self) -> int:
        return sum(tally.count for tally in self.by_type)


# -- scope ------------------------------------------------------------------------------------


def _filed(viewer: Viewer, period: Period) -> list[ColumnElement[bool]]:
    return [
        visible_to(viewer),
        col(Report.merged_into_id).is_(None),
        col(Report.created_at) >= period.start,
        col(Report.created_at) < period.end,
    ]


async def villages_in_view(session: AsyncSession, viewer: Viewer) -> dict[str, str]:
    """Code → name of the villages the viewer's figures may show, by name."""
    statement = select(Village.code, Village.name).order_by(col(Village.name))
    if viewer.role == "officer":
        statement = statement.where(col(Village.code).in_(sorted(viewer.villages)))
    return dict((await session.exec(statement)).all())


async def _rows(session: AsyncSession, statement: Executable) -> list[tuple[Any, ...]]:
    """Rows of a Core select with more columns than sqlmodel's `select` is typed for."""
    connection = await session.connection()
    return [tuple(row) for row in (await connection.execute(statement)).all()]


# -- reports ----------------------------------------------------------------------------------


async def _count_reports_by(
    session: AsyncSession, column: Any, viewer: Viewer, period: Period
) -> dict[str, int]:
    statement = select(column, func.count()).where(*_filed(viewer, period)).group_by(column)
    return {key or "": int(n) for key, n in (await session.exec(statement)).all()}


def _in_order(counts: dict[str, int], order: Iterable[str]) -> list[Tally]:
    """Every known key (zero included), then any unknown key the data holds."""
    known = list(order)
    rest = sorted(key for key in counts if key not in known)
    return [Tally(key, counts.get(key, 0)) for key in [*known, *rest]]


async def reports_by_type(session: AsyncSession, viewer: Viewer, period: Period) -> list[Tally]:
    counts = await _count_reports_by(session, col(Report.kind), viewer, period)
    return _in_order(counts, KINDS)


async def reports_by_status(session: AsyncSession, viewer: Viewer, period: Period) -> list[Tally]:
    """The current status of the reports filed in the period."""
    counts = await _count_reports_by(session, col(Report.status), viewer, period)
    return _in_order(counts, STATUSES)


async def reports_by_village(session: AsyncSession, viewer: Viewer, period: Period) -> list[Tally]:
    """Every village in view (zero included), most reports first; "" is no village given."""
    counts = await _count_reports_by(session, col(Report.village_code), viewer, period)
    names = await villages_in_view(session, viewer)
    keys = list(names) + sorted(key for key in counts if key not in names)
    tallies = [Tally(key, counts.get(key, 0), names.get(key, key)) for key in keys]
    return sorted(tallies, key=lambda tally: -tally.count)


def _bucket_of(day: date, step: str) -> date:
    return day - timedelta(days=day.weekday()) if step == "week" else day


async def reports_over_time(session: AsyncSession, viewer: Viewer, period: Period) -> Timeline:
    """Reports filed per local day, or per week (from Monday) beyond 31 days."""
    days = period.days()
    step = "day" if len(days) <= DAILY_UP_TO else "week"
    counts = dict.fromkeys(sorted({_bucket_of(day, step) for day in days}), 0)
    statement = select(Report.created_at).where(*_filed(viewer, period))
    for moment in (await session.exec(statement)).all():
        counts[_bucket_of(period.day_of(moment), step)] += 1
    return Timeline(step, tuple(Bucket(start, n) for start, n in counts.items()))


def _milestones() -> Subquery:
    """Per report, when its status first became or first left a state (status events)."""
    at = col(ReportEvent.at)

    def first(condition: ColumnElement[bool]) -> ColumnElement[datetime]:
        return type_coerce(func.min(case((condition, at))), UTCDateTime())

    return (
        sa_select(
            col(ReportEvent.report_id).label("report_id"),
            first(col(ReportEvent.status_to) == "diverifikasi").label("verified_at"),
            first(col(ReportEvent.status_to) == "selesai").label("resolved_at"),
            first(col(ReportEvent.status_from) == "baru").label("left_new_at"),
            first(col(ReportEvent.status_from) == "diverifikasi").label("left_verified_at"),
        )
        .where(col(ReportEvent.kind) == "status")
        .group_by(col(ReportEvent.report_id))
        .subquery()
    )


def _median_hours(spans: Sequence[timedelta]) -> Median:
    hours = [max(0.0, span.total_seconds() / 3600) for span in spans]
    return Median(len(hours), statistics.median(hours) if hours else None)


async def durations(session: AsyncSession, viewer: Viewer, period: Period) -> Durations:
    """Median hours from filing to verification and to resolution, over the reports filed
    in the period that got there (at any time since)."""
    milestones = _milestones()
    statement = (
        select(Report.created_at, milestones.c.verified_at, milestones.c.resolved_at)
        .join(milestones, milestones.c.report_id == col(Report.id))
        .where(*_filed(viewer, period))
    )
    verify: list[timedelta] = []
    resolve: list[timedelta] = []
    for filed, verified, resolved in (await session.exec(statement)).all():
        if verified is not None:
            verify.append(verified - filed)
        if resolved is not None:
            resolve.append(resolved - filed)
    return Durations(_median_hours(verify), _median_hours(resolve))


def _late(due: datetime | None, left: datetime | None) -> bool:
    return due is not None and left is not None and left > due


async def sla_breaches(
    session: AsyncSession, viewer: Viewer, period: Period, now: datetime
) -> SlaBreaches:
    """Reports filed in the period whose verify (or follow-up) due time passed before they
    first left "baru" (or "diverifikasi"), or that are overdue now. A report verified a
    second time is judged by the first time it left, against its latest due time."""
    milestones = _milestones()
    statement = (
        select(Report, milestones.c.left_new_at, milestones.c.left_verified_at)
        .outerjoin(milestones, milestones.c.report_id == col(Report.id))
        .where(*_filed(viewer, period))
        .order_by(col(Report.id))
    )
    checked = verify_late = follow_up_late = overdue_now = 0
    late_ids: list[int] = []
    for report, left_new, left_verified in (await session.exec(statement)).all():
        checked += 1
        overdue = is_overdue(report, now)
        verify = _late(report.verify_due_at, left_new) or (overdue and report.status == "baru")
        follow_up = _late(report.follow_up_due_at, left_verified) or (
            overdue and report.status == "diverifikasi"
        )
        verify_late += verify
        follow_up_late += follow_up
        overdue_now += overdue
        if verify or follow_up:
            late_ids.append(report.id or 0)
    return SlaBreaches(checked, verify_late, follow_up_late, overdue_now, tuple(late_ids))


async def ratings(session: AsyncSession, viewer: Viewer, period: Period) -> Ratings:
    """Residents' ratings (1–5) of the reports filed in the period."""
    statement = (
        select(Report.rating, func.count())
        .where(*_filed(viewer, period), col(Report.rating).is_not(None))
        .group_by(col(Report.rating))
    )
    counts = {int(rating or 0): int(n) for rating, n in (await session.exec(statement)).all()}
    spread = (counts.get(1, 0), counts.get(2, 0), counts.get(3, 0), counts.get(4, 0),
              counts.get(5, 0))  # fmt: skip
    total = sum(spread)
    points = sum(score * n for score, n in zip(range(1, 6), spread, strict=True))
    return Ratings(total, points / total if total else None, spread)


# -- look-ups, trainings, delivery --------------------------------------------------------------


def _audit_rows(action: str, viewer: Viewer, period: Period) -> list[ColumnElement[bool]]:
    conditions = [
        col(AuditLog.action) == action,
        col(AuditLog.created_at) >= period.start,
        col(AuditLog.created_at) < period.end,
    ]
    if viewer.role == "officer":
        in_villages = select(RegistryPerson.nik_hash).where(
            col(RegistryPerson.village_code).in_(sorted(viewer.villages))
        )
        conditions.append(col(AuditLog.subject_hash).in_(in_villages))
    return conditions


async def status_lookups(session: AsyncSession, viewer: Viewer, period: Period) -> Lookups:
    """Status look-up volume by outcome (found / not_found / refused) and refusals by limit."""
    by_outcome = (
        select(AuditLog.outcome, func.count())
        .where(*_audit_rows(LOOKUP, viewer, period))
        .group_by(col(AuditLog.outcome))
    )
    outcomes = dict.fromkeys(LOOKUP_OUTCOMES, 0)
    for outcome, n in (await session.exec(by_outcome)).all():
        outcomes[outcome] = int(n)
    refused = select(AuditLog.detail).where(
        *_audit_rows(LOOKUP, viewer, period), col(AuditLog.outcome) == LookupOutcome.REFUSED
    )
    limits = Counter(str(detail.get("limit", "")) for detail in (await session.exec(refused)).all())
    refusals = {scope: limits.pop(scope, 0) for scope in LIMIT_SCOPES} | dict(limits)
    flags = select(func.count()).where(*_audit_rows(HARVEST_FLAG, viewer, period))
    flagged = int((await session.exec(flags)).one())
    return Lookups(outcomes, refusals, flagged, viewer.role == "officer")


async def training_rates(
    session: AsyncSession, viewer: Viewer, period: Period
) -> list[TrainingRate]:
    """Fill and attendance per training and village, over sessions starting in the period.

    `TrainingService.figures` has neither a period nor a village scope, so the same
    definitions are computed here in SQL (a test checks the two agree).
    """
    registration = TrainingRegistration
    confirmed = col(registration.status) == "confirmed"
    marked = and_(confirmed, col(registration.attended).is_not(None))
    came = and_(confirmed, col(registration.attended).is_(True))
    taken = (
        sa_select(
            col(registration.session_id).label("session_id"),
            func.sum(case((confirmed, 1), else_=0)).label("confirmed"),
            func.sum(case((marked, 1), else_=0)).label("marked"),
            func.sum(case((came, 1), else_=0)).label("came"),
        )
        .group_by(col(registration.session_id))
        .subquery()
    )
    statement = (
        sa_select(
            col(Training.title),
            col(TrainingSession.village_code),
            col(Village.name),
            col(TrainingSession.seats),
            taken.c.confirmed,
            taken.c.marked,
            taken.c.came,
        )
        .join(Training, col(Training.id) == col(TrainingSession.training_id))
        .join(Village, col(Village.code) == col(TrainingSession.village_code))
        .outerjoin(taken, taken.c.session_id == col(TrainingSession.id))
        .where(
            col(TrainingSession.starts_at) >= period.start,
            col(TrainingSession.starts_at) < period.end,
        )
    )
    if viewer.role == "officer":
        statement = statement.where(col(TrainingSession.village_code).in_(sorted(viewer.villages)))
    totals: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for title, code, name, seats, *counts in await _rows(session, statement):
        bucket = totals[(title, code, name)]
        for index, value in enumerate((1, seats, *counts)):
            bucket[index] += int(value or 0)
    return [
        TrainingRate(title, code, name, *bucket)
        for (title, code, name), bucket in sorted(totals.items())
    ]


async def message_delivery(session: AsyncSession, viewer: Viewer, period: Period) -> list[Delivery]:
    """Message delivery: the state of every outbox row (messages to residents, replies,
    notices and broadcasts) queued in the period, per channel.

    Outbox rows name no village, so this figure is the kecamatan's whole; it holds counts
    only, the same for every role.
    """
    statement = (
        select(Outbox.channel, Outbox.status, func.count())
        .where(col(Outbox.created_at) >= period.start, col(Outbox.created_at) < period.end)
        .group_by(col(Outbox.channel), col(Outbox.status))
    )
    channels: dict[str, dict[str, int]] = {}
    for channel, status, n in (await session.exec(statement)).all():
        counts = channels.setdefault(channel, dict.fromkeys(DELIVERY_STATES, 0))
        counts[status] = int(n)
    return [Delivery(channel, counts) for channel, counts in sorted(channels.items())]


async def board(session: AsyncSession, viewer: Viewer, period: Period, now: datetime) -> Board:
    return Board(
        period=period,
        by_type=await reports_by_type(session, viewer, period),
        by_village=await reports_by_village(session, viewer, period),
        by_status=await reports_by_status(session, viewer, period),
        timeline=await reports_over_time(session, viewer, period),
        durations=await durations(session, viewer, period),
        sla=await sla_breaches(session, viewer, period, now),
        ratings=await ratings(session, viewer, period),
        lookups=await status_lookups(session, viewer, period),
        trainings=await training_rates(session, viewer, period),
        delivery=await message_delivery(session, viewer, period),
        broadcasts=await broadcast_reach(session, viewer, period),
        checks=await check_answers(session, viewer, period),
    )


# -- clusters (titik rawan potongan/pungli) ------------------------------------------------------


def flag_rule(count: int, median: float) -> bool:
    """A group stands out when it holds at least CLUSTER_MIN reports and at least
    CLUSTER_FACTOR times the median count of its dimension's groups."""
    return count >= CLUSTER_MIN and count >= CLUSTER_FACTOR * median


def _dimension(
    name: str,
    members: dict[str, list[ReportRef]],
    labels: dict[str, str],
    baseline: Iterable[str] = (),
    singles: int = 0,
) -> Dimension:
    """Groups of one dimension. For the median, `baseline` keys count as groups even when
    empty, and `singles` more groups of one report each are counted."""
    keys = list(dict.fromkeys([*baseline, *members]))
    counts = [len(members.get(key, [])) for key in keys] + [1] * singles
    median = float(statistics.median(counts)) if counts else 0.0
    groups = [
        Group(key, labels.get(key, key), len(refs), flag_rule(len(refs), median), tuple(refs))
        for key, refs in members.items()
        if refs
    ]
    groups.sort(key=lambda group: (-group.count, group.key))
    return Dimension(name, median, tuple(groups))


def subject_score(first: str, second: str, **_: Any) -> float:
    """How alike two folded subjects are: the better of the token-sort ratio (words in any
    order) and the plain ratio with spaces removed ("ewarong" and "e-warong")."""
    joined = fuzz.ratio(first.replace(" ", ""), second.replace(" ", ""))
    return max(fuzz.token_sort_ratio(first, second), joined)


def subject_groups(subjects: Sequence[str]) -> list[int]:
    """For each subject, the index of its group: folded spellings at least SUBJECT_SCORE
    alike (`subject_score`) join the most frequent spelling seen first.
    Empty subjects get -1."""
    folded = [fold(subject) for subject in subjects]
    frequency = Counter(text for text in folded if text)
    heads: list[str] = []
    group_of: dict[str, int] = {}
    for text, _ in sorted(frequency.items(), key=lambda item: (-item[1], item[0])):
        match = process.extractOne(text, heads, scorer=subject_score, score_cutoff=SUBJECT_SCORE)
        if match is None:
            heads.append(text)
            group_of[text] = len(heads) - 1
        else:
            group_of[text] = match[2]
    return [group_of[text] if text else -1 for text in folded]


async def potongan_clusters(session: AsyncSession, viewer: Viewer, period: Period) -> Clusters:
    """Hotspots of "potongan/pungli" reports by village, by the subject they name (an agent,
    an e-warong, a group leader; spellings merged), and by local day.

    Rule (`flag_rule`): a group is flagged when it holds ≥ 3 reports and ≥ 2× the median
    group count of its dimension. The median is over every group the dimension has,
    empty ones included: every village in view, every day of the period, and, for
    subjects, each report naming nobody as a group of its own (it is at least one distinct
    incident), so one agent named again and again stands out from the unnamed rest.
    Reports carry no RT, so the subject is the finest grain. Viewers get no subject text.
    """
    statement = (
        sa_select(
            col(Report.id),
            col(Report.code),
            col(Report.village_code),
            col(Report.subject),
            col(Report.created_at),
        )
        .where(*_filed(viewer, period), col(Report.kind) == CLUSTER_KIND)
        .order_by(col(Report.created_at), col(Report.id))
    )
    rows = await _rows(session, statement)
    villages = await villages_in_view(session, viewer)
    by_village: dict[str, list[ReportRef]] = defaultdict(list)
    by_day: dict[str, list[ReportRef]] = defaultdict(list)
    by_subject: dict[str, list[ReportRef]] = defaultdict(list)
    spellings: dict[str, Counter[str]] = defaultdict(Counter)
    groups = subject_groups([subject for _, _, _, subject, _ in rows])
    for (report_id, code, village, subject, filed), group in zip(rows, groups, strict=True):
        ref = ReportRef(report_id or 0, code)
        by_village[village or ""].append(ref)
        by_day[period.day_of(filed).isoformat()].append(ref)
        if group >= 0:
            by_subject[str(group + 1)].append(ref)
            spellings[str(group + 1)][subject.strip()] += 1
    # Viewers see a subject group by number only: its text may name a person.
    hide = viewer.role == "viewer"
    subject_labels = {
        key: "" if hide else names.most_common(1)[0][0] for key, names in spellings.items()
    }
    days = [day.isoformat() for day in period.days()]
    return Clusters(
        total=len(rows),
        dimensions=(
            _dimension("village", by_village, villages, villages),
            _dimension("subject", by_subject, subject_labels, singles=groups.count(-1)),
            _dimension("day", by_day, {}, days),
        ),
    )
