"""Browsing bundles: public lists, and for a holder the materials still needed, deduplicated."""

from __future__ import annotations

from tests.factories import create_certificate, create_user
from tests.themes.factories import bundle_id


def test_the_four_seeded_bundles_are_published_for_everyone(api, city):
    themes = api.get("/themes").get_json()["themes"]
    assert [t["title"] for t in themes] == [
        "我要开餐馆",
        "新生儿出生一件事",
        "入学一件事",
        "退休一件事",
    ]
    restaurant = api.get(f"/themes/{themes[0]['id']}").get_json()
    assert [i["department"]["name"] for i in restaurant["items"]] == [
        "市市场监督管理局",
        "市卫生健康委员会",
        "市消防救援支队",
    ]


def test_anonymous_visitors_see_each_material_once_with_its_exemption_labels(api, city):
    restaurant = api.get(f"/themes/{bundle_id('open_restaurant')}").get_json()
    materials = restaurant["materials"]
    assert materials["personalised"] is False
    licence = [m for m in materials["all"] if m["name"] == "营业执照"]
    assert len(licence) == 1
    assert len(licence[0]["items"]) == 3
    assert licence[0]["exemption_labels"] == ["已关联电子证照证明,可免提交"]


def test_a_holder_sees_one_business_licence_serving_three_items_as_exempt(api, restaurant):
    body = api.get(f"/themes/{restaurant.bundle_id}", token=restaurant.token).get_json()
    materials = body["materials"]
    assert materials["personalised"] is True
    exempt = {m["name"]: m for m in materials["exempt"]}
    assert [i["handling_item"] for i in exempt["营业执照"]["items"]] == [
        "食品经营许可(新办)",
        "公共场所卫生许可(新办)",
        "消防安全检查(告知承诺)",
    ]
    assert exempt["营业执照"]["reasons"] == ["您持有有效的电子证照「营业执照」,可免提交"]
    assert "从业人员健康合格证明" in exempt and "食品安全管理制度" in exempt
    needed = {m["name"] for m in materials["still_needed"]}
    assert needed == {
        "食品经营许可申请书",
        "法定代表人身份证明",
        "与食品经营相适应的主要设备设施布局、操作流程文件",
        "卫生许可申请表",
        "消防安全检查申报表",
        "场所平面布置图",
    }
    assert "营业执照" not in needed


def test_a_holder_without_the_certificate_is_told_it_is_still_needed_and_why(api, city):
    citizen = create_user(display_name="没有证的人")
    token = api.login(citizen)
    materials = api.get(f"/themes/{bundle_id('open_restaurant')}", token=token).get_json()[
        "materials"
    ]
    licence = next(m for m in materials["still_needed"] if m["name"] == "营业执照")
    assert licence["reasons"] == ["未查询到您名下有效的「营业执照」电子证照,需提交此材料"]


def test_a_household_register_shared_by_three_newborn_items_is_listed_once(api, city):
    citizen = create_user(display_name="新手爸爸")
    create_certificate("household_register", holder=citizen.person)
    token = api.login(citizen)
    materials = api.get(f"/themes/{bundle_id('newborn')}", token=token).get_json()["materials"]
    register = [m for m in materials["exempt"] if m["certificate_type"] == "household_register"]
    assert len(register) == 1 and len(register[0]["items"]) == 3


def test_unknown_and_unpublished_bundles_are_not_found(api, city):
    response = api.get("/themes/999999")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "theme_not_found"
