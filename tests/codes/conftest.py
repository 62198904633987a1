"""A holder with certificates, a hotel that may see the ID card's name and number, tokens."""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest
from PIL import Image
from pyzbar.pyzbar import decode

from backend.models import Role
from tests.factories import (
    create_certificate,
    create_user,
    create_verifier_member,
    create_verifier_organisation,
)

HOTEL_SCOPE = {"id_card": ["姓名", "公民身份号码"], "business_licence": None}


@pytest.fixture
def world(seeded, api):
    citizen = create_user(display_name="张三")
    id_card = create_certificate("id_card", holder=citizen.person)
    marriage = create_certificate("marriage_certificate", holder=citizen.person)
    hotel = create_verifier_organisation(name="西湖宾馆", scope=HOTEL_SCOPE)
    member = create_verifier_member(hotel, display_name="前台小王")
    return SimpleNamespace(
        citizen=citizen,
        id_card=id_card,
        marriage=marriage,
        hotel=hotel,
        member=member,
        citizen_token=api.login(citizen),
        member_token=api.login(member),
    )


@pytest.fixture
def supervisor_token(api):
    return api.login(create_user(Role.SUPERVISOR))


def show(api, token, certificate_ids, **body):
    return api.post("/codes", token=token, json={"certificate_ids": certificate_ids, **body})


def show_ok(api, token, certificate_ids, **body) -> dict:
    response = show(api, token, certificate_ids, **body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def scan(api, token, qr_content, purpose="入住登记"):
    return api.post("/scans", token=token, json={"qr_content": qr_content, "purpose": purpose})


def decode_qr(png: bytes) -> str:
    """Read a QR image with a real decoder (zbar)."""
    with Image.open(io.BytesIO(png)) as image:
        results = decode(image)
    assert len(results) == 1
    return results[0].data.decode("utf-8")
