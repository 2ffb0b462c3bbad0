"""Rendering rules shared by channels: catalog lookup, labels, numbered choices."""

from __future__ import annotations

from dataclasses import dataclass

from bot.i18n import Catalogs
from bot.messages import UNNUMBERED_CHOICES, StepResult


@dataclass(frozen=True, slots=True)
class RenderedChoice:
    id: str
    label: str


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    text: str
    choices: tuple[RenderedChoice, ...]
    # Whether a typed number picks one of these: only the last list of a turn is numbered,
    # as the engine reads typed numbers; earlier lists are still tapped or typed by words.
    numbered: bool = True


def render(catalogs: Catalogs, result: StepResult) -> list[RenderedMessage]:
    with_choices = [index for index, reply in enumerate(result.replies) if reply.choices]
    last = with_choices[-1] if with_choices else -1
    return [
        RenderedMessage(
            text=catalogs.t(result.locale, reply.key, reply.params),
            choices=tuple(
                RenderedChoice(choice.id, catalogs.t(result.locale, choice.key, choice.params))
                for choice in reply.choices
            ),
            numbered=index == last,
        )
        for index, reply in enumerate(result.replies)
    ]


def numbered(
    choices: tuple[RenderedChoice, ...], numbers: bool = True
) -> list[tuple[int | None, RenderedChoice]]:
    """Each choice with the number a resident may type for it (None: typed by its words,
    like "menu"), as the engine reads typed numbers."""
    shown: list[tuple[int | None, RenderedChoice]] = []
    count = 0
    for choice in choices:
        if not numbers or choice.id in UNNUMBERED_CHOICES:
            shown.append((None, choice))
        else:
            count += 1
            shown.append((count, choice))
    return shown


def as_numbered_text(message: RenderedMessage) -> str:
    """For channels without buttons: the resident answers with the number."""
    if not message.choices:
        return message.text
    lines = [
        f"{number}. {choice.label}" if number is not None else f"- {choice.label}"
        for number, choice in numbered(message.choices, message.numbered)
    ]
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
