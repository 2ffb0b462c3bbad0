"""Crash safety: a real `bansos serve` process sending a 10,000-recipient broadcast is
killed with SIGKILL half-way and started again. Every subscriber gets the message.

- WhatsApp: exactly once. Each message carries its outbox row as
  `biz_opaque_callback_data`; the status webhooks of the messages accepted just before the
  kill (retried by the platform until the new process answers) reconcile those rows, so
  none is sent twice.
- Telegram: no message is lost; the Bot API cannot say whether a message went out, so
  those on the wire at the kill, and those answered but not yet written down (outcomes are
  written every FLUSH_SECONDS), may arrive twice: at most the sender's parallel chats plus
  what the rate sends in a few flush intervals. At 1,000/s here that is a few dozen; at
  Telegram's 30/s, one or two. The test holds that bound; `make bench` measures it
  (README, "Crash safety").
"""

from __future__ import annotations

from pathlib import Path

from bot.handlers.outbox_flush import FLUSH_SECONDS
from bot.handlers.telegram import PARALLEL_CHATS
from bot.runtime import Runtime
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.whatsapp_api import FakeWhatsApp
from tests.workers.crash_rig import (
    Serve,
    free_port,
    seed_subscribers,
    serve_env,
    start_broadcast,
    tally,
    telegram_env,
    telegram_received,
    wait_until,
    whatsapp_env,
    whatsapp_received,
)

RECIPIENTS = 10_000
RATE = 1000  # messages per second: a 10,000-recipient run in seconds, not minutes
TEXT = "Penyaluran PKH tahap 4: Senin, 08.00, Balai Desa Leksono."
APP_SECRET = "crash-test-app-secret"


async def test_telegram_broadcast_survives_sigkill(runtime: Runtime, tmp_path: Path) -> None:
    chats = await seed_subscribers(runtime, "telegram", RECIPIENTS)
    await start_broadcast(runtime, "telegram", TEXT)
    fake = FakeTelegram()
    await fake.start()
    serve = Serve(
        serve_env(
            runtime.settings.database_url,
            telegram_env(
                fake, messages_per_second=str(RATE), chat_seconds="0", reclaim_seconds="1"
            ),
        ),
        free_port(),
        tmp_path,
    )

    def received() -> list[str]:
        return telegram_received(fake)

    try:
        await serve.start()
        assert await wait_until(lambda: len(received()) >= RECIPIENTS // 2, 90), _log(tmp_path)
        await serve.kill()
        at_kill = len(received())
        assert at_kill < RECIPIENTS, "the kill came too late to test anything"
        await serve.start()
        assert await wait_until(lambda: len(set(received())) >= RECIPIENTS, 120), _log(tmp_path)
        await wait_until(lambda: False, 2)  # anything still coming would be a duplicate
    finally:
        await serve.stop()
        await fake.stop()
    duplicates, misses = tally(received(), chats)
    print(f"telegram: killed at {at_kill}, duplicates {duplicates}, misses {misses}")
    assert misses == 0
    assert duplicates <= PARALLEL_CHATS + RATE * FLUSH_SECONDS * 5
    assert fake.throttled == 0


async def test_whatsapp_broadcast_survives_sigkill_exactly_once(
    runtime: Runtime, tmp_path: Path
) -> None:
    recipients = await seed_subscribers(runtime, "whatsapp", RECIPIENTS)
    await start_broadcast(runtime, "whatsapp", TEXT)
    fake = FakeWhatsApp()
    await fake.start()
    port = free_port()
    fake.status_webhook = (f"http://127.0.0.1:{port}/webhooks/whatsapp", APP_SECRET)
    serve = Serve(
        serve_env(
            runtime.settings.database_url,
            whatsapp_env(
                fake,
                APP_SECRET,
                messages_per_second=str(RATE),
                pair_seconds="0",
                reclaim_seconds="10",
            ),
        ),
        port,
        tmp_path,
    )

    def received() -> list[str]:
        return whatsapp_received(fake)

    try:
        await serve.start()
        assert await wait_until(lambda: len(received()) >= RECIPIENTS // 2, 90), _log(tmp_path)
        await serve.kill()
        at_kill = len(received())
        assert at_kill < RECIPIENTS, "the kill came too late to test anything"
        await serve.start()
        assert await wait_until(lambda: len(set(received())) >= RECIPIENTS, 120), _log(tmp_path)
        await wait_until(lambda: False, 12)  # past the reclaim wait: any resend would show
    finally:
        await serve.stop()
        await fake.stop()
    duplicates, misses = tally(received(), recipients)
    print(f"whatsapp: killed at {at_kill}, duplicates {duplicates}, misses {misses}")
    assert (duplicates, misses) == (0, 0)


def _log(where: Path) -> str:
    return "\n".join(p.read_text(errors="replace")[-3000:] for p in sorted(where.glob("*.log")))
