"""The ASGI app: health, metrics, web chat (and, as their issues land, webhooks and dashboard)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.exc import DBAPIError

from bot.engine import Engine, StorageUnavailable
from bot.handlers.webchat import webchat_router
from bot.runtime import Runtime
from bot.services.villages import VillageDirectory
from bot.workers import jobs as scheduled_jobs
from bot.workers import report_clocks

log = logging.getLogger(__name__)
WEB_DIR = Path(__file__).resolve().parent


def create_app(
    runtime: Runtime, engine: Engine | None = None, *, run_workers: bool = False
) -> FastAPI:
    """The app; `run_workers` starts the background loops (on for `bansos serve`)."""
    engine = engine or Engine(runtime)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            async with runtime.db.transaction() as session:
                await VillageDirectory(session).sync_from_settings(runtime.settings)
        except (DBAPIError, OSError) as error:
            # Start anyway: /healthz reports the outage and webhooks answer 503 until it ends.
            log.error("could not sync villages at start: %s", type(error).__name__)
        workers = (
            [
                asyncio.create_task(report_clocks.run_forever(runtime)),
                asyncio.create_task(scheduled_jobs.run_forever(runtime)),
            ]
            if run_workers
            else []
        )
        yield
        for worker in workers:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        await runtime.db.dispose()

    app = FastAPI(
        title="bansos-bot",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    templates = Jinja2Templates(directory=WEB_DIR / "templates")
    app.mount("/static", StaticFiles(directory=WEB_DIR / "static"), name="static")
    app.include_router(webchat_router(engine, templates))

    @app.get("/healthz")
    async def healthz() -> Response:
        if await runtime.db.ping():
            return JSONResponse({"status": "ok"})
        return JSONResponse({"status": "database unreachable"}, status_code=503)

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(runtime.metrics.exposition(), media_type="text/plain; version=0.0.4")

    @app.exception_handler(StorageUnavailable)
    async def storage_down(_: Request, error: StorageUnavailable) -> Response:
        log.error("database unavailable: %s", error)
        return JSONResponse({"error": "service temporarily unavailable"}, status_code=503)

    @app.exception_handler(DBAPIError)
    async def database_error(_: Request, error: DBAPIError) -> Response:
        log.error("database error: %s", type(error.orig).__name__ if error.orig else error)
        return JSONResponse({"error": "service temporarily unavailable"}, status_code=503)

    return app
