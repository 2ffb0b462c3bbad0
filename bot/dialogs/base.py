"""The contract every dialog keeps: plain Python, named steps, no channel code.

A dialog receives a `DialogContext` (the message, the resident, the dialog's own data and
the services) and returns an `Outcome`: replies, plus where the conversation goes next.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.intents import Intent
from bot.messages import Choice, Incoming, Reply
from bot.runtime import Runtime
from bot.services.audit import AuditTrail, identity_actor
from bot.services.residents import ResidentService
from storage.models import Resident

if TYPE_CHECKING:
    from bot.dialogs.registry import DialogRegistry

MENU_CHOICE = Choice("nav:menu", "common.back_to_menu")


@dataclass
class DialogContext:
    incoming: Incoming
    text: str
    locale: str
    data: dict[str, Any]
    resident: Resident
    identity_id: int
    session: AsyncSession
    runtime: Runtime
    dialogs: DialogRegistry
    now: datetime
    # Set by a dialog when this step must leave no trace linked to the resident (an
    # anonymous report): the message log keeps nothing of it, the inbound event no payload.
    conceal_log: bool = False

    @property
    def residents(self) -> ResidentService:
        return ResidentService(self.session)

    @property
    def audit(self) -> AuditTrail:
        return AuditTrail(self.session)

    @property
    def actor(self) -> str:
        """How audit rows and rate limits name this channel identity."""
        return identity_actor(self.identity_id)

    @property
    def consented(self) -> bool:
        return ResidentService.has_consented(self.resident)


@dataclass
class Outcome:
    """`step` keeps the dialog going; `goto` starts another; neither ends at the menu."""

    replies: list[Reply] = field(default_factory=list)
    step: StrEnum | None = None
    goto: str | None = None
    goto_data: Mapping[str, Any] = field(default_factory=dict)


def stay(step: StrEnum, *replies: Reply) -> Outcome:
    return Outcome(list(replies), step=step)


def finish(*replies: Reply) -> Outcome:
    return Outcome(list(replies))


def goto(dialog: str, *replies: Reply, **data: Any) -> Outcome:
    return Outcome(list(replies), goto=dialog, goto_data=data)


class Dialog(ABC):
    name: ClassVar[str]
    Step: ClassVar[type[StrEnum]]
    # The menu label key, for journeys listed in the main menu.
    menu_key: ClassVar[str | None] = None
    # Free-text intents that open this dialog from anywhere.
    intents: ClassVar[tuple[Intent, ...]] = ()
    # Dialogs a resident may use before agreeing to the privacy notice.
    needs_consent: ClassVar[bool] = True
    # Choice ids with these prefixes open this dialog even from an old message (pushed
    # messages carry buttons that no conversation step offered): "rate:", "checkback:".
    global_choice_prefixes: ClassVar[tuple[str, ...]] = ()
    # Whether the conversation data holds something the resident is filling in (a report,
    # a registration), which leaving the journey drops: they are told so.
    holds_draft: ClassVar[bool] = False

    @abstractmethod
    async def start(self, ctx: DialogContext) -> Outcome: ...

    @abstractmethod
    async def handle(self, ctx: DialogContext, step: StrEnum) -> Outcome: ...
