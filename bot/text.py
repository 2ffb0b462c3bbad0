"""Cleaning what residents type: Unicode forms, invisible characters, case and punctuation."""

from __future__ import annotations

import re
import unicodedata

# Zero-width and bidirectional control characters: invisible, yet they break matching.
_INVISIBLE = dict.fromkeys(
    [
        0x00AD,
        0x180E,
        0xFEFF,
        *range(0x200B, 0x2010),
        *range(0x202A, 0x202F),
        *range(0x2060, 0x2070),
    ],
    None,
)
_SPACES = re.compile(r"\s+")
_NOT_WORD = re.compile(r"[^\w\s]", re.UNICODE)
_LINK = re.compile(
    r"(?:https?://|www\.|\b(?:bit\.ly|s\.id|t\.me|wa\.me)/|"
    r"\b[a-z0-9-]{2,}\.(?:com|net|org|info|xyz|link|site|online|top|id|co\.id|my\.id|io|me)\b)",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"^\s*(\d{1,2})\s*[.)]?\s*$")


MAX_ROW_ID = 2**31 - 1  # ids are 32-bit integers on PostgreSQL
_ROW_ID = re.compile(r"[0-9]{1,10}")


def row_id(text: str) -> int | None:
    """A row id typed in a button or a form: 1..MAX_ROW_ID in ASCII digits, else None.
    ("²".isdigit() is true, and int("²") fails; a huge number fails in the database.)"""
    if not _ROW_ID.fullmatch(text):
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ROW_ID else None


def storable(raw: str) -> str:
    """Text any database keeps as sent: NUL removed (PostgreSQL refuses it) and lone
    surrogates (broken emoji halves, which no encoder accepts) replaced."""
    text = raw.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def clean(raw: str) -> str:
    """NFKC, invisible characters removed, whitespace collapsed. What the resident meant."""
    text = unicodedata.normalize("NFKC", raw).translate(_INVISIBLE)
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc")
    return _SPACES.sub(" ", text).strip()


def fold(text: str) -> str:
    """Lower case, punctuation and emoji removed: the form keywords are matched in."""
    return _SPACES.sub(" ", _NOT_WORD.sub(" ", clean(text).casefold())).strip()


def has_link(text: str) -> bool:
    return bool(_LINK.search(text))


def typed_number(text: str) -> int | None:
    """'2', ' 2. ' or '2)' → 2: how residents pick a numbered choice."""
    match = _NUMBER.match(text)
    return int(match.group(1)) if match else None


# 14 to 18 digits, spaces, dots or dashes between them; an O, o, I or l typed among the
# digits (for 0 or 1) counts as one, as long as a digit follows it.
_ID_NUMBER = re.compile(r"(?<![\d])\d(?:[ .\-]?(?:\d|[OoIl](?=[OoIl]*\d))){13,17}(?!\d)")
_SEPARATORS = re.compile(r"[ .\-]")
MIN_DIGITS_TO_MASK = 12  # with lookalike letters, still mostly digits


def redact_id_numbers(text: str) -> str:
    """Mask anything shaped like a NIK or No. KK: 14 to 18 digits, spaces or dots allowed.

    The message log keeps what residents wrote, but never a raw NIK (DESIGN.md rule 5),
    nor a NIK mistyped by a digit or two (or with an O for a 0), which is nearly as
    revealing.
    """

    def _mask(match: re.Match[str]) -> str:
        chars = _SEPARATORS.sub("", match.group(0))
        if sum(ch.isdigit() for ch in chars) < MIN_DIGITS_TO_MASK:
            return match.group(0)
        return chars[:4] + "*" * (len(chars) - 8) + chars[-4:]

    return _ID_NUMBER.sub(_mask, text)
