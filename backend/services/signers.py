"""Signature algorithms behind one small interface, listed in a registry.

Ed25519 is the default, through PyNaCl (libsodium): it verifies in about two thirds of
the time ``cryptography`` (OpenSSL) takes, and every scan verifies a seal. Keys are the
same raw 32-byte seed and public key either way. An SM2 signer can be added by
registering another ``Signer`` under its algorithm name; nothing else changes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from functools import lru_cache

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey


class Signer(ABC):
    algorithm: str

    @abstractmethod
    def generate(self) -> tuple[bytes, bytes]:
        """A new key pair as (private bytes, public bytes)."""

    @abstractmethod
    def sign(self, private_key: bytes, message: bytes) -> bytes: ...

    @abstractmethod
    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool: ...


@lru_cache(maxsize=256)
def _ed25519_private(raw: bytes) -> SigningKey:
    return SigningKey(raw)


@lru_cache(maxsize=1024)
def _ed25519_public(raw: bytes) -> VerifyKey:
    return VerifyKey(raw)


class Ed25519Signer(Signer):
    algorithm = "ed25519"

    def generate(self) -> tuple[bytes, bytes]:
        key = SigningKey.generate()
        return bytes(key), bytes(key.verify_key)

    def sign(self, private_key: bytes, message: bytes) -> bytes:
        return _ed25519_private(private_key).sign(message).signature

    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        try:
            _ed25519_public(public_key).verify(message, signature)
        except (BadSignatureError, ValueError, TypeError):
            return False  # a wrong signature, or a key or signature of the wrong size
        return True


SIGNERS: dict[str, Signer] = {Ed25519Signer.algorithm: Ed25519Signer()}
DEFAULT_ALGORITHM = Ed25519Signer.algorithm


def get_signer(algorithm: str) -> Signer:
    return SIGNERS[algorithm]
