"""Run a measurement on SQLite and, when reachable, on a throw-away PostgreSQL database."""

from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from storage.migrate import upgrade

T = TypeVar("T")


async def _create_postgres() -> tuple[str, str] | None:
    admin_url = os.environ.get(
        "BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    )
    name = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except Exception:
        return None
    finally:
        await admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False), admin_url


async def _drop(admin_url: str, url: str) -> None:
    admin = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.exec_driver_sql(
                f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'
            )
    finally:
        await admin.dispose()


def on_each_database(measure: Callable[[str], T]) -> list[tuple[str, T]]:
    """`measure(url)` on a migrated SQLite file, then on PostgreSQL if it answers."""
    rows: list[tuple[str, T]] = []
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.sqlite3'}"
        upgrade(url)
        rows.append(("SQLite (WAL)", measure(url)))
    postgres = asyncio.run(_create_postgres())
    if postgres is None:
        print("(PostgreSQL not reachable: set BENCH_POSTGRES_URL to include it)")
        return rows
    url, admin_url = postgres
    try:
        upgrade(url)
        rows.append(("PostgreSQL", measure(url)))
    finally:
        asyncio.run(_drop(admin_url, url))
    return rows
