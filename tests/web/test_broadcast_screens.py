"""Dashboard: schedules and broadcasts over HTTP. An officer writes the schedules of their
own villages (others are refused or not found), bad input is answered in words, a viewer
reads only; a broadcast is previewed with counts per channel and language, sent, watched,
paused, resumed and cancelled; another village's broadcast is not found."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlmodel import col, select

from bot.services.schedules import ScheduleService
from bot.services.subscriptions import SubscriptionService
from bot.workers.broadcasts import run_once
from storage.models import AuditLog, Broadcast, ChannelIdentity, DistributionSchedule, Resident
from storage.types import utcnow
from tests.services.test_reports import LEKSONO, SUKAMAJU
from tests.web.test_dashboard import Office, office

__all__ = ["office"]


def _schedule_form(csrf: str, village: str = LEKSONO, **changes: object) -> dict[str, object]:
    day = (utcnow() + timedelta(days=4)).date().isoformat()
    form: dict[str, object] = {
        "csrf": csrf,
        "programme": "BPNT",
        "phase": "Tahap 4 2026",
        "day": day,
        "start": "08:00",
        "end": "12:00",
        "place": "Balai Desa <Leksono>",
        "latitude": "-7,3655",
        "longitude": "109.9098",
        "bring": "KTP, KKS",
        "note": "",
        "village": [village],
        f"rts_{village}": "1, 2",
    }
    form.update(changes)
    return form


async def _subscribers(office: Office, count: int, channel: str, village: str) -> None:
    async with office.runtime.db.transaction() as session:
        for n in range(count):
            resident = Resident(locale="en" if n == 0 else "id")
            session.add(resident)
            await session.flush()
            identity = ChannelIdentity(
                channel=channel,
                external_id=f"{channel}-{village}-{n}",
                resident_id=resident.id or 0,
            )
            session.add(identity)
            await session.flush()
            await SubscriptionService(session).subscribe(
                identity.id or 0, village, ["BPNT"], utcnow()
            )


async def test_officers_write_the_schedules_of_their_villages(office: Office) -> None:
    await office.sign_in("darmo")
    csrf = await office.csrf("/schedules/new")
    saved = await office.client.post("/schedules", data=_schedule_form(csrf))
    assert saved.status_code == 303
    listing = await office.client.get(saved.headers["location"])
    assert "Balai Desa &lt;Leksono&gt;" in listing.text and "RT 001,002" in listing.text
    outside = await office.client.post("/schedules", data=_schedule_form(csrf, SUKAMAJU))
    assert outside.status_code == 403
    async with office.runtime.db.session() as session:
        schedule = (await session.exec(select(DistributionSchedule))).one()
    assert schedule.latitude == -7.3655
    edit = await office.client.get(f"/schedules/{schedule.id}")
    assert edit.status_code == 200 and 'value="Tahap 4 2026"' in edit.text
    changed = await office.client.post(
        f"/schedules/{schedule.id}", data=_schedule_form(csrf, place="Kantor Pos Sukamaju")
    )
    assert changed.status_code == 303
    await office.sign_in("wati")
    assert (await office.client.get(f"/schedules/{schedule.id}")).status_code == 404
    assert "Kantor Pos Sukamaju" not in (await office.client.get("/schedules")).text
    wati_csrf = await office.csrf("/schedules/new")
    taken = await office.client.post(
        f"/schedules/{schedule.id}", data=_schedule_form(wati_csrf, SUKAMAJU)
    )
    assert taken.status_code == 404
    async with office.runtime.db.session() as session:
        actions = [
            row.action
            for row in (await session.exec(select(AuditLog).order_by(col(AuditLog.id)))).all()
            if row.action.startswith("schedule.")
        ]
    assert actions == ["schedule.add", "schedule.edit"]


async def test_bad_schedule_input_is_answered_in_words(office: Office) -> None:
    await office.sign_in("camat")
    csrf = await office.csrf("/schedules/new")
    for changes, words in (
        ({"end": "07:00"}, "jam selesai harus sesudah jam mulai"),
        ({"day": "31-02-2026"}, "Periksa tanggal dan jam"),
        ({"latitude": "utara"}, "Titik peta"),
        ({"phase": ""}, "Isi tahap"),
        ({f"rts_{LEKSONO}": "satu"}, "RT ditulis dengan angka"),
        ({"village": []}, "paling sedikit satu desa"),
    ):
        refused = await office.client.post("/schedules", data=_schedule_form(csrf, **changes))
        assert refused.status_code == 422 and words in refused.text, changes
        assert 'value="Tahap 4 2026"' in refused.text or changes.get("phase") == ""
    async with office.runtime.db.session() as session:
        assert (await session.exec(select(DistributionSchedule))).all() == []


async def test_viewers_read_schedules_and_broadcasts_only(office: Office) -> None:
    await office.sign_in("pengamat")
    assert (await office.client.get("/schedules")).status_code == 200
    page = await office.client.get("/broadcasts")
    assert page.status_code == 200 and 'action="/broadcasts"' not in page.text
    csrf = await office.csrf("/schedules")
    assert (await office.client.post("/schedules", data=_schedule_form(csrf))).status_code == 403
    sent = await office.client.post(
        "/broadcasts",
        data={"csrf": csrf, "source": "free", "text_id": "Halo", "village": [LEKSONO],
              "programme": ["BPNT"], "channel": ["telegram"], "action": "send"},
    )  # fmt: skip
    assert sent.status_code == 403


async def test_a_broadcast_is_previewed_sent_watched_paused_and_cancelled(office: Office) -> None:
    await _subscribers(office, 3, "telegram", LEKSONO)
    await _subscribers(office, 2, "whatsapp", LEKSONO)
    await _subscribers(office, 4, "telegram", SUKAMAJU)
    await office.sign_in("darmo")
    csrf = await office.csrf("/broadcasts")
    form = {
        "csrf": csrf,
        "source": "free",
        "text_id": "Penyaluran BPNT Kamis di <Balai Desa>.",
        "text_en": "BPNT on Thursday.",
        "village": [LEKSONO],
        "programme": ["BPNT"],
        "channel": ["telegram", "whatsapp"],
        "when": "now",
    }
    preview = await office.client.post("/broadcasts", data={**form, "action": "preview"})
    assert preview.status_code == 200 and "Akan diterima 5 chat" in preview.text
    rows = re.findall(
        r"<tr><td>(\w+)</td><td>(\w+)</td><td class=\"num\">(\d+)</td></tr>", preview.text
    )
    assert rows == [("Telegram", "en", "1"), ("Telegram", "id", "2"), ("WhatsApp", "en", "1"),
                    ("WhatsApp", "id", "1")]  # fmt: skip
    assert "&lt;Balai Desa&gt;" in preview.text and "Ketik STOP" in preview.text
    async with office.runtime.db.session() as session:
        assert (await session.exec(select(Broadcast))).all() == []  # a preview sends nothing
    outside = await office.client.post(
        "/broadcasts", data={**form, "village": [SUKAMAJU], "action": "send"}
    )
    assert outside.status_code == 403
    sent = await office.client.post("/broadcasts", data={**form, "action": "send"})
    assert sent.status_code == 303
    path = sent.headers["location"]
    started = await run_once(office.runtime)
    assert started.started == 1
    page = await office.client.get(path)
    assert page.status_code == 200 and "0 dari 5 sudah diproses" in page.text
    assert 'http-equiv="refresh"' in page.text
    csrf = await office.csrf(path)
    assert (await office.client.post(f"{path}/pause", data={"csrf": csrf})).status_code == 303
    assert "dijeda" in (await office.client.get(path)).text
    again = await office.client.post(f"{path}/pause", data={"csrf": csrf})
    assert again.status_code == 409
    assert (await office.client.post(f"{path}/resume", data={"csrf": csrf})).status_code == 303
    assert (await office.client.post(f"{path}/cancel", data={"csrf": csrf})).status_code == 303
    cancelled = (await office.client.get(path)).text
    assert "dibatalkan" in cancelled and "5 dari 5 sudah diproses" in cancelled
    unknown = await office.client.post(f"{path}/explode", data={"csrf": csrf})
    assert unknown.status_code == 404 and "explode" not in unknown.text
    assert (await office.client.post(f"{path}/pause", data={})).status_code == 403  # no CSRF
    board = (await office.client.get("/monitoring")).text
    assert "Jangkauan siaran" in board and f'href="{path}"' in board
    exported = (await office.client.get("/monitoring/broadcasts.csv")).text
    assert exported.splitlines()[0].startswith("siaran,jenis,mulai,penerima,sent")
    assert ",free," in exported.splitlines()[1] and ",5," in exported.splitlines()[1]
    await office.sign_in("wati")
    assert f'href="{path}"' not in (await office.client.get("/monitoring")).text
    assert (await office.client.get(path)).status_code == 404
    wati_csrf = await office.csrf("/broadcasts")
    assert (await office.client.post(f"{path}/resume", data={"csrf": wati_csrf})).status_code == 404


async def test_web_chat_recipients_who_are_away_are_named_not_waited_for(
    office: Office,
) -> None:
    await _subscribers(office, 2, "webchat", LEKSONO)
    await office.sign_in("darmo")
    csrf = await office.csrf("/broadcasts")
    form = {
        "csrf": csrf,
        "source": "free",
        "text_id": "Penyaluran BPNT Kamis.",
        "village": [LEKSONO],
        "programme": ["BPNT"],
        "channel": ["webchat"],
        "when": "now",
        "action": "send",
    }
    sent = await office.client.post("/broadcasts", data=form)
    assert sent.status_code == 303
    await run_once(office.runtime)  # starts it
    await run_once(office.runtime)  # nothing to push: done
    page = (await office.client.get(sent.headers["location"])).text
    assert "selesai" in page and 'http-equiv="refresh"' not in page
    assert "2 penerima web chat belum membuka chat lagi" in page


async def test_a_schedule_broadcast_with_its_reminder(office: Office) -> None:
    await _subscribers(office, 2, "telegram", LEKSONO)
    await office.sign_in("camat")
    csrf = await office.csrf("/schedules/new")
    await office.client.post("/schedules", data=_schedule_form(csrf))
    async with office.runtime.db.session() as session:
        schedule = (await session.exec(select(DistributionSchedule))).one()
    form = {
        "csrf": csrf, "source": "schedule", "schedule": str(schedule.id), "reminder": "1",
        "village": [LEKSONO], "programme": ["BPNT"], "channel": ["telegram"], "when": "now",
    }  # fmt: skip
    preview = await office.client.post("/broadcasts", data={**form, "action": "preview"})
    assert (
        "Kabar penyaluran bantuan" in preview.text and "Balai Desa &lt;Leksono&gt;" in preview.text
    )
    sent = await office.client.post("/broadcasts", data={**form, "action": "send"})
    assert sent.status_code == 303
    async with office.runtime.db.session() as session:
        kinds = [
            b.kind
            for b in (await session.exec(select(Broadcast).order_by(col(Broadcast.id)))).all()
        ]
    assert kinds == ["schedule", "reminder"]
    listing = await office.client.get("/broadcasts")
    assert "Pengingat H-1" in listing.text


async def test_a_schedule_shared_with_another_village_is_not_one_officers_to_change(
    office: Office,
) -> None:
    await office.sign_in("camat")
    csrf = await office.csrf("/schedules/new")
    shared = _schedule_form(csrf)
    shared["village"] = [LEKSONO, SUKAMAJU]
    assert (await office.client.post("/schedules", data=shared)).status_code == 303
    async with office.runtime.db.session() as session:
        schedule = (await session.exec(select(DistributionSchedule))).one()
    await office.sign_in("darmo")
    assert (await office.client.get(f"/schedules/{schedule.id}")).status_code == 200  # sees it
    csrf = await office.csrf("/schedules/new")
    # Dropping Sukamaju would take the distribution away from Wati's village.
    taken = await office.client.post(f"/schedules/{schedule.id}", data=_schedule_form(csrf))
    assert taken.status_code == 403
    async with office.runtime.db.session() as session:
        view = await ScheduleService(session).get(schedule.id or 0)
    assert set(view.villages) == {LEKSONO, SUKAMAJU}
