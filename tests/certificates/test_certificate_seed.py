"""``flask seed-demo`` issues the demo holders' certificates and a realistic population."""

import pytest
from sqlalchemy import func, select

from backend.extensions import db
from backend.models import Certificate, CertificateType, Department, SealKey
from backend.services.certificate_schema import check_certificate_data
from backend.services.certificate_store import read_payload, verify_certificate
from backend.services.issuance_rate import effective_issuance_rate
from backend.services.seed import DEMO_CITIZEN


@pytest.fixture
def demo(runner):
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    db.session.remove()


def login(api, username):
    response = api.post("/auth/password", json={"username": username, "password": "demo-password"})
    return response.get_json()["token"]


def test_the_demo_citizen_holds_four_certificates_and_sees_their_id_number(api, demo):
    token = login(api, "citizen-demo")
    items = api.get("/certificates", token=token).get_json()["items"]
    assert sorted(c["type"]["code"] for c in items) == [
        "driving_licence",
        "household_register",
        "id_card",
        "marriage_certificate",
    ]
    id_card = next(c for c in items if c["type"]["code"] == "id_card")
    detail = api.get(f"/certificates/{id_card['id']}", token=token).get_json()
    assert detail["verified"] is True
    assert detail["holder"]["id_number"] == DEMO_CITIZEN["id_number"]


def test_the_demo_company_holds_its_business_licence(api, demo):
    items = api.get("/certificates", token=login(api, "company-demo")).get_json()["items"]
    assert [c["type"]["code"] for c in items] == ["business_licence"]


def test_every_department_has_a_seal_and_every_type_an_issuance_list(demo):
    departments = db.session.scalar(select(func.count(Department.id)))
    with_keys = db.session.scalar(
        select(func.count(func.distinct(SealKey.department_id))).where(SealKey.status == "current")
    )
    assert with_keys == departments
    assert (
        db.session.scalar(
            select(func.count(CertificateType.id)).where(CertificateType.electronic_since.is_(None))
        )
        == 0
    )


def test_the_population_covers_every_type_verifies_and_passes_its_own_schema(demo):
    covered = db.session.scalar(select(func.count(func.distinct(Certificate.type_id))))
    assert covered == 50
    for certificate in db.session.scalars(select(Certificate)):
        assert verify_certificate(certificate).ok, certificate.serial
        _, problems = check_certificate_data(certificate.type, read_payload(certificate)["fields"])
        assert problems == [], (certificate.type.code, problems)


def test_the_population_gives_a_realistic_issuance_rate(demo):
    figures = effective_issuance_rate()
    assert 0.6 < figures["city"]["rate"] < 0.95
    assert figures["city"]["with_paper"] > figures["city"]["electronic_only"] > 0
    rates = [d["rate"] for d in figures["departments"]]
    assert min(rates) < 0.8 < max(rates)  # some departments meet the target, some do not


def test_seeding_again_adds_no_certificates(runner, demo):
    before = db.session.scalar(select(func.count(Certificate.id)))
    db.session.remove()
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    assert db.session.scalar(select(func.count(Certificate.id))) == before
