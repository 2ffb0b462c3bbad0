"""Officers looking people up in the aid register, by NIK or by name.

A NIK is matched by its keyed hash and never kept: the audit row carries the hash. A name
is matched with rapidfuzz over the names of the officer's villages (admins: all), read in
batches so a large register costs bounded memory. Results show the full name and a masked
NIK. Every search is audited ("registry.search"), and every person a name search shows
("registry.view", with their NIK hash). Viewers may not search the register at all.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from rapidfuzz import fuzz, process, utils
from sqlalchemy import ColumnElement, true
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.services.audit import AuditTrail
from bot.services.names import normalise_name
from bot.services.nik import InvalidNik, parse_nik
from bot.services.pii import PiiVault, UnreadableSecret, mask_nik
from bot.services.reports import Viewer
from storage.models import Enrolment, RegistryPerson, Village

NAME_SCORE = 80.0  # rapidfuzz WRatio: tolerates typos and a missing word, refuses strangers
NAME_LIMIT = 20
NAME_MIN_LETTERS = 3
BATCH = 5000
UNREADABLE_NIK = "*" * 16


class RegistrySearchError(Exception):
    """Base of the register search's refusals."""


class RegistryClosed(RegistrySearchError):
    """Viewers may not look people up."""


class NameTooShort(RegistrySearchError):
    """Fewer than NAME_MIN_LETTERS letters: it would match half the register."""


@dataclass(frozen=True, slots=True)
class PersonFound:
    person: RegistryPerson
    masked_nik: str
    village_name: str
    enrolments: Sequence[Enrolment]
    score: float = 100.0


class RegistrySearch:
    def __init__(self, session: AsyncSession, vault: PiiVault) -> None:
        self.session = session
        self.vault = vault
        self.audit = AuditTrail(session)

    def refuse_viewers(self, viewer: Viewer, now: datetime, *, audit: bool = False) -> None:
        if viewer.role in ("admin", "officer"):
            return
        if audit:
            self.audit.record(viewer.actor, "registry.search", "denied", now)
        raise RegistryClosed()

    async def by_nik(self, viewer: Viewer, typed: str, now: datetime) -> list[PersonFound]:
        """The person with this NIK, if in the officer's villages. InvalidNik (with its
        reason) when the text is not a NIK; the digits are neither kept nor logged."""
        self.refuse_viewers(viewer, now, audit=True)
        try:
            nik = parse_nik(typed)
        except InvalidNik as invalid:
            self.audit.record(
                viewer.actor,
                "registry.search",
                "invalid",
                now,
                mode="nik",
                problem=invalid.problem.value,
            )
            raise
        nik_hash = self.vault.lookup_hash(nik)
        person = (
            await self.session.exec(
                select(RegistryPerson).where(RegistryPerson.nik_hash == nik_hash)
            )
        ).first()
        outside = person is not None and not self._may_see(viewer, person)
        found = [] if person is None or outside else [await self._found(person)]
        detail: dict[str, object] = {"mode": "nik", "results": len(found)}
        if outside:
            detail["outside_villages"] = True  # for the auditor; the officer sees "none"
        self.audit.record(
            viewer.actor,
            "registry.search",
            "found" if found else "none",
            now,
            subject_hash=nik_hash,
            **detail,
        )
        return found

    async def by_name(
        self, viewer: Viewer, typed: str, now: datetime, village_code: str | None = None
    ) -> list[PersonFound]:
        """Up to NAME_LIMIT people whose name is like `typed`, best first."""
        self.refuse_viewers(viewer, now, audit=True)
        wanted = normalise_name(typed)
        if sum(ch.isalpha() for ch in wanted) < NAME_MIN_LETTERS:
            raise NameTooShort()
        conditions = [self._scope(viewer)]
        if village_code:
            conditions.append(col(RegistryPerson.village_code) == village_code)
        best: list[tuple[float, int]] = []  # a min-heap of (score, -id): ties go to the first
        last_id = 0
        while True:
            statement = (
                select(RegistryPerson.id, RegistryPerson.full_name)
                .where(col(RegistryPerson.id) > last_id, *conditions)
                .order_by(col(RegistryPerson.id))
                .limit(BATCH)
            )
            batch = {pid: name for pid, name in (await self.session.exec(statement)).all() if pid}
            if not batch:
                break
            last_id = max(batch)
            for _, score, pid in process.extract(
                wanted,
                batch,
                scorer=fuzz.WRatio,
                processor=utils.default_process,
                limit=NAME_LIMIT,
                score_cutoff=NAME_SCORE,
            ):
                entry = (float(score), -int(pid))
                if len(best) < NAME_LIMIT:
                    heapq.heappush(best, entry)
                elif entry > best[0]:
                    heapq.heapreplace(best, entry)
        ranked = sorted(best, reverse=True)
        people = {
            person.id: person
            for person in (
                await self.session.exec(
                    select(RegistryPerson).where(
                        col(RegistryPerson.id).in_([-pid for _, pid in ranked])
                    )
                )
            ).all()
        }
        found = []
        for score, pid in ranked:
            person = people.get(-pid)
            if person is not None:
                found.append(await self._found(person, score))
        self.audit.record(
            viewer.actor,
            "registry.search",
            "found" if found else "none",
            now,
            mode="name",
            results=len(found),
        )
        for shown in found:
            self.audit.record(
                viewer.actor, "registry.view", "shown", now, subject_hash=shown.person.nik_hash
            )
        return found

    async def villages(self, viewer: Viewer) -> Sequence[Village]:
        """The villages this officer may search in, by name."""
        statement = select(Village).order_by(col(Village.name))
        if viewer.role != "admin":
            statement = statement.where(col(Village.code).in_(sorted(viewer.villages)))
        return (await self.session.exec(statement)).all()

    # -- internals -------------------------------------------------------------------------

    def _scope(self, viewer: Viewer) -> ColumnElement[bool]:
        if viewer.role == "admin":
            return true()
        return col(RegistryPerson.village_code).in_(sorted(viewer.villages))

    def _may_see(self, viewer: Viewer, person: RegistryPerson) -> bool:
        return viewer.role == "admin" or person.village_code in viewer.villages

    async def _found(self, person: RegistryPerson, score: float = 100.0) -> PersonFound:
        village = await self.session.get(Village, person.village_code)
        enrolments = (
            await self.session.exec(
                select(Enrolment)
                .where(Enrolment.person_id == person.id)
                .order_by(col(Enrolment.programme))
            )
        ).all()
        try:
            masked = mask_nik(self.vault.decrypt(person.nik_encrypted))
        except UnreadableSecret:
            masked = UNREADABLE_NIK  # sealed with another SECRET_KEY
        return PersonFound(
            person, masked, village.name if village else person.village_code, enrolments, score
        )
