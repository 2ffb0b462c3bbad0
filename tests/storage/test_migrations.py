"""Stairway: every migration goes up, down and up again, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

from storage.migrate import downgrade, revisions, upgrade
from tests.conftest import ON_POSTGRES, TEST_DATABASE_URL


async def _admin(sql: str) -> None:
    admin = create_async_engine(
        make_url(TEST_DATABASE_URL).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    try:
        async with admin.connect() as conn:
            await conn.exec_driver_sql(sql)
    finally:
        await admin.dispose()


@pytest.fixture
def scratch_url(tmp_path: Path) -> Iterator[str]:
    """An empty database of the kind this run tests."""
    if not ON_POSTGRES:
        yield f"sqlite+aiosqlite:///{tmp_path / 'stairway.sqlite3'}"
        return
    name = f"stairway_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(TEST_DATABASE_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _tables(url: str) -> set[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
    finally:
        await engine.dispose()
    return set(names) - {"alembic_version"}


def test_stairway_up_down_up(scratch_url: str) -> None:
    steps = revisions(scratch_url)
    assert steps, "no migrations found"
    previous = "base"
    for revision in steps:
        upgrade(scratch_url, revision)
        downgrade(scratch_url, previous)
        upgrade(scratch_url, revision)
        previous = revision
    assert asyncio.run(_tables(scratch_url)) == set(SQLModel.metadata.tables)
    downgrade(scratch_url, "base")
    assert asyncio.run(_tables(scratch_url)) == set()


def test_models_and_migrations_agree(scratch_url: str) -> None:
    """Autogenerate finds nothing to do: no model change lacks its migration."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    upgrade(scratch_url)

    async def diff() -> list[object]:
        engine = create_async_engine(scratch_url)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(
                    lambda sync: compare_metadata(
                        MigrationContext.configure(sync), SQLModel.metadata
                    )
                )
        finally:
            await engine.dispose()

    assert asyncio.run(diff()) == []
