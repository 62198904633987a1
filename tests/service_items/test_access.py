"""Least privilege: officers keep to their department, only the supervisor reviews."""

from __future__ import annotations

import pytest

from backend.models import Role
from tests.factories import create_user, error_of
from tests.service_items.factories import content, create_item


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("put", "", content()),
        ("post", "/submit", None),
        ("post", "/revise", None),
        ("get", "/latest", None),
        ("get", "/history", None),
    ],
)
def test_an_officer_cannot_touch_another_departments_item(api, staff, method, path, body):
    item = create_item("amr", state="published" if path == "/revise" else "draft")
    kwargs = {"json": body} if body is not None else {}
    response = getattr(api, method)(
        f"/service-items/{item.id}{path}", token=staff.psb_token, **kwargs
    )
    assert response.status_code == 403
    assert error_of(response)["code"] == "not_your_department"


@pytest.mark.parametrize(
    ("path", "body"),
    [("/approve", {}), ("/return", {"reason": "x"})],
)
def test_an_officer_cannot_review(api, staff, path, body):
    item = create_item(state="submitted")
    response = api.post(f"/service-items/{item.id}{path}", json=body, token=staff.amr_token)
    assert response.status_code == 403


def test_an_officer_cannot_publish_a_batch(api, staff):
    item = create_item(state="approved")
    response = api.post(
        "/publication-batches", json={"title": "x", "item_ids": [item.id]}, token=staff.amr_token
    )
    assert response.status_code == 403


def test_the_supervisor_does_not_edit_items(api, staff):
    item = create_item()
    assert (
        api.post("/service-items", json=content(), token=staff.supervisor_token).status_code == 403
    )
    assert (
        api.put(
            f"/service-items/{item.id}", json=content(), token=staff.supervisor_token
        ).status_code
        == 403
    )
    assert (
        api.post(f"/service-items/{item.id}/submit", token=staff.supervisor_token).status_code
        == 403
    )


def test_citizens_and_anonymous_callers_see_no_working_copies(api, staff):
    item = create_item()
    citizen = api.login(create_user(Role.CITIZEN))
    assert api.get("/service-items", token=citizen).status_code == 403
    assert api.get(f"/service-items/{item.id}/latest", token=citizen).status_code == 403
    assert api.get("/service-items").status_code == 401
    assert api.post("/service-items", json=content()).status_code == 401


def test_an_officer_lists_only_their_departments_items(api, staff):
    mine = create_item("amr")
    create_item("psb")
    listed = api.get("/service-items?department=psb", token=staff.amr_token).get_json()
    assert [i["id"] for i in listed["items"]] == [mine.id]


def test_the_supervisor_lists_every_department_and_filters_by_state(api, staff):
    submitted = create_item("amr", state="submitted")
    other = create_item("psb", state="submitted")
    create_item("psb", state="draft")
    listed = api.get("/service-items?state=submitted", token=staff.supervisor_token).get_json()
    assert [i["id"] for i in listed["items"]] == [submitted.id, other.id]
    psb = api.get(
        "/service-items?state=submitted&department=psb", token=staff.supervisor_token
    ).get_json()
    assert [i["id"] for i in psb["items"]] == [other.id]
    assert psb["items"][0]["state_label"] == "待审核"
