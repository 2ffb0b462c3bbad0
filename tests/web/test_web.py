"""Health, metrics and the web chat over HTTP, including bad input."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlmodel import col, func, select

from bot.runtime import Runtime, build_runtime
from bot.services.reports import ReportService, viewer_for
from bot.services.tickets import find_code
from bot.web.app import create_app
from storage.db import Database
from storage.models import InboundEvent, MessageLog, Officer, Outbox, Village
from storage.types import utcnow


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def test_healthz_answers_when_the_database_does(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_healthz_is_503_when_the_database_is_down(runtime: Runtime) -> None:
    broken = Database("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    app = create_app(build_runtime(runtime.settings, broken))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        assert (await c.get("/healthz")).status_code == 503
        response = await c.post("/chat/messages", json={"text": "halo"})
        assert response.status_code == 503
        assert "Traceback" not in response.text
    await broken.dispose()


async def test_chat_page_sets_a_private_cookie(client: httpx.AsyncClient) -> None:
    response = await client.get("/chat")
    assert response.status_code == 200
    assert 'id="composer"' in response.text
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie


async def test_web_chat_journey_and_history(client: httpx.AsyncClient) -> None:
    await client.get("/chat")
    first = (await client.post("/chat/messages", json={"text": "halo"})).json()
    labels = [c["label"] for m in first["messages"] for c in m["choices"]]
    assert "Setuju" in labels
    menu = (await client.post("/chat/messages", json={"choice_id": "welcome:agree"})).json()
    assert any(c["label"] == "Tanya jawab bansos" for m in menu["messages"] for c in m["choices"])
    scam = (await client.post("/chat/messages", json={"choice_id": "menu:scam"})).json()
    assert "GRATIS" in scam["messages"][0]["text"]
    history = (await client.get("/chat/history")).json()["messages"]
    assert [m["direction"] for m in history[:2]] == ["in", "out"]
    assert history[0]["text"] == "halo"


async def test_metrics_count_messages_by_channel(client: httpx.AsyncClient) -> None:
    await client.post("/chat/messages", json={"text": "halo"})
    body = (await client.get("/metrics")).text
    assert 'bansos_messages_total{channel="webchat",direction="in"} 1.0' in body
    assert 'bansos_messages_total{channel="webchat",direction="out"} 2.0' in body
    assert "bansos_step_seconds_bucket" in body


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b'{"text": 12}',
        b'{"text": "' + b"x" * 20_001 + b'"}',
        b'{"choice_id": "' + b"x" * 200 + b'"}',
        b'{"text": "hi", "client_id": "../../etc"}',
        b"[]",
    ],
)
async def test_malformed_requests_are_rejected_without_effect(
    client: httpx.AsyncClient, runtime: Runtime, body: bytes
) -> None:
    response = await client.post(
        "/chat/messages", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    async with runtime.db.session() as session:
        assert (await session.exec(select(func.count()).select_from(MessageLog))).one() == 0


async def test_ten_thousand_characters_get_a_clear_answer(client: httpx.AsyncClient) -> None:
    await client.post("/chat/messages", json={"text": "halo"})
    await client.post("/chat/messages", json={"choice_id": "welcome:agree"})
    reply = (await client.post("/chat/messages", json={"text": "x" * 10_000})).json()
    assert "terlalu panjang" in reply["messages"][0]["text"]


async def test_a_double_submit_has_one_effect(client: httpx.AsyncClient, runtime: Runtime) -> None:
    payload = {"text": "halo", "client_id": "abc123"}
    first = (await client.post("/chat/messages", json=payload)).json()
    second = (await client.post("/chat/messages", json=payload)).json()
    assert first["messages"] and second["messages"] == []
    async with runtime.db.session() as session:
        inbound = (
            await session.exec(select(func.count()).where(col(MessageLog.direction) == "in"))
        ).one()
        events = (await session.exec(select(func.count()).select_from(InboundEvent))).one()
    assert (inbound, events) == (1, 1)


async def test_resident_text_is_never_markup_in_the_page(client: httpx.AsyncClient) -> None:
    page = (await client.get("/chat")).text
    assert "innerHTML" not in page
    script = (await client.get("/static/chat.js")).text
    assert "innerHTML" not in script and "textContent" in script


async def test_web_chat_receives_officer_replies_and_can_answer(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    async with runtime.db.transaction() as session:
        session.add(Village(code="3307992006", name="Leksono", kecamatan="Sukamaju"))
        officer = Officer(username="camat", role="admin")
        session.add(officer)
    await client.get("/chat")
    await client.post("/chat/messages", json={"text": "halo"})
    await client.post("/chat/messages", json={"choice_id": "welcome:agree"})
    steps: list[dict[str, str]] = [
        {"choice_id": "menu:report"},
        {"choice_id": "report:kind:penyaluran"},
        {"choice_id": "report:identity:named"},
        {"choice_id": "report:programme:BPNT"},
        {"text": "leksono"},
        {"choice_id": "report:when:today"},
        {"text": "Antrean pembagian sembako dari subuh sampai siang, lansia pingsan."},
        {"choice_id": "report:evidence_next"},
        {"choice_id": "report:submit"},
    ]
    for step in steps:
        answer = (await client.post("/chat/messages", json=step)).json()
    code = find_code(answer["messages"][0]["text"])
    assert code is not None
    assert (await client.get("/chat/updates")).json()["messages"] == []
    async with runtime.db.transaction() as session:
        admin = await viewer_for(session, officer.id or 0)
        service = ReportService(session, runtime.settings, runtime.catalogs)
        report = await service.by_code(code)
        assert report is not None
        await service.reply(admin, report, "Besok kami tambah loket khusus lansia.", utcnow())
    history = (await client.get("/chat/history")).json()["messages"]
    assert all("loket khusus lansia" not in m["text"] for m in history)  # not shown twice
    updates = (await client.get("/chat/updates")).json()["messages"]
    assert len(updates) == 1
    assert "Besok kami tambah loket khusus lansia." in updates[0]["text"]
    assert [c["label"] for c in updates[0]["choices"]] == ["Balas"]
    assert (await client.get("/chat/updates")).json()["messages"] == []  # delivered once
    history = (await client.get("/chat/history")).json()["messages"]
    assert sum("loket khusus lansia" in m["text"] for m in history) == 1
    await client.post("/chat/messages", json={"choice_id": updates[0]["choices"][0]["id"]})
    thanks = await client.post("/chat/messages", json={"text": "Terima kasih, Pak."})
    assert "sudah ditambahkan" in thanks.json()["messages"][0]["text"]
    async with runtime.db.session() as session:
        pushed = (await session.exec(select(MessageLog).where(MessageLog.kind == "push"))).one()
        row = (await session.exec(select(Outbox))).one()
    assert "loket khusus lansia" in (pushed.text or "")
    assert row.status == "sent" and row.sent_at is not None


async def test_a_lone_surrogate_gets_a_422_not_a_500(client: httpx.AsyncClient) -> None:
    body = b'{"text": "\\ud800", "client_id": "\\ud800"}'
    response = await client.post(
        "/chat/messages", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
