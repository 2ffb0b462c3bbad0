"""WhatsApp's shapes for a reply: text, reply buttons, list messages, and their limits.

- No choices: text, split at 4,096 characters.
- 1 to 3 choices: reply buttons. A title has at most 20 characters; a longer label is
  shortened at a word and its full text is added to the body.
- 4 to 10 choices: a list message (row title ≤ 24, description ≤ 72: a long label keeps its
  full text in the description).
- More than 10: pages of 10, each its own list message ("Lainnya…"), so every row still
  carries the real choice id and no state is needed to turn a page.

An interactive body holds at most 1,024 characters (buttons) or 4,096 (lists); a longer
text goes first as plain text, then the choices under a short "Silakan pilih:".

WhatsApp reads `*bold*`, `_italic_`, `~strike~` and backticks in any text. Values put into
a message (what residents typed, names, masked NIKs like "SIT* AMI***") have those marks
replaced by look-alikes, so they show as typed and cannot break the message's own format.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.handlers.render import split_text
from bot.i18n import Catalogs

TEXT_LIMIT = 4096
BUTTON_BODY_LIMIT = 1024
LIST_BODY_LIMIT = 4096
BUTTON_TITLE_LIMIT = 20
ROW_TITLE_LIMIT = 24
ROW_DESCRIPTION_LIMIT = 72
ROW_ID_LIMIT = 200
MAX_BUTTONS = 3
MAX_ROWS = 10

_MARKUP = str.maketrans({"*": "∗", "_": "ˍ", "~": "∼", "`": "ˋ"})


@dataclass(frozen=True, slots=True)
class TextOut:
    body: str


@dataclass(frozen=True, slots=True)
class ButtonsOut:
    body: str
    buttons: tuple[tuple[str, str], ...]  # (choice id, title)


@dataclass(frozen=True, slots=True)
class ListRow:
    id: str
    title: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class ListOut:
    body: str
    button: str
    section: str
    rows: tuple[ListRow, ...]


WhatsAppOut = TextOut | ButtonsOut | ListOut


def neutralise_markup(text: str) -> str:
    return text.translate(_MARKUP)


def safe_params(params: Mapping[str, object]) -> dict[str, object]:
    """Parameters with WhatsApp's formatting marks neutralised."""
    return {k: neutralise_markup(v) if isinstance(v, str) else v for k, v in params.items()}


def shorten(label: str, limit: int) -> str:
    """The label cut at a word to fit `limit` characters, with an ellipsis (inside a word
    only when its first word alone is too long)."""
    label = " ".join(label.split())
    if len(label) <= limit:
        return label
    window = label[: limit - 1]
    cut = window.rfind(" ") if label[limit - 1] != " " else limit - 1
    head = window[:cut] if cut > 0 else window
    return head.rstrip(" ,.;:-—·") + "…"


def _unique(labels: list[str], limit: int) -> list[str]:
    """Titles for the labels within `limit`, all different (WhatsApp refuses two buttons
    or rows with one title). Labels whose shortened titles clash lose the words they all
    begin with ("11 Des 08.00 · Pelatihan Menjahit…" and "11 Des 08.00 · Pelatihan
    Komputer…" become "Menjahit…" and "Komputer…"); only what still clashes is numbered."""
    titles = [shorten(label, limit) for label in labels]
    for title in set(titles):
        clashing = [i for i, t in enumerate(titles) if t == title]
        if len(clashing) < 2:
            continue
        words = [" ".join(labels[i].split()).split(" ") for i in clashing]
        shared = 0
        while all(len(w) > shared + 1 and w[shared] == words[0][shared] for w in words):
            shared += 1
        rest = [shorten(" ".join(w[shared:]).lstrip(" ,.;:-—·"), limit) for w in words]
        if len(set(rest)) == len(rest):
            for i, title in zip(clashing, rest, strict=True):
                titles[i] = title
    seen: dict[str, int] = {}
    for index, title in enumerate(titles):
        count = seen.get(title, 0) + 1
        seen[title] = count
        if count > 1:
            suffix = f" ({count})"
            titles[index] = shorten(title, limit - len(suffix)).removesuffix("…") + suffix
    return titles


def render_message(
    catalogs: Catalogs, locale: str, text: str, choices: Sequence[tuple[str, str]]
) -> list[WhatsAppOut]:
    """One reply as WhatsApp messages; `choices` are (id, label) pairs."""
    usable = [(cid, label) for cid, label in choices if 0 < len(cid) <= ROW_ID_LIMIT]
    if not usable:
        return [TextOut(part) for part in split_text(text, TEXT_LIMIT)]
    if len(usable) <= MAX_BUTTONS:
        return _buttons(catalogs, locale, text, usable)
    return _lists(catalogs, locale, text, usable)


def _lead(catalogs: Catalogs, locale: str, body: str, limit: int) -> tuple[list[WhatsAppOut], str]:
    """A body too long for an interactive message goes first as text."""
    if len(body) <= limit:
        return [], body
    return (
        [TextOut(part) for part in split_text(body, TEXT_LIMIT)],
        catalogs.t(locale, "whatsapp.choose"),
    )


def _buttons(
    catalogs: Catalogs, locale: str, text: str, choices: list[tuple[str, str]]
) -> list[WhatsAppOut]:
    titles = _unique([label for _, label in choices], BUTTON_TITLE_LIMIT)
    full = [
        f"• {' '.join(label.split())}"
        for (_, label), title in zip(choices, titles, strict=True)
        if title != " ".join(label.split())
    ]
    extra = ("\n\n" + "\n".join(full)) if full else ""
    lead, body = _lead(catalogs, locale, text, BUTTON_BODY_LIMIT - len(extra))
    buttons = tuple((cid, title) for (cid, _), title in zip(choices, titles, strict=True))
    return [*lead, ButtonsOut(body + extra, buttons)]


def _lists(
    catalogs: Catalogs, locale: str, text: str, choices: list[tuple[str, str]]
) -> list[WhatsAppOut]:
    lead, body = _lead(catalogs, locale, text, LIST_BODY_LIMIT)
    section = catalogs.t(locale, "whatsapp.section")[:ROW_TITLE_LIMIT]
    messages: list[WhatsAppOut] = list(lead)
    for start in range(0, len(choices), MAX_ROWS):
        page = choices[start : start + MAX_ROWS]
        titles = _unique([label for _, label in page], ROW_TITLE_LIMIT)
        rows = tuple(
            ListRow(
                cid,
                title,
                "" if title == label else shorten(label, ROW_DESCRIPTION_LIMIT),
            )
            for (cid, label), title in zip(page, titles, strict=True)
        )
        if start == 0:
            button = catalogs.t(locale, "whatsapp.list_button")
        else:
            params = {"first": start + 1, "last": start + len(page)}
            body = catalogs.t(locale, "whatsapp.more_body", params)
            button = catalogs.t(locale, "whatsapp.more_button")
        messages.append(ListOut(body, shorten(button, BUTTON_TITLE_LIMIT), section, rows))
    return messages
