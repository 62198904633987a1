"""The routing directory (proof type -> responding department, deadline) and working days."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from backend.extensions import db
from backend.models.verification import VerificationRequest, VerificationRoute
from backend.services.verification_routes import add_working_days, parse_holidays
from backend.services.verification_seed import seed_verification_routes
from tests.factories import error_of


def test_working_days_skip_weekends_and_listed_holidays():
    holidays = parse_holidays("2026-10-01,2026-10-02, 2026-10-05")
    assert add_working_days(date(2026, 3, 2), 3, frozenset()) == date(2026, 3, 5)  # Mon -> Thu
    assert add_working_days(date(2026, 3, 6), 3, frozenset()) == date(2026, 3, 11)  # Fri -> Wed
    assert add_working_days(date(2026, 3, 7), 1, frozenset()) == date(2026, 3, 9)  # Sat -> Mon
    assert add_working_days(date(2026, 9, 30), 3, holidays) == date(2026, 10, 8)


def test_holidays_are_given_as_a_list_or_a_comma_separated_string():
    assert parse_holidays(None) == frozenset()
    assert parse_holidays(["2026-05-01", date(2026, 5, 4)]) == {date(2026, 5, 1), date(2026, 5, 4)}
    with pytest.raises(ValueError, match="VERIFICATION_HOLIDAYS"):
        parse_holidays("2026-13-01")


def test_the_seeded_directory_routes_named_matters_and_certificate_types(seeded):
    seed_verification_routes()
    db.session.commit()
    routes = {r.name: r for r in db.session.scalars(select(VerificationRoute))}
    assert routes["从业人员健康合格证明"].department.code == "health"
    assert routes["从业人员健康合格证明"].certificate_type is None
    assert routes["社会保险参保缴费证明"].department.code == "hrss"
    assert routes["社会保险参保缴费证明"].certificate_type.code == "social_insurance_proof"
    assert routes["无犯罪记录证明"].department.code == "psb"
    assert all(r.deadline_working_days >= 3 for r in routes.values())
    assert {r.subject_kind for r in routes.values()} == {"person", "company"}
    count = len(routes)
    seed_verification_routes()  # idempotent
    assert db.session.scalar(select(func.count(VerificationRoute.id))) == count


def test_seed_demo_creates_requests_the_demo_citizen_follows(runner, api):
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    assert db.session.scalar(select(func.count(VerificationRequest.id))) == 3
    login = api.post(
        "/auth/password", json={"username": "citizen-demo", "password": "demo-password"}
    )
    token = login.get_json()["token"]
    items = api.get("/verification-requests", token=token).get_json()["items"]
    assert sorted(i["state"] for i in items) == ["answered", "submitted"]
    answered = next(i for i in items if i["state"] == "answered")
    assert answered["answer"]["seal"]["verified"] is True
    assert all(not e["internal"] for i in items for e in i["timeline"])


@pytest.mark.parametrize("who", ["requester", "supervisor", "admin"])
def test_officers_supervisor_and_admin_read_the_directory(api, world, who):
    response = api.get("/verification-routes", token=api.login(getattr(world, who)))
    assert response.status_code == 200
    assert {r["code"] for r in response.get_json()} == {
        "practitioner_health_proof",
        "public_hygiene_check",
    }


def test_citizens_do_not_read_the_directory(api, world):
    assert api.get("/verification-routes", token=api.login(world.citizen)).status_code == 403


def test_the_supervisor_adds_and_edits_an_entry(api, world):
    token = api.login(world.supervisor)
    created = api.post(
        "/verification-routes",
        json={
            "code": "kinship_proof",
            "name": "亲属关系证明",
            "subject_kind": "person",
            "department": world.bystander.code,
        },
        token=token,
    )
    assert created.status_code == 201, created.get_json()
    entry = created.get_json()
    assert entry["deadline_working_days"] == 3 and entry["department"]["name"] == "市教育局"
    edited = api.patch(
        f"/verification-routes/{entry['id']}",
        json={"department": world.answering.code, "deadline_working_days": 5},
        token=token,
    )
    assert edited.status_code == 200
    assert edited.get_json()["department"]["code"] == "health"
    assert edited.get_json()["deadline_working_days"] == 5
    hidden = api.patch(f"/verification-routes/{entry['id']}", json={"active": False}, token=token)
    assert hidden.get_json()["active"] is False
    listed = api.get("/verification-routes", token=token).get_json()
    assert "kinship_proof" not in {r["code"] for r in listed}
    everything = api.get("/verification-routes?include_inactive=true", token=token).get_json()
    assert "kinship_proof" in {r["code"] for r in everything}


def test_a_certificate_type_entry_takes_its_department_and_holder_kind(api, world, seeded):
    response = api.post(
        "/verification-routes",
        json={
            "code": "tax_credit_check",
            "name": "纳税信用等级核实",
            "certificate_type": "tax_credit_proof",
        },
        token=api.login(world.admin),
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["department"]["code"] == "tax"
    assert response.get_json()["subject_kind"] == "company"
    assert response.get_json()["certificate_type"] == "tax_credit_proof"


@pytest.mark.parametrize(
    "body, status, code, field",
    [
        ({"code": "x_proof", "name": "某证明"}, 422, "missing_field", "department"),
        (
            {"code": "x_proof", "name": "某证明", "department": "nope", "subject_kind": "person"},
            422,
            "unknown_department",
            "department",
        ),
        (
            {"code": "x_proof", "name": "某证明", "certificate_type": "nope"},
            422,
            "unknown_certificate_type",
            "certificate_type",
        ),
        (
            {"code": "public_hygiene_check", "name": "新名称", "department": "health"},
            409,
            "route_exists",
            "code",
        ),
        (
            {"code": "x_proof", "name": "从业人员健康合格证明", "department": "health"},
            409,
            "route_exists",
            "name",
        ),
        ({"code": "Bad Code", "name": "某证明"}, 400, "invalid_value", "code"),
        (
            {"code": "x_proof", "name": "某证明", "deadline_working_days": 0},
            400,
            "invalid_value",
            "deadline_working_days",
        ),
    ],
)
def test_bad_directory_entries_are_refused_naming_the_field(api, world, body, status, code, field):
    body = {"subject_kind": "person", **body} if "certificate_type" not in body else body
    response = api.post("/verification-routes", json=body, token=api.login(world.supervisor))
    assert response.status_code == status, response.get_json()
    assert error_of(response)["code"] == code
    assert error_of(response)["field"] == field


def test_officers_cannot_edit_the_directory(api, world):
    token = api.login(world.responder)
    route_id = world.person_route.id
    assert (
        api.patch(
            f"/verification-routes/{route_id}", json={"active": False}, token=token
        ).status_code
        == 403
    )
    assert api.post("/verification-routes", json={}, token=token).status_code == 403


def test_editing_an_unknown_entry_is_404(api, world):
    response = api.patch(
        "/verification-routes/9999", json={"active": False}, token=api.login(world.supervisor)
    )
    assert response.status_code == 404
