"""WhatsApp titles: every catalog label a dialog offers as a choice fits a reply button
(20 characters) whole, and shortened training options stay readable and unique."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from bot.handlers.whatsapp_render import (
    BUTTON_TITLE_LIMIT,
    ROW_TITLE_LIMIT,
    ButtonsOut,
    ListOut,
    render_message,
)
from bot.i18n import Catalogs
from tests.handlers.conftest import WaRig

ROOT = Path(__file__).resolve().parents[2]
# Labels that carry a value (a training's title, a FAQ question, programmes) are cut by
# the renderer, with their full text kept in the body or the row's description.
VALUE_LABEL = re.compile(r"\{[a-z_]+\}")


# Offered only in lists of more than three (the eight report kinds, the main menu's
# journeys): a list row's title may have 24 characters.
LIST_ONLY = re.compile(r"report\.kind\.[a-z_]+")


def _choice_keys(catalogs: Catalogs) -> tuple[set[str], set[str]]:
    """The catalog keys passed to `Choice(...)` in bot/, and the main menu's keys (each
    dialog's `menu_key`)."""
    msgids = set(catalogs.keys("id"))
    keys: set[str] = set()
    menu: set[str] = set()
    for path in (ROOT / "bot").rglob("*.py"):
        tree = ast.parse(path.read_text())
        constants = {
            target.id: node.value.value
            for node in tree.body
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
            for target in node.targets
            if isinstance(target, ast.Name) and isinstance(node.value.value, str)
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "menu_key" for t in node.targets)
                and isinstance(node.value, ast.Constant)
            ):
                menu.add(str(node.value.value))
                continue
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "Choice"
                and len(node.args) >= 2
            ):
                continue
            argument = node.args[1]
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                keys.add(argument.value)
            elif isinstance(argument, ast.Name) and argument.id in constants:
                keys.add(constants[argument.id])
            elif isinstance(argument, ast.JoinedStr):  # f"report.kind.{kind}"
                pattern = "".join(
                    re.escape(str(part.value)) if isinstance(part, ast.Constant) else r"[a-z_]+"
                    for part in argument.values
                )
                keys.update(k for k in msgids if re.fullmatch(pattern, k))
    return keys, menu


def test_every_choice_label_fits_a_reply_button_whole() -> None:
    catalogs = Catalogs(ROOT / "locales", "id")
    keys, menu = _choice_keys(catalogs)
    assert {"schedule.stop", "common.back_to_menu", "menu.track"} <= keys
    assert "menu.schedule" in menu
    too_long = []
    for key in sorted(keys | menu):
        listed = key not in keys or LIST_ONLY.fullmatch(key) is not None
        limit = ROW_TITLE_LIMIT if listed else BUTTON_TITLE_LIMIT
        for locale in catalogs.locales:
            template = catalogs.template(locale, key)
            assert template is not None, f"{key} missing in {locale}"
            if VALUE_LABEL.search(template):
                continue
            label = catalogs.t(locale, key)
            (message,) = render_message(catalogs, locale, "Pilih:", [("x", label)])
            assert isinstance(message, ButtonsOut)
            whole = message.buttons[0][1] == label and message.body == "Pilih:"
            if len(label) > limit or not (listed or whole):
                too_long.append(f"{locale} {key}: {label!r} ({len(label)})")
    assert too_long == [], "\n".join(too_long)


def test_the_stop_button_is_whole_with_no_stray_bullet() -> None:
    catalogs = Catalogs(ROOT / "locales", "id")
    for locale in catalogs.locales:
        labels = [catalogs.t(locale, k) for k in ("schedule.stop", "common.back_to_menu")]
        (message,) = render_message(
            catalogs, locale, "Kabar jadwal aktif.", list(zip(("a", "b"), labels, strict=True))
        )
        assert isinstance(message, ButtonsOut)
        assert [title for _, title in message.buttons] == labels
        assert message.body == "Kabar jadwal aktif."


@pytest.mark.parametrize(
    ("labels", "limit_kind"),
    [
        (["11 Des 08.00 · Pelatihan Menjahit Dasar", "11 Des 13.00 · Pelatihan Menjahit Dasar"],
         "buttons"),
        (["11 Des 08.00 · Pelatihan Menjahit Dasar", "11 Des 08.00 · Pelatihan Komputer Dasar",
          "11 Des 08.00 · Pelatihan Menjahit Lanjut", "12 Des 08.00 · Pelatihan Menjahit Dasar",
          "Kembali ke menu"], "list"),
        (["11 Des 08.00 · Pelatihan Menjahit", "11 Des 08.00 · Pelatihan Komputer"], "buttons"),
    ],
)  # fmt: skip
def test_shortened_training_options_stay_unique_and_whole_worded(
    labels: list[str], limit_kind: str
) -> None:
    catalogs = Catalogs(ROOT / "locales", "id")
    choices = [(f"c{n}", label) for n, label in enumerate(labels)]
    (message,) = render_message(catalogs, "id", "Pilih pelatihan:", choices)
    if limit_kind == "buttons":
        assert isinstance(message, ButtonsOut)
        titles = [title for _, title in message.buttons]
        limit = BUTTON_TITLE_LIMIT
    else:
        assert isinstance(message, ListOut)
        titles = [row.title for row in message.rows]
        limit = ROW_TITLE_LIMIT
    assert len(set(titles)) == len(titles)
    words = {w for label in labels for w in label.split()}
    for title in titles:
        assert len(title) <= limit
        assert not re.search(r"\(\d\)|\s\d$", title), title  # no "Pelatihan 2"
        assert all(w in words for w in title.removesuffix("…").split()), title  # whole words


async def test_two_sessions_on_one_day_show_their_times(wa_rig: WaRig) -> None:
    from bot.services.demo import seed_demo

    await seed_demo(wa_rig.runtime.db, wa_rig.runtime.vault)
    await wa_rig.say("halo")
    await wa_rig.tap("welcome:agree")
    await wa_rig.tap("menu:training")
    rows = wa_rig.fake.last_buttons()
    titles = [title for _, title in rows]
    assert len(set(titles)) == len(titles)
    assert any(re.match(r"\d{1,2} \w{3} \d{2}\.\d{2}", title) for title in titles), titles
