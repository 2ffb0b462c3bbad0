"""Dashboard: a resident's conversation (audited), taking it over so the bot stays silent,
answering by hand, handing it back; the admins' audit log; the chat simulator."""

from __future__ import annotations

import httpx
from sqlmodel import select

from bot.services.reports import ReportService
from bot.web.app import create_app
from storage.models import AuditLog, ChannelIdentity, MessageLog
from storage.types import utcnow
from tests.services.test_reports import _draft
from tests.web.test_dashboard import Office, office

__all__ = ["office"]


async def _resident_with_report(office: Office) -> tuple[httpx.AsyncClient, int]:
    """A web-chat resident who agreed to the terms and filed a named report in Leksono."""
    app = create_app(office.runtime)
    chat = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
    await chat.post("/chat/messages", json={"text": "halo"})
    await chat.post("/chat/messages", json={"choice_id": "welcome:agree"})
    async with office.runtime.db.transaction() as session:
        identity = (
            await session.exec(select(ChannelIdentity).where(ChannelIdentity.channel == "webchat"))
        ).one()
        service = ReportService(session, office.runtime.settings, office.runtime.catalogs)
        await service.file(_draft(), identity.resident_id, identity.id, utcnow())
    return chat, identity.resident_id


async def test_take_over_answer_by_hand_and_hand_back(office: Office) -> None:
    chat, resident_id = await _resident_with_report(office)
    try:
        await office.sign_in("darmo")
        path = f"/residents/{resident_id}"
        page = await office.client.get(path)
        assert page.status_code == 200 and "Selamat datang" in page.text
        csrf = await office.csrf(path)
        assert (await office.client.post(f"{path}/take", data={"csrf": csrf})).status_code == 303
        silent = (await chat.post("/chat/messages", json={"text": "Pak, uangnya kurang"})).json()
        assert silent["messages"] == []  # the bot stays quiet while an officer answers
        sent = await office.client.post(
            f"{path}/send", data={"csrf": csrf, "message": "Ibu, saya Darmo. Kurang berapa?"}
        )
        assert sent.status_code == 303
        updates = (await chat.get("/chat/updates")).json()["messages"]
        assert [m["text"] for m in updates] == [
            "Pesan dari petugas:\nIbu, saya Darmo. Kurang berapa?"
        ]
        page = await office.client.get(path)
        assert "Pak, uangnya kurang" in page.text and "terkirim" in page.text
        await office.client.post(f"{path}/hand_back", data={"csrf": csrf})
        back = (await chat.get("/chat/updates")).json()["messages"]
        assert "Layanan otomatis aktif lagi" in back[0]["text"]
        menu = (await chat.post("/chat/messages", json={"text": "menu"})).json()
        assert any("Apa yang bisa kami bantu" in m["text"] for m in menu["messages"])
    finally:
        await chat.aclose()
    async with office.runtime.db.session() as session:
        actions = [row.action for row in (await session.exec(select(AuditLog))).all()]
        logged = (await session.exec(select(MessageLog))).all()
    assert {"conversation.view", "conversation.take_over", "conversation.send",
            "conversation.hand_back"} <= set(actions)  # fmt: skip
    assert any(row.text == "Pak, uangnya kurang" for row in logged)


async def test_who_may_open_a_conversation(office: Office) -> None:
    chat, resident_id = await _resident_with_report(office)
    await chat.aclose()
    path = f"/residents/{resident_id}"
    await office.sign_in("wati")  # another village
    assert (await office.client.get(path)).status_code == 404
    await office.sign_in("pengamat")  # viewers never see conversations
    assert (await office.client.get(path)).status_code == 404
    await office.sign_in("camat")
    assert (await office.client.get(path)).status_code == 200
    async with office.runtime.db.session() as session:
        denied = (
            await session.exec(
                select(AuditLog).where(
                    AuditLog.action == "conversation.view", AuditLog.outcome == "denied"
                )
            )
        ).all()
    assert len(denied) == 2


async def test_a_confidential_report_keeps_the_conversation_from_village_officers(
    office: Office,
) -> None:
    """The conversation would show the confidential report's flow and code: only admins."""
    chat, resident_id = await _resident_with_report(office)
    await chat.aclose()
    path = f"/residents/{resident_id}"
    await office.sign_in("darmo")
    assert (await office.client.get(path)).status_code == 200  # a named report only
    async with office.runtime.db.transaction() as session:
        identity = (
            await session.exec(select(ChannelIdentity).where(ChannelIdentity.channel == "webchat"))
        ).one()
        service = ReportService(session, office.runtime.settings, office.runtime.catalogs)
        draft = _draft(identity_mode="confidential")
        await service.file(draft, identity.resident_id, identity.id, utcnow())
    assert (await office.client.get(path)).status_code == 404
    await office.sign_in("camat")
    assert (await office.client.get(path)).status_code == 200


async def test_the_audit_log_is_for_admins_and_only_grows(office: Office) -> None:
    await office.sign_in("darmo")
    assert (await office.client.get("/audit")).status_code == 403
    await office.sign_in("camat")
    page = await office.client.get("/audit?action=officer.login")
    assert page.status_code == 200 and "officer.login" in page.text
    bad = await office.client.get("/audit?from=kemarin")
    assert bad.status_code == 200 and "Tanggal tidak dikenali" in bad.text
    export = await office.client.get("/audit.csv?actor=officer:")
    assert export.status_code == 200
    assert export.text.splitlines()[0].startswith("id,waktu_utc,pelaku")
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        response = await office.client.request(method, "/audit")
        assert response.status_code == 405
    simulator = await office.client.get("/simulator")
    assert simulator.status_code == 200 and 'src="/chat"' in simulator.text
