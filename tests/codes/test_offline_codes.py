"""Offline codes: signed by the issuing department, checked with only the trust list."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import pytest
import qrcode

from backend import clock
from backend.services import seals
from backend.services.accounts import person_id_number
from backend.services.offline_verifier import (
    OfflineCodeRejected,
    TrustList,
    b64url,
    canonical,
    unb64url,
    verify_offline_code,
)
from tests.codes.conftest import decode_qr
from tests.factories import create_certificate, create_department, error_of


def issue(api, world, fields=("姓名",), **body) -> dict:
    response = api.post(
        "/offline-codes",
        token=world.citizen_token,
        json={"certificate_id": world.id_card.id, "fields": list(fields), **body},
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def published_trust_list(api) -> list[dict]:
    """The trust list as a counter saves it: GET /trust-list when served, else the same data."""
    response = api.get("/trust-list")
    if response.status_code == 200:
        data = response.get_json()
        return data["keys"] if isinstance(data, dict) else data
    return json.loads(json.dumps(seals.trust_list()))


def reject_reason(text: str, trust_list, now: float | None = None) -> str:
    with pytest.raises(OfflineCodeRejected) as caught:
        verify_offline_code(text, trust_list, now=now)
    return caught.value.code


def resign_payload(text: str, change) -> str:
    """Change the payload but keep the original signature (what a forger can do)."""
    prefix, payload, signature = text.split(".")
    data = json.loads(unb64url(payload))
    change(data)
    return f"{prefix}.{b64url(canonical(data))}.{signature}"


def test_an_offline_code_round_trips_through_the_api_and_the_trust_list_alone(api, world):
    issued = issue(api, world, fields=["姓名", "公民身份号码"])
    assert issued["code"].startswith("CFC1.") and issued["ttl_s"] == 300
    assert issued["key_id"] == world.id_card.seals[0].key_id

    online = api.post("/offline-codes/verify", json={"code": issued["code"]})
    assert online.status_code == 200, online.get_json()
    body = online.get_json()
    assert body["valid"] is True and body["type"] == "id_card" and body["issuer"] == "psb"
    assert body["certificate_digest"] == world.id_card.payload_digest
    assert body["fields"] == {
        "姓名": world.citizen.person.name,
        "公民身份号码": person_id_number(world.citizen.person),
    }

    offline = verify_offline_code(issued["code"], TrustList(published_trust_list(api)))
    assert offline.fields["姓名"] == world.citizen.person.name
    assert offline.expires_at - offline.issued_at == 300


def test_an_offline_code_fits_one_qr_code_and_reads_back(api, world):
    text = issue(api, world, fields=world.id_card.type.field_names())["code"]
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_Q)
    qr.add_data(text)
    qr.make(fit=True)
    out = io.BytesIO()
    qr.make_image().save(out, format="PNG")
    assert decode_qr(out.getvalue()) == text


def test_a_changed_byte_is_detected_as_tampering(api, world):
    text = issue(api, world)["code"]
    trust_list = published_trust_list(api)
    forged = resign_payload(text, lambda d: d["f"].update({"姓名": "李四"}))
    assert reject_reason(forged, trust_list) == "offline_code_tampered"
    prefix, payload, signature = text.split(".")
    raw = bytearray(unb64url(signature))
    raw[10] ^= 1
    assert reject_reason(f"{prefix}.{payload}.{b64url(bytes(raw))}", trust_list) == (
        "offline_code_tampered"
    )
    online = api.post("/offline-codes/verify", json={"code": forged})
    assert online.status_code == 422 and error_of(online)["code"] == "offline_code_tampered"


def test_a_code_claiming_another_departments_key_fails(api, world):
    text = issue(api, world)["code"]
    other = create_department()
    other_key = seals.ensure_seal_key(other)
    trust_list = published_trust_list(api)
    forged = resign_payload(text, lambda d: d.update({"k": other_key.key_id, "s": other.code}))
    assert reject_reason(forged, trust_list) == "offline_code_tampered"


def test_a_key_missing_from_the_trust_list_is_unknown(api, world):
    text = issue(api, world)["code"]
    key_id = world.id_card.seals[0].key_id
    without = [k for k in published_trust_list(api) if k["key_id"] != key_id]
    assert reject_reason(text, without) == "offline_code_unknown_key"


def test_a_code_signed_with_a_revoked_key_fails(api, world):
    text = issue(api, world)["code"]
    seals.revoke_seal_key(world.id_card.seals[0].key_id, "私钥泄露")
    assert reject_reason(text, published_trust_list(api)) == "offline_code_key_revoked"
    online = api.post("/offline-codes/verify", json={"code": text})
    assert error_of(online)["code"] == "offline_code_key_revoked"


def test_a_code_signed_with_a_retired_key_fails(api, world):
    text = issue(api, world)["code"]
    key_id = world.id_card.seals[0].key_id
    seals.rotate_seal_key(world.id_card.type.department)
    seals.retire_seal_key(key_id)
    assert reject_reason(text, published_trust_list(api)) == "offline_code_key_retired"


def test_an_expired_code_fails(api, world):
    with clock.frozen(datetime.now(UTC)):
        text = issue(api, world, ttl_s=60)["code"]
        clock.advance(timedelta(seconds=61))
        online = api.post("/offline-codes/verify", json={"code": text})
        assert online.status_code == 410 and error_of(online)["code"] == "offline_code_expired"
    later = datetime.now(UTC).timestamp() + 61
    assert reject_reason(text, published_trust_list(api), now=later) == "offline_code_expired"


def test_malformed_codes_are_invalid(api, world):
    trust_list = published_trust_list(api)
    for text in ("", "CFC1.abc", "XYZ1.a.b", "CFC1.!!!.abc", "CFC1." + b64url(b"[]") + ".AA"):
        assert reject_reason(text, trust_list) == "offline_code_invalid"
    response = api.post("/offline-codes/verify", json={"code": "CFC1.abc"})
    assert response.status_code == 400 and error_of(response)["code"] == "offline_code_invalid"


def test_only_own_valid_certificates_and_their_own_fields_go_into_an_offline_code(api, world):
    stranger = create_certificate("id_card")
    response = api.post(
        "/offline-codes",
        token=world.citizen_token,
        json={"certificate_id": stranger.id, "fields": ["姓名"]},
    )
    assert response.status_code == 404
    response = api.post(
        "/offline-codes",
        token=world.citizen_token,
        json={"certificate_id": world.id_card.id, "fields": ["血型"]},
    )
    assert response.status_code == 422 and error_of(response)["code"] == "unknown_field"
    response = api.post(
        "/offline-codes",
        token=world.citizen_token,
        json={"certificate_id": world.id_card.id, "fields": ["姓名"], "ttl_s": 600},
    )
    assert response.status_code == 400 and error_of(response)["field"] == "ttl_s"


def test_the_cli_checks_a_code_against_a_saved_trust_list(api, world, runner, tmp_path):
    text = issue(api, world)["code"]
    saved = tmp_path / "trust-list.json"
    saved.write_text(json.dumps({"keys": published_trust_list(api)}, ensure_ascii=False))
    result = runner.invoke(args=["verify-offline-code", text, "--trust-list", str(saved)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["fields"] == {"姓名": world.citizen.person.name}
    forged = resign_payload(text, lambda d: d["f"].update({"姓名": "李四"}))
    result = runner.invoke(args=["verify-offline-code", "--trust-list", str(saved)], input=forged)
    assert result.exit_code == 1
    assert json.loads(result.output)["code"] == "offline_code_tampered"
