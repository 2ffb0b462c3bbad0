"""Aid status look-ups: NIK and KTP name together, limits that hold across app instances,
and an audit row for every attempt.

The answer to a failed look-up never says whether the NIK or the name was wrong, so the
bot cannot be used to test which NIKs exist. Limits are counted from the audit log:
per identity (failures per hour, look-ups per day) and per NIK (identities per day).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.services.audit import AuditTrail
from bot.services.names import mask_name, names_match
from bot.services.schedules import serves_rt
from bot.settings import Settings
from storage.repositories import audit as audit_repo
from storage.repositories import registry as registry_repo
from storage.repositories.registry import Enrolled, RegisteredPerson, UpcomingSchedule

log = logging.getLogger(__name__)

LOOKUP = "status.lookup"
HARVEST_FLAG = "status.harvest_flag"
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


class LookupOutcome(StrEnum):
    FOUND = "found"
    NOT_FOUND = "not_found"
    REFUSED = "refused"


class LimitScope(StrEnum):
    FAILURES_PER_HOUR = "failures_per_hour"
    LOOKUPS_PER_DAY = "lookups_per_day"
    NIK_PER_DAY = "nik_per_day"


class LookupRefused(Exception):
    """A rate limit holds; `retry_at` is when the resident may try again."""

    def __init__(self, scope: LimitScope, limit: int, retry_at: datetime) -> None:
        super().__init__(scope.value)
        self.scope = scope
        self.limit = limit
        self.retry_at = retry_at


@dataclass(frozen=True, slots=True)
class StatusAnswer:
    masked_name: str
    village_code: str
    village_name: str
    programmes: tuple[Enrolled, ...]
    distributions: tuple[UpcomingSchedule, ...]  # the next one per programme
    rt: str = ""


class StatusCheck:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.audit = AuditTrail(session)

    async def ensure_allowed(self, actor: str, nik_hash: str, now: datetime) -> None:
        """Raise LookupRefused (and audit the refusal) when a limit holds."""
        try:
            await self._check_limits(actor, nik_hash, now)
        except LookupRefused as refused:
            self.audit.record(
                actor, LOOKUP, LookupOutcome.REFUSED, now, nik_hash, limit=refused.scope.value
            )
            log.warning("status look-up refused for %s: %s", actor, refused.scope.value)
            raise

    async def _check_limits(self, actor: str, nik_hash: str, now: datetime) -> None:
        settings = self.settings
        counts = await audit_repo.lookup_counts(
            self.session,
            action=LOOKUP,
            actor=actor,
            subject_hash=nik_hash,
            failure=LookupOutcome.NOT_FOUND,
            counted=(LookupOutcome.FOUND, LookupOutcome.NOT_FOUND),
            failures_since=now - HOUR,
            since=now - DAY,
        )
        if (
            counts.actor_failures >= settings.status_failed_per_hour
            and counts.oldest_actor_failure is not None
        ):
            raise LookupRefused(
                LimitScope.FAILURES_PER_HOUR,
                settings.status_failed_per_hour,
                counts.oldest_actor_failure + HOUR,
            )
        if (
            counts.actor_total >= settings.status_lookups_per_day
            and counts.oldest_actor_row is not None
        ):
            raise LookupRefused(
                LimitScope.LOOKUPS_PER_DAY,
                settings.status_lookups_per_day,
                counts.oldest_actor_row + DAY,
            )
        limit = settings.status_identities_per_nik_per_day
        if counts.other_actors >= limit and counts.oldest_other_row is not None:
            if not await audit_repo.exists_since(self.session, nik_hash, HARVEST_FLAG, now - DAY):
                identities = counts.other_actors + 1
                self.audit.record(
                    actor, HARVEST_FLAG, "flagged", now, nik_hash, identities=identities
                )
                log.warning("a NIK was looked up from %d identities in a day", identities)
            raise LookupRefused(LimitScope.NIK_PER_DAY, limit, counts.oldest_other_row + DAY)

    async def look_up(
        self, actor: str, nik_hash: str, typed_name: str, now: datetime
    ) -> StatusAnswer | None:
        """The answer when NIK and name belong together; None otherwise, whichever was wrong."""
        await self.ensure_allowed(actor, nik_hash, now)
        found = await registry_repo.registered_person(self.session, nik_hash, now)
        if found is None or not names_match(found.full_name, typed_name):
            reason = "unknown_nik" if found is None else "name_mismatch"
            await self.audit.write(
                actor, LOOKUP, LookupOutcome.NOT_FOUND, now, nik_hash, reason=reason
            )
            return None
        await self.audit.write(actor, LOOKUP, LookupOutcome.FOUND, now, nik_hash, by="nik_and_name")
        return self._answer(found)

    async def look_up_verified(
        self, actor: str, nik_hash: str, now: datetime
    ) -> StatusAnswer | None:
        """A NIK the resident verified earlier and asked us to remember: no name needed."""
        await self.ensure_allowed(actor, nik_hash, now)
        found = await registry_repo.registered_person(self.session, nik_hash, now)
        outcome = LookupOutcome.FOUND if found is not None else LookupOutcome.NOT_FOUND
        await self.audit.write(actor, LOOKUP, outcome, now, nik_hash, by="saved_nik")
        return self._answer(found) if found is not None else None

    def _answer(self, person: RegisteredPerson) -> StatusAnswer:
        distributions: list[UpcomingSchedule] = []
        seen: set[str] = set()
        for schedule in person.schedules:  # soonest first
            if schedule.programme in seen or not serves_rt(schedule.rts, person.rt):
                continue
            seen.add(schedule.programme)
            distributions.append(schedule)
        return StatusAnswer(
            masked_name=mask_name(person.full_name),
            village_code=person.village_code,
            village_name=person.village_name or person.village_code,
            programmes=person.enrolments,
            distributions=tuple(distributions),
            rt=person.rt,
        )
