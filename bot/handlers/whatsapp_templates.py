"""Approved message templates for WhatsApp messages outside the 24-hour window.

WhatsApp lets a business write freely only within 24 hours of the resident's last
message. Later notifications (report news, training reminders and offers, distribution
schedules) go out as templates that Meta approved beforehand. Every template here has the
same two body parameters, so one approval covers every message of its purpose:

- `{{1}}`: the office's name (`OFFICE_NAME`);
- `{{2}}`: the message itself on one line (Meta refuses line breaks in parameters).

A purpose may add quick-reply buttons whose payloads are the message's first choice ids
(the training offer's "Ya, saya ikut" / "Tidak jadi"). The README lists the exact bodies
to register.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.handlers.whatsapp_render import neutralise_markup
from bot.settings import Settings

PARAM_LIMIT = 700
# Quick-reply buttons registered with each purpose's template.
QUICK_REPLIES = {"training_offer": 2, "distribution_check": 4}
_PURPOSES = (
    ("report.", "report_update"),
    ("track.", "report_update"),
    ("training.push.reminder", "training_reminder"),
    ("training.push.offer", "training_offer"),
    ("schedule.", "schedule"),
    ("broadcast.check", "distribution_check"),
    ("broadcast.", "schedule"),
)


@dataclass(frozen=True, slots=True)
class TemplateCall:
    purpose: str
    name: str
    language: str
    components: list[dict[str, Any]]


def purpose_for(message_key: str) -> str:
    return next((p for prefix, p in _PURPOSES if message_key.startswith(prefix)), "notice")


def one_line(text: str, limit: int = PARAM_LIMIT) -> str:
    """The text as one template parameter: no line breaks, tabs or runs of spaces."""
    flat = " · ".join(" ".join(line.split()) for line in text.splitlines() if line.strip())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def template_for(
    settings: Settings, message_key: str, locale: str, text: str, choice_ids: Sequence[str]
) -> TemplateCall | None:
    """The template that carries this message, or None when none is configured."""
    purpose = purpose_for(message_key)
    for candidate in (purpose, "notice"):
        by_locale = settings.whatsapp_templates.get(candidate, {})
        spec = by_locale.get(locale) or by_locale.get(settings.default_locale)
        if spec:
            name, _, language = spec.partition(":")
            return TemplateCall(
                candidate, name, language, _components(settings, candidate, text, choice_ids)
            )
    return None


def _components(
    settings: Settings, purpose: str, text: str, choice_ids: Sequence[str]
) -> list[dict[str, Any]]:
    body = [
        {"type": "text", "text": one_line(settings.office_name)},
        {"type": "text", "text": neutralise_markup(one_line(text))},
    ]
    components: list[dict[str, Any]] = [{"type": "body", "parameters": body}]
    for index in range(QUICK_REPLIES.get(purpose, 0)):
        payload = choice_ids[index] if index < len(choice_ids) else "nav:menu"
        components.append(
            {
                "type": "button",
                "sub_type": "quick_reply",
                "index": str(index),
                "parameters": [{"type": "payload", "payload": payload}],
            }
        )
    return components
