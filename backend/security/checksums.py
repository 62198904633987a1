"""Check characters of the identifiers the platform relies on.

GB 11643-1999: 18-digit citizen ID number, ISO 7064 MOD 11-2 check digit.
GB 32100-2015: 18-character unified social credit code, MOD 31 check character.
"""

from __future__ import annotations

import re
from datetime import date

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
_ID_RE = re.compile(r"^\d{17}[\dX]$")

CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_CREDIT_RE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$")


def id_check_digit(first17: str) -> str:
    total = sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True))
    return ID_CHECK[total % 11]


def is_valid_id_number(value: str) -> bool:
    """18 characters, a real birth date, and the right check digit."""
    if not isinstance(value, str) or not _ID_RE.match(value):
        return False
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    if born.year < 1900:
        return False
    return id_check_digit(value[:17]) == value[17]


def normalise_id_number(value: str) -> str:
    return value.strip().upper()


def credit_check_char(first17: str) -> str:
    total = sum(CREDIT_ALPHABET.index(c) * w for c, w in zip(first17, CREDIT_WEIGHTS, strict=True))
    return CREDIT_ALPHABET[(31 - total % 31) % 31]


def is_valid_credit_code(value: str) -> bool:
    if not isinstance(value, str) or not _CREDIT_RE.match(value):
        return False
    return credit_check_char(value[:17]) == value[17]


def make_id_number(region: str, born: date, sequence: int) -> str:
    """Build a valid ID number (seed and test data)."""
    first17 = f"{region}{born:%Y%m%d}{sequence % 1000:03d}"
    return first17 + id_check_digit(first17)


def make_credit_code(region: str, serial: int) -> str:
    """Build a valid credit code for a company (seed and test data)."""
    first17 = f"91{region}{serial % 10**9:09d}"
    return first17 + credit_check_char(first17)
