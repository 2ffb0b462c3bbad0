"""Shared fixtures: a migrated database per run (SQLite, or PostgreSQL via TEST_DATABASE_URL),
emptied before each test, and the runtime and engine on top of it."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import delete
from sqlmodel import SQLModel

import storage.models  # noqa: F401
from bot.engine import Engine
from bot.runtime import Runtime, build_runtime
from bot.settings import Settings
from storage.db import Database
from storage.migrate import upgrade

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
ON_POSTGRES = TEST_DATABASE_URL.startswith("postgresql")
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
HAS_CHROMIUM = shutil.which(CHROMIUM) is not None or Path(CHROMIUM).exists()

_SKIP_REASONS = {
    "postgres": "PostgreSQL tests skipped: set TEST_DATABASE_URL=postgresql+asyncpg://… "
    "(.ci/run always does)",
    "browser": f"browser tests skipped: no Chromium at {CHROMIUM} "
    "(apt-get install chromium; .ci/run always does)",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    missing = {"postgres": not ON_POSTGRES, "browser": not HAS_CHROMIUM}
    for item in items:
        for marker, absent in missing.items():
            if absent and item.get_closest_marker(marker):
                item.add_marker(pytest.mark.skip(reason=_SKIP_REASONS[marker]))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    skipped = terminalreporter.stats.get("skipped", [])
    for marker, reason in _SKIP_REASONS.items():
        count = sum(1 for report in skipped if marker in getattr(report, "keywords", {}))
        if count:
            terminalreporter.write_line(f"NOTE: {count} {reason}")


def pytest_report_header() -> str:
    return f"database: {'PostgreSQL' if ON_POSTGRES else 'SQLite'}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    if TEST_DATABASE_URL:
        return TEST_DATABASE_URL
    return f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"


@pytest.fixture(scope="session")
def migrated_url(database_url: str) -> str:
    upgrade(database_url)
    return database_url


@pytest.fixture
def settings(migrated_url: str, tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,
        database_url=migrated_url,
        media_dir=tmp_path / "media",
    )


async def empty_tables(database: Database) -> None:
    async with database.transaction() as session:
        for table in reversed(SQLModel.metadata.sorted_tables):
            await session.exec(delete(table))


@pytest.fixture
async def db(migrated_url: str) -> AsyncIterator[Database]:
    database = Database(migrated_url)
    await empty_tables(database)
    yield database
    await database.dispose()


@pytest.fixture
def runtime(settings: Settings, db: Database) -> Runtime:
    return build_runtime(settings, db)


@pytest.fixture
def engine(runtime: Runtime) -> Engine:
    return Engine(runtime)


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent
