"""The audit trail (UU PDP accountability): who did what to whose data, and how it ended."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import AuditLog
from storage.repositories import audit as audit_repo


def identity_actor(identity_id: int) -> str:
    return f"identity:{identity_id}"


class AuditTrail:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def record(
        self,
        actor: str,
        action: str,
        outcome: str,
        at: datetime,
        subject_hash: str | None = None,
        **detail: Any,
    ) -> None:
        """Add a row to the caller's transaction: it lands exactly when the action does."""
        self.session.add(AuditLog(**_row(actor, action, outcome, at, subject_hash, detail)))

    async def write(
        self,
        actor: str,
        action: str,
        outcome: str,
        at: datetime,
        subject_hash: str | None = None,
        **detail: Any,
    ) -> None:
        """Like `record`, but the row is inserted at once (still in the caller's
        transaction): cheaper on a hot path, such as every status look-up."""
        await audit_repo.append(
            self.session, _row(actor, action, outcome, at, subject_hash, detail)
        )


def _row(
    actor: str,
    action: str,
    outcome: str,
    at: datetime,
    subject_hash: str | None,
    detail: dict[str, Any],
) -> dict[str, Any]:
    return {
        "created_at": at,
        "actor": actor,
        "action": action,
        "outcome": outcome,
        "subject_hash": subject_hash,
        "detail": detail,
    }
