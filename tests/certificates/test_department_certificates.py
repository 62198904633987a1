"""Officers list the certificates their department issued, ID numbers masked."""

from backend.models import Role
from tests.certificates.helpers import issue_body, officer_of, person_type
from tests.factories import create_user, valid_id_number


def test_an_officer_lists_the_departments_certificates_masked_and_filtered(api):
    cert_type = person_type()
    other_type = person_type()
    officer = api.login(officer_of(cert_type.department))
    other_officer = api.login(officer_of(other_type.department))
    id_number = valid_id_number()
    first = api.post("/certificates", token=officer, json=issue_body(cert_type, id_number))
    second = api.post("/certificates", token=officer, json=issue_body(cert_type))
    foreign = api.post("/certificates", token=other_officer, json=issue_body(other_type))
    assert {r.status_code for r in (first, second, foreign)} == {201}
    revoked = api.post(
        f"/certificates/{first.get_json()['id']}/revoke", token=officer, json={"reason": "错误"}
    )
    assert revoked.status_code == 200

    listed = api.get("/department-certificates", token=officer).get_json()
    assert listed["total"] == 2
    assert [c["id"] for c in listed["items"]] == [second.get_json()["id"], first.get_json()["id"]]
    holder = next(c for c in listed["items"] if c["id"] == first.get_json()["id"])["holder"]
    assert holder["id_number"] != id_number and "*" in holder["id_number"]

    only_revoked = api.get("/department-certificates?status=revoked", token=officer).get_json()
    assert [c["id"] for c in only_revoked["items"]] == [first.get_json()["id"]]
    other_kind = api.get(
        f"/department-certificates?type={other_type.code}", token=officer
    ).get_json()
    assert other_kind["total"] == 0
    paged = api.get("/department-certificates?per_page=1&page=2", token=officer).get_json()
    assert paged["total"] == 2 and len(paged["items"]) == 1 and paged["page"] == 2


def test_only_officers_list_department_certificates(api):
    citizen = api.login(create_user(Role.CITIZEN))
    assert api.get("/department-certificates", token=citizen).status_code == 403
    assert api.get("/department-certificates").status_code == 401
