"""A resident talking to the engine, as a test would describe it."""

from __future__ import annotations

from bot.engine import Engine
from bot.handlers.render import RenderedChoice, RenderedMessage, render
from bot.messages import Incoming


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
