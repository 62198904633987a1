"""The public list: search, filters, paging, one item, and the CSV parsed back."""

from __future__ import annotations

import csv
import io

import pytest

from backend.services import service_item_workflow as workflow
from tests.service_items.factories import content, create_item, licence_material, material


@pytest.fixture
def city(seeded):
    """Published items in two departments and two batches, plus unpublished ones."""
    first = workflow.new_batch("第一批", None, None)
    second = workflow.new_batch("第二批", None, None)
    items = {
        "food": create_item(
            "amr",
            "published",
            first,
            handling_item="食品生产许可(新办)",
            materials=[material("食品生产许可申请书"), licence_material()],
        ),
        "drug": create_item(
            "amr",
            "published",
            second,
            handling_item="药品零售企业许可(新办)",
            main_item="药品经营许可",
            sub_item="药品零售企业许可",
            materials=[material("执业药师注册证"), licence_material()],
        ),
        "hukou": create_item(
            "psb",
            "published",
            first,
            category="行政确认",
            handling_item="新生儿出生入户",
            main_item="户口登记",
            sub_item="出生登记",
            materials=[
                material(
                    "父母居民户口簿",
                    certificate_type="household_register",
                    exemption_basis="certificate",
                ),
                material("100%真实承诺书", exemption_basis="commitment"),
            ],
        ),
        "draft": create_item("amr", "draft", handling_item="食品生产许可(变更)"),
        "approved": create_item("psb", "approved", handling_item="户口迁移(食品)"),
    }
    return items


def _names(response) -> list[str]:
    return [i["handling_item"] for i in response.get_json()["items"]]


def test_the_list_shows_only_published_items_city_wide(api, city):
    response = api.get("/exemption-list")
    assert response.status_code == 200
    assert _names(response) == ["新生儿出生入户", "食品生产许可(新办)", "药品零售企业许可(新办)"]
    assert response.get_json()["total"] == 3 and response.get_json()["department"] is None


def test_search_finds_item_names_material_names_and_certificate_type_names(api, city):
    assert _names(api.get("/exemption-list?q=食品")) == ["食品生产许可(新办)"]
    assert _names(api.get("/exemption-list?q=执业药师")) == ["药品零售企业许可(新办)"]
    # "居民户口簿" is the linked type's name; the material itself is "父母居民户口簿".
    assert _names(api.get("/exemption-list?q=户口簿")) == ["新生儿出生入户"]
    assert _names(api.get("/exemption-list?q=不存在的事项")) == []


def test_search_treats_percent_and_underscore_as_plain_text(api, city):
    assert _names(api.get("/exemption-list?q=100%25真实")) == ["新生儿出生入户"]
    assert _names(api.get("/exemption-list?q=%25")) == ["新生儿出生入户"]
    assert _names(api.get("/exemption-list?q=_")) == []


def test_the_list_is_filtered_by_department_category_and_batch(api, city):
    by_department = api.get("/exemption-list?department=psb").get_json()
    assert [i["handling_item"] for i in by_department["items"]] == ["新生儿出生入户"]
    assert by_department["department"]["name"] == "市公安局"
    assert _names(api.get("/exemption-list?category=行政确认")) == ["新生儿出生入户"]
    assert _names(api.get("/exemption-list?batch=2")) == ["药品零售企业许可(新办)"]
    assert _names(api.get("/exemption-list?department=amr&q=药品")) == ["药品零售企业许可(新办)"]


def test_the_list_is_paged(api, city):
    first = api.get("/exemption-list?per_page=2&page=1").get_json()
    second = api.get("/exemption-list?per_page=2&page=2").get_json()
    assert (first["total"], first["pages"], len(first["items"])) == (3, 2, 2)
    assert len(second["items"]) == 1
    ids = [i["id"] for i in first["items"] + second["items"]]
    assert len(set(ids)) == 3


def test_a_certificate_material_says_it_may_be_omitted(api, city):
    item = api.get(f"/service-items/{city['food'].id}").get_json()
    licence = next(m for m in item["materials"] if m["name"] == "营业执照")
    assert licence["exemption_label"] == "已关联电子证照证明,可免提交"
    assert licence["exempt"] is True
    assert licence["certificate_type"] == {"code": "business_licence", "name": "营业执照"}
    form = next(m for m in item["materials"] if m["name"] == "食品生产许可申请书")
    assert (form["exempt"], form["exemption_label"]) == (False, "需提交")
    assert item["exempt_material_count"] == 1 and item["material_count"] == 2
    assert "applicant" in item and item["applicant"] is None  # anonymous: no verdicts
    assert all("for_you" not in m for m in item["materials"])


def _csv_rows(response) -> list[list[str]]:
    assert response.data.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))


def test_the_csv_has_a_bom_and_parses_back_with_chinese_intact(api, city):
    response = api.get("/exemption-list.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = _csv_rows(response)
    header, body = rows[0], rows[1:]
    assert header[:7] == [
        "序号",
        "实施部门",
        "事项类别",
        "主项名称",
        "子项名称",
        "办理项名称",
        "材料名称",
    ]
    assert len(body) == 6  # one row per material of the three published items
    record = dict(zip(header, body[0], strict=True))
    assert record["实施部门"] == "市公安局"
    assert record["办理项名称"] == "新生儿出生入户"
    assert record["材料名称"] == "父母居民户口簿"
    assert record["关联电子证照"] == "居民户口簿"
    assert record["免提交方式"] == "已关联电子证照证明,可免提交"
    assert record["发布批次"] == "第1批"
    assert record["序号"] == "1"
    assert [r[0] for r in body] == [str(n) for n in range(1, 7)]


def test_the_csv_takes_the_same_filters(api, city):
    rows = _csv_rows(api.get("/exemption-list.csv?department=amr&q=药品"))
    assert {r[5] for r in rows[1:]} == {"药品零售企业许可(新办)"}


def test_the_csv_neutralises_spreadsheet_formulas(api, staff):
    create_item(
        state="published",
        handling_item='=HYPERLINK("http://evil")',
        materials=[material("+1 材料")],
    )
    rows = _csv_rows(api.get("/exemption-list.csv"))
    assert rows[1][5] == '\'=HYPERLINK("http://evil")'
    assert rows[1][6] == "'+1 材料"


def test_an_empty_list_is_still_a_csv_with_its_header(api, seeded):
    rows = _csv_rows(api.get("/exemption-list.csv"))
    assert len(rows) == 1 and rows[0][0] == "序号"


def test_paging_past_the_end_is_an_empty_page(api, city):
    response = api.get("/exemption-list?page=9").get_json()
    assert response["items"] == [] and response["total"] == 3


def test_a_published_item_keeps_its_materials_in_order(api, seeded):
    body = content(materials=[material(f"材料{i}") for i in "甲乙丙丁"])
    item = create_item(state="published", **{k: v for k, v in body.items() if k != "handling_item"})
    names = [m["name"] for m in api.get(f"/service-items/{item.id}").get_json()["materials"]]
    assert names == ["材料甲", "材料乙", "材料丙", "材料丁"]


def test_search_handles_quotes_backslashes_and_latin_text(api, staff):
    create_item(state="published", handling_item="O'Brien\\Test 许可")
    create_item(state="published", handling_item="其他事项")
    assert _names(api.get("/exemption-list?q=o'brien\\test")) == ["O'Brien\\Test 许可"]
    assert _names(api.get("/exemption-list?q=BRIEN")) == ["O'Brien\\Test 许可"]
    assert _names(api.get("/exemption-list?q=' %26 !")) == []
