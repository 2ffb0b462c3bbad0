"""Reading NIKs as residents type them, with one specific reason per mistake."""

from __future__ import annotations

from datetime import date

import pytest

from bot.services.nik import InvalidNik, NikProblem, birth_date_from_nik, parse_nik

VALID = "3307994505800001"  # region 3307, born 05-05-1980, female (+40)


@pytest.mark.parametrize(
    "typed",
    [
        VALID,
        "3307 9945 0580 0001",
        "3307.9945.0580.0001",
        "3307-9945-0580-0001",
        " NIK saya 3307994505800001 ",
        "NIK: 3307 9945 0580 0001.",
        "".join(chr(0xFF10 + int(d)) for d in VALID),  # full-width digits
    ],
)
def test_spaces_dots_and_words_around_are_accepted(typed: str) -> None:
    assert parse_nik(typed) == VALID


@pytest.mark.parametrize(
    ("typed", "problem", "digits"),
    [
        ("330799450580001", NikProblem.LENGTH, 15),
        ("33079945058000011", NikProblem.LENGTH, 17),
        ("1234", NikProblem.LENGTH, 4),
        ("belum punya", NikProblem.NO_DIGITS, 0),
        ("", NikProblem.NO_DIGITS, 0),
        ("3307994505800001 dan 3307994505800002", NikProblem.SEVERAL_NUMBERS, 0),
        ("33079945058OOOO1", NikProblem.LOOKALIKE_LETTERS, 16),  # O for 0
        ("3307 9945 0580 0OO1", NikProblem.LOOKALIKE_LETTERS, 16),
        ("33079945058000l1", NikProblem.LOOKALIKE_LETTERS, 16),  # l for 1
        ("NIK saya 33079945058OOOO1", NikProblem.LOOKALIKE_LETTERS, 16),
        ("NIK 3307994505800001 KK 3307990101200001", NikProblem.SEVERAL_NUMBERS, 0),
        ("3307993213800001", NikProblem.BIRTH_DATE, 16),  # day 32
        ("3307991513800001", NikProblem.BIRTH_DATE, 16),  # month 13
        ("3307997302800001", NikProblem.BIRTH_DATE, 16),  # 33 Feb (female)
        ("9907994505800001", NikProblem.REGION, 16),  # province 99 does not exist
    ],
)
def test_each_mistake_has_its_reason(typed: str, problem: NikProblem, digits: int) -> None:
    with pytest.raises(InvalidNik) as raised:
        parse_nik(typed)
    assert raised.value.problem is problem
    assert raised.value.digits == digits


def test_birth_date_picks_the_century_that_is_not_in_the_future() -> None:
    today = date(2026, 11, 23)
    assert birth_date_from_nik("3307994505800001", today) == date(1980, 5, 5)
    assert birth_date_from_nik("3307990101100001", today) == date(2010, 1, 1)
    assert birth_date_from_nik("3307990101300001", today) == date(1930, 1, 1)
    assert birth_date_from_nik("3307992311260001", today) == date(2026, 11, 23)
    assert birth_date_from_nik("3307992411260001", today) == date(1926, 11, 24)
