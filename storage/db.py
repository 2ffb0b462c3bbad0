"""The async engine and sessions: SQLite (WAL, busy timeout) or PostgreSQL.

Dialect-specific settings live here and nowhere else (DESIGN.md rule 7).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    async_sessionmaker,
    create_async_engine,
)
from sqlmodel.ext.asyncio.session import AsyncSession

SQLITE_BUSY_TIMEOUT_MS = 30_000


class Database:
    """Owns one async engine. `transaction()` is the unit of work a service runs in."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        kwargs: dict[str, Any] = {"echo": echo, "pool_pre_ping": not self.is_sqlite}
        if self.is_sqlite:
            database = self.url.database or ""
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        else:
            kwargs.update(pool_size=10, max_overflow=20, pool_timeout=30)
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        self._sessions = async_sessionmaker(
            self.engine, class_=AsyncSession, expire_on_commit=False
        )
        # SQLite has one writer: queueing writers in-process beats spinning on the busy handler.
        self._sqlite_writer = asyncio.Lock() if self.is_sqlite else None

    def session(self) -> AsyncSession:
        return self._sessions()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session whose work commits on success and rolls back on any exception."""
        guard: AbstractAsyncContextManager[Any] = self._sqlite_writer or nullcontext()
        async with guard, self._sessions() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    async def ping(self, limit_seconds: float = 2.0) -> bool:
        try:
            async with asyncio.timeout(limit_seconds), self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    async def dispose(self) -> None:
        await self.engine.dispose()


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself (below), so a step takes the write lock up front.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


class Leadership:
    """One holder per name across all app instances: a PostgreSQL session advisory lock on
    a connection of its own. SQLite means one process, which always leads.

    Used so that one worker per bot sends (a global rate limit holds) and one worker
    processes a channel's updates in order (DESIGN.md section 6).
    """

    def __init__(self, db: Database, name: str) -> None:
        self.db = db
        self.key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        self._conn: AsyncConnection | None = None

    async def lead(self) -> bool:
        """True while this instance holds the lock (taken on the first call that can)."""
        if self.db.is_sqlite:
            return True
        try:
            if self._conn is not None:
                await self._conn.exec_driver_sql("SELECT 1")  # still ours
                return True
            conn = await self.db.engine.connect()
            taken = (
                await conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key})
            ).scalar()
            if taken:
                self._conn = conn
                return True
            await conn.close()
        except (DBAPIError, OSError):
            await self.release()
        return False

    async def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            # The connection goes back to the pool, so unlock explicitly first.
            await conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
            await conn.close()
        except (DBAPIError, OSError):
            with contextlib.suppress(DBAPIError, OSError):
                await conn.invalidate()  # a dead session holds no lock
