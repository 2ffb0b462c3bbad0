"""Personal identifiers (NIK, No. KK): keyed hash for look-up, encryption for officers.

Both keys are derived from SECRET_KEY with HKDF, so the database alone reveals nothing.
Changing SECRET_KEY makes stored NIKs unreadable: re-import the registry after a change.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def _derive(secret: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret)


class PiiVault:
    def __init__(self, secret_key: str) -> None:
        secret = secret_key.encode()
        self._hash_key = _derive(secret, b"bansos-bot/pii-hash/v1")
        self._fernet = Fernet(base64.urlsafe_b64encode(_derive(secret, b"bansos-bot/pii-enc/v1")))

    def lookup_hash(self, value: str) -> str:
        return hmac.new(self._hash_key, value.encode(), hashlib.sha256).hexdigest()

    def encrypt(self, value: str) -> str:
        return self._fernet.encrypt(value.encode()).decode()

    def decrypt(self, token: str) -> str:
        return self._fernet.decrypt(token.encode()).decode()


def mask_nik(nik: str) -> str:
    """'3307015708450001' → '3307********0001': the only form a NIK is ever shown in."""
    if len(nik) < 8:
        return "*" * len(nik)
    return nik[:4] + "*" * (len(nik) - 8) + nik[-4:]
