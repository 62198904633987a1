"""The canonical form of signed data, importable without the app (sealing helper processes)."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(value: Any) -> bytes:
    """Sorted keys, UTF-8, no insignificant whitespace: the bytes that get signed."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def digest(message: bytes) -> str:
    return hashlib.sha256(message).hexdigest()
