"""Officer accounts: creation rules, argon2id, one-time Telegram link codes, the CLI."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from bot.runtime import Runtime
from bot.services.officers import OfficerError, OfficerService
from storage.models import Village
from storage.types import utcnow


async def test_accounts_are_checked_and_passwords_hashed(runtime: Runtime) -> None:
    now = utcnow()
    async with runtime.db.transaction() as session:
        session.add(Village(code="3307992006", name="Leksono", kecamatan="Sukamaju"))
        await session.flush()
        service = OfficerService(session, runtime.vault)
        for username, role, villages, password, problem in (
            ("Darmo!", "officer", ["3307992006"], "panjang-sekali", "username"),
            ("darmo", "camat", ["3307992006"], "panjang-sekali", "role"),
            ("darmo", "officer", ["3307992006"], "pendek", "password"),
            ("darmo", "officer", [], "panjang-sekali", "village"),
            ("darmo", "officer", ["3307999999"], "panjang-sekali", "unknown village"),
        ):
            with pytest.raises(OfficerError, match=problem):
                await service.add(username, role, villages, password, now)
        officer = await service.add("darmo", "officer", ["3307992006"], "panjang-sekali", now)
        with pytest.raises(OfficerError, match="already exists"):
            await service.add("darmo", "admin", [], "panjang-sekali", now)
    assert officer.password_hash is not None and "panjang" not in officer.password_hash
    assert PasswordHasher().verify(officer.password_hash, "panjang-sekali")
    assert officer.password_hash.startswith("$argon2id$")


async def test_link_codes_work_once_and_expire(runtime: Runtime) -> None:
    now = utcnow()
    async with runtime.db.transaction() as session:
        service = OfficerService(session, runtime.vault)
        officer = await service.add("camat", "admin", [], "panjang-sekali", now)
        code = await service.new_link_code(officer, now)
        assert officer.link_code_hash is not None and code not in officer.link_code_hash
        assert await service.link_telegram("AAAA-0000", "42", now) is None
        late = now + timedelta(minutes=16)
        assert await service.link_telegram(code, "42", late) is None
        linked = await service.link_telegram(code.lower(), "42", now)
        assert linked is not None and linked.telegram_user_id == "42"
        assert await service.link_telegram(code, "43", now) is None  # used up
        assert (await service.by_telegram("42")) is officer


def test_cli_adds_an_officer_and_prints_a_link_code(
    tmp_path: Path, repo_root: Path, migrated_url: str
) -> None:
    if not migrated_url.startswith("sqlite"):
        pytest.skip("the CLI run uses its own SQLite file")
    env = {
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite3'}",
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(repo_root),
    }
    bansos = [sys.executable, "-m", "bot.cli", "officer"]
    add = subprocess.run(
        [*bansos, "add", "camat", "--role", "admin", "--password-stdin"],
        input="kata-sandi-yang-panjang\n",
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert add.returncode == 0, add.stderr
    assert "officer camat added (admin)" in add.stdout
    again = subprocess.run(
        [*bansos, "add", "camat", "--role", "admin", "--password-stdin"],
        input="kata-sandi-yang-panjang\n",
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert again.returncode == 2 and "already exists" in again.stderr
    link = subprocess.run(
        [*bansos, "link-telegram", "camat"], env=env, capture_output=True, text=True, check=False
    )
    assert link.returncode == 0 and "/link " in link.stdout
