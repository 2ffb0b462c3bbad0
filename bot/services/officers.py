"""Officer accounts: creation with an argon2id password, and linking a Telegram account
with a one-time code (so only real officers can press the buttons in the officers' group).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.services.audit import AuditTrail
from bot.services.pii import PiiVault
from bot.services.tickets import new_code, read_code
from storage.models import Officer, OfficerVillage, Village

ROLES = ("admin", "officer", "viewer")
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
MIN_PASSWORD = 10
LINK_CODE_LIFETIME = timedelta(minutes=15)


class OfficerError(ValueError):
    """Why an officer cannot be created or linked, in words for the operator."""


class OfficerService:
    def __init__(self, session: AsyncSession, vault: PiiVault) -> None:
        self.session = session
        self.vault = vault
        self.audit = AuditTrail(session)

    async def add(
        self,
        username: str,
        role: str,
        villages: Sequence[str],
        password: str,
        now: datetime,
        display_name: str = "",
        actor: str = "cli",
    ) -> Officer:
        if not USERNAME.match(username):
            raise OfficerError("username: 3-64 lower-case letters, digits, dot, dash or underscore")
        if role not in ROLES:
            raise OfficerError(f"role must be one of {', '.join(ROLES)}")
        if len(password) < MIN_PASSWORD:
            raise OfficerError(f"password: at least {MIN_PASSWORD} characters")
        if role == "officer" and not villages:
            raise OfficerError("an officer needs at least one --village")
        for code in villages:
            if await self.session.get(Village, code) is None:
                raise OfficerError(f"unknown village {code}")
        existing = await self.session.exec(select(Officer).where(Officer.username == username))
        if existing.first() is not None:
            raise OfficerError(f"officer {username} already exists")
        officer = Officer(
            username=username,
            display_name=display_name or username,
            role=role,
            password_hash=PasswordHasher().hash(password),
        )
        self.session.add(officer)
        await self.session.flush()
        assert officer.id is not None
        for code in sorted(set(villages)):
            self.session.add(OfficerVillage(officer_id=officer.id, village_code=code))
        self.audit.record(actor, "officer.add", "ok", now, officer=officer.id, role=role)
        return officer

    async def by_username(self, username: str) -> Officer | None:
        statement = select(Officer).where(Officer.username == username)
        return (await self.session.exec(statement)).first()

    async def by_telegram(self, telegram_user_id: str) -> Officer | None:
        statement = select(Officer).where(
            Officer.telegram_user_id == telegram_user_id, Officer.active
        )
        return (await self.session.exec(statement)).first()

    async def new_link_code(self, officer: Officer, now: datetime) -> str:
        """A one-time code the officer sends to the bot as "/link CODE" within 15 minutes."""
        code = new_code()
        officer.link_code_hash = self.vault.lookup_hash("officer-link:" + code)
        officer.link_code_expires_at = now + LINK_CODE_LIFETIME
        self.session.add(officer)
        self.audit.record("cli", "officer.link_code", "ok", now, officer=officer.id)
        return code

    async def link_telegram(
        self, typed: str, telegram_user_id: str, now: datetime
    ) -> Officer | None:
        code = read_code(typed)
        if code is None:
            return None
        digest = self.vault.lookup_hash("officer-link:" + code)
        statement = select(Officer).where(Officer.link_code_hash == digest, Officer.active)
        officer = (await self.session.exec(statement)).first()
        if officer is None or officer.link_code_expires_at is None:
            return None
        if officer.link_code_expires_at <= now:
            return None
        previous = await self.by_telegram(telegram_user_id)
        if previous is not None and previous.id != officer.id:
            previous.telegram_user_id = None
            self.session.add(previous)
            await self.session.flush()
        officer.telegram_user_id = telegram_user_id
        officer.link_code_hash = None
        officer.link_code_expires_at = None
        self.session.add(officer)
        self.audit.record(f"officer:{officer.id}", "officer.telegram_linked", "ok", now)
        return officer

    async def all(self) -> list[tuple[Officer, list[str]]]:
        """Every account with its villages, by username."""
        officers = (await self.session.exec(select(Officer).order_by(col(Officer.username)))).all()
        links = (await self.session.exec(select(OfficerVillage))).all()
        villages: dict[int, list[str]] = {}
        for link in links:
            villages.setdefault(link.officer_id, []).append(link.village_code)
        return [(officer, sorted(villages.get(officer.id or 0, []))) for officer in officers]

    async def set_active(self, actor: str, officer_id: int, active: bool, now: datetime) -> None:
        """Deactivating ends the officer's sessions and API tokens at their next use."""
        officer = await self.session.get(Officer, officer_id)
        if officer is None:
            raise OfficerError("no such officer")
        if actor == f"officer:{officer_id}" and not active:
            raise OfficerError("you cannot deactivate your own account")
        officer.active = active
        self.session.add(officer)
        outcome = "activated" if active else "deactivated"
        self.audit.record(actor, "officer.active", outcome, now, officer=officer_id)

    async def set_villages(
        self, actor: str, officer_id: int, villages: Sequence[str], now: datetime
    ) -> None:
        officer = await self.session.get(Officer, officer_id)
        if officer is None:
            raise OfficerError("no such officer")
        if officer.role == "officer" and not villages:
            raise OfficerError("an officer needs at least one village")
        for code in villages:
            if await self.session.get(Village, code) is None:
                raise OfficerError(f"unknown village {code}")
        current = (
            await self.session.exec(
                select(OfficerVillage).where(OfficerVillage.officer_id == officer_id)
            )
        ).all()
        for link in current:
            await self.session.delete(link)
        await self.session.flush()
        for code in sorted(set(villages)):
            self.session.add(OfficerVillage(officer_id=officer_id, village_code=code))
        self.audit.record(
            actor, "officer.villages", "ok", now, officer=officer_id, villages=list(villages)
        )
