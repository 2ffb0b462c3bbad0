"""The `bansos` command: serve, chat, db upgrade, demo."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from bot.settings import Settings


def _settings() -> Settings:
    try:
        return Settings()
    except ValueError as error:
        raise SystemExit(f"bansos: configuration error: {error}") from None


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from bot.runtime import build_runtime
    from bot.web.app import create_app
    from storage.migrate import upgrade

    settings = _settings()
    upgrade(settings.database_url)
    app = create_app(build_runtime(settings))
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", proxy_headers=True)
    return 0


def _chat(args: argparse.Namespace) -> int:
    from bot.engine import Engine
    from bot.handlers.console import ConsoleChannel, stdin_reader
    from bot.runtime import build_runtime
    from storage.migrate import upgrade

    settings = _settings()
    upgrade(settings.database_url)

    async def run() -> None:
        runtime = build_runtime(settings)
        try:
            await ConsoleChannel(Engine(runtime), args.user, sys.stdout).run(stdin_reader)
        finally:
            await runtime.db.dispose()

    asyncio.run(run())
    return 0


def _db_upgrade(_: argparse.Namespace) -> int:
    from storage.migrate import upgrade

    upgrade(_settings().database_url)
    print("database is at the latest migration")
    return 0


def _demo(_: argparse.Namespace) -> int:
    from bot.services.demo import seed_demo
    from bot.services.pii import PiiVault
    from storage.db import Database
    from storage.migrate import upgrade

    settings = _settings()
    upgrade(settings.database_url)

    async def run() -> None:
        db = Database(settings.database_url)
        try:
            summary = await seed_demo(db, PiiVault(settings.secret_key.get_secret_value()))
        finally:
            await db.dispose()
        state = "seeded" if summary.created else "already present (unchanged)"
        print(
            f"demo data {state}: {summary.villages} villages, {summary.people} registry people, "
            f"{summary.enrolments} enrolments, {summary.trainings} trainings, "
            f"{summary.schedules} distribution schedules"
        )

    asyncio.run(run())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bansos", description="bansos-bot service and tools")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the web service (chat, webhooks, dashboard)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(handler=_serve)

    chat = commands.add_parser("chat", help="talk to the bot in the terminal as a resident")
    chat.add_argument(
        "--user", default="console", help="resident id (several ids, several residents)"
    )
    chat.set_defaults(handler=_chat)

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="apply all migrations").set_defaults(handler=_db_upgrade)

    demo = commands.add_parser("demo", help="seed fictional demo data (idempotent)")
    demo.set_defaults(handler=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    raise SystemExit(main())
