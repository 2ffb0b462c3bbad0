"""Ticket codes: 8 Crockford base32 characters (~40 random bits), read out as "K7QM-2XHD".

Random, not sequential, so knowing one code tells nothing about another; Crockford's
alphabet has no I, L, O or U, and reading tolerates the usual confusions (O→0, I/L→1).
"""

from __future__ import annotations

import re
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 8
_CONFUSABLE = str.maketrans({"O": "0", "I": "1", "L": "1"})
_SEPARATORS = re.compile(r"[\s\-.]")


def new_code() -> str:
    """A random code with at least one digit, so it never reads as a word in a message."""
    while True:
        code = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
        if any(ch.isdigit() for ch in code):
            return code


def display_code(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


def read_code(text: str) -> str | None:
    """The code a resident typed ('k7qm 2xhd', 'K7QM-2XHD'), or None if it cannot be one."""
    candidate = _SEPARATORS.sub("", text.upper()).translate(_CONFUSABLE)
    if len(candidate) != LENGTH or any(ch not in ALPHABET for ch in candidate):
        return None
    return candidate


def find_code(text: str) -> str | None:
    """A code inside a longer message ('cek laporan K7QM-2XHD')."""
    for token in re.findall(r"\b[A-Za-z0-9]{4}[\s\-.]?[A-Za-z0-9]{4}\b", text):
        code = read_code(token)
        if code is not None and any(ch.isdigit() for ch in token):
            return code
    return None
