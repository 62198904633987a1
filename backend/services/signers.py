"""Signature algorithms behind one small interface, listed in a registry.

Ed25519 (through ``cryptography``) is the default. An SM2 signer can be added by
registering another ``Signer`` under its algorithm name; nothing else changes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from functools import lru_cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


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
def _ed25519_private(raw: bytes) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(raw)


@lru_cache(maxsize=1024)
def _ed25519_public(raw: bytes) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(raw)


class Ed25519Signer(Signer):
    algorithm = "ed25519"

    def generate(self) -> tuple[bytes, bytes]:
        key = Ed25519PrivateKey.generate()
        private = key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        public = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return private, public

    def sign(self, private_key: bytes, message: bytes) -> bytes:
        return _ed25519_private(private_key).sign(message)

    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        try:
            _ed25519_public(public_key).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


SIGNERS: dict[str, Signer] = {Ed25519Signer.algorithm: Ed25519Signer()}
DEFAULT_ALGORITHM = Ed25519Signer.algorithm


def get_signer(algorithm: str) -> Signer:
    return SIGNERS[algorithm]
