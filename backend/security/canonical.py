"""The canonical form of signed data, importable without the app (sealing helper processes)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

# Made once: ``json.dumps`` with options builds a new encoder on every call.
_ENCODER = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def canonical_json(value: Any) -> bytes:
    """Sorted keys, UTF-8, no insignificant whitespace: the bytes that get signed."""
    return _ENCODER.encode(value).encode()


def digest(message: bytes) -> str:
    return hashlib.sha256(message).hexdigest()
