"""Rendering rules shared by channels: catalog lookup, labels, numbered choices."""

from __future__ import annotations

from dataclasses import dataclass

from bot.i18n import Catalogs
from bot.messages import StepResult


@dataclass(frozen=True, slots=True)
class RenderedChoice:
    id: str
    label: str


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    text: str
    choices: tuple[RenderedChoice, ...]


def render(catalogs: Catalogs, result: StepResult) -> list[RenderedMessage]:
    return [
        RenderedMessage(
            text=catalogs.t(result.locale, reply.key, reply.params),
            choices=tuple(
                RenderedChoice(choice.id, catalogs.t(result.locale, choice.key, choice.params))
                for choice in reply.choices
            ),
        )
        for reply in result.replies
    ]


def as_numbered_text(message: RenderedMessage) -> str:
    """For channels without buttons: the resident answers with the number."""
    if not message.choices:
        return message.text
    lines = [f"{index}. {choice.label}" for index, choice in enumerate(message.choices, start=1)]
    return message.text + "\n\n" + "\n".join(lines)


def split_text(text: str, limit: int = 4096) -> list[str]:
    """Chunks of at most `limit` characters, cut at paragraph, line or word boundaries, and
    never inside an HTML entity such as "&amp;" (Telegram's HTML; harmless elsewhere)."""
    chunks: list[str] = []
    rest = text
    while len(rest) > limit:
        window = rest[:limit]
        cut = max(window.rfind("\n\n"), window.rfind("\n"), window.rfind(" "))
        if cut <= 0:
            cut = limit
        amp = window.rfind("&", 0, cut)
        if amp != -1 and ";" not in window[amp:cut] and " " not in window[amp:cut]:
            cut = amp or cut
        chunks.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip("\n ")
    if rest.strip() or not chunks:
        chunks.append(rest)
    return chunks
