"""A corrected schedule, through the services: every message of a started broadcast still
waiting (on any channel, in its own language) gets the new details, the ones sent or being
sent keep theirs, and "already out" names only the broadcasts that reached somebody with
the old details, with how many. The "sudah terima?" question names the distribution's
day (or days), not "kemarin"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.runtime import Runtime
from bot.services.broadcasts import Audience, BroadcastDraft, BroadcastService
from bot.services.distribution_checks import DistributionCheck
from bot.services.outbox import deliver_pending
from bot.services.schedules import FollowUp, ScheduleInput, ScheduleService
from bot.services.subscriptions import SubscriptionService
from storage.models import Broadcast, ChannelIdentity, MessageLog, Outbox, Resident, Village
from storage.repositories import outbox as outbox_repo

NOW = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)  # Monday 09.00 WIB
LEKSONO = "3307992006"
STARTS = datetime(2026, 12, 16, 1, 0, tzinfo=UTC)  # Wednesday 08.00 WIB


def _input(place: str, starts: datetime = STARTS, hours: float = 4) -> ScheduleInput:
    return ScheduleInput(
        "BPNT", "Tahap 4", starts, starts + timedelta(hours=hours), place, {LEKSONO: ""}
    )


async def _chats(runtime: Runtime, plan: list[tuple[str, str]]) -> list[int]:
    """Subscribed chats of Leksono's BPNT news, (channel, locale) each; their ids."""
    ids = []
    async with runtime.db.transaction() as session:
        if await session.get(Village, LEKSONO) is None:
            session.add(Village(code=LEKSONO, name="Leksono", kecamatan="Sukamaju"))
            await session.flush()
        for n, (channel, locale) in enumerate(plan):
            resident = Resident(locale=locale)
            session.add(resident)
            await session.flush()
            identity = ChannelIdentity(
                channel=channel, external_id=f"{channel}-{n}", resident_id=resident.id or 0
            )
            session.add(identity)
            await session.flush()
            await SubscriptionService(session).subscribe(identity.id or 0, LEKSONO, ["BPNT"], NOW)
            ids.append(identity.id or 0)
    return ids


def _service(session: AsyncSession, runtime: Runtime) -> BroadcastService:
    return BroadcastService(session, runtime.settings, runtime.catalogs)


async def _started(runtime: Runtime, channels: tuple[str, ...]) -> tuple[int, int]:
    """A schedule at the Kantor Pos and a broadcast from it that started: their ids."""
    async with runtime.db.transaction() as session:
        view = await ScheduleService(session).save(_input("Kantor Pos"), "officer:1", NOW)
        service = _service(session, runtime)
        [made] = await service.compose(
            BroadcastDraft(Audience((LEKSONO,), ("BPNT",), channels), NOW, schedule_id=view.id),
            None,
            "officer:1",
            NOW,
        )
        await service.start_due(NOW)
        await service.finish_done(NOW)
    return view.id, made.id or 0


async def _correct(runtime: Runtime, schedule_id: int, place: str) -> FollowUp:
    async with runtime.db.transaction() as session:
        view = await ScheduleService(session, _service(session, runtime)).save(
            _input(place), "officer:1", NOW + timedelta(hours=1), schedule_id
        )
    return view.follow_up


async def _rows(runtime: Runtime, broadcast_id: int) -> list[Outbox]:
    async with runtime.db.session() as session:
        statement = select(Outbox).where(Outbox.broadcast_id == broadcast_id)
        return list((await session.exec(statement.order_by(col(Outbox.id)))).all())


async def test_a_done_web_chat_broadcast_nobody_fetched_is_corrected_not_reported_out(
    runtime: Runtime,
) -> None:
    """The tester's case: five web chat rows waiting, none fetched, the place changed."""
    web = await _chats(runtime, [("webchat", "en"), *[("webchat", "id")] * 4])
    schedule_id, broadcast_id = await _started(runtime, ("webchat",))
    async with runtime.db.session() as session:
        broadcast = await session.get(Broadcast, broadcast_id)
        assert broadcast is not None and broadcast.status == "done"

    follow = await _correct(runtime, schedule_id, "Gedung Serbaguna")
    assert follow.updated == (broadcast_id,)
    assert (follow.already_out, follow.already_out_chats) == ((), ())
    rows = await _rows(runtime, broadcast_id)
    assert len(rows) == 5 and all(row.status == "pending" for row in rows)
    assert all("Gedung Serbaguna" in row.text and "Kantor Pos" not in row.text for row in rows)
    assert all(row.params["body"] in row.text for row in rows)
    english = next(row for row in rows if row.identity_id == web[0])
    assert english.text.startswith("Aid distribution news") and "Place: Gedung" in english.text
    assert all(row.text.startswith("Kabar penyaluran") for row in rows if row != english)
    async with runtime.db.session() as session:
        logs = (await session.exec(select(MessageLog.text))).all()
        broadcast = await session.get(Broadcast, broadcast_id)
    assert len(logs) == 5 and all("Gedung Serbaguna" in (text or "") for text in logs)
    assert broadcast is not None and "Gedung Serbaguna" in broadcast.texts["id"]

    # The visitor who opens the chat later gets the new place.
    async with runtime.db.transaction() as session:
        [(row, _)] = await deliver_pending(session, runtime.catalogs, web[1], NOW)
    assert "Tempat: Gedung Serbaguna" in row.text


async def test_only_rows_that_went_out_with_old_details_are_reported_with_their_count(
    runtime: Runtime,
) -> None:
    chats = await _chats(
        runtime,
        [("telegram", "id"), ("telegram", "id"), ("telegram", "en"), ("webchat", "id"),
         ("webchat", "id")],
    )  # fmt: skip
    schedule_id, broadcast_id = await _started(runtime, ("telegram", "webchat"))
    async with runtime.db.transaction() as session:
        # The Telegram sender: one row accepted by the platform, one claimed (being sent).
        claimed = await outbox_repo.claim_due(session, "telegram", NOW, 2, "sender-1")
        await outbox_repo.record_sent(session, [outbox_repo.Accepted(claimed[0][0].id or 0)], NOW)
        # A web chat visitor opens the chat.
        assert len(await deliver_pending(session, runtime.catalogs, chats[3], NOW)) == 1
    before = {row.id: row.text for row in await _rows(runtime, broadcast_id)}

    follow = await _correct(runtime, schedule_id, "Gedung Serbaguna")
    assert follow.already_out == (broadcast_id,) and follow.already_out_chats == (3,)
    assert follow.updated == (broadcast_id,)
    rows = await _rows(runtime, broadcast_id)
    for row in rows:
        if row.status == "pending":
            assert "Gedung Serbaguna" in row.text, row.channel
        else:  # sent, or being sent: left as they went
            assert row.status in ("sent", "sending") and row.text == before[row.id]
    assert sorted(row.status for row in rows) == ["pending", "pending", "sending", "sent", "sent"]
    english = next(row for row in rows if row.locale == "en")
    assert english.status == "pending" and "Place: Gedung Serbaguna" in english.text

    # The same details saved again: nothing to rebuild; the old ones still went out to three.
    follow = await _correct(runtime, schedule_id, "Gedung Serbaguna")
    assert (follow.updated, follow.already_out_chats) == ((), (3,))
    # Cancelled: its waiting rows are skipped and stay as they were.
    async with runtime.db.transaction() as session:
        await _service(session, runtime).cancel(broadcast_id, "officer:1", NOW)
    follow = await _correct(runtime, schedule_id, "Aula Kecamatan")
    assert follow.updated == () and follow.already_out_chats == (3,)


async def test_the_check_question_names_the_day_in_each_language(runtime: Runtime) -> None:
    web = await _chats(runtime, [("webchat", "id"), ("webchat", "en")])
    async with runtime.db.transaction() as session:
        one_day = await ScheduleService(session).save(_input("E-warong Bu Narti"), "o", NOW)
        two_weeks = await ScheduleService(session).save(
            _input("Kantor Pos", STARTS - timedelta(days=14), 14 * 24), "o", NOW
        )
    ask_at = STARTS + timedelta(hours=30)  # Thursday 14.00 WIB
    async with runtime.db.transaction() as session:
        made = await DistributionCheck(session, runtime.settings, runtime.catalogs).create_due(
            ask_at
        )
        assert sorted(b.schedule_id or 0 for b in made) == sorted([one_day.id, two_weeks.id])
        await _service(session, runtime).start_due(ask_at)
    async with runtime.db.transaction() as session:
        indonesian = [row.text for row, _ in await deliver_pending(
            session, runtime.catalogs, web[0], ask_at
        )]  # fmt: skip
        english = [row.text for row, _ in await deliver_pending(
            session, runtime.catalogs, web[1], ask_at
        )]  # fmt: skip
    texts = "\n".join(indonesian + english)
    assert "kemarin" not in texts.lower() and "yesterday" not in texts.lower()
    assert any(
        t.startswith(
            "Penyaluran bantuan BPNT/Sembako Tahap 4 pada Rabu, 16 Desember 2026 di "
            "E-warong Bu Narti sudah selesai."
        )
        for t in indonesian
    )
    assert any(
        "pada Rabu, 2 Desember sampai Rabu, 16 Desember 2026 di Kantor Pos" in t for t in indonesian
    )
    assert any(
        t.startswith("The BPNT/Sembako (food aid) Tahap 4 aid distribution on Wednesday 16 Dec")
        for t in english
    )
    assert any("on Wednesday 2 December to Wednesday 16 December 2026" in t for t in english)


async def test_a_waiting_check_question_follows_a_corrected_schedule(runtime: Runtime) -> None:
    await _chats(runtime, [("webchat", "id")])
    async with runtime.db.transaction() as session:
        view = await ScheduleService(session).save(_input("Kantor Pos"), "o", NOW)
    ask_at = STARTS + timedelta(hours=30)
    async with runtime.db.transaction() as session:
        checks = DistributionCheck(session, runtime.settings, runtime.catalogs)
        [check] = await checks.create_due(ask_at)
        await _service(session, runtime).start_due(ask_at)
    async with runtime.db.transaction() as session:
        saved = await ScheduleService(session, _service(session, runtime)).save(
            _input("Gedung Serbaguna"), "officer:1", ask_at, view.id
        )
    assert saved.follow_up.updated == (check.id,)
    [row] = await _rows(runtime, check.id or 0)
    assert "di Gedung Serbaguna sudah selesai" in row.text
