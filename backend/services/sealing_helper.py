"""Sealing on the second core for large imports.

Sealing a payload (canonical JSON, AES-GCM, one signature per department) is the CPU-bound
step of an import, and threads cannot share it out (the GIL). A spawned helper process seals
every other chunk while the importing process seals the rest and streams rows to the
database. The helper gets the data key and the decrypted signing keys through its start-up
pipe only, holds them in memory, and exits when the import ends.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any

from backend.security.canonical import canonical_json, digest
from backend.security.crypto import DataCipher, decode_key
from backend.services.signers import get_signer

# (algorithm, private key bytes) per sealing department, in sealing order.
SigningKeys = list[tuple[str, bytes]]
Sealed = tuple[bytes, str, list[bytes]]  # payload cipher, SHA-256 hex, signatures

_helper_state: dict[str, Any] = {}


def seal_payloads(payloads: list[dict], cipher: DataCipher, keys: SigningKeys) -> list[Sealed]:
    """Encrypt, digest and sign each payload's canonical bytes."""
    signers = [(get_signer(algorithm), private) for algorithm, private in keys]
    sealed = []
    for payload in payloads:
        message = canonical_json(payload)
        signatures = [signer.sign(private, message) for signer, private in signers]
        sealed.append((cipher.encrypt(message), digest(message), signatures))
    return sealed


def _start_helper(data_key: str, keys: SigningKeys) -> None:
    _helper_state["cipher"] = DataCipher(decode_key(data_key))
    _helper_state["keys"] = keys


def _seal_in_helper(payloads: list[dict]) -> list[Sealed]:
    return seal_payloads(payloads, _helper_state["cipher"], _helper_state["keys"])


class SealingHelper:
    """The helper process, and which keys it seals with: (department id, key id,
    algorithm, private key) in sealing order, so callers record the same key ids."""

    def __init__(self, pool: ProcessPoolExecutor, signing: list[tuple[int, str, str, bytes]]):
        self._pool = pool
        self.signing = signing

    def submit(self, payloads: list[dict]):
        """A future of ``seal_payloads(payloads)`` computed in the helper process."""
        return self._pool.submit(_seal_in_helper, payloads)


@contextmanager
def sealing_helper(
    data_key: str, signing: list[tuple[int, str, str, bytes]]
) -> Iterator[SealingHelper]:
    keys = [(algorithm, private) for _, _, algorithm, private in signing]
    context = multiprocessing.get_context("spawn")  # never fork a process holding DB sockets
    with ProcessPoolExecutor(
        max_workers=1, mp_context=context, initializer=_start_helper, initargs=(data_key, keys)
    ) as pool:
        yield SealingHelper(pool, signing)
