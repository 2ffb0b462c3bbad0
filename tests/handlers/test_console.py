"""The console channel, in process and as the real `bansos chat` command."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

from bot.engine import Engine
from bot.handlers.console import ConsoleChannel


def _reader(lines: list[str]) -> Callable[[], Awaitable[str | None]]:
    feed: Iterator[str] = iter(lines)

    async def read() -> str | None:
        return next(feed, None)

    return read


async def test_console_drives_welcome_language_menu_faq_scam(engine: Engine) -> None:
    out = io.StringIO()
    console = ConsoleChannel(engine, "ibu-sri", out)
    await console.run(
        _reader(["halo", "1", "10", "2", "7", "what is pkh", "menu", "8", "bahasa", "1", "/keluar"])
    )
    transcript = out.getvalue()
    assert "1. Setuju" in transcript  # choices are numbered
    assert "we will now use English" in transcript
    assert "PKH" in transcript
    assert "Beware of social-aid scams" in transcript
    assert "sekarang kita pakai Bahasa Indonesia" in transcript
    assert transcript.rstrip().endswith("Sampai jumpa.")


def test_bansos_chat_command_end_to_end(tmp_path: Path, repo_root: Path) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'chat.sqlite3'}",
    }
    env.pop("TEST_DATABASE_URL", None)
    session = "halo\n1\n1\nbiaya pendaftaran\nmenu\n2\n/keluar\n"
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "chat", "--user", "pak-budi"],
        input=session,
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=True,
    )
    assert "Selamat datang" in result.stdout
    assert "Tanya jawab bansos" in result.stdout
    assert "GRATIS" in result.stdout
    assert "Waspada penipuan bansos!" in result.stdout
    assert "Traceback" not in result.stderr
