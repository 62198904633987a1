"""Theme administrators build, edit, preview, publish and unpublish bundles."""

from __future__ import annotations

from sqlalchemy import func, select

from backend.extensions import db
from backend.models import Role
from backend.models.themes import ThemeBundle
from tests.factories import create_user, error_of
from tests.service_items.factories import create_item
from tests.themes.factories import bundle_body, item_id


def create(api, admin, **overrides):
    response = api.post("/theme-bundles", json=bundle_body(**overrides), token=admin.token)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_an_administrator_builds_and_publishes_a_bundle_the_public_then_sees(api, admin):
    bundle = create(api, admin)
    assert bundle["state"] == "draft" and bundle["latest_version"] == 1
    assert api.get(f"/themes/{bundle['id']}").status_code == 404
    preview = api.get(f"/theme-bundles/{bundle['id']}", token=admin.token).get_json()["preview"]
    assert [i["handling_item"] for i in preview["items"]] == [
        "食品经营许可(新办)",
        "消防安全检查(告知承诺)",
    ]
    published = api.post(f"/theme-bundles/{bundle['id']}/publish", token=admin.token)
    assert published.status_code == 200
    assert published.get_json()["state"] == "published"
    public = api.get(f"/themes/{bundle['id']}").get_json()
    assert public["title"] == "我要开咖啡馆" and public["icon"] == "coffee"
    assert [f["label"] for f in public["form_fields"]] == [
        "经营者名称",
        "成立日期",
        "经营场所",
        "开业日期",
        "座位数",
    ]
    assert {f["label"]: f["type"] for f in public["form_fields"]}["成立日期"] == "date"
    listed = api.get("/themes").get_json()["themes"]
    assert bundle["id"] in [t["id"] for t in listed]


def test_an_edit_is_a_new_version_the_public_sees_only_once_published(api, admin):
    bundle = create(api, admin)
    api.post(f"/theme-bundles/{bundle['id']}/publish", token=admin.token)
    edited = api.put(
        f"/theme-bundles/{bundle['id']}",
        json=bundle_body(title="我要开茶馆"),
        token=admin.token,
    ).get_json()
    assert edited["latest_version"] == 2 and edited["published_version"] == 1
    assert edited["has_unpublished_changes"] is True
    assert api.get(f"/themes/{bundle['id']}").get_json()["title"] == "我要开咖啡馆"
    api.post(f"/theme-bundles/{bundle['id']}/publish", token=admin.token)
    assert api.get(f"/themes/{bundle['id']}").get_json()["title"] == "我要开茶馆"


def test_an_unpublished_bundle_disappears_from_the_public(api, admin):
    bundle = create(api, admin)
    api.post(f"/theme-bundles/{bundle['id']}/publish", token=admin.token)
    response = api.post(f"/theme-bundles/{bundle['id']}/unpublish", token=admin.token)
    assert response.get_json()["state"] == "unpublished"
    assert api.get(f"/themes/{bundle['id']}").status_code == 404
    assert bundle["id"] not in [t["id"] for t in api.get("/themes").get_json()["themes"]]
    again = api.post(f"/theme-bundles/{bundle['id']}/unpublish", token=admin.token)
    assert again.status_code == 409
    assert error_of(again)["current_state"] == "unpublished"


def test_publishing_the_already_published_version_again_is_refused(api, admin):
    bundle = create(api, admin)
    api.post(f"/theme-bundles/{bundle['id']}/publish", token=admin.token)
    again = api.post(f"/theme-bundles/{bundle['id']}/publish", token=admin.token)
    assert again.status_code == 409 and error_of(again)["code"] == "invalid_state"


def test_every_problem_of_a_bundle_definition_is_reported_at_once(api, admin):
    draft_item = create_item("amr", state="draft")
    body = bundle_body(
        service_item_ids=[item_id("food_permit_new"), draft_item.id, 999999],
        form_fields=[
            {"label": "名称", "source": "business_licence.不存在的字段"},
            {"label": "名称", "source": None},
            {"label": "证号", "source": "no_such_type.证号"},
        ],
    )
    response = api.post("/theme-bundles", json=body, token=admin.token)
    assert response.status_code == 422
    problems = {(d["field"], d["code"]) for d in error_of(response)["details"]}
    assert problems == {
        ("service_item_ids.1", "item_not_published"),
        ("service_item_ids.2", "item_not_published"),
        ("form_fields.0.source", "unknown_certificate_field"),
        ("form_fields.1.label", "duplicate_label"),
        ("form_fields.2.source", "unknown_certificate_field"),
    }


def test_an_applicant_field_of_an_unknown_type_is_rejected_naming_the_field(api, admin):
    body = bundle_body(form_fields=[{"label": "备注", "type": "colour"}])
    response = api.post("/theme-bundles", json=body, token=admin.token)
    assert response.status_code == 400
    assert error_of(response)["details"][0]["field"] == "form_fields.0.type"


def test_only_theme_administrators_configure_bundles(api, admin):
    for role in (Role.CITIZEN, Role.DEPARTMENT_OFFICER, Role.SUPERVISOR):
        kwargs = {"department_id": None} if role != Role.CITIZEN else {}
        token = api.login(create_user(role, **kwargs))
        assert api.post("/theme-bundles", json=bundle_body(), token=token).status_code == 403
        assert api.get("/theme-bundles", token=token).status_code == 403
    assert api.post("/theme-bundles", json=bundle_body()).status_code == 401
    assert db.session.scalar(select(func.count(ThemeBundle.id))) == 4  # the seeded ones
