"""Names as written on the KTP: normalising, tolerant matching, and masking.

Residents type their name from memory, in any case, with typos, in another order, or
without a middle name. The match must accept that and still refuse a different person;
`tests/services/test_names.py` holds the table of variants the thresholds are tuned on.
"""

from __future__ import annotations

import re
import unicodedata

from rapidfuzz import fuzz

# Titles and honorifics that are not part of the name on the KTP.
_TITLES = frozenset(
    {"H", "HJ", "HAJI", "HAJJAH", "KH", "DR", "DRS", "DRA", "IR", "PROF", "NY", "TN", "BPK",
     "BAPAK", "IBU", "SDR", "SDRI", "ALM", "ALMH"}
)  # fmt: skip
_NOT_LETTER = re.compile(r"[^A-Z ]")
_SPACES = re.compile(r"\s+")

WHOLE_NAME_SCORE = 88.0
TOKEN_SCORE = 80.0
SHORT_TOKEN = 4


def name_tokens(raw: str) -> list[str]:
    """'Hj. Siti  Aminah, S.Pd.' → ['SITI', 'AMINAH']: upper case, no titles or degrees."""
    text = raw
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.upper()
    text = text.split(",", 1)[0].replace("'", "").replace("`", "")
    tokens = _SPACES.sub(" ", _NOT_LETTER.sub(" ", text)).split()
    kept = [token for token in tokens if token not in _TITLES]
    return kept or tokens


def normalise_name(raw: str) -> str:
    return " ".join(name_tokens(raw))


def names_match(registered: str, typed: str) -> bool:
    """True when `typed` is a plausible way of writing the registered KTP name."""
    wanted = name_tokens(registered)
    given = name_tokens(typed)
    if not wanted or not given:
        return False
    if fuzz.ratio("".join(wanted), "".join(given)) >= WHOLE_NAME_SCORE:
        return True  # case, spacing and small typos
    if len(given) > 1 and fuzz.token_sort_ratio(wanted, given) >= WHOLE_NAME_SCORE:
        return True  # another word order
    return _covers(wanted, given)


def _covers(wanted: list[str], given: list[str]) -> bool:
    """Every typed word is one of the registered words (a missing middle name is fine).

    A whole word counts 1 and an initial ("M." for MUHAMMAD) counts ½; a name of several
    words needs at least 1½, so a first name alone is never enough.
    """
    free = list(wanted)
    weight = 0.0
    for token in given:
        index = _best_token(token, free)
        if index is None:
            return False
        weight += 0.5 if len(token) == 1 else 1.0
        free.pop(index)
    needed = 1.0 if len(wanted) == 1 else 1.5
    return weight >= needed and len(given) <= len(wanted)


def _best_token(token: str, candidates: list[str]) -> int | None:
    best: tuple[float, int] | None = None
    for index, candidate in enumerate(candidates):
        if len(token) == 1:
            score = 100.0 if candidate.startswith(token) else 0.0
        elif len(token) < SHORT_TOKEN or len(candidate) < SHORT_TOKEN:
            score = 100.0 if token == candidate else 0.0
        else:
            score = fuzz.ratio(token, candidate)
        if score >= TOKEN_SCORE and (best is None or score > best[0]):
            best = (score, index)
    return best[1] if best is not None else None


def mask_name(raw: str) -> str:
    """'SITI AMINAH' → 'SIT* AMI***': enough to recognise, too little to harvest."""
    masked = []
    for token in normalise_name(raw).split():
        keep = 3 if len(token) > 3 else 1
        masked.append(token[:keep] + "*" * (len(token) - keep))
    return " ".join(masked)
