"""How officers prove who they are: dashboard logins (server-side sessions with idle and
absolute timeouts, CSRF tokens, throttled attempts) and Bearer tokens for `/api/v1`.

Secrets handed out (the session cookie, an API token) are stored only as their SHA-256:
a database dump does not let anyone log in. Failed logins are audit rows, counted per
account and per address over a window, so the throttle holds across app instances.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.services.audit import AuditTrail
from bot.services.pii import PiiVault
from storage.models import ApiToken, Officer, OfficerSession
from storage.repositories import audit as audit_repo

LOGIN_ACTION = "officer.login"
LOGIN_WINDOW = timedelta(minutes=15)
FAILURES_PER_ACCOUNT = 5
FAILURES_PER_ADDRESS = 20
TOUCH_EVERY = timedelta(minutes=1)
API_TOKEN_PREFIX = "bsn_"  # noqa: S105 - a prefix, not a secret
# Verified when the username is unknown, so both cases take an argon2 verification.
_HASHER = PasswordHasher()
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))


class LoginFailed(Exception):
    """Wrong username or password (never told apart)."""


class LoginThrottled(Exception):
    def __init__(self, retry_at: datetime) -> None:
        super().__init__("too many failed logins")
        self.retry_at = retry_at


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class OfficerAuth:
    def __init__(
        self,
        session: AsyncSession,
        vault: PiiVault,
        idle: timedelta = timedelta(minutes=30),
        lifetime: timedelta = timedelta(hours=12),
    ) -> None:
        self.session = session
        self.vault = vault
        self.idle = idle
        self.lifetime = lifetime
        self.audit = AuditTrail(session)

    # -- dashboard sessions ------------------------------------------------------------------

    async def login(self, username: str, password: str, ip: str, now: datetime) -> str:
        """A new session token for the right password; raises LoginThrottled / LoginFailed.

        The caller commits even when LoginFailed is raised, so the failure is counted."""
        account = self._account_key(username)
        await self._check_throttle(account, ip, now)
        officer = (
            await self.session.exec(select(Officer).where(Officer.username == username.strip()))
        ).first()
        if not _password_ok(officer, password) or officer is None or not officer.active:
            self.audit.record(f"ip:{ip}", LOGIN_ACTION, "failed", now, subject_hash=account)
            raise LoginFailed()
        if officer.password_hash and _HASHER.check_needs_rehash(officer.password_hash):
            officer.password_hash = _HASHER.hash(password)
            self.session.add(officer)
        token = secrets.token_urlsafe(32)
        self.session.add(
            OfficerSession(
                token_hash=token_hash(token),
                officer_id=officer.id or 0,
                ip=ip[:64],
                created_at=now,
                last_seen_at=now,
                expires_at=now + self.lifetime,
            )
        )
        self.audit.record(
            f"officer:{officer.id}", LOGIN_ACTION, "ok", now, subject_hash=account, ip=ip
        )
        return token

    async def _check_throttle(self, account: str, ip: str, now: datetime) -> None:
        since = now - LOGIN_WINDOW
        by_address, oldest_address = await audit_repo.count_since(
            self.session, f"ip:{ip}", LOGIN_ACTION, "failed", since
        )
        by_account, oldest_account = await audit_repo.count_subject_since(
            self.session, account, LOGIN_ACTION, "failed", since
        )
        # The window counts rows at or after its start: one more second and it is past.
        if by_account >= FAILURES_PER_ACCOUNT and oldest_account is not None:
            raise LoginThrottled(oldest_account + LOGIN_WINDOW + timedelta(seconds=1))
        if by_address >= FAILURES_PER_ADDRESS and oldest_address is not None:
            raise LoginThrottled(oldest_address + LOGIN_WINDOW + timedelta(seconds=1))

    def _account_key(self, username: str) -> str:
        return self.vault.lookup_hash("login:" + username.strip().lower())

    async def officer_for_session(self, token: str, now: datetime) -> Officer | None:
        """The officer behind a live session; an idle or expired session ends here."""
        row = await self._session_row(token)
        if row is None or row.ended_at is not None:
            return None
        if now >= row.expires_at or now - row.last_seen_at >= self.idle:
            row.ended_at = now
            self.session.add(row)
            return None
        officer = await self.session.get(Officer, row.officer_id)
        if officer is None or not officer.active:
            return None
        if now - row.last_seen_at >= TOUCH_EVERY:
            row.last_seen_at = now
            self.session.add(row)
        return officer

    async def logout(self, token: str, now: datetime) -> None:
        row = await self._session_row(token)
        if row is not None and row.ended_at is None:
            row.ended_at = now
            self.session.add(row)
            self.audit.record(f"officer:{row.officer_id}", "officer.logout", "ok", now)

    async def _session_row(self, token: str) -> OfficerSession | None:
        if not token:
            return None
        statement = select(OfficerSession).where(OfficerSession.token_hash == token_hash(token))
        return (await self.session.exec(statement)).first()

    def csrf_token(self, session_token: str) -> str:
        return csrf_token(self.vault, session_token)

    def csrf_ok(self, session_token: str, given: str) -> bool:
        return csrf_ok(self.vault, session_token, given)

    # -- API tokens ----------------------------------------------------------------------------

    async def new_api_token(self, officer: Officer, now: datetime) -> str:
        token = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
        self.session.add(
            ApiToken(token_hash=token_hash(token), officer_id=officer.id or 0, created_at=now)
        )
        self.audit.record("cli", "officer.api_token", "ok", now, officer=officer.id)
        return token

    async def officer_for_api_token(self, token: str, now: datetime) -> Officer | None:
        if not token.startswith(API_TOKEN_PREFIX):
            return None
        statement = select(ApiToken).where(ApiToken.token_hash == token_hash(token))
        row = (await self.session.exec(statement)).first()
        if row is None or row.revoked_at is not None:
            return None
        officer = await self.session.get(Officer, row.officer_id)
        if officer is None or not officer.active:
            return None
        if row.last_used_at is None or now - row.last_used_at >= TOUCH_EVERY:
            row.last_used_at = now
            self.session.add(row)
        return officer


def csrf_token(vault: PiiVault, session_token: str) -> str:
    """Bound to the session: a form from another session (or none) does not pass."""
    return vault.lookup_hash("csrf:" + session_token)


def csrf_ok(vault: PiiVault, session_token: str, given: str) -> bool:
    return bool(session_token) and hmac.compare_digest(
        csrf_token(vault, session_token).encode(), given.encode()
    )


def _password_ok(officer: Officer | None, password: str) -> bool:
    stored = officer.password_hash if officer is not None and officer.password_hash else None
    try:
        return _HASHER.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False
