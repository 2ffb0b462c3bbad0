"""The terminal channel (`bansos chat`): numbered choices, one resident per user id."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TextIO

from bot.engine import Engine
from bot.handlers.render import RenderedMessage, as_numbered_text, render
from bot.messages import Channel, Incoming

ReadLine = Callable[[], Awaitable[str | None]]
QUIT_WORDS = frozenset({"/quit", "/exit", "/keluar"})


class ConsoleChannel:
    def __init__(self, engine: Engine, user_id: str, output: TextIO) -> None:
        self.engine = engine
        self.user_id = user_id
        self.output = output

    async def send(self, text: str) -> list[RenderedMessage]:
        incoming = Incoming(channel=Channel.CONSOLE, sender_id=self.user_id, text=text)
        result = await self.engine.handle(incoming)
        messages = render(self.engine.runtime.catalogs, result)
        for message in messages:
            self.output.write("\nbot> " + as_numbered_text(message).replace("\n", "\n     ") + "\n")
        self.output.flush()
        return messages

    async def run(self, read_line: ReadLine) -> None:
        self.output.write(
            "bansos-bot (console) sebagai warga "
            f"{self.user_id!r}. Ketik pesan, misalnya: halo. Ketik /keluar untuk berhenti.\n"
        )
        while True:
            line = await read_line()
            if line is None or line.strip().lower() in QUIT_WORDS:
                self.output.write("\nSampai jumpa.\n")
                return
            await self.send(line)


async def stdin_reader() -> str | None:
    def _read() -> str | None:
        try:
            sys.stdout.write("\nanda> ")
            sys.stdout.flush()
            line = sys.stdin.readline()
        except (EOFError, KeyboardInterrupt):
            return None
        return line.rstrip("\n") if line else None

    return await asyncio.to_thread(_read)
