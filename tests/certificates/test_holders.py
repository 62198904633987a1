"""Holders read their own certificates (and their companies'); nobody else does.

The holder endpoints answer 404 ``certificate_not_found`` to everyone but the holder, so a
certificate's existence is not revealed.
"""

from datetime import date, timedelta

import pytest

from backend import clock
from backend.models import Role
from tests.certificates.helpers import citizen_with, company_type, person_type
from tests.factories import (
    create_certificate,
    create_company,
    create_company_representative,
    create_officer,
    create_person,
    create_user,
    create_verifier_member,
    error_of,
    valid_id_number,
)


@pytest.fixture
def holder_and_certificate():
    id_number = valid_id_number()
    holder = citizen_with(id_number, name="王小明")
    certificate = create_certificate(cert_type=person_type(), holder=holder.person)
    return holder, certificate, id_number


def test_the_holder_lists_and_reads_their_certificate_with_their_id_number_unmasked(
    api, holder_and_certificate
):
    holder, certificate, id_number = holder_and_certificate
    token = api.login(holder)
    listed = api.get("/certificates", token=token).get_json()
    assert [c["id"] for c in listed["items"]] == [certificate.id]
    assert listed["total"] == 1
    detail = api.get(f"/certificates/{certificate.id}", token=token).get_json()
    assert detail["holder"]["id_number"] == id_number
    assert {f["name"]: f["value"] for f in detail["fields"]}["公民身份号码"] == id_number
    assert [f["name"] for f in detail["fields"]] == certificate.type.field_names()
    assert detail["verified"] is True and detail["verification"] == "ok"
    assert detail["issuer"]["code"] == certificate.type.department.code
    assert detail["seals"][0]["key_id"] == certificate.seals[0].key_id


@pytest.mark.parametrize(
    "who",
    ["another_citizen", "issuing_officer", "verifier", "administrator", "supervisor"],
)
def test_nobody_but_the_holder_reads_a_certificate(api, holder_and_certificate, who):
    _, certificate, _ = holder_and_certificate
    users = {
        "another_citizen": lambda: create_user(),
        "issuing_officer": lambda: create_officer(certificate.type.department),
        "verifier": lambda: create_verifier_member(),
        "administrator": lambda: create_user(Role.SYSTEM_ADMINISTRATOR),
        "supervisor": lambda: create_user(Role.SUPERVISOR),
    }
    token = api.login(users[who]())
    response = api.get(f"/certificates/{certificate.id}", token=token)
    assert response.status_code == 404
    assert error_of(response)["code"] == "certificate_not_found"
    assert api.get("/certificates", token=token).get_json()["items"] == []


def test_an_unknown_certificate_looks_the_same_as_someone_elses(api, holder_and_certificate):
    holder, certificate, _ = holder_and_certificate
    response = api.get(f"/certificates/{certificate.id + 1000}", token=api.login(holder))
    assert response.status_code == 404
    assert error_of(response)["code"] == "certificate_not_found"


def test_anonymous_callers_are_401(api, holder_and_certificate):
    _, certificate, _ = holder_and_certificate
    assert api.get(f"/certificates/{certificate.id}").status_code == 401
    assert api.get("/certificates").status_code == 401


def test_company_representatives_read_the_companys_certificates_with_id_numbers_masked(api):
    company = create_company()
    cert_type = company_type()
    licence = create_certificate(cert_type=cert_type, holder=company)
    representative = create_company_representative(company)
    stranger = create_company_representative(create_company())
    token = api.login(representative)
    assert [c["id"] for c in api.get("/certificates", token=token).get_json()["items"]] == [
        licence.id
    ]
    detail = api.get(f"/certificates/{licence.id}", token=token).get_json()
    assert detail["holder"]["credit_code"] == company.credit_code
    assert api.get(f"/certificates/{licence.id}", token=api.login(stranger)).status_code == 404


def test_id_numbers_in_a_company_certificate_are_masked_for_its_representatives(api):
    from tests.factories import create_certificate_type

    company = create_company()
    someone = valid_id_number()
    cert_type = create_certificate_type(
        holder_kind="company",
        fields=[
            {"name": "名称", "type": "text", "required": True, "max_length": 50},
            {"name": "负责人公民身份号码", "type": "id_number", "required": True},
        ],
    )
    certificate = create_certificate(
        cert_type=cert_type,
        holder=company,
        fields={"名称": company.name, "负责人公民身份号码": someone},
    )
    token = api.login(create_company_representative(company))
    values = {
        f["name"]: f["value"]
        for f in api.get(f"/certificates/{certificate.id}", token=token).get_json()["fields"]
    }
    assert values["负责人公民身份号码"] == someone[:4] + "*" * 10 + someone[-4:]


def test_the_list_filters_by_status_and_type_and_hides_superseded_versions(api):
    person = create_person(id_number=valid_id_number())
    holder = create_user(person=person)
    cert_type = person_type()
    other_type = person_type()
    today = clock.now().astimezone(clock.SHANGHAI).date()
    valid = create_certificate(cert_type=cert_type, holder=person)
    expired = create_certificate(
        cert_type=other_type,
        holder=person,
        issued_on=date(2020, 1, 1),
        expires_on=today - timedelta(days=1),
    )
    old = create_certificate(cert_type=cert_type, holder=person)
    old.status = "superseded"
    from backend.extensions import db

    db.session.commit()
    token = api.login(holder)

    def ids(query=""):
        return [c["id"] for c in api.get("/certificates" + query, token=token).get_json()["items"]]

    assert sorted(ids()) == sorted([valid.id, expired.id])
    assert ids("?status=valid") == [valid.id]
    assert ids("?status=expired") == [expired.id]
    assert ids("?status=superseded") == [old.id]
    assert ids(f"?type={other_type.code}") == [expired.id]
    response = api.get("/certificates?status=lost", token=token)
    assert response.status_code == 400 and error_of(response)["field"] == "status"
    assert len(ids("?per_page=1&page=2")) == 1
