"""The engine under failure and concurrency: nothing half stored, nothing interleaved."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from enum import StrEnum

from sqlmodel import col, func, select

from bot.dialogs.base import Dialog, DialogContext, Outcome, stay
from bot.dialogs.registry import DialogRegistry, default_registry
from bot.engine import Engine
from bot.messages import Incoming, Reply
from bot.runtime import Runtime, build_runtime
from storage.db import Database
from storage.models import ChannelIdentity, Conversation, MessageLog, Resident
from tests.helpers import Resident as Chat

NIK = "3307994505809001"


class _Step(StrEnum):
    ONLY = "only"


class ExplodingDialog(Dialog):
    """Writes to the database, then fails: the write must not survive."""

    name = "exploding"
    Step = _Step
    menu_key = "menu.faq"

    async def start(self, ctx: DialogContext) -> Outcome:
        return stay(_Step.ONLY)

    async def handle(self, ctx: DialogContext, step: StrEnum) -> Outcome:
        ctx.resident.display_name = "HALF WRITTEN"
        ctx.session.add(ctx.resident)
        await ctx.session.flush()
        raise RuntimeError("boom")


def _registry_with(dialog: Dialog) -> DialogRegistry:
    base = default_registry()
    names = ("welcome", "menu", "faq", "scam", "privacy", "language")
    kept = [found for n in names if (found := base.get(n)) is not None]
    return DialogRegistry([*kept, dialog])


async def test_a_failing_step_apologises_and_stores_nothing_half(runtime: Runtime) -> None:
    engine = Engine(runtime, _registry_with(ExplodingDialog()))
    chat = Chat(engine)
    await chat.agree()
    await chat.tap("menu:exploding")
    await chat.say("anything")
    assert "ada gangguan" in chat.text()
    assert "Traceback" not in chat.text()
    async with runtime.db.session() as session:
        resident = (await session.exec(select(Resident))).one()
        conversation = (await session.exec(select(Conversation))).one()
        logged_in = (
            await session.exec(select(func.count()).where(col(MessageLog.direction) == "in"))
        ).one()
    assert resident.display_name is None
    assert conversation.dialog == "exploding"  # the state is as it was before the message
    assert logged_in == 4  # the failed message is still on record


async def test_two_messages_at_once_from_one_resident_never_interleave(
    runtime: Runtime, migrated_url: str
) -> None:
    """Two app instances (two engines, two connection pools) get the same resident's messages."""
    other_db = Database(migrated_url)
    try:
        other = Engine(build_runtime(runtime.settings, other_db))
        first = Engine(runtime)
        await Chat(first, "race").agree()
        for _ in range(5):
            await asyncio.gather(
                first.handle(Incoming("console", "race", text="6")),
                other.handle(Incoming("console", "race", text="menu")),
            )
        async with runtime.db.session() as session:
            conversation = (await session.exec(select(Conversation))).one()
            rows = (await session.exec(select(MessageLog).order_by(col(MessageLog.id)))).all()
    finally:
        await other_db.dispose()
    assert conversation.step_count == 12
    directions = "".join("i" if row.direction == "in" else "o" for row in rows)
    # Every inbound message is followed by its own replies before the next one is logged.
    assert "ii" not in directions, directions
    assert directions.count("i") == 12


async def test_first_messages_of_a_new_resident_race_to_one_identity(
    runtime: Runtime, migrated_url: str
) -> None:
    other_db = Database(migrated_url)
    try:
        engines = [Engine(runtime), Engine(build_runtime(runtime.settings, other_db))]
        await asyncio.gather(
            *(engines[i % 2].handle(Incoming("console", "newcomer", text="halo")) for i in range(6))
        )
        async with runtime.db.session() as session:
            identities = (
                await session.exec(select(func.count()).select_from(ChannelIdentity))
            ).one()
            residents = (await session.exec(select(func.count()).select_from(Resident))).one()
            conversation = (await session.exec(select(Conversation))).one()
    finally:
        await other_db.dispose()
    assert (identities, residents) == (1, 1)
    assert conversation.step_count == 6


async def test_two_hundred_residents_chatting_concurrently(engine: Engine) -> None:
    residents = [Chat(engine, f"load-{n}") for n in range(200)]

    async def journey(chat: Chat) -> int:
        sent = 0
        for message in ("halo", "1", "1", "apa itu pkh", "menu"):
            replies = await chat.say(message)
            assert replies, message
            sent += len(replies)
        return sent

    replies_sent = sum(await asyncio.gather(*(journey(chat) for chat in residents)))
    async with engine.runtime.db.session() as session:
        inbound = (
            await session.exec(select(func.count()).where(col(MessageLog.direction) == "in"))
        ).one()
        outbound = (
            await session.exec(select(func.count()).where(col(MessageLog.direction) == "out"))
        ).one()
        at_menu = (
            await session.exec(select(func.count()).where(col(Conversation.dialog) == "menu"))
        ).one()
    assert inbound == 200 * 5
    assert outbound == replies_sent
    assert at_menu == 200


def test_engine_and_dialogs_import_no_channel_library() -> None:
    code = (
        "import sys, bot.engine, bot.dialogs.registry, bot.services.faq;"
        "bot.dialogs.registry.default_registry();"
        "bad = [m for m in ('aiogram', 'pywa', 'fastapi', 'starlette') if m in sys.modules];"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


class _CountingStep(StrEnum):
    COUNT = "count"


class CountingDialog(Dialog):
    """Appends to a list nested in its data, in place, on every message."""

    name = "counting"
    Step = _CountingStep
    menu_key = "menu.faq"

    async def start(self, ctx: DialogContext) -> Outcome:
        ctx.data["items"] = []
        return stay(_CountingStep.COUNT)

    async def handle(self, ctx: DialogContext, step: StrEnum) -> Outcome:
        items = ctx.data.setdefault("items", [])
        items.append(ctx.text)
        return stay(_CountingStep.COUNT, Reply("common.empty", {"n": len(items)}))


async def test_nested_data_changed_in_place_is_saved(runtime: Runtime) -> None:
    """Regression: a list mutated inside the dialog data was lost between steps."""
    registry = DialogRegistry([*default_registry(), CountingDialog()])
    engine = Engine(runtime, registry)
    chat = Chat(engine)
    await chat.agree()
    await chat.tap("menu:counting")
    for word in ("satu", "dua", "tiga"):
        await chat.say(word)
    async with runtime.db.session() as session:
        conversation = (await session.exec(select(Conversation))).one()
    assert conversation.data["items"] == ["satu", "dua", "tiga"]


class EchoDialog(Dialog):
    """Says back what it was sent, inside a catalog text."""

    name = "echo"
    Step = _Step
    menu_key = "menu.faq"

    async def start(self, ctx: DialogContext) -> Outcome:
        return stay(_Step.ONLY)

    async def handle(self, ctx: DialogContext, step: StrEnum) -> Outcome:
        return stay(_Step.ONLY, Reply("common.too_long", {"length": ctx.text, "max": 1}))


async def test_the_message_log_masks_a_nik_in_what_the_bot_says_too(runtime: Runtime) -> None:
    engine = Engine(runtime, _registry_with(EchoDialog()))
    chat = Chat(engine)
    await chat.agree()
    await chat.tap("menu:echo")
    await chat.say(f"nik saya {NIK}")
    assert NIK in chat.text()  # the resident's own screen is the dialog's business
    async with runtime.db.session() as session:
        logged = (
            await session.exec(select(MessageLog.text).where(col(MessageLog.text).is_not(None)))
        ).all()
    assert any("3307********9001" in (text or "") for text in logged)
    assert not any(NIK in (text or "") for text in logged)
