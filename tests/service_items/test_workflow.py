"""The review workflow end to end, history, notifications, batches and concurrent steps."""

from __future__ import annotations

from sqlalchemy import func, select

from backend.extensions import db
from backend.models import Notification
from backend.models.service_items import PublicationBatch, ServiceItemVersion
from tests.factories import error_of
from tests.service_items.factories import (
    content,
    create_item,
    licence_material,
    material,
    run_concurrently,
)


def _public_names(api) -> list[str]:
    return [i["handling_item"] for i in api.get("/exemption-list").get_json()["items"]]


def test_an_item_goes_from_draft_through_return_and_review_to_a_batch_then_is_revised(api, staff):
    body = content("食品生产许可(新办)")
    created = api.post("/service-items", json=body, token=staff.amr_token)
    assert created.status_code == 201, created.get_json()
    item = created.get_json()
    item_id = item["id"]
    assert item["state"] == "draft" and item["version"] == 1
    assert item["department"]["code"] == "amr"

    submitted = api.post(f"/service-items/{item_id}/submit", token=staff.amr_token)
    assert submitted.get_json()["state"] == "submitted"

    returned = api.post(
        f"/service-items/{item_id}/return",
        json={"reason": "请补充食品安全管理制度"},
        token=staff.supervisor_token,
    )
    assert returned.get_json()["state"] == "returned"
    assert returned.get_json()["return_reason"] == "请补充食品安全管理制度"

    body["materials"].append(material("食品安全管理制度", exemption_basis="commitment"))
    edited = api.put(f"/service-items/{item_id}", json=body, token=staff.amr_token)
    assert edited.status_code == 200 and edited.get_json()["material_count"] == 3
    assert api.post(f"/service-items/{item_id}/submit", token=staff.amr_token).status_code == 200
    approved = api.post(f"/service-items/{item_id}/approve", json={}, token=staff.supervisor_token)
    assert approved.get_json()["state"] == "approved"
    assert _public_names(api) == []  # approved is not yet published

    batch = api.post(
        "/publication-batches",
        json={
            "title": "第一批事项材料减免清单",
            "published_on": "2025-03-01",
            "item_ids": [item_id],
        },
        token=staff.supervisor_token,
    )
    assert batch.status_code == 201, batch.get_json()
    assert batch.get_json()["batch"]["number"] == 1
    assert batch.get_json()["batch"]["published_on"] == "2025-03-01"
    public = api.get(f"/service-items/{item_id}").get_json()
    assert public["version"] == 1 and public["batch"]["number"] == 1
    assert [m["name"] for m in public["materials"]][-1] == "食品安全管理制度"

    # Revise: the public keeps version 1 while version 2 is edited and reviewed.
    revised = api.post(f"/service-items/{item_id}/revise", token=staff.amr_token)
    assert revised.get_json()["state"] == "draft" and revised.get_json()["version"] == 2
    assert revised.get_json()["published_version"] == 1
    body["materials"] = [material("食品生产许可申请书"), licence_material()]
    body["main_item"] = "食品生产许可(修订)"
    assert api.put(f"/service-items/{item_id}", json=body, token=staff.amr_token).status_code == 200
    api.post(f"/service-items/{item_id}/submit", token=staff.amr_token)
    api.post(f"/service-items/{item_id}/approve", json={}, token=staff.supervisor_token)
    still_public = api.get(f"/service-items/{item_id}").get_json()
    assert still_public["version"] == 1 and still_public["main_item"] == "食品生产许可"
    listed = api.get("/exemption-list").get_json()["items"]
    assert [(i["id"], i["version"]) for i in listed] == [(item_id, 1)]

    api.post(
        "/publication-batches",
        json={"title": "第二批", "item_ids": [item_id]},
        token=staff.supervisor_token,
    )
    now_public = api.get(f"/service-items/{item_id}").get_json()
    assert now_public["version"] == 2 and now_public["batch"]["number"] == 2
    assert now_public["main_item"] == "食品生产许可(修订)"
    states = db.session.execute(
        select(ServiceItemVersion.number, ServiceItemVersion.state, ServiceItemVersion.is_public)
        .where(ServiceItemVersion.item_id == item_id)
        .order_by(ServiceItemVersion.number)
    ).all()
    assert [tuple(s) for s in states] == [(1, "superseded", False), (2, "published", True)]

    history = api.get(f"/service-items/{item_id}/history", token=staff.amr_token).get_json()
    steps = [(e["action"], e["from_state"], e["to_state"], e["version"]) for e in history["events"]]
    assert steps == [
        ("created", None, "draft", 1),
        ("submitted", "draft", "submitted", 1),
        ("returned", "submitted", "returned", 1),
        ("updated", "returned", "returned", 1),
        ("submitted", "returned", "submitted", 1),
        ("approved", "submitted", "approved", 1),
        ("published", "approved", "published", 1),
        ("revision_started", "published", "draft", 2),
        ("updated", "draft", "draft", 2),
        ("submitted", "draft", "submitted", 2),
        ("approved", "submitted", "approved", 2),
        ("published", "approved", "published", 2),
    ]
    events = history["events"]
    assert events[2]["reason"] == "请补充食品安全管理制度"
    assert events[2]["actor"]["id"] == staff.supervisor.id
    assert events[0]["actor"]["id"] == staff.amr.id
    assert events[6]["batch"]["number"] == 1 and events[11]["batch"]["number"] == 2
    assert events[3]["snapshot"]["materials"][-1]["name"] == "食品安全管理制度"
    assert all(e["at"] for e in events)


def test_the_public_never_sees_an_item_that_was_not_published(api, staff):
    for state in ("draft", "submitted", "returned", "approved"):
        item = create_item(state=state)
        response = api.get(f"/service-items/{item.id}")
        assert response.status_code == 404
        assert error_of(response)["code"] == "service_item_not_found"
    assert api.get("/exemption-list").get_json()["total"] == 0


def test_the_working_copy_shows_state_and_return_reason_to_its_department(api, staff):
    item = create_item(state="returned")
    latest = api.get(f"/service-items/{item.id}/latest", token=staff.amr_token).get_json()
    assert latest["state"] == "returned" and latest["state_label"] == "已退回"
    assert latest["return_reason"] == "请补充材料依据"
    by_supervisor = api.get(f"/service-items/{item.id}/latest", token=staff.supervisor_token)
    assert by_supervisor.status_code == 200


def test_returning_needs_a_reason(api, staff):
    item = create_item(state="submitted")
    missing = api.post(f"/service-items/{item.id}/return", json={}, token=staff.supervisor_token)
    assert missing.status_code == 400 and error_of(missing)["field"] == "reason"
    blank = api.post(
        f"/service-items/{item.id}/return", json={"reason": "   "}, token=staff.supervisor_token
    )
    assert blank.status_code == 422 and error_of(blank)["field"] == "reason"
    assert api.get(f"/service-items/{item.id}/latest", token=staff.amr_token).get_json()[
        "state"
    ] == ("submitted")


def test_the_submitting_officer_is_notified_of_return_and_publication(api, staff):
    item = api.post("/service-items", json=content(), token=staff.amr_token).get_json()
    api.post(f"/service-items/{item['id']}/submit", token=staff.amr_token)
    api.post(
        f"/service-items/{item['id']}/return",
        json={"reason": "名称不规范"},
        token=staff.supervisor_token,
    )
    api.post(f"/service-items/{item['id']}/submit", token=staff.amr_token)
    api.post(f"/service-items/{item['id']}/approve", json={}, token=staff.supervisor_token)
    api.post(
        "/publication-batches",
        json={"title": "第一批", "item_ids": [item["id"]]},
        token=staff.supervisor_token,
    )
    notes = db.session.scalars(
        select(Notification).where(Notification.user_id == staff.amr.id).order_by(Notification.id)
    ).all()
    assert [n.title for n in notes] == ["事项被退回", "事项已发布"]
    assert "名称不规范" in notes[0].body and "第 1 批" in notes[1].body


def test_a_batch_with_one_unapproved_item_publishes_nothing(api, staff):
    ready = create_item(state="approved")
    not_ready = create_item(state="submitted")
    response = api.post(
        "/publication-batches",
        json={"title": "第一批", "item_ids": [ready.id, not_ready.id]},
        token=staff.supervisor_token,
    )
    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "invalid_state"
    assert error["current_state"] == "submitted" and error["item_id"] == not_ready.id
    assert db.session.scalar(select(func.count(PublicationBatch.id))) == 0
    assert api.get(f"/service-items/{ready.id}").status_code == 404


def test_batches_are_numbered_one_after_another(api, staff):
    numbers = []
    for _ in range(3):
        item = create_item(state="approved")
        response = api.post(
            "/publication-batches",
            json={"title": "批次", "item_ids": [item.id]},
            token=staff.supervisor_token,
        )
        numbers.append(response.get_json()["batch"]["number"])
    assert numbers == [1, 2, 3]
    listed = api.get("/publication-batches").get_json()["batches"]
    assert [(b["number"], b["item_count"]) for b in listed] == [(3, 1), (2, 1), (1, 1)]


def test_of_two_simultaneous_approvals_of_one_item_exactly_one_succeeds(app, api, staff):
    item_id = create_item(state="submitted").id

    def approve():
        client = app.test_client()
        return client.post(
            f"/api/mp/v1/service-items/{item_id}/approve",
            json={},
            headers={"Authorization": f"Bearer {staff.supervisor_token}"},
        ).status_code

    statuses = run_concurrently(approve, approve)
    assert sorted(statuses) == [200, 409]
    history = api.get(f"/service-items/{item_id}/history", token=staff.supervisor_token)
    assert [e["action"] for e in history.get_json()["events"]].count("approved") == 1


def test_of_two_simultaneous_creations_of_one_handling_item_exactly_one_succeeds(app, staff):
    body = content("同名办理项")

    def create():
        client = app.test_client()
        response = client.post(
            "/api/mp/v1/service-items",
            json=body,
            headers={"Authorization": f"Bearer {staff.amr_token}"},
        )
        return response.status_code, response.get_json()

    results = run_concurrently(create, create)
    assert sorted(status for status, _ in results) == [201, 409]
    loser = next(body for status, body in results if status == 409)
    assert loser["error"]["code"] in ("duplicate_handling_item",)


def test_a_revision_can_be_returned_while_the_published_version_stays_public(api, staff):
    item = create_item(state="published")
    api.post(f"/service-items/{item.id}/revise", token=staff.amr_token)
    api.post(f"/service-items/{item.id}/submit", token=staff.amr_token)
    returned = api.post(
        f"/service-items/{item.id}/return",
        json={"reason": "修订理由不充分"},
        token=staff.supervisor_token,
    )
    assert returned.get_json()["state"] == "returned"
    public = api.get(f"/service-items/{item.id}")
    assert public.status_code == 200 and public.get_json()["version"] == 1
