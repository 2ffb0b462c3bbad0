"""The ASGI app: health, metrics, web chat, the Telegram and WhatsApp webhooks and workers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.exc import DBAPIError

from bot.engine import Engine, StorageUnavailable
from bot.handlers.telegram import (
    ALLOWED_UPDATES,
    TelegramChannel,
    TelegramInbox,
    TelegramSender,
    make_bot,
    poll_forever,
    set_commands,
    telegram_router,
    work_forever,
)
from bot.handlers.telegram_officers import OfficerDesk
from bot.handlers.webchat import webchat_router
from bot.handlers.whatsapp import (
    WhatsAppChannel,
    WhatsAppInbox,
    close_client,
    make_client,
    whatsapp_router,
)
from bot.handlers.whatsapp import work_forever as whatsapp_work_forever
from bot.handlers.whatsapp_sender import WhatsAppSender
from bot.runtime import Runtime
from bot.services.villages import VillageDirectory
from bot.web.api import api_app
from bot.web.screens import install_dashboard
from bot.workers import broadcasts as broadcast_clock
from bot.workers import jobs as scheduled_jobs
from bot.workers import media_purge, report_clocks

log = logging.getLogger(__name__)
WEB_DIR = Path(__file__).resolve().parent


def create_app(
    runtime: Runtime, engine: Engine | None = None, *, run_workers: bool = False
) -> FastAPI:
    """The app; `run_workers` starts the background loops (on for `bansos serve`)."""
    engine = engine or Engine(runtime)
    telegram_wake = asyncio.Event()
    telegram_inbox = TelegramInbox(runtime) if runtime.settings.telegram_enabled else None
    whatsapp_wake = asyncio.Event()
    whatsapp_inbox = WhatsAppInbox(runtime) if runtime.settings.whatsapp_enabled else None

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
                asyncio.create_task(broadcast_clock.run_forever(runtime)),
                asyncio.create_task(media_purge.run_forever(runtime)),
            ]
            if run_workers
            else []
        )
        bot = None
        if run_workers and telegram_inbox is not None:
            bot = make_bot(runtime)
            workers += await _start_telegram(runtime, engine, bot, telegram_inbox, telegram_wake)
        whatsapp = None
        if run_workers and whatsapp_inbox is not None:
            whatsapp = make_client(runtime)
            channel = WhatsAppChannel(runtime, engine, whatsapp)
            sender = WhatsAppSender(runtime, whatsapp)
            workers.append(
                asyncio.create_task(whatsapp_work_forever(channel, sender, whatsapp_wake))
            )
        yield
        for worker in workers:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        if bot is not None:
            await bot.session.close()
        if whatsapp is not None:
            await close_client(whatsapp)
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
    install_dashboard(app, runtime, templates)
    app.mount("/api/v1", api_app(runtime))
    if telegram_inbox is not None:
        app.include_router(telegram_router(runtime, telegram_inbox, telegram_wake))
    if whatsapp_inbox is not None:
        app.include_router(whatsapp_router(runtime, whatsapp_inbox, whatsapp_wake))

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


async def _start_telegram(
    runtime: Runtime, engine: Engine, bot: Bot, inbox: TelegramInbox, wake: asyncio.Event
) -> list[asyncio.Task[None]]:
    """Commands, then a webhook (BASE_URL set) or long polling, and the worker."""
    settings = runtime.settings
    tasks = []
    try:
        await set_commands(bot, runtime)
        if settings.base_url:
            await bot.set_webhook(
                url=settings.base_url.rstrip("/") + "/webhooks/telegram",
                secret_token=settings.telegram_webhook_token,
                allowed_updates=ALLOWED_UPDATES,
                drop_pending_updates=False,
            )
        else:
            tasks.append(asyncio.create_task(poll_forever(bot, inbox, wake)))
    except TelegramAPIError as error:
        log.error("telegram start-up call failed: %s", error)
    sender = TelegramSender(runtime, bot)
    desk = (
        OfficerDesk(runtime, bot, sender.window)
        if settings.telegram_officer_chat_id is not None
        else None
    )
    channel = TelegramChannel(runtime, engine, bot, sender.window, desk)
    tasks.append(asyncio.create_task(work_forever(channel, sender, wake)))
    return tasks
