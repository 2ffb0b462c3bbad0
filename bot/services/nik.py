"""Reading a NIK the way residents type it, with a specific reason when it is wrong.

python-stdnum knows the format (`stdnum.id.nik`); this module only orders its checks so
that each mistake gets its own kind answer, and caches the region table look-up, which
dominates the cost of a registry import.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from enum import StrEnum
from functools import lru_cache

from stdnum.exceptions import ValidationError
from stdnum.id import nik as stdnum_nik

NIK_LENGTH = 16
_SEPARATORS = re.compile(r"[\s.\-/]")
_DIGIT_RUNS = re.compile(r"[0-9]+")
_LOOKALIKES = str.maketrans("OoIl", "0011")
_FIRST_TO_LAST_DIGIT = re.compile(r"[0-9].*[0-9]")


class NikProblem(StrEnum):
    NO_DIGITS = "no_digits"
    SEVERAL_NUMBERS = "several_numbers"
    LOOKALIKE_LETTERS = "lookalike_letters"  # O for 0, I or l for 1
    LENGTH = "length"
    BIRTH_DATE = "birth_date"
    REGION = "region"


class InvalidNik(ValueError):
    """Why a typed NIK is not one; `digits` is how many digits were sent."""

    def __init__(self, problem: NikProblem, digits: int = 0) -> None:
        super().__init__(problem.value)
        self.problem = problem
        self.digits = digits


def parse_nik(text: str) -> str:
    """The 16 digits of a NIK typed with spaces, dots or dashes, or InvalidNik saying why."""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)  # full-width digits from some keyboards
    runs = [text] if text.isdigit() else _DIGIT_RUNS.findall(_SEPARATORS.sub("", text))
    if not runs:
        raise InvalidNik(NikProblem.NO_DIGITS)
    if len(runs) > 1:
        # From the first digit to the last: a NIK with an O or an I typed among its digits?
        between = _FIRST_TO_LAST_DIGIT.search(_SEPARATORS.sub("", text))
        read = between.group(0).translate(_LOOKALIKES) if between else ""
        if read.isdigit() and len(read) >= NIK_LENGTH - 1:
            raise InvalidNik(NikProblem.LOOKALIKE_LETTERS, len(read))
        raise InvalidNik(NikProblem.SEVERAL_NUMBERS)
    number: str = runs[0]
    if len(number) != NIK_LENGTH:
        raise InvalidNik(NikProblem.LENGTH, len(number))
    try:
        stdnum_nik.get_birth_date(number)
    except ValidationError:
        raise InvalidNik(NikProblem.BIRTH_DATE, NIK_LENGTH) from None
    if not known_region(number[:4]):
        raise InvalidNik(NikProblem.REGION, NIK_LENGTH)
    return number


def looks_like_a_nik(text: str) -> bool:
    """Sent on its own, is this message most likely a NIK (right or mistyped)? 14 to 18
    digits, as the message log's masking counts them."""
    return 14 <= sum(ch.isdigit() for ch in text) <= 18


@lru_cache(maxsize=1024)
def known_region(prefix: str) -> bool:
    """stdnum's region check, asked once per province+regency code (a canonical number)."""
    return stdnum_nik.is_valid(f"{prefix}010101010001")


def birth_date_from_nik(nik: str, today: date) -> date:
    """The birth date a NIK encodes, in the most recent century that is not in the future."""
    day = int(nik[6:8]) % 40
    month = int(nik[8:10])
    year = int(nik[10:12])
    for century in (2000, 1900):
        try:
            born = date(century + year, month, day)
        except ValueError:
            continue
        if born <= today:
            return born
    raise InvalidNik(NikProblem.BIRTH_DATE, NIK_LENGTH)
