"""Flask's JSON provider with orjson doing the work: the same JSON for less CPU.

Every API response and error envelope (``jsonify``) and every request body the API reads go
through here. orjson writes what Flask's ``DefaultJSONProvider`` writes, keys sorted and
UTF-8 unescaped; dates, dataclasses and whatever orjson refuses are left to that provider,
so responses keep their bytes. Differences, none of them in what this app returns: a float
may be written in another notation of the same value (0.00001 for 1e-05), NaN and Infinity
become null (the stdlib wrote NaN, which is not JSON), and an Enum is written as its value
(the stdlib raised TypeError).
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from flask.json.provider import DefaultJSONProvider

# Flask writes dates as HTTP dates and dataclasses with ``asdict``: they go to its ``default``.
_PASSTHROUGH = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
_COMPACT = {"separators": (",", ":")}  # what ``response`` asks for outside debug mode
# An integer past 64 bits is written with 19 digits or more; orjson silently reads one past
# 2**64 as a float. To find a run of 19 digits, digits become "0" and the rest " ", then a
# substring search: a C loop, where re.search for [0-9]{19} costs about 10 us per kB.
_DIGITS_AS_ZEROS = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_LONG_RUN = b"0" * 19
_INT64 = range(-(2**63), 2**63)


def _int64(literal: str) -> int:
    value = int(literal)
    if value not in _INT64:
        raise ValueError(f"integer past 64 bits: {literal}")
    return value


def _refuse_long_integers(s: str | bytes) -> None:
    """Raise ``ValueError`` for an integer a database column cannot hold (json.loads took
    them, then SQLite raised OverflowError: a 500)."""
    raw = s.encode() if isinstance(s, str) else s
    if _LONG_RUN not in raw.translate(_DIGITS_AS_ZEROS):
        return
    try:
        json.loads(s, parse_int=_int64)  # rare: only bodies with a 19-digit run get here
    except RecursionError as exc:
        raise ValueError("JSON nested too deeply") from exc


class OrjsonProvider(DefaultJSONProvider):
    """``DefaultJSONProvider`` with orjson for compact output and for reading."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        """Compact JSON by orjson. Other layouts (debug indent, ``tojson``), ASCII escapes and
        what orjson refuses (non-string keys, integers past 64 bits) by the stdlib, as before."""
        if kwargs != _COMPACT or self.ensure_ascii:
            return super().dumps(obj, **kwargs)
        option = _PASSTHROUGH | (orjson.OPT_SORT_KEYS if self.sort_keys else 0)
        try:
            return orjson.dumps(obj, default=self.default, option=option).decode()
        except orjson.JSONEncodeError:
            return super().dumps(obj, **kwargs)

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """JSON read by orjson. ``ValueError``, where ``json.loads`` accepted them, for NaN and
        Infinity, numbers past a double, integers past 64 bits, unpaired surrogates and
        nesting past 1024 levels. UTF-16, UTF-32 and a UTF-8 BOM are still read."""
        if kwargs:
            return super().loads(s, **kwargs)
        try:
            data = orjson.loads(s)
        except orjson.JSONDecodeError:
            encoding = "utf-8" if isinstance(s, str) else json.detect_encoding(s)
            if encoding == "utf-8":
                raise
            s = s.decode(encoding)
            data = orjson.loads(s)
        _refuse_long_integers(s)
        return data
