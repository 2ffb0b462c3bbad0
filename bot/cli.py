"""The `bansos` command: serve, chat, db upgrade, demo, registry import, officer …"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bot.settings import Settings

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from bot.services.officers import OfficerService
    from bot.services.pii import PiiVault

ERRORS_SHOWN = 10


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
    app = create_app(build_runtime(settings), run_workers=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", proxy_headers=True)
    return 0


def _chat(args: argparse.Namespace) -> int:
    from bot.engine import Engine
    from bot.handlers.console import ConsoleChannel, stdin_reader
    from bot.runtime import build_runtime
    from storage.migrate import upgrade

    settings = _settings()
    upgrade(settings.database_url)
    # The terminal is the resident's screen: officers' warnings (a refused look-up) would
    # read as part of the conversation. Errors still show.
    logging.getLogger().setLevel(logging.ERROR)

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


DEMO_ADMIN = "demo-admin"


async def _demo_admin(session: AsyncSession, vault: PiiVault) -> str | None:
    """A first admin for trying the dashboard, when there is no officer at all yet; its
    random password is returned to be printed once."""
    import secrets

    from sqlmodel import select

    from bot.services.officers import OfficerService
    from storage.models import Officer
    from storage.types import utcnow

    if (await session.exec(select(Officer.id).limit(1))).first() is not None:
        return None
    password = secrets.token_urlsafe(12)
    await OfficerService(session, vault).add(
        DEMO_ADMIN, "admin", [], password, utcnow(), "Admin demo"
    )
    return password


def _demo(_: argparse.Namespace) -> int:
    from bot.services.demo import SHOWCASE, seed_demo
    from bot.services.pii import PiiVault
    from bot.services.villages import VillageDirectory
    from storage.db import Database
    from storage.migrate import upgrade

    settings = _settings()
    upgrade(settings.database_url)

    async def run() -> None:
        db = Database(settings.database_url)
        try:
            vault = PiiVault(settings.secret_key.get_secret_value())
            summary = await seed_demo(db, vault)
            async with db.transaction() as session:
                await VillageDirectory(session).sync_from_settings(settings)
                admin_password = await _demo_admin(session, vault)
        finally:
            await db.dispose()
        state = "seeded" if summary.created else "already present (unchanged)"
        print(
            f"demo data {state}: {summary.villages} villages, {summary.people} registry people, "
            f"{summary.enrolments} enrolments, {summary.trainings} trainings, "
            f"{summary.schedules} distribution schedules, "
            f"{summary.subscribers} web chat subscribers to distribution news"
        )
        for nik, name, *_ in SHOWCASE:
            print(f"  try 'Cek status bansos' with NIK {nik} and the name {name.title()}")
        if admin_password:
            print(
                f"  dashboard: sign in as '{DEMO_ADMIN}' with the password {admin_password} "
                "(shown once; a demo account: remove it before real use)"
            )

    asyncio.run(run())
    return 0


def _registry_import(args: argparse.Namespace) -> int:
    import csv

    from tqdm import tqdm

    from bot.i18n import Catalogs
    from bot.services.pii import PiiVault
    from bot.services.registry_import import RegistryImport, summary_text
    from bot.services.registry_reader import UnreadableFile
    from bot.services.registry_rows import RowError
    from bot.services.villages import VillageDirectory
    from storage.db import Database
    from storage.migrate import upgrade

    settings = _settings()
    catalogs = Catalogs(settings.locales_dir, settings.default_locale)
    locale = settings.default_locale

    def say(key: str, **params: object) -> str:
        return catalogs.t(locale, key, params)

    path = Path(args.file)
    if not path.is_file():
        print(say("import.file.not_found", detail=str(path)), file=sys.stderr)
        return 2
    upgrade(settings.database_url)
    errors_path = Path(args.errors) if args.errors else path.with_name(path.name + ".errors.csv")
    shown: list[str] = []
    size = path.stat().st_size

    async def run() -> int:
        db = Database(settings.database_url)
        vault = PiiVault(settings.secret_key.get_secret_value())
        bar = tqdm(total=size, unit="B", unit_scale=True, disable=None, leave=False)
        with errors_path.open("w", newline="", encoding="utf-8") as error_file:
            writer = csv.writer(error_file)
            writer.writerow(["baris", "kolom", "alasan"])

            def on_error(error: RowError) -> None:
                reason = say(
                    f"import.error.{error.code}",
                    column=error.column,
                    value=error.value,
                    other_line=error.other_line,
                )
                writer.writerow([error.line, error.column, reason])
                if len(shown) < ERRORS_SHOWN:
                    shown.append(say("import.error_line", line=error.line, reason=reason))

            def on_progress(done: int, total: int) -> None:
                bar.update(done - bar.n)

            try:
                async with db.transaction() as session:
                    await VillageDirectory(session).sync_from_settings(settings)
                report = await RegistryImport(db, vault, settings).run(
                    path, dry_run=args.dry_run, on_error=on_error, on_progress=on_progress
                )
            except UnreadableFile as unreadable:
                print(say(f"import.file.{unreadable.code}", detail=unreadable.detail))
                return 2
            finally:
                bar.close()
                await db.dispose()
        print(summary_text(say, report))
        if report.ignored_columns:
            print(say("import.ignored_columns", columns=", ".join(report.ignored_columns)))
        for line in shown:
            print("  " + line)
        if report.rows_failed:
            print(say("import.errors_saved", count=report.rows_failed, path=str(errors_path)))
        else:
            errors_path.unlink(missing_ok=True)
        return 1 if report.rows_failed else 0

    return asyncio.run(run())


def _officer_add(args: argparse.Namespace) -> int:
    from bot.services.officers import OfficerError

    if not args.password_stdin:
        raise SystemExit("bansos: give the password on standard input with --password-stdin")
    password = sys.stdin.readline().rstrip("\n")

    async def run(service: OfficerService, now: datetime) -> str:
        officer = await service.add(
            args.username, args.role, args.village or [], password, now, args.name or ""
        )
        return f"officer {officer.username} added ({officer.role})"

    return _with_officers(run, OfficerError)


def _officer_link(args: argparse.Namespace) -> int:
    from bot.services.officers import OfficerError

    async def run(service: OfficerService, now: datetime) -> str:
        officer = await service.by_username(args.username)
        if officer is None:
            raise OfficerError(f"no officer {args.username}")
        code = await service.new_link_code(officer, now)
        return f"send this to the bot in a private Telegram chat within 15 minutes:\n/link {code}"

    return _with_officers(run, OfficerError)


def _officer_token(args: argparse.Namespace) -> int:
    from bot.services.officer_auth import OfficerAuth
    from bot.services.officers import OfficerError

    async def run(service: OfficerService, now: datetime) -> str:
        officer = await service.by_username(args.username)
        if officer is None:
            raise OfficerError(f"no officer {args.username}")
        if not officer.active:
            raise OfficerError(f"officer {args.username} is not active")
        token = await OfficerAuth(service.session, service.vault).new_api_token(officer, now)
        print(
            "API token for /api/v1 (send it as 'Authorization: Bearer …'); "
            "it is shown only this once:",
            file=sys.stderr,
        )
        return token

    return _with_officers(run, OfficerError)


def _with_officers(
    run: Callable[[OfficerService, datetime], Awaitable[str]], error_type: type[Exception]
) -> int:
    from bot.services.officers import OfficerService
    from bot.services.pii import PiiVault
    from storage.db import Database
    from storage.migrate import upgrade
    from storage.types import utcnow

    settings = _settings()
    upgrade(settings.database_url)

    async def main() -> int:
        db = Database(settings.database_url)
        try:
            async with db.transaction() as session:
                service = OfficerService(session, PiiVault(settings.secret_key.get_secret_value()))
                output = await run(service, utcnow())
            print(output)  # only once committed: a printed code or token always works
        except error_type as error:
            print(f"bansos: {error}", file=sys.stderr)
            return 2
        finally:
            await db.dispose()
        return 0

    return asyncio.run(main())


def _broadcast_status(args: argparse.Namespace) -> int:
    """A broadcast's progress as a bar with its counts; --follow until it ends."""
    from tqdm import tqdm

    from bot.i18n import Catalogs
    from bot.services.broadcasts import BroadcastNotFound, BroadcastService, Progress
    from storage.db import Database
    from storage.migrate import upgrade
    from storage.types import utcnow

    settings = _settings()
    upgrade(settings.database_url)  # as every command does: a new database answers "not found"
    catalogs = Catalogs(settings.locales_dir, settings.default_locale)
    locale = settings.default_locale

    def say(key: str, **params: object) -> str:
        return catalogs.t(locale, key, params)

    async def snapshot(db: Database) -> Progress:
        async with db.session() as session:
            service = BroadcastService(session, settings, catalogs)
            return await service.progress(args.id, utcnow())

    def counts(progress: Progress) -> str:
        shown = ("sent", "delivered", "read", "failed", "skipped", "pending")
        return ", ".join(f"{say('scr.broadcast.count.' + k)} {progress.counts[k]}" for k in shown)

    async def run() -> int:
        db = Database(settings.database_url)
        try:
            progress = await snapshot(db)
        except BroadcastNotFound:
            print(say("cli.broadcast.not_found", id=args.id), file=sys.stderr)
            await db.dispose()
            return 2
        state = say("scr.broadcast.state." + progress.broadcast.status)
        print(say("cli.broadcast.header", id=args.id, state=state, total=progress.total))
        bar = tqdm(total=progress.total, initial=progress.done, unit="msg", file=sys.stdout)
        try:
            while True:
                bar.update(progress.done - bar.n)
                bar.set_postfix_str(counts(progress))
                ended = progress.broadcast.status in ("done", "cancelled")
                if not args.follow or ended:
                    break
                await asyncio.sleep(args.interval)
                progress = await snapshot(db)
        finally:
            bar.close()
            await db.dispose()
        print(counts(progress))
        if progress.eta_seconds is not None:
            print(say("scr.broadcast.eta", minutes=max(1, round(progress.eta_seconds / 60))))
        return 0

    return asyncio.run(run())


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

    registry = commands.add_parser("registry", help="the aid register (DTSEN extract)")
    registry_commands = registry.add_subparsers(dest="registry_command", required=True)
    registry_import = registry_commands.add_parser(
        "import", help="import a CSV or XLSX file (upsert; bad rows are reported, not stored)"
    )
    registry_import.add_argument("file", help="CSV (comma, semicolon or tab) or XLSX")
    registry_import.add_argument(
        "--dry-run", action="store_true", help="check and count, write nothing"
    )
    registry_import.add_argument(
        "--errors", help="where to write refused rows (default: FILE.errors.csv)"
    )
    registry_import.set_defaults(handler=_registry_import)

    officer = commands.add_parser("officer", help="officer accounts")
    officer_commands = officer.add_subparsers(dest="officer_command", required=True)
    add = officer_commands.add_parser("add", help="create an officer account")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=("admin", "officer", "viewer"))
    add.add_argument("--village", action="append", help="village code (repeat for several)")
    add.add_argument("--name", help="the name shown to colleagues")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.set_defaults(handler=_officer_add)
    link = officer_commands.add_parser(
        "link-telegram", help="print a one-time code that links the officer's Telegram account"
    )
    link.add_argument("username")
    link.set_defaults(handler=_officer_link)
    token = officer_commands.add_parser(
        "token", help="print a new API token for /api/v1 (shown once, stored hashed)"
    )
    token.add_argument("username")
    token.set_defaults(handler=_officer_token)

    broadcast = commands.add_parser("broadcast", help="broadcasts to subscribed residents")
    broadcast_commands = broadcast.add_subparsers(dest="broadcast_command", required=True)
    status = broadcast_commands.add_parser("status", help="a broadcast's progress bar and counts")
    status.add_argument("id", type=int)
    status.add_argument("--follow", action="store_true", help="keep updating until it ends")
    status.add_argument("--interval", type=float, default=2.0, help="seconds between updates")
    status.set_defaults(handler=_broadcast_status)
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
