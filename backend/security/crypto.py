"""Personal data at rest: AES-GCM encryption and a keyed-hash (HMAC) look-up index.

One data-encryption key (32 bytes, base64) comes from the environment or ``instance/``;
separate sub-keys for encryption and hashing are derived from it with HKDF, so a leaked
index never helps decrypt.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

NONCE_BYTES = 12


def _derive(master: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master)


def decode_key(value: str) -> bytes:
    key = base64.b64decode(value)
    if len(key) != 32:
        raise ValueError("DATA_ENCRYPTION_KEY must be 32 bytes, base64-encoded")
    return key


def new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


class DataCipher:
    """Encrypts short strings (ID numbers, phone numbers, private keys) for storage."""

    def __init__(self, master_key: bytes) -> None:
        self._aead = AESGCM(_derive(master_key, b"certfree/aes-gcm/v1"))
        self._hash_key = _derive(master_key, b"certfree/hmac-index/v1")

    def encrypt(self, plaintext: bytes, associated: bytes = b"") -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, associated)

    def decrypt(self, blob: bytes, associated: bytes = b"") -> bytes:
        return self._aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], associated)

    def encrypt_text(self, text: str) -> bytes:
        return self.encrypt(text.encode("utf-8"))

    def decrypt_text(self, blob: bytes) -> str:
        return self.decrypt(bytes(blob)).decode("utf-8")

    def index(self, value: str) -> str:
        """Keyed hash used to find a record by an encrypted value (HMAC-SHA256, hex)."""
        return hmac.new(self._hash_key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def get_cipher() -> DataCipher:
    return current_app.extensions["data_cipher"]


def mask_id_number(value: str) -> str:
    """``330106199001011234`` → ``3301**********1234``."""
    if len(value) <= 8:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def mask_phone(value: str) -> str:
    if len(value) < 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_name(value: str) -> str:
    """``张三丰`` → ``张**``: used where a holder's full name is not needed."""
    return value[:1] + "*" * (len(value) - 1) if value else value
