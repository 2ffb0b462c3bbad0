"""Every key in every locale, with the same placeholders; every key the code uses exists."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

from bot.i18n import Catalogs, placeholders
from bot.settings import PROJECT_ROOT

LOCALES = PROJECT_ROOT / "locales"


def _catalogs() -> Catalogs:
    return Catalogs(LOCALES, "id")


def test_every_locale_has_every_key_with_the_same_placeholders() -> None:
    catalogs = _catalogs()
    assert set(catalogs.locales) >= {"id", "en"}
    reference = catalogs.keys("id")
    for lang in catalogs.locales:
        assert catalogs.keys(lang) == reference, f"{lang}: {catalogs.keys(lang) ^ reference}"
        for key in reference:
            expected = placeholders(catalogs.template("id", key) or "")
            assert placeholders(catalogs.template(lang, key) or "") == expected, (lang, key)


def _keys_used_in_code() -> set[str]:
    used: set[str] = set()
    for path in (PROJECT_ROOT / "bot").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
                continue
            index = {"Reply": 0, "Choice": 1}.get(node.func.id)
            if index is not None and len(node.args) > index:
                arg = node.args[index]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    used.add(arg.value)
            if node.func.id == "t" and len(node.args) > 1:
                arg = node.args[1]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    used.add(arg.value)
    return used


def test_every_key_used_in_code_exists() -> None:
    used = _keys_used_in_code()
    assert len(used) > 30
    assert used - _catalogs().keys("id") == set()


def test_menu_labels_fit_whatsapp_buttons() -> None:
    catalogs = _catalogs()
    for lang in catalogs.locales:
        for key in catalogs.keys(lang):
            if key.startswith("menu.") and key not in {
                "menu.prompt",
                "menu.greeting",
                "menu.thanks",
            }:
                assert len(catalogs.t(lang, key)) <= 24, (lang, key)


def test_faq_files_match_across_locales_and_hard_code_no_amounts() -> None:
    ids: dict[str, list[str]] = {}
    for path in sorted(LOCALES.glob("*/faq.toml")):
        data = tomllib.loads(path.read_text())
        entries = data["entry"]
        ids[path.parent.name] = [e["id"] for e in entries]
        for entry in entries:
            assert len(entry["question"]) <= 70
            assert len(entry["answer"].strip()) <= 600
            assert "Rp" not in entry["answer"]
    assert ids["id"] == ids["en"]


def test_no_compiled_catalogs_are_committed() -> None:
    assert not list(Path(LOCALES).rglob("*.mo"))
