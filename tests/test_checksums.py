"""Check-digit vectors for GB 11643 (ID numbers) and GB 32100 (credit codes)."""

import pytest

from backend.security.checksums import (
    credit_check_char,
    id_check_digit,
    is_valid_credit_code,
    is_valid_id_number,
)

# Published examples: the GB 11643 standard's sample and well-known public test numbers.
VALID_IDS = ["11010519491231002X", "110101199003070134", "110101199003074477"]
VALID_CREDIT_CODES = [
    "91350100M000100Y43",
    "911100001000080343",
    "91110000600037341L",
    "91440300708461136T",
]


@pytest.mark.parametrize("value", VALID_IDS)
def test_valid_id_numbers_pass(value):
    assert is_valid_id_number(value)


@pytest.mark.parametrize(
    "value",
    [
        "110105194912310021",  # wrong check digit
        "11010519491231002",  # too short
        "11010519491331002X",  # month 13
        "11010519490230002X",  # 30 February
        "1101051949123100X2",  # X in the wrong place
        "",
    ],
)
def test_invalid_id_numbers_fail(value):
    assert not is_valid_id_number(value)


def test_id_check_digit_of_the_standards_example():
    assert id_check_digit("11010519491231002") == "X"


@pytest.mark.parametrize("value", VALID_CREDIT_CODES)
def test_valid_credit_codes_pass(value):
    assert is_valid_credit_code(value)


@pytest.mark.parametrize(
    "value",
    ["91350100M000100Y44", "91350100M000100Y4", "91350100M000100YI3", "9135010OM000100Y43"],
)
def test_invalid_credit_codes_fail(value):
    assert not is_valid_credit_code(value)


def test_credit_check_char_example():
    assert credit_check_char("91350100M000100Y4") == "3"
