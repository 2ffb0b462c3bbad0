"""Dashboard: schedules and broadcasts as an exploratory tester drove them. A schedule change
reaches the broadcasts built from it; a form is sent once; a done broadcast with web chat
rows waiting can be cancelled; refusals name the right thing in the catalog's words; the
schedule form keeps multi-day and overnight windows and checks what the API checks; ids
that no table holds are a 404; the preview refuses what sending refuses; an audience
beyond the schedule needs a tick."""

from __future__ import annotations

import asyncio
import html
import re
from datetime import datetime, time, timedelta

from sqlmodel import col, select

from bot.services.schedules import ScheduleInput, ScheduleService
from bot.workers.broadcasts import run_once
from storage.models import Broadcast, DistributionSchedule, Outbox
from storage.types import utcnow
from tests.services.test_reports import LEKSONO, SUKAMAJU
from tests.web.test_broadcast_screens import _schedule_form, _subscribers
from tests.web.test_dashboard import Office, office

__all__ = ["office"]


def _day(days: int) -> str:
    return (utcnow() + timedelta(days=days)).date().isoformat()


def _field(page: str, name: str) -> str:
    match = re.search(rf'name="{name}"[^>]*value="([^"]*)"', page)
    assert match, name
    return html.unescape(match.group(1))


async def _schedule(office: Office, start: datetime, end: datetime, place: str = "Balai") -> int:
    async with office.runtime.db.transaction() as session:
        view = await ScheduleService(session).save(
            ScheduleInput("BPNT", "Tahap 4", start, end, place, {LEKSONO: ""}), "test", utcnow()
        )
    return view.id


async def _broadcasts(office: Office) -> list[Broadcast]:
    async with office.runtime.db.session() as session:
        return list((await session.exec(select(Broadcast).order_by(col(Broadcast.id)))).all())


async def test_a_schedule_change_reaches_the_broadcasts_not_yet_started(office: Office) -> None:
    await _subscribers(office, 2, "telegram", LEKSONO)
    await office.sign_in("camat")
    csrf = await office.csrf("/schedules/new")
    form = _schedule_form(csrf, day=_day(10), place="Kantor Pos Sukamaju")
    assert (await office.client.post("/schedules", data=form)).status_code == 303
    async with office.runtime.db.session() as session:
        schedule_id = (await session.exec(select(DistributionSchedule.id))).one() or 0
    composed = {
        "csrf": csrf, "source": "schedule", "schedule": str(schedule_id), "reminder": "1",
        "village": [LEKSONO], "programme": ["BPNT"], "channel": ["telegram"], "when": "later",
        "send_day": _day(5), "send_time": "09:00", "action": "send", "form_token": "a" * 32,
    }  # fmt: skip
    assert (await office.client.post("/broadcasts", data=composed)).status_code == 303
    now_form = {**composed, "when": "now", "form_token": "b" * 32}
    del now_form["reminder"]
    sent_now = await office.client.post("/broadcasts", data=now_form)
    assert sent_now.status_code == 303
    await run_once(office.runtime)  # the one sent now goes out
    later, reminder, out = await _broadcasts(office)
    assert (later.kind, reminder.kind, out.status) == ("schedule", "reminder", "sending")

    moved = _schedule_form(csrf, day=_day(12), place="Gedung Serbaguna")
    saved = await office.client.post(f"/schedules/{schedule_id}", data=moved)
    assert saved.status_code == 303
    listing = (await office.client.get(saved.headers["location"])).text
    # The one that started has sent nothing yet (no sender ran): its rows waited, and follow.
    assert f"Siaran #{later.id}, #{reminder.id}, #{out.id} ikut diperbarui" in listing
    assert "keterangan lama" not in listing
    page = (await office.client.get(f"/broadcasts/{later.id}")).text
    assert "Gedung Serbaguna" in page and "Kantor Pos Sukamaju" not in page
    zone = office.runtime.settings.zone
    _, reminder, out = await _broadcasts(office)
    assert reminder.send_at.astimezone(zone) == datetime.combine(
        datetime.fromisoformat(_day(11)).date(), time(7), tzinfo=zone
    )
    assert "Gedung Serbaguna" in reminder.texts["id"] and "Gedung Serbaguna" in out.texts["id"]


async def test_the_same_form_sent_twice_makes_one_broadcast(office: Office) -> None:
    await _subscribers(office, 2, "telegram", LEKSONO)
    await office.sign_in("darmo")
    page = (await office.client.get("/broadcasts")).text
    form = {
        "csrf": _field(page, "csrf"), "form_token": _field(page, "form_token"),
        "source": "free", "text_id": "Penyaluran BPNT Kamis.", "village": [LEKSONO],
        "programme": ["BPNT"], "channel": ["telegram"], "when": "now", "action": "send",
    }  # fmt: skip
    first = await office.client.post("/broadcasts", data=form)
    again = await office.client.post("/broadcasts", data=form)
    assert first.status_code == again.status_code == 303
    assert again.headers["location"].startswith(first.headers["location"])
    shown = (await office.client.get(again.headers["location"])).text
    assert "sudah pernah dikirim" in shown
    both = await asyncio.gather(
        *(office.client.post("/broadcasts", data={**form, "form_token": "x" * 32}) for _ in "ab")
    )
    assert [r.status_code for r in both] == [303, 303]
    assert both[0].headers["location"].split("?")[0] == both[1].headers["location"].split("?")[0]
    # Without a token (a replayed request): the same broadcast just now is a repeat too.
    bare = {k: v for k, v in form.items() if k != "form_token"}
    assert (await office.client.post("/broadcasts", data=bare)).status_code == 303
    assert len(await _broadcasts(office)) == 2
    other = await office.client.post("/broadcasts", data={**bare, "text_id": "Kabar lain."})
    assert other.status_code == 303 and len(await _broadcasts(office)) == 3


async def test_a_done_web_chat_broadcast_can_still_be_cancelled(office: Office) -> None:
    await _subscribers(office, 2, "webchat", LEKSONO)
    await office.sign_in("darmo")
    csrf = await office.csrf("/broadcasts")
    form = {
        "csrf": csrf, "source": "free", "text_id": "Penyaluran BPNT Kamis.",
        "village": [LEKSONO], "programme": ["BPNT"], "channel": ["webchat"], "when": "now",
        "action": "send",
    }  # fmt: skip
    path = (await office.client.post("/broadcasts", data=form)).headers["location"]
    await run_once(office.runtime)
    await run_once(office.runtime)
    page = (await office.client.get(path)).text
    assert "selesai" in page and f'action="{path}/cancel"' in page
    assert (await office.client.post(f"{path}/cancel", data={"csrf": csrf})).status_code == 303
    async with office.runtime.db.session() as session:
        rows = (await session.exec(select(Outbox))).all()
    assert {(row.status, row.reason) for row in rows} == {("skipped", "cancelled")}
    refused = await office.client.post(f"{path}/cancel", data={"csrf": csrf})
    assert refused.status_code == 409 and "siaran ini dibatalkan" in refused.text


async def test_refusals_name_the_state_and_the_missing_object(office: Office) -> None:
    await office.sign_in("camat")
    csrf = await office.csrf("/broadcasts")
    form = {
        "csrf": csrf, "source": "free", "text_id": "Kabar.", "village": [LEKSONO],
        "programme": ["BPNT"], "channel": ["telegram"], "when": "now", "action": "send",
    }  # fmt: skip
    path = (await office.client.post("/broadcasts", data=form)).headers["location"]
    assert (await office.client.post(f"{path}/pause", data={"csrf": csrf})).status_code == 303
    again = await office.client.post(f"{path}/pause", data={"csrf": csrf})
    assert again.status_code == 409 and "siaran ini dijeda" in again.text
    assert "paused" not in again.text
    unknown = await office.client.post(f"{path}/explode", data={"csrf": csrf})
    assert unknown.status_code == 404 and "explode" not in unknown.text
    missing = await office.client.post("/broadcasts/999/pause", data={"csrf": csrf})
    assert missing.status_code == 404 and "Siaran tidak ditemukan" in missing.text
    assert "Siaran tidak ditemukan" in (await office.client.get("/broadcasts/999")).text
    no_schedule = await office.client.post("/schedules/999", data=_schedule_form(csrf))
    assert no_schedule.status_code == 404 and "Jadwal tidak ditemukan" in no_schedule.text
    assert "Laporan" not in (await office.client.get("/schedules/999")).text


async def test_multi_day_and_overnight_schedules_survive_the_form(office: Office) -> None:
    zone = office.runtime.settings.zone
    base = datetime.combine(datetime.fromisoformat(_day(20)).date(), time(8), tzinfo=zone)
    await office.sign_in("camat")
    for start, end in (
        (base, base + timedelta(days=2, hours=4)),  # 20–22, 08:00 to 12:00
        (base.replace(hour=20), base.replace(hour=2) + timedelta(days=1)),  # 20:00–02:00
    ):
        schedule_id = await _schedule(office, start, end)
        page = (await office.client.get(f"/schedules/{schedule_id}")).text
        assert _field(page, "end_day") == end.date().isoformat()
        unchanged = {
            name: _field(page, name)
            for name in ("csrf", "day", "start", "end_day", "end", "phase", "place")
        }
        unchanged.update(programme="BPNT", village=LEKSONO)
        saved = await office.client.post(f"/schedules/{schedule_id}", data=unchanged)
        assert saved.status_code == 303, saved.text
        async with office.runtime.db.session() as session:
            view = await ScheduleService(session).get(schedule_id)
        assert (view.schedule.starts_at, view.schedule.ends_at) == (start, end)
    csrf = await office.csrf("/schedules/new")
    too_long = _schedule_form(csrf, day=_day(20), end_day=_day(35))
    refused = await office.client.post("/schedules", data=too_long)
    assert refused.status_code == 422 and "paling lama 14 hari" in refused.text


async def test_the_dashboard_checks_schedules_as_the_api_does(office: Office) -> None:
    await office.sign_in("camat")
    csrf = await office.csrf("/schedules/new")
    start_words = "Periksa tanggal dan jam mulai"
    for changes, words in (
        ({"day": "1900-01-10", "end_day": ""}, start_words),
        ({"day": "9999-12-31", "end_day": ""}, start_words),
        ({"day": "0001-01-01", "end_day": ""}, start_words),
        ({"day": "garbage"}, start_words),
        ({"end_day": "9999-12-31"}, "Periksa tanggal dan jam selesai"),
        ({"phase": "Tahap\x004"}, "Isi tahap"),
        ({f"rts_{LEKSONO}": "0"}, "RT ditulis dengan angka 1 sampai 999"),
        ({f"rts_{LEKSONO}": "000"}, "RT ditulis dengan angka 1 sampai 999"),
    ):
        refused = await office.client.post("/schedules", data=_schedule_form(csrf, **changes))
        assert refused.status_code == 422 and words in refused.text, changes
        assert "jam selesai harus sesudah jam mulai" not in refused.text, changes
    async with office.runtime.db.session() as session:
        assert (await session.exec(select(DistributionSchedule))).all() == []


async def test_impossible_ids_are_not_found(office: Office) -> None:
    await office.sign_in("camat")
    csrf = await office.csrf("/broadcasts")
    form = {
        "csrf": csrf, "source": "schedule", "schedule": "²", "village": [LEKSONO],
        "programme": ["BPNT"], "channel": ["telegram"], "when": "now", "action": "send",
    }  # fmt: skip
    refused = await office.client.post("/broadcasts", data=form)
    assert refused.status_code == 422 and "Pilih jadwal penyaluran" in refused.text
    huge = str(2**63 + 5)
    for path in (f"/schedules/{huge}", f"/broadcasts/{huge}", "/broadcasts/2147483648"):
        assert (await office.client.get(path)).status_code == 404, path
    for path in (f"/schedules/{huge}", f"/broadcasts/{huge}/pause"):
        posted = await office.client.post(path, data=_schedule_form(csrf))
        assert posted.status_code == 404, path


async def test_the_preview_refuses_what_sending_refuses(office: Office) -> None:
    await _subscribers(office, 2, "telegram", LEKSONO)
    await office.sign_in("camat")
    csrf = await office.csrf("/broadcasts")
    form = {
        "csrf": csrf, "source": "free", "text_id": "Kabar.", "village": [LEKSONO],
        "programme": ["BPNT"], "channel": ["telegram"], "when": "now", "action": "preview",
    }  # fmt: skip
    for changes, words in (
        ({"village": ["9999999999"]}, "paling sedikit satu desa"),
        ({"programme": ["XYZ"]}, "paling sedikit satu program"),
        ({"channel": ["sms"]}, "paling sedikit satu saluran"),
        ({"text_id": ""}, "Tulis teks dalam Bahasa Indonesia"),
    ):
        refused = await office.client.post("/broadcasts", data={**form, **changes})
        assert refused.status_code == 422 and words in refused.text, changes
        assert 'id="preview"' not in refused.text
    unknown = {**form, "text_zz": "???"}
    preview = await office.client.post("/broadcasts", data=unknown)
    assert preview.status_code == 200 and "Akan diterima 2 chat" in preview.text
    sent = await office.client.post("/broadcasts", data={**unknown, "action": "send"})
    assert sent.status_code == 303
    [broadcast] = await _broadcasts(office)
    assert broadcast.texts == {"id": "Kabar."}


async def test_the_audience_starts_from_the_schedule_and_beyond_it_needs_a_tick(
    office: Office,
) -> None:
    await office.sign_in("camat")
    zone = office.runtime.settings.zone
    start = datetime.combine(datetime.fromisoformat(_day(9)).date(), time(8), tzinfo=zone)
    schedule_id = await _schedule(office, start, start + timedelta(hours=4))
    page = (await office.client.get(f"/broadcasts?schedule={schedule_id}")).text
    assert re.search(rf'name="village" value="{LEKSONO}" checked', page)
    assert not re.search(rf'name="village" value="{SUKAMAJU}" checked', page)
    assert re.search(r'name="programme" value="BPNT" checked', page)
    assert not re.search(r'name="programme" value="PKH" checked', page)
    form = {
        "csrf": _field(page, "csrf"), "form_token": _field(page, "form_token"),
        "source": "schedule", "schedule": str(schedule_id), "village": [LEKSONO, SUKAMAJU],
        "programme": ["BPNT", "PKH"], "channel": ["telegram"], "when": "now",
    }  # fmt: skip
    preview = await office.client.post("/broadcasts", data={**form, "action": "preview"})
    assert preview.status_code == 200 and "melebihi jadwal" in preview.text
    refused = await office.client.post("/broadcasts", data={**form, "action": "send"})
    assert refused.status_code == 422 and 'name="beyond_ok"' in refused.text
    assert await _broadcasts(office) == []
    sent = await office.client.post(
        "/broadcasts", data={**form, "action": "send", "beyond_ok": "1"}
    )
    assert sent.status_code == 303 and len(await _broadcasts(office)) == 1
    within = {**form, "form_token": "y" * 32, "village": [LEKSONO], "programme": ["BPNT"]}
    preview = await office.client.post("/broadcasts", data={**within, "action": "preview"})
    assert "melebihi jadwal" not in preview.text
