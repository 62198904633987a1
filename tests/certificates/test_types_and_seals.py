"""Types and the issuance list are public; the administrator edits types, rotates and revokes
seal keys and reorganises departments; joint and successor issuance seal as they should."""

import base64

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select

from backend.extensions import db
from backend.models import Certificate, CertificateType, Role
from backend.services import seals
from backend.services.certificate_store import payload_bytes, verify_certificate
from tests.certificates.helpers import issue_body, officer_of, person_type
from tests.factories import create_certificate, create_department, create_user, error_of


def admin_token(api):
    return api.login(create_user(Role.SYSTEM_ADMINISTRATOR))


def test_anyone_reads_the_types_with_field_schemas_and_the_issuance_list(api, seeded):
    response = api.get("/certificate-types")
    assert response.status_code == 200
    items = response.get_json()["items"]
    assert len(items) == 50 and items[0]["rank"] == 1
    id_card = next(t for t in items if t["code"] == "id_card")
    assert id_card["department"]["name"] == "市公安局"
    assert {"name": "公民身份号码", "type": "id_number", "required": True} in id_card["fields"]
    assert set(id_card["issuance"]) == {"electronic_since", "region", "issuing_cycle_days"}
    assert api.get("/certificate-types/id_card").get_json()["code"] == "id_card"
    assert api.get("/certificate-types/nope").status_code == 404


def test_the_administrator_edits_a_type(api, seeded):
    token = admin_token(api)
    response = api.patch(
        "/certificate-types/residence_permit",
        token=token,
        json={
            "name": "浙江省居住证",
            "validity_years": 2,
            "rank": 3,
            "electronic_since": "2021-01-01",
            "region": "西湖区",
            "issuing_cycle_days": 1,
            "fields": [
                {"name": "姓名", "type": "text", "required": True, "max_length": 30},
                {"name": "公民身份号码", "type": "id_number", "required": True},
                {"name": "居住类型", "type": "enum", "options": ["租住", "自有"]},
            ],
        },
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["name"] == "浙江省居住证" and body["validity_years"] == 2
    assert body["issuance"] == {
        "electronic_since": "2021-01-01",
        "region": "西湖区",
        "issuing_cycle_days": 1,
    }
    assert body["fields"][2] == {
        "name": "居住类型",
        "type": "enum",
        "required": False,
        "options": ["租住", "自有"],
    }


def test_a_bad_field_schema_is_refused_and_nothing_changes(api, seeded):
    token = admin_token(api)
    response = api.patch(
        "/certificate-types/id_card",
        token=token,
        json={
            "name": "改名",
            "fields": [{"name": "a", "type": "enum"}, {"name": "a", "type": "text"}],
        },
    )
    assert response.status_code == 422
    assert {d["code"] for d in error_of(response)["details"]} == {
        "invalid_options",
        "duplicate_field",
    }
    db.session.expire_all()
    cert_type = db.session.scalar(select(CertificateType).where(CertificateType.code == "id_card"))
    assert cert_type.name == "居民身份证"


def test_a_rank_beyond_the_column_is_refused_naming_it(api, seeded):
    token = admin_token(api)
    response = api.patch("/certificate-types/id_card", token=token, json={"rank": 2**31})
    assert response.status_code == 400, response.get_json()
    assert error_of(response)["field"] == "rank"


def test_only_the_administrator_edits_types_and_keys(api, seeded):
    token = api.login(create_user(Role.SUPERVISOR))
    assert api.patch("/certificate-types/id_card", token=token, json={"rank": 2}).status_code == 403
    assert api.post("/departments/psb/seal-keys", token=token).status_code == 403
    officer = api.login(create_officer_psb())
    assert api.post("/departments/psb/seal-keys", token=officer).status_code == 403


def create_officer_psb():
    from backend.models import Department
    from tests.factories import create_officer

    return create_officer(db.session.scalar(select(Department).where(Department.code == "psb")))


def test_the_trust_list_is_all_an_offline_verifier_needs(api):
    certificate = create_certificate()
    trust = api.get("/trust-list").get_json()
    keys = {k["key_id"]: k for k in trust["keys"]}
    seal = certificate.seals[0]
    key = keys[seal.key_id]
    assert key["algorithm"] == "ed25519" and key["status"] == "current"
    assert key["department"]["code"] == certificate.type.department.code
    assert key["valid_from"] and key["valid_until"]
    # Offline: the published public key verifies the seal over the canonical bytes.
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(key["public_key"]))
    public.verify(bytes(seal.signature), payload_bytes(certificate))


def test_rotation_through_the_api_keeps_old_certificates_verifying(api):
    certificate = create_certificate()
    department = certificate.type.department
    token = admin_token(api)
    response = api.post(f"/departments/{department.code}/seal-keys", token=token)
    assert response.status_code == 201
    new_key = response.get_json()["key_id"]
    assert new_key != certificate.seals[0].key_id
    statuses = {k["key_id"]: k["status"] for k in api.get("/trust-list").get_json()["keys"]}
    assert statuses == {certificate.seals[0].key_id: "previous", new_key: "current"}
    newer = create_certificate(cert_type=certificate.type)
    assert newer.seals[0].key_id == new_key
    assert verify_certificate(certificate).ok and verify_certificate(newer).ok
    retire = api.post(f"/seal-keys/{certificate.seals[0].key_id}/retire", token=token)
    assert retire.status_code == 200
    assert verify_certificate(certificate).reason == "key_retired"
    assert api.post("/departments/nope/seal-keys", token=token).status_code == 404


def test_revoking_a_compromised_key_fails_what_it_signed_and_a_new_key_takes_over(api):
    certificate = create_certificate()
    token = admin_token(api)
    key_id = certificate.seals[0].key_id
    response = api.post(f"/seal-keys/{key_id}/revoke", token=token, json={"reason": "私钥泄露"})
    assert response.status_code == 200 and response.get_json()["status"] == "revoked"
    assert verify_certificate(certificate).reason == "key_revoked"
    newer = create_certificate(cert_type=certificate.type)
    assert newer.seals[0].key_id != key_id and verify_certificate(newer).ok
    missing = api.post("/seal-keys/nope/revoke", token=token, json={"reason": "x"})
    assert missing.status_code == 404


def test_joint_issuance_needs_every_departments_seal(api):
    cert_type = person_type()
    partner = create_department()
    token = admin_token(api)
    response = api.patch(
        f"/certificate-types/{cert_type.code}",
        token=token,
        json={"joint_departments": [partner.code]},
    )
    assert response.get_json()["joint_departments"] == [
        {"code": partner.code, "name": partner.name}
    ]
    officer = api.login(officer_of(cert_type.department))
    issued = api.post("/certificates", token=officer, json=issue_body(cert_type)).get_json()
    assert {s["department"]["code"] for s in issued["seals"]} == {
        cert_type.department.code,
        partner.code,
    }
    assert issued["verified"] is True
    certificate = db.session.get(Certificate, issued["id"])
    # Dropping the partner's seal breaks it: the signed payload names both departments.
    db.session.delete(next(s for s in certificate.seals if s.department_id == partner.id))
    db.session.flush()
    db.session.refresh(certificate)
    assert verify_certificate(certificate).reason == "missing_seal"
    db.session.rollback()
    # So does the partner's key being revoked.
    partner_key = next(s.key_id for s in certificate.seals if s.department_id == partner.id)
    seals.revoke_seal_key(partner_key, "泄露")
    assert verify_certificate(certificate).reason == "key_revoked"


def test_the_issuer_cannot_be_its_own_joint_department(api):
    cert_type = person_type()
    response = api.patch(
        f"/certificate-types/{cert_type.code}",
        token=admin_token(api),
        json={"joint_departments": [cert_type.department.code]},
    )
    assert response.status_code == 422 and error_of(response)["field"] == "joint_departments"


def test_a_successor_takes_over_old_certificates_still_verify_new_ones_carry_its_seal(api):
    cert_type = person_type()
    old_department = cert_type.department
    old_officer = api.login(officer_of(old_department))
    before = api.post("/certificates", token=old_officer, json=issue_body(cert_type)).get_json()
    successor = create_department()
    response = api.post(
        f"/departments/{old_department.code}/reorganise",
        token=admin_token(api),
        json={"successor": successor.code},
    )
    assert response.status_code == 200, response.get_json()
    assert api.get(f"/certificate-types/{cert_type.code}").get_json()["department"]["code"] == (
        successor.code
    )
    refused = api.post("/certificates", token=old_officer, json=issue_body(cert_type))
    assert refused.status_code == 403
    new_officer = api.login(officer_of(successor))
    after = api.post("/certificates", token=new_officer, json=issue_body(cert_type)).get_json()
    assert after["issuer"]["code"] == successor.code
    assert after["seals"][0]["department"]["code"] == successor.code
    old_certificate = db.session.get(Certificate, before["id"])
    assert old_certificate.seals[0].department_id == old_department.id
    assert verify_certificate(old_certificate).ok
    # The successor now answers for the old department's certificates too.
    revoked = api.post(
        f"/certificates/{before['id']}/revoke", token=new_officer, json={"reason": "撤并后清理"}
    )
    assert revoked.status_code == 200


def test_a_department_cannot_succeed_itself_or_be_reorganised_twice(api):
    department, successor = create_department(), create_department()
    token = admin_token(api)

    def reorganise(old, new):
        return api.post(
            f"/departments/{old.code}/reorganise", token=token, json={"successor": new.code}
        )

    own = reorganise(department, department)
    assert own.status_code == 422 and error_of(own)["code"] == "invalid_successor"
    assert reorganise(department, successor).status_code == 200
    assert reorganise(successor, department).status_code == 422
    twice = reorganise(department, successor)
    assert twice.status_code == 409 and error_of(twice)["code"] == "already_reorganised"
