"""KTP names: the table the match thresholds are tuned on, and masking."""

from __future__ import annotations

import pytest

from bot.services.names import mask_name, names_match, normalise_name

SAME_PERSON = [
    ("SITI AMINAH", "Siti Aminah"),  # case
    ("SITI AMINAH", "  siti   aminah "),  # spacing
    ("SITI AMINAH", "SITIAMINAH"),  # a missing space
    ("SITI AMINAH", "Aminah Siti"),  # word order
    ("SITI NUR AMINAH", "Siti Aminah"),  # a missing middle name
    ("MUHAMMAD RIZKI PRATAMA", "muhammad pratama"),
    ("SITI AMINAH", "siti amnah"),  # a typo
    ("MUHAMMAD YUSUF", "Muhamad Yusuf"),  # a single letter fewer
    ("BUDI SANTOSO", "budi santosa"),  # o/a, as often in Javanese names
    ("EKO PRASETYO", "Eko Prasetiyo"),
    ("MUHAMMAD YUSUF", "M. Yusuf"),  # an initial
    ("SUPARMI", "suparmi"),  # one-word names are common
    ("SUPARMI", "Suparni"),
    ("SITI AMINAH", "Hj. Siti Aminah"),  # a title
    ("SITI AMINAH", "Siti Aminah, S.Pd."),  # a degree
    ("NUR'AINI", "nuraini"),  # an apostrophe
    ("DEWI SARTIKA", "Déwi Sartika"),  # an accent
]
DIFFERENT_PERSON = [
    ("SITI AMINAH", "Siti"),  # a first name alone is not enough
    ("AGUS SALIM", "Agus"),
    ("SITI AMINAH", "Siti Rohmah"),
    ("SRI WAHYUNINGSIH", "Sri Wahyuni"),
    ("SRI RAHAYU", "Sri Rahayuningsih"),
    ("DEWI LESTARI", "Dewi Astuti"),
    ("SUPARMI", "Sumarni"),
    ("BUDI SANTOSO", "Joko Widodo"),
    ("NUR ALI", "Nur Ali Akbar"),  # an extra name is another person
    ("AHMAD", "Ahmad Fauzi"),
    ("SITI AMINAH", "A. S."),  # initials only
    ("SITI AMINAH", "12345"),
    ("SITI AMINAH", ""),
]


@pytest.mark.parametrize(("registered", "typed"), SAME_PERSON)
def test_plausible_spellings_match(registered: str, typed: str) -> None:
    assert names_match(registered, typed)


@pytest.mark.parametrize(("registered", "typed"), DIFFERENT_PERSON)
def test_other_names_do_not_match(registered: str, typed: str) -> None:
    assert not names_match(registered, typed)


def test_masked_names_show_only_the_start_of_each_word() -> None:
    assert mask_name("SITI AMINAH") == "SIT* AMI***"
    assert mask_name("Hj. Nur Ali") == "N** A**"
    assert normalise_name("  hj.  siti  aminah, s.pd ") == "SITI AMINAH"
