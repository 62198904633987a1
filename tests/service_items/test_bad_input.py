"""Every kind of bad input gets its own code, a Chinese message, the field, the right status."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from backend.extensions import db
from backend.models.service_items import ServiceItem
from tests.factories import error_of
from tests.service_items.factories import content, create_item, material


def _count() -> int:
    return db.session.scalar(select(func.count(ServiceItem.id)))


def test_a_duplicate_handling_item_name_in_one_department_is_409(api, staff):
    api.post("/service-items", json=content("食品生产许可(新办)"), token=staff.amr_token)
    again = api.post("/service-items", json=content("食品生产许可(新办)"), token=staff.amr_token)
    assert again.status_code == 409
    error = error_of(again)
    assert error["code"] == "duplicate_handling_item" and error["field"] == "handling_item"
    assert "食品生产许可(新办)" in error["message"]
    assert _count() == 1


def test_renaming_an_item_to_a_name_already_used_in_the_department_is_409(api, staff):
    create_item(handling_item="甲办理项")
    other = create_item(handling_item="乙办理项")
    response = api.put(
        f"/service-items/{other.id}", json=content("甲办理项"), token=staff.amr_token
    )
    assert response.status_code == 409
    assert error_of(response)["code"] == "duplicate_handling_item"


def test_the_same_handling_item_name_in_another_department_is_allowed(api, staff):
    create_item("amr", handling_item="证明开具")
    response = api.post("/service-items", json=content("证明开具"), token=staff.psb_token)
    assert response.status_code == 201


def test_a_material_linked_to_an_unknown_certificate_type_is_422(api, staff):
    body = content(
        materials=[material("申请书"), material("神秘证照", certificate_type="no_such_type")]
    )
    response = api.post("/service-items", json=body, token=staff.amr_token)
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "unknown_certificate_type"
    assert error["field"] == "materials.1.certificate_type"
    assert "no_such_type" in error["message"]
    assert _count() == 0


@pytest.mark.parametrize(
    ("bad_material", "code", "field"),
    [
        (
            material("营业执照", certificate_type="business_licence", certificate_fields=["身高"]),
            "unknown_certificate_field",
            "materials.1.certificate_fields",
        ),
        (
            material("营业执照", exemption_basis="certificate"),
            "certificate_type_required",
            "materials.1.certificate_type",
        ),
        (
            material("健康证明", exemption_basis="verification_request"),
            "unknown_issuing_department",
            "materials.1.issuing_department",
        ),
        (
            material(
                "健康证明", issuing_department="某某医院", exemption_basis="verification_request"
            ),
            "unknown_issuing_department",
            "materials.1.issuing_department",
        ),
        (material("   "), "missing_field", "materials.1.name"),
        (material("申请书"), "duplicate_material", "materials.1.name"),
    ],
)
def test_bad_materials_are_422_naming_the_field(api, staff, bad_material, code, field):
    body = content(materials=[material("申请书"), bad_material])
    response = api.post("/service-items", json=body, token=staff.amr_token)
    assert response.status_code == 422, response.get_json()
    error = error_of(response)
    assert (error["code"], error["field"]) == (code, field)


def test_every_problem_of_an_item_is_listed_at_once(api, staff):
    body = content(
        handling_item="  ",
        materials=[
            material("甲", certificate_type="nope"),
            material("乙", exemption_basis="certificate"),
        ],
    )
    response = api.post("/service-items", json=body, token=staff.amr_token)
    fields = {d["field"] for d in error_of(response)["details"]}
    assert fields == {
        "handling_item",
        "materials.0.certificate_type",
        "materials.1.certificate_type",
    }


def test_a_verification_request_material_names_its_issuer_by_code_or_name(api, staff):
    body = content(
        materials=[
            material(
                "健康证明", issuing_department="health", exemption_basis="verification_request"
            ),
            material(
                "营业执照", certificate_type="business_licence", exemption_basis="certificate"
            ),
        ]
    )
    created = api.post("/service-items", json=body, token=staff.amr_token).get_json()
    issuers = [m["issuing_department"] for m in created["materials"]]
    # The certificate's issuer is filled in from the type when not given.
    assert issuers == ["市卫生健康委员会", "市市场监督管理局"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"category": "行政许可证"}, "category"),
        ({"materials": []}, "materials"),
        ({"colour": "红"}, "colour"),
        ({"main_item": 5}, "main_item"),
        ({"handling_item": "长" * 201}, "handling_item"),
    ],
)
def test_malformed_items_are_400_naming_the_field(api, staff, change, field):
    body = content()
    body.update(change)
    response = api.post("/service-items", json=body, token=staff.amr_token)
    assert response.status_code == 400
    assert error_of(response)["field"] == field


@pytest.mark.parametrize(
    ("state", "path", "who", "body"),
    [
        ("draft", "approve", "supervisor", {}),
        ("draft", "return", "supervisor", {"reason": "x"}),
        ("submitted", "submit", "amr", None),
        ("approved", "submit", "amr", None),
        ("published", "approve", "supervisor", {}),
        ("draft", "revise", "amr", None),
        ("submitted", "revise", "amr", None),
    ],
)
def test_an_illegal_workflow_step_is_409_naming_the_current_state(
    api, staff, state, path, who, body
):
    item = create_item(state=state)
    token = staff.supervisor_token if who == "supervisor" else staff.amr_token
    kwargs = {"json": body} if body is not None else {}
    response = api.post(f"/service-items/{item.id}/{path}", token=token, **kwargs)
    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "invalid_state" and error["current_state"] == state
    assert error["message"].startswith("事项当前状态为「")


@pytest.mark.parametrize("state", ["submitted", "approved", "published"])
def test_editing_an_item_outside_draft_or_returned_is_409(api, staff, state):
    item = create_item(state=state)
    response = api.put(f"/service-items/{item.id}", json=content(), token=staff.amr_token)
    assert response.status_code == 409
    assert error_of(response)["current_state"] == state


def test_publishing_an_unknown_item_is_404_and_nothing_is_published(api, staff):
    item = create_item(state="approved")
    response = api.post(
        "/publication-batches",
        json={"title": "第一批", "item_ids": [item.id, 999999]},
        token=staff.supervisor_token,
    )
    assert response.status_code == 404
    assert api.get(f"/service-items/{item.id}").status_code == 404


def test_a_batch_date_that_does_not_exist_is_400(api, staff):
    item = create_item(state="approved")
    response = api.post(
        "/publication-batches",
        json={"title": "第一批", "item_ids": [item.id], "published_on": "2025-02-30"},
        token=staff.supervisor_token,
    )
    assert response.status_code == 400 and error_of(response)["field"] == "published_on"


def test_an_unknown_item_is_404(api, staff):
    for response in (
        api.get("/service-items/424242"),
        api.put("/service-items/424242", json=content(), token=staff.amr_token),
        api.post("/service-items/424242/submit", token=staff.amr_token),
        api.get("/service-items/424242/history", token=staff.supervisor_token),
    ):
        assert response.status_code == 404
        assert error_of(response)["code"] == "service_item_not_found"


@pytest.mark.parametrize(
    "query",
    ["per_page=500", "page=0", "category=不存在", "batch=abc", "colour=red"],
)
def test_bad_list_arguments_are_400(api, query):
    response = api.get(f"/exemption-list?{query}")
    assert response.status_code == 400


def test_an_unknown_department_filter_is_422(api, seeded):
    for path in ("/exemption-list?department=nope", "/exemption-list.csv?department=nope"):
        response = api.get(path)
        assert response.status_code == 422
        assert error_of(response)["code"] == "unknown_department"
