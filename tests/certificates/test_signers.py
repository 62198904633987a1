"""The Ed25519 signer (PyNaCl) is interchangeable with any other Ed25519 implementation.

Seals and offline codes are checked by verifiers with only the trust list and whatever
Ed25519 library they have; here that other library is ``cryptography`` (OpenSSL).
"""

from __future__ import annotations

import os

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from backend.services.signers import get_signer

SIGNER = get_signer("ed25519")
MESSAGE = "营业执照 91330100MA2H4X1234".encode() + os.urandom(64)


def test_our_signatures_verify_with_another_library():
    private, public = SIGNER.generate()
    assert len(private) == 32 and len(public) == 32
    signature = SIGNER.sign(private, MESSAGE)
    Ed25519PublicKey.from_public_bytes(public).verify(signature, MESSAGE)
    with pytest.raises(InvalidSignature):
        Ed25519PublicKey.from_public_bytes(public).verify(signature, MESSAGE + b"x")


def test_another_librarys_keys_and_signatures_work_here():
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    assert SIGNER.verify(public, MESSAGE, key.sign(MESSAGE))
    assert SIGNER.sign(private, MESSAGE) == key.sign(MESSAGE)  # Ed25519 is deterministic


@pytest.mark.parametrize(
    "change",
    [
        lambda pub, msg, sig: (pub, msg + b"!", sig),  # another message
        lambda pub, msg, sig: (pub, msg, sig[:-1] + bytes([sig[-1] ^ 1])),  # a flipped bit
        lambda pub, msg, sig: (pub, msg, sig[:63]),  # a signature too short
        lambda pub, msg, sig: (pub, msg, b""),
        lambda pub, msg, sig: (pub[:31], msg, sig),  # a key too short
        lambda pub, msg, sig: (SIGNER.generate()[1], msg, sig),  # another key
    ],
)
def test_anything_but_the_signed_message_under_its_key_fails_without_raising(change):
    private, public = SIGNER.generate()
    signature = SIGNER.sign(private, MESSAGE)
    assert SIGNER.verify(public, MESSAGE, signature)
    assert SIGNER.verify(*change(public, MESSAGE, signature)) is False
