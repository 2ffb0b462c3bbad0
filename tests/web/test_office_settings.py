"""Dashboard: the office settings screen. Admins add and rename villages (audited, with
bad codes refused in words); the running configuration is shown without any secret; other
roles are refused and nothing changes on GET."""

from __future__ import annotations

from sqlmodel import select

from bot.web.office_settings import configuration
from storage.models import AuditLog, Village
from tests.services.test_reports import LEKSONO
from tests.web.test_dashboard import Office, office

__all__ = ["office"]

NEW_VILLAGE = "3307992099"


async def test_only_admins_see_the_settings(office: Office) -> None:
    for username in ("darmo", "pengamat"):
        await office.sign_in(username)
        assert (await office.client.get("/settings")).status_code == 403
        csrf = await office.csrf("/")
        refused = await office.client.post(
            "/settings/villages", data={"csrf": csrf, "code": NEW_VILLAGE, "name": "Baru"}
        )
        assert refused.status_code == 403
    async with office.runtime.db.session() as session:
        assert await session.get(Village, NEW_VILLAGE) is None


async def test_admin_adds_and_renames_a_village(office: Office) -> None:
    await office.sign_in("camat")
    page = await office.client.get("/settings")
    assert page.status_code == 200 and LEKSONO in page.text
    csrf = await office.csrf("/settings")
    added = await office.client.post(
        "/settings/villages",
        data={"csrf": csrf, "code": f" {NEW_VILLAGE} ", "name": "  Kali  <b>Baru</b> "},
    )
    assert added.status_code == 303
    shown = await office.client.get(added.headers["location"])
    assert "Kali &lt;b&gt;Baru&lt;/b&gt;" in shown.text and "<b>Baru" not in shown.text
    renamed = await office.client.post(
        "/settings/villages", data={"csrf": csrf, "code": NEW_VILLAGE, "name": "Kalibaru"}
    )
    assert renamed.status_code == 303
    async with office.runtime.db.session() as session:
        village = await session.get(Village, NEW_VILLAGE)
        assert village is not None and village.name == "Kalibaru"
        rows = (await session.exec(select(AuditLog).where(AuditLog.actor.like("officer:%")))).all()  # type: ignore[attr-defined]
    changes = [(r.action, r.detail.get("before")) for r in rows if r.action.startswith("village")]
    assert changes == [("village.add", ""), ("village.rename", "Kali <b>Baru</b>")]


async def test_bad_village_input_is_refused_in_words(office: Office) -> None:
    await office.sign_in("camat")
    csrf = await office.csrf("/settings")
    for code, name, words in (
        ("33079920", "Pendek", "10 angka"),
        ("33079920AB", "Huruf", "10 angka"),
        (NEW_VILLAGE, "   ", "wajib diisi"),
        (NEW_VILLAGE, "x" * 121, "wajib diisi"),
    ):
        answer = await office.client.post(
            "/settings/villages", data={"csrf": csrf, "code": code, "name": name}
        )
        assert answer.status_code == 303
        assert words in (await office.client.get(answer.headers["location"])).text
    no_csrf = await office.client.post(
        "/settings/villages", data={"code": NEW_VILLAGE, "name": "Tanpa token"}
    )
    assert no_csrf.status_code == 403
    async with office.runtime.db.session() as session:
        assert await session.get(Village, NEW_VILLAGE) is None


async def test_the_running_configuration_never_shows_a_secret(office: Office) -> None:
    settings = office.runtime.settings
    await office.sign_in("camat")
    page = (await office.client.get("/settings")).text
    assert "SECRET_KEY" in page and "TIMEZONE" in page and settings.timezone in page
    assert settings.secret_key.get_secret_value() not in page
    shown = {env: (value, secret) for env, value, secret in configuration(settings)}
    assert shown["SECRET_KEY"][1] and shown["SECRET_KEY"][0] in ("set", "default")
    assert shown["TELEGRAM_BOT_TOKEN"][1]


def test_a_database_password_is_hidden() -> None:
    from bot.settings import Settings

    settings = Settings(
        database_url="postgresql+asyncpg://bansos:s3cr3t-pw@db:5432/bansos",
        secret_key="k" * 40,
        telegram_bot_token="123:ABC",
    )
    shown = {env: value for env, value, _ in configuration(settings)}
    assert shown["DATABASE_URL"] == "postgresql+asyncpg://bansos:***@db:5432/bansos"
    assert shown["SECRET_KEY"] == "set" and shown["TELEGRAM_BOT_TOKEN"] == "set"
    assert "123:ABC" not in str(shown)
