"""Dashboard: officer accounts for admins (create with a one-time password, villages,
deactivate); others are refused; a deactivated officer's session stops working."""

from __future__ import annotations

import re

from sqlmodel import select

from storage.models import AuditLog, Officer, OfficerVillage
from tests.services.test_reports import LEKSONO, SUKAMAJU
from tests.web.test_dashboard import Office, office

__all__ = ["office"]


async def test_admins_create_accounts_and_hand_over_a_one_time_password(office: Office) -> None:
    await office.sign_in("darmo")
    assert (await office.client.get("/officers")).status_code == 403
    await office.sign_in("camat")
    csrf = await office.csrf("/officers")
    created = await office.client.post(
        "/officers",
        data={"csrf": csrf, "username": "Budi", "name": "Budi <i>S</i>", "role": "officer",
              "village": [LEKSONO]},
    )  # fmt: skip
    assert created.status_code == 200 and "no-store" in created.headers["cache-control"]
    match = re.search(r'<code class="secret">([^<]+)</code>', created.text)
    assert match and "Budi &lt;i&gt;S&lt;/i&gt;" in created.text
    password = match.group(1)
    again = await office.client.get("/officers")
    assert password not in again.text  # shown once
    assert (await office.sign_in("budi", password)).status_code == 303
    inbox = await office.client.get("/")
    assert f'/reports/{office.leksono_report}"' in inbox.text
    async with office.runtime.db.session() as session:
        actions = {row.action for row in (await session.exec(select(AuditLog))).all()}
    assert "officer.add" in actions
    assert all(password not in str(r) for r in actions)


async def test_villages_and_deactivation(office: Office) -> None:
    await office.sign_in("darmo")
    darmo_cookie = office.client.cookies.get("bansos_officer") or ""
    await office.sign_in("camat")
    csrf = await office.csrf("/officers")
    darmo, camat = office.ids["darmo"], office.ids["camat"]
    moved = await office.client.post(
        f"/officers/{darmo}/villages", data={"csrf": csrf, "village": [SUKAMAJU]}
    )
    assert moved.status_code == 303
    empty = await office.client.post(f"/officers/{darmo}/villages", data={"csrf": csrf})
    assert "error=" in empty.headers["location"]  # an officer needs a village
    async with office.runtime.db.session() as session:
        links = (
            await session.exec(select(OfficerVillage).where(OfficerVillage.officer_id == darmo))
        ).all()
    assert [link.village_code for link in links] == [SUKAMAJU]
    off = await office.client.post(f"/officers/{darmo}/deactivate", data={"csrf": csrf})
    assert off.status_code == 303
    self_off = await office.client.post(f"/officers/{camat}/deactivate", data={"csrf": csrf})
    assert "error=" in self_off.headers["location"]
    office.client.cookies.clear()
    office.client.cookies.set("bansos_officer", darmo_cookie)
    assert (await office.client.get("/")).status_code == 303  # Darmo's session is over
    async with office.runtime.db.session() as session:
        account = await session.get(Officer, darmo)
    assert account is not None and not account.active
