"""A resident talking to the engine, as a test would describe it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.engine import Engine
from bot.handlers.render import RenderedChoice, RenderedMessage, render
from bot.messages import Incoming
from bot.services.residents import CONSENT_VERSION
from storage.models import ChannelIdentity, Conversation
from storage.models import Resident as ResidentRow
from storage.types import utcnow


class Resident:
    def __init__(self, engine: Engine, sender: str = "warga-1", channel: str = "console") -> None:
        self.engine = engine
        self.sender = sender
        self.channel = channel
        self.last: list[RenderedMessage] = []
        self.locale = ""

    async def send(self, incoming: Incoming) -> list[RenderedMessage]:
        result = await self.engine.handle(incoming)
        self.locale = result.locale
        self.last = render(self.engine.runtime.catalogs, result)
        return self.last

    async def say(self, text: str | None, platform_id: str | None = None) -> list[RenderedMessage]:
        incoming = Incoming(self.channel, self.sender, text=text, platform_id=platform_id)
        return await self.send(incoming)

    async def tap(self, choice_id: str) -> list[RenderedMessage]:
        return await self.send(Incoming(self.channel, self.sender, choice_id=choice_id))

    async def tap_label(self, label: str) -> list[RenderedMessage]:
        """Tap the offered button whose label contains `label` (case-insensitive)."""
        for choice in self.choices():
            if label.lower() in choice.label.lower():
                return await self.tap(choice.id)
        raise AssertionError(f"no button {label!r} among {[c.label for c in self.choices()]}")

    def choices(self) -> list[RenderedChoice]:
        return [choice for message in self.last for choice in message.choices]

    def text(self) -> str:
        return "\n".join(message.text for message in self.last)

    async def agree(self) -> None:
        await self.say("halo")
        await self.tap("welcome:agree")


async def residents_at_step(
    engine: Engine,
    count: int,
    dialog: str,
    step: str,
    data_for: Callable[[int], dict[str, Any]],
    offered: list[list[Any]] | None = None,
) -> list[Resident]:
    """`count` consenting residents whose conversations wait at one step of a dialog,
    written straight to the database (for tests where they then all act at once)."""
    chats = [Resident(engine, f"warga-{n}") for n in range(count)]
    async with engine.runtime.db.transaction() as session:
        for n, chat in enumerate(chats):
            person = ResidentRow(consent_version=CONSENT_VERSION, consent_at=utcnow())
            session.add(person)
            await session.flush()
            identity = ChannelIdentity(
                channel=chat.channel, external_id=chat.sender, resident_id=person.id or 0
            )
            session.add(identity)
            await session.flush()
            session.add(
                Conversation(
                    identity_id=identity.id or 0,
                    dialog=dialog,
                    step=step,
                    data=data_for(n),
                    offered_choices=offered or [],
                    locale="id",
                )
            )
    return chats
