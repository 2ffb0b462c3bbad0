"""Dashboard and web chat: a schedule corrected after its broadcast started reaches the web
chat visitors who had not opened the chat yet, in their own language, and /schedules warns
only about messages that really went out with the old details (how many); the "sudah
terima?" figures count as asked only the chats the question reached, and show the ones it
has not reached yet, on the monitoring page and in its CSV."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import httpx
from sqlmodel import col, select

from bot.handlers.webchat import COOKIE, _sender_id
from bot.services.schedules import ScheduleInput, ScheduleService
from bot.services.subscriptions import SubscriptionService
from bot.web.app import create_app
from bot.workers.broadcasts import run_once
from storage.models import Broadcast, ChannelIdentity, DistributionSchedule, Outbox, Resident
from storage.types import utcnow
from tests.services.test_reports import LEKSONO
from tests.web.test_broadcast_screens import _schedule_form, _subscribers
from tests.web.test_dashboard import Office, office

__all__ = ["office"]


class Visitor:
    """A resident in the web chat, with their own browser cookie."""

    def __init__(self, office: Office, token: str) -> None:
        self.office = office
        self.token = token
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(office.runtime)),
            base_url="http://testserver",
            cookies={COOKIE: token},
        )

    async def join(self, locale: str) -> None:
        """Agrees to the notice, speaks `locale`, and subscribes to Leksono's BPNT news."""
        await self.client.post("/chat/messages", json={"text": "halo"})
        await self.client.post("/chat/messages", json={"choice_id": "welcome:agree"})
        async with self.office.runtime.db.transaction() as session:
            identity = (
                await session.exec(
                    select(ChannelIdentity).where(
                        ChannelIdentity.external_id == _sender_id(self.token)
                    )
                )
            ).one()
            resident = await session.get(Resident, identity.resident_id)
            assert resident is not None
            resident.locale = locale
            session.add(resident)
            await SubscriptionService(session).subscribe(
                identity.id or 0, LEKSONO, ["BPNT"], utcnow()
            )

    async def opens_the_chat(self) -> list[str]:
        response = await self.client.get("/chat/updates")
        return [message["text"] for message in response.json()["messages"]]


async def _visitors(office: Office, locales: list[str]) -> list[Visitor]:
    visitors = []
    for n, locale in enumerate(locales):
        visitor = Visitor(office, f"visitor-token-{n:02d}-abcdefghijkl")
        await visitor.join(locale)
        visitors.append(visitor)
    return visitors


async def test_a_corrected_place_reaches_the_visitors_still_away(office: Office) -> None:
    visitors = await _visitors(office, ["en", "id", "id", "id", "id"])
    await office.sign_in("camat")
    csrf = await office.csrf("/schedules/new")
    day = (utcnow() + timedelta(days=10)).date().isoformat()
    form = _schedule_form(csrf, day=day, place="Kantor Pos Sukamaju")
    assert (await office.client.post("/schedules", data=form)).status_code == 303
    async with office.runtime.db.session() as session:
        schedule_id = (await session.exec(select(DistributionSchedule.id))).one() or 0
    composed = {
        "csrf": csrf, "source": "schedule", "schedule": str(schedule_id), "village": [LEKSONO],
        "programme": ["BPNT"], "channel": ["webchat"], "when": "now", "action": "send",
        "form_token": "c" * 32,
    }  # fmt: skip
    assert (await office.client.post("/broadcasts", data=composed)).status_code == 303
    await run_once(office.runtime)
    await run_once(office.runtime)
    async with office.runtime.db.session() as session:
        broadcast = (await session.exec(select(Broadcast))).one()
    assert (broadcast.status, broadcast.recipients) == ("done", 5)

    # The admin changes the place; nobody had opened the chat: nothing went out yet.
    moved = _schedule_form(csrf, day=day, place="Gedung Serbaguna")
    saved = await office.client.post(f"/schedules/{schedule_id}", data=moved)
    listing = (await office.client.get(saved.headers["location"])).text
    assert f"Siaran #{broadcast.id} ikut diperbarui" in listing
    assert "keterangan lama" not in listing

    english = await visitors[0].opens_the_chat()
    assert len(english) == 1 and "Place: Gedung Serbaguna" in english[0]
    indonesian = await visitors[1].opens_the_chat()
    assert len(indonesian) == 1 and "Tempat: Gedung Serbaguna" in indonesian[0]
    assert "Kantor Pos" not in english[0] + indonesian[0]

    # Corrected again: two visitors have the previous place now; the three still away follow.
    again = _schedule_form(csrf, day=day, place="Aula Kecamatan")
    saved = await office.client.post(f"/schedules/{schedule_id}", data=again)
    listing = (await office.client.get(saved.headers["location"])).text
    assert f"Siaran #{broadcast.id} ke 2 penerima sudah terkirim dengan keterangan lama" in listing
    later = await visitors[2].opens_the_chat()
    assert len(later) == 1 and "Tempat: Aula Kecamatan" in later[0]
    for visitor in visitors:
        await visitor.client.aclose()


async def test_a_listing_link_that_does_not_pair_up_warns_about_nothing(office: Office) -> None:
    await office.sign_in("camat")
    page = (await office.client.get("/schedules?already_out=3,4&already_out_chats=2")).text
    assert "keterangan lama" not in page
    page = (await office.client.get("/schedules?already_out=3&already_out_chats=2")).text
    assert "Siaran #3 ke 2 penerima sudah terkirim dengan keterangan lama" in page


async def test_asked_counts_only_the_chats_the_question_reached(office: Office) -> None:
    end = utcnow() - timedelta(hours=30)
    async with office.runtime.db.transaction() as session:
        view = await ScheduleService(session).save(
            ScheduleInput("BPNT", "Tahap 4", end - timedelta(hours=4), end, "E-warong Bu Narti",
                          {LEKSONO: ""}),
            "officer:1",
            utcnow(),
        )  # fmt: skip
    answers, reader, away = await _visitors(office, ["id", "id", "id"])
    await _subscribers(office, 1, "telegram", LEKSONO)  # no Telegram sender runs here
    await run_once(office.runtime)
    async with office.runtime.db.session() as session:
        check = (await session.exec(select(Broadcast).where(Broadcast.kind == "check"))).one()
        rows = (await session.exec(select(Outbox).order_by(col(Outbox.id)))).all()
    assert check.recipients == 4 and {row.status for row in rows} == {"pending"}

    [question] = await answers.opens_the_chat()
    assert "Apakah bantuan Anda sudah diterima?" in question
    tapped = await answers.client.post(
        "/chat/messages", json={"choice_id": f"got:{view.id}:complete"}
    )
    assert "sudah diterima utuh" in tapped.json()["messages"][0]["text"]
    assert len(await reader.opens_the_chat()) == 1

    await office.sign_in("camat")
    page = (await office.client.get("/monitoring")).text
    assert "Belum sampai" in page
    row = re.search(r"<tr><td>BPNT Tahap 4</td>.*?</tr>", page, re.S)
    assert row is not None
    numbers = re.findall(r'<td class="num">([^<]*)</td>', row.group(0))
    assert numbers[:3] == ["2", "2", "1"]  # asked, not reached yet, answered
    table = list(csv.reader(io.StringIO((await office.client.get("/monitoring/checks.csv")).text)))
    line = dict(zip(table[0], table[1], strict=True))
    assert (line["ditanya"], line["menunggu"], line["lengkap"]) == ("2", "2", "1")
    for visitor in (answers, reader, away):
        await visitor.client.aclose()
