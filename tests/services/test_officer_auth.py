"""OfficerAuth without any web code: sign-in and its throttles, server-side sessions with
idle and absolute timeouts, CSRF tokens bound to a session, API tokens, and what is stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select as sa_select
from sqlmodel import SQLModel, col, select

from bot.runtime import Runtime
from bot.services.officer_auth import (
    FAILURES_PER_ACCOUNT,
    FAILURES_PER_ADDRESS,
    LoginFailed,
    LoginThrottled,
    OfficerAuth,
)
from bot.services.officers import OfficerService
from storage.models import ApiToken, AuditLog, Officer, OfficerSession

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
PASSWORD = "kata-sandi-yang-panjang"
IP = "203.0.113.7"


async def _officers(runtime: Runtime, *usernames: str) -> dict[str, int]:
    async with runtime.db.transaction() as session:
        service = OfficerService(session, runtime.vault)
        ids = {}
        for username in usernames:
            officer = await service.add(username, "admin", [], PASSWORD, T0)
            ids[username] = officer.id or 0
    return ids


async def _login(
    runtime: Runtime, username: str, password: str, now: datetime, ip: str = IP
) -> str | Exception:
    """One attempt in its own transaction, committed even when it fails (as the dashboard
    does, so the failure is counted); returns the session token or the exception."""
    async with runtime.db.transaction() as session:
        try:
            return await OfficerAuth(session, runtime.vault).login(username, password, ip, now)
        except (LoginFailed, LoginThrottled) as error:
            return error


async def _officer_for_session(runtime: Runtime, token: str, now: datetime) -> Officer | None:
    async with runtime.db.transaction() as session:
        return await OfficerAuth(session, runtime.vault).officer_for_session(token, now)


# -- sign-in -----------------------------------------------------------------------------------


async def test_right_password_signs_in_and_wrong_ones_fail_alike(runtime: Runtime) -> None:
    ids = await _officers(runtime, "camat")
    token = await _login(runtime, " camat ", PASSWORD, T0)
    assert isinstance(token, str) and len(token) >= 40
    officer = await _officer_for_session(runtime, token, T0)
    assert officer is not None and officer.id == ids["camat"]
    wrong = await _login(runtime, "camat", PASSWORD + "!", T0)
    unknown = await _login(runtime, "siapa", PASSWORD, T0)
    empty = await _login(runtime, "camat", "", T0)
    for failure in (wrong, unknown, empty):
        assert type(failure) is LoginFailed
        assert str(failure) == str(wrong)
    async with runtime.db.transaction() as session:
        camat = await session.get(Officer, ids["camat"])
        assert camat is not None
        camat.active = False
        session.add(camat)
    assert type(await _login(runtime, "camat", PASSWORD, T0)) is LoginFailed
    async with runtime.db.session() as session:
        rows = (
            await session.exec(
                select(AuditLog)
                .where(AuditLog.action == "officer.login")
                .order_by(col(AuditLog.id))
            )
        ).all()
    assert [row.outcome for row in rows] == ["ok", "failed", "failed", "failed", "failed"]
    assert all(row.subject_hash and "camat" not in row.subject_hash for row in rows)


async def test_five_failures_lock_the_account_for_fifteen_minutes(runtime: Runtime) -> None:
    await _officers(runtime, "camat", "wati")
    for n in range(FAILURES_PER_ACCOUNT):
        failure = await _login(runtime, "camat", "salah", T0 + timedelta(minutes=n))
        assert type(failure) is LoginFailed
    locked = await _login(runtime, "camat", PASSWORD, T0 + timedelta(minutes=10))
    assert isinstance(locked, LoginThrottled)
    assert locked.retry_at == T0 + timedelta(minutes=15, seconds=1)  # then it is past
    # the lock counts per account, whatever the address or the spelling of the name
    elsewhere = await _login(runtime, "CAMAT", PASSWORD, T0 + timedelta(minutes=11), "198.51.100.1")
    assert isinstance(elsewhere, LoginThrottled)
    assert isinstance(await _login(runtime, "wati", PASSWORD, T0 + timedelta(minutes=11)), str)
    # once the first failure has left the window, four remain: one short of the limit
    after = locked.retry_at + timedelta(seconds=1)
    assert isinstance(await _login(runtime, "camat", PASSWORD, after), str)


async def test_twenty_failures_from_one_address_lock_that_address(runtime: Runtime) -> None:
    await _officers(runtime, "camat")
    for n in range(FAILURES_PER_ADDRESS):
        # a different (unknown) account each time, so no account reaches its own limit
        failure = await _login(runtime, f"tebakan{n}", "salah", T0 + timedelta(seconds=n))
        assert type(failure) is LoginFailed
    locked = await _login(runtime, "camat", PASSWORD, T0 + timedelta(minutes=1))
    assert isinstance(locked, LoginThrottled)
    assert locked.retry_at == T0 + timedelta(minutes=15, seconds=1)  # then it is past
    other_address = await _login(runtime, "camat", PASSWORD, T0 + timedelta(minutes=1), "10.0.0.9")
    assert isinstance(other_address, str)
    later = T0 + timedelta(minutes=15, seconds=FAILURES_PER_ADDRESS)
    assert isinstance(await _login(runtime, "camat", PASSWORD, later), str)


# -- sessions ----------------------------------------------------------------------------------


async def test_an_idle_session_ends_after_thirty_minutes(runtime: Runtime) -> None:
    await _officers(runtime, "camat")
    token = await _login(runtime, "camat", PASSWORD, T0)
    assert isinstance(token, str)
    assert await _officer_for_session(runtime, token, T0 + timedelta(minutes=29)) is not None
    # each use moves the idle clock: 29 + 29 minutes is fine
    assert await _officer_for_session(runtime, token, T0 + timedelta(minutes=58)) is not None
    assert await _officer_for_session(runtime, token, T0 + timedelta(minutes=88)) is None
    # ended for good, even if the next request comes quickly
    assert await _officer_for_session(runtime, token, T0 + timedelta(minutes=89)) is None
    async with runtime.db.session() as session:
        row = (await session.exec(select(OfficerSession))).one()
    assert row.ended_at == T0 + timedelta(minutes=88)


async def test_a_session_ends_after_twelve_hours_however_busy(runtime: Runtime) -> None:
    await _officers(runtime, "camat")
    token = await _login(runtime, "camat", PASSWORD, T0)
    assert isinstance(token, str)
    moment = T0
    while moment < T0 + timedelta(hours=12) - timedelta(minutes=20):
        moment += timedelta(minutes=20)
        assert await _officer_for_session(runtime, token, moment) is not None, moment
    assert await _officer_for_session(runtime, token, T0 + timedelta(hours=12)) is None


async def test_logout_ends_the_session_on_the_server(runtime: Runtime) -> None:
    await _officers(runtime, "camat")
    first = await _login(runtime, "camat", PASSWORD, T0)
    second = await _login(runtime, "camat", PASSWORD, T0)
    assert isinstance(first, str) and isinstance(second, str) and first != second
    async with runtime.db.transaction() as session:
        await OfficerAuth(session, runtime.vault).logout(first, T0 + timedelta(minutes=1))
    assert await _officer_for_session(runtime, first, T0 + timedelta(minutes=2)) is None
    assert await _officer_for_session(runtime, second, T0 + timedelta(minutes=2)) is not None
    for nonsense in ("", "x" * 43):
        assert await _officer_for_session(runtime, nonsense, T0) is None


async def test_csrf_tokens_are_bound_to_their_session(runtime: Runtime) -> None:
    await _officers(runtime, "camat", "wati")
    mine = await _login(runtime, "camat", PASSWORD, T0)
    theirs = await _login(runtime, "wati", PASSWORD, T0)
    assert isinstance(mine, str) and isinstance(theirs, str)
    async with runtime.db.session() as session:
        auth = OfficerAuth(session, runtime.vault)
        csrf = auth.csrf_token(mine)
        assert csrf == auth.csrf_token(mine) and csrf != mine
        assert auth.csrf_ok(mine, csrf)
        assert not auth.csrf_ok(mine, auth.csrf_token(theirs))
        assert not auth.csrf_ok(theirs, csrf)
        assert not auth.csrf_ok(mine, "")
        assert not auth.csrf_ok("", auth.csrf_token(""))
        assert not auth.csrf_ok(mine, csrf[:-1] + ("0" if csrf[-1] != "0" else "1"))


# -- API tokens --------------------------------------------------------------------------------


async def test_api_tokens_work_and_anything_else_does_not(runtime: Runtime) -> None:
    ids = await _officers(runtime, "camat", "wati")
    async with runtime.db.transaction() as session:
        auth = OfficerAuth(session, runtime.vault)
        camat = await session.get(Officer, ids["camat"])
        wati = await session.get(Officer, ids["wati"])
        assert camat is not None and wati is not None
        token = await auth.new_api_token(camat, T0)
        revoked = await auth.new_api_token(wati, T0)
    assert token.startswith("bsn_") and token != revoked
    async with runtime.db.transaction() as session:
        row = (await session.exec(select(ApiToken).where(ApiToken.officer_id == ids["wati"]))).one()
        row.revoked_at = T0
        session.add(row)
    async with runtime.db.transaction() as session:
        auth = OfficerAuth(session, runtime.vault)
        found = await auth.officer_for_api_token(token, T0 + timedelta(minutes=5))
        assert found is not None and found.id == ids["camat"]
        for wrong in ("", "bsn_", token[4:], token + "x", "bsn_" + "A" * 43, revoked):
            assert await auth.officer_for_api_token(wrong, T0) is None, wrong
    async with runtime.db.transaction() as session:
        used = (
            await session.exec(select(ApiToken).where(ApiToken.officer_id == ids["camat"]))
        ).one()
        assert used.last_used_at == T0 + timedelta(minutes=5)
        camat = await session.get(Officer, ids["camat"])
        assert camat is not None
        camat.active = False
        session.add(camat)
    async with runtime.db.session() as session:
        assert await OfficerAuth(session, runtime.vault).officer_for_api_token(token, T0) is None


# -- what is stored ----------------------------------------------------------------------------


async def test_no_password_or_token_is_stored_in_any_table(runtime: Runtime) -> None:
    ids = await _officers(runtime, "camat")
    session_token = await _login(runtime, "camat", PASSWORD, T0)
    await _login(runtime, "camat", "salah-sekali-kata-sandinya", T0)
    assert isinstance(session_token, str)
    async with runtime.db.transaction() as session:
        auth = OfficerAuth(session, runtime.vault)
        camat = await session.get(Officer, ids["camat"])
        assert camat is not None
        api_token = await auth.new_api_token(camat, T0)
        csrf = auth.csrf_token(session_token)
    secrets = {
        "password": PASSWORD,
        "wrong password": "salah-sekali-kata-sandinya",
        "session token": session_token,
        "api token": api_token,
        "api token body": api_token.removeprefix("bsn_"),
        "csrf token": csrf,
    }
    dump: list[str] = []
    async with runtime.db.session() as session:
        connection = await session.connection()
        for table in SQLModel.metadata.sorted_tables:
            for row in (await connection.execute(sa_select(table))).all():
                dump.append(f"{table.name}: {tuple(row)!r}")
    text = "\n".join(dump)
    assert "officer_session" in text and "api_token" in text  # the dump saw the rows
    for name, secret in secrets.items():
        assert secret not in text, name
    assert "'camat'" in text  # the dump does show plain values
