"""A message that breaks a step, or cannot be read at all, on the push channels: one
apology, no repeats, and the chats behind it keep moving."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr
from sqlmodel import col, select

from bot.dialogs.base import DialogContext, Outcome
from bot.dialogs.menu import MenuDialog
from bot.runtime import Runtime
from storage.models import InboundEvent, MessageLog
from tests.handlers.conftest import CHAT, SECRET, Rig, WaRig

OTHER_CHAT = 5550002
APOLOGY = "ada gangguan di sistem kami"


async def _explode(self: MenuDialog, ctx: DialogContext, step: object) -> Outcome:
    raise RuntimeError("a bug in a step")


async def _events(rig: Rig | WaRig) -> list[InboundEvent]:
    async with rig.runtime.db.session() as session:
        return list((await session.exec(select(InboundEvent).order_by(col(InboundEvent.id)))).all())


async def test_a_failing_step_on_telegram_apologises_once(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    await rig.say("halo")
    await rig.tap("welcome:agree")
    monkeypatch.setattr(MenuDialog, "handle", _explode)
    await rig.say("apa ini")
    for _ in range(3):  # the worker's next passes
        await rig.settle()
    apologies = [t for t in rig.fake.texts(CHAT) if APOLOGY in t]
    assert len(apologies) == 1
    assert (await _events(rig))[-1].status == "failed"
    monkeypatch.undo()
    assert any("Apa yang bisa kami bantu" in t for t in await rig.say("menu"))


async def test_a_failing_step_on_whatsapp_apologises_once(
    wa_rig: WaRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    await wa_rig.say("halo")
    await wa_rig.tap("welcome:agree")
    monkeypatch.setattr(MenuDialog, "handle", _explode)
    await wa_rig.say("apa ini")
    for _ in range(3):
        await wa_rig.settle()
    apologies = [t for t in wa_rig.fake.texts("ID.1234567001") if APOLOGY in t]
    assert len(apologies) == 1


async def test_an_unreadable_telegram_update_does_not_hold_up_the_others(rig: Rig) -> None:
    odd = rig.fake.update(
        message={
            "message_id": 9,
            "date": 1_790_000_000,
            "chat": {"id": CHAT, "type": "private"},
            "from": {"id": CHAT, "is_bot": False, "first_name": "Warga"},
            "location": {"latitude": "north", "longitude": 1},
        }
    )
    assert await rig.post(odd) == 200
    assert any("Selamat datang" in t for t in await rig.say("halo", chat=OTHER_CHAT))
    assert {event.status for event in await _events(rig)} == {"processed"}


async def test_a_huge_id_in_a_forged_button_is_answered_not_crashed(rig: Rig) -> None:
    await rig.say("halo")
    await rig.tap("welcome:agree")
    for data in (
        "training:session:99999999999999999999999",
        "got:99999999999999999999999:deducted",
        "rate:AAAA-BBBB:4",
    ):
        answer = await rig.tap(data)
        assert answer and not any(APOLOGY in t for t in answer), data


async def test_nul_bytes_broken_emoji_and_a_nik_as_a_button_id_are_stored_safely(
    rig: Rig,
) -> None:
    body = json.dumps(rig.fake.message(CHAT, "ha\x00lo \ud83d"))  # as Telegram escapes it
    response = await rig.client.post(
        "/webhooks/telegram",
        content=body.encode(),
        headers={"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"},
    )
    assert response.status_code == 200
    await rig.settle()
    assert any("Selamat datang" in t for t in rig.fake.texts(CHAT))
    await rig.tap("3307994505809001")
    async with rig.runtime.db.session() as session:
        logged = (await session.exec(select(MessageLog.text, MessageLog.payload))).all()
    assert not any("\x00" in (text or "") for text, _ in logged)
    assert "3307994505809001" not in str(logged)


async def _chunks(size: int) -> AsyncIterator[bytes]:
    block = b" " * 65536
    for _ in range(size // len(block)):
        yield block


async def test_a_chunked_body_without_a_length_is_still_limited(rig: Rig, wa_rig: WaRig) -> None:
    for client, path, headers in (
        (rig.client, "/webhooks/telegram", {"X-Telegram-Bot-Api-Secret-Token": SECRET}),
        (wa_rig.client, "/webhooks/whatsapp", {"X-Hub-Signature-256": "sha256=00"}),
    ):
        response = await client.post(path, content=_chunks(8 * 1024 * 1024), headers=headers)
        assert response.status_code == 413, path
        assert "content-length" not in {k.lower() for k in response.request.headers}


async def test_deeply_nested_json_is_answered_not_a_500(rig: Rig) -> None:
    body = b'{"update_id": 1, "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    response = await rig.client.post(
        "/webhooks/telegram",
        content=body,
        headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
    )
    assert response.status_code == 200


def test_a_webhook_without_its_own_secret_still_has_one(runtime: Runtime) -> None:
    settings = runtime.settings.model_copy(update={"telegram_webhook_secret": None})
    token = settings.telegram_webhook_token
    assert len(token) == 64 and token == settings.telegram_webhook_token
    other = settings.model_copy(update={"secret_key": SecretStr("another-key-" * 4)})
    assert other.telegram_webhook_token != token
