"""The fake WhatsApp Cloud API, driven by the real pywa_async client."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from pywa_async.client import WhatsApp
from pywa_async.errors import WhatsAppError
from pywa_async.types.callback import Button, Section, SectionList, SectionRow
from pywa_async.types.templates import TemplateLanguage

from tests.fakes.whatsapp_api import FakeWhatsApp

USER = "6281234567890"
BSUID = "ID.1234567"


@pytest.fixture
async def fake() -> AsyncIterator[FakeWhatsApp]:
    server = FakeWhatsApp()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def wa(fake: FakeWhatsApp) -> AsyncIterator[WhatsApp]:
    session = httpx.AsyncClient()
    client = WhatsApp(phone_id=fake.phone_id, token=fake.token, session=session, api_version="22.0")
    # pywa sets base_url to https://graph.facebook.com/v22.0 in its constructor; repoint it.
    session.base_url = httpx.URL(f"{fake.base_url}/v22.0")
    try:
        yield client
    finally:
        await session.aclose()


async def test_text_send_returns_a_wamid_and_is_recorded(fake: FakeWhatsApp, wa: WhatsApp) -> None:
    sent = await wa.send_message(to=USER, text="Halo", tracker="t1")
    assert sent.id.startswith("wamid.")
    assert fake.texts(USER) == ["Halo"]
    assert fake.calls[-1].wamid == sent.id
    assert fake.calls[-1].tracker == "t1"
    assert fake.calls[-1].path == f"/v22.0/{fake.phone_id}/messages"
    assert sent.chat.id == USER

    to_bsuid = await wa.send_message(to=BSUID, text="Halo lagi")
    assert to_bsuid.chat.id == BSUID
    assert fake.sent(BSUID)[0]["recipient"] == BSUID
    assert fake.texts(BSUID) == ["Halo lagi"]

    await wa.mark_message_as_read(message_id="wamid.IN1")
    assert fake.read_receipts() == ["wamid.IN1"]
    assert len(fake.sent()) == 2


async def test_reply_button_title_over_20_characters_is_refused(
    fake: FakeWhatsApp, wa: WhatsApp
) -> None:
    with pytest.raises(WhatsAppError) as caught:
        await wa.send_message(
            to=USER, text="Pilih", buttons=[Button(title="x" * 21, callback_data="a")]
        )
    assert caught.value.code == 131009
    assert "Button title" in (caught.value.details or "")
    assert fake.sent() == []
    assert [code for code, _ in fake.rejected] == [131009]

    await wa.send_message(
        to=USER,
        text="Pilih",
        buttons=[
            Button(title="Ya", callback_data="yes"),
            Button(title="Tidak", callback_data="no"),
        ],
    )
    assert fake.last_buttons(USER) == [("yes", "Ya"), ("no", "Tidak")]
    tap = fake.button_reply(USER, "yes", "Ya", user_id=BSUID)
    assert tap["context"]["id"] == fake.calls[-1].wamid  # taps quote the message tapped
    assert tap["interactive"] == {
        "type": "button_reply",
        "button_reply": {"id": "yes", "title": "Ya"},
    }


async def test_list_with_11_rows_is_refused(fake: FakeWhatsApp, wa: WhatsApp) -> None:
    def menu(rows: int) -> SectionList:
        return SectionList(
            button_title="Menu",
            sections=[
                Section(
                    title="Program",
                    rows=[
                        SectionRow(title=f"Baris {i}", callback_data=f"r{i}") for i in range(rows)
                    ],
                )
            ],
        )

    with pytest.raises(WhatsAppError) as caught:
        await wa.send_message(to=USER, text="Pilih program", buttons=menu(11))
    assert caught.value.code == 131009
    await wa.send_message(to=USER, text="Pilih program", buttons=menu(10))
    assert fake.last_buttons(USER)[-1] == ("r9", "Baris 9")


async def test_fail_next_rate_limit_once(fake: FakeWhatsApp, wa: WhatsApp) -> None:
    fake.fail_next(130429)
    with pytest.raises(WhatsAppError) as caught:
        await wa.send_message(to=USER, text="1")
    assert caught.value.code == 130429
    assert caught.value.status_code == 400
    await wa.send_message(to=USER, text="2")
    assert fake.texts(USER) == ["2"]
    assert fake.rejected[0][0] == 130429

    fake.fail_next(131000, http_status=500, recipient="6289999")
    await wa.send_message(to=USER, text="3")  # another recipient: unaffected
    with pytest.raises(WhatsAppError) as server_error:
        await wa.send_message(to="6289999", text="4")
    assert server_error.value.code == 131000
    assert server_error.value.status_code == 500


async def test_closed_window_refuses_text_but_accepts_templates(
    fake: FakeWhatsApp, wa: WhatsApp
) -> None:
    fake.window_closed.add(USER)
    with pytest.raises(WhatsAppError) as caught:
        await wa.send_message(to=USER, text="Halo")
    assert caught.value.code == 131047

    sent = await wa.send_template(
        to=USER,
        name="x",
        language=TemplateLanguage.INDONESIAN,
        params=[{"type": "body", "parameters": [{"type": "text", "text": "a"}]}],
    )
    assert sent.id == fake.calls[-1].wamid
    assert fake.sent(USER)[-1]["template"]["language"] == {"code": "id"}
    assert fake.texts(USER) == ["template:x a"]

    with pytest.raises(WhatsAppError) as bad_param:
        await wa.send_template(
            to=USER,
            name="x",
            language=TemplateLanguage.INDONESIAN,
            params=[{"type": "body", "parameters": [{"type": "text", "text": "a\nb"}]}],
        )
    assert bad_param.value.code == 131009


async def test_media_round_trip(fake: FakeWhatsApp, wa: WhatsApp) -> None:
    data = b"\xff\xd8\xff fake jpeg"
    media_id = fake.add_media(data, "image/jpeg")
    url = await wa.get_media_url(media_id)
    assert url.mime_type == "image/jpeg"
    assert url.sha256 == hashlib.sha256(data).hexdigest()
    assert url.file_size == len(data)
    assert await wa.get_media_bytes(url.url) == data

    with pytest.raises(WhatsAppError) as caught:
        await wa.get_media_url("404")
    assert caught.value.code == 100

    async with httpx.AsyncClient() as anonymous:
        assert (await anonymous.get(url.url)).status_code == 401


async def test_wrong_token_is_refused(fake: FakeWhatsApp) -> None:
    async with httpx.AsyncClient() as session:
        client = WhatsApp(
            phone_id=fake.phone_id, token="wrong", session=session, api_version="22.0"
        )
        session.base_url = httpx.URL(f"{fake.base_url}/v22.0")
        with pytest.raises(WhatsAppError) as caught:
            await client.send_message(to=USER, text="Halo")
    assert caught.value.code == 190
    assert caught.value.status_code == 401


async def test_throughput_and_pair_limits(fake: FakeWhatsApp, wa: WhatsApp) -> None:
    fake.pair_limit = (2, 60.0)
    await wa.send_message(to=USER, text="1")
    await wa.send_message(to=USER, text="2")
    with pytest.raises(WhatsAppError) as pair:
        await wa.send_message(to=USER, text="3")
    assert pair.value.code == 131056

    fake.pair_limit = None
    fake.throughput_limit = 3
    await wa.send_message(to="6280001", text="a")  # 2 + 1 sends inside the last second
    with pytest.raises(WhatsAppError) as throughput:
        await wa.send_message(to="6280002", text="b")
    assert throughput.value.code == 130429
    assert [code for code, _ in fake.rejected] == [131056, 130429]


async def test_webhook_builders_and_signature(fake: FakeWhatsApp) -> None:
    update = fake.say(USER, "halo", user_id=BSUID)
    value = update["entry"][0]["changes"][0]["value"]
    assert value["metadata"]["phone_number_id"] == fake.phone_id
    assert value["contacts"] == [{"profile": {"name": "Warga"}, "wa_id": USER, "user_id": BSUID}]
    message = value["messages"][0]
    assert message["from"] == USER
    assert message["from_user_id"] == BSUID
    assert message["text"] == {"body": "halo"}
    assert message["id"] != fake.text(USER, "halo")["id"]

    failed = fake.status_value("wamid.X", "failed", USER, error_code=131047, with_contacts=False)
    assert "contacts" not in failed
    assert failed["statuses"][0]["errors"][0]["code"] == 131047

    body = json.dumps(update).encode()
    expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert fake.sign(body, "s3cret") == expected
