"""Catalogue import and export: round trips, every bad row reported, nothing half-imported."""

from __future__ import annotations

import csv
import io
import json

from sqlalchemy import func, select

from backend.extensions import db
from backend.models.service_items import ServiceItem, ServiceItemVersion
from backend.services.service_item_catalogue import CSV_COLUMNS
from tests.factories import error_of
from tests.service_items.factories import create_item, licence_material, material

HEADER = ",".join(CSV_COLUMNS)


def _import(api, token, text: str, media_type: str = "text/csv"):
    return api.post(
        "/service-item-imports",
        data=text.encode("utf-8"),
        headers={"Content-Type": media_type},
        token=token,
    )


def _counts() -> tuple[int, int]:
    return (
        db.session.scalar(select(func.count(ServiceItem.id))),
        db.session.scalar(select(func.count(ServiceItemVersion.id))),
    )


GOOD_CSV = "\n".join(
    [
        HEADER,
        "行政许可,食品生产许可,食品生产许可证核发,食品生产许可(新办),食品生产许可申请书,,,,,是,",
        "行政许可,食品生产许可,食品生产许可证核发,食品生产许可(新办),营业执照,,business_licence,名称;住所,certificate,是,",
        "行政许可,食品生产许可,食品生产许可证核发,食品生产许可(新办),食品安全管理制度,,,,commitment,否,可承诺",
        "行政备案,食品经营备案,仅销售预包装食品备案,预包装食品备案,备案表,,,,,是,",
    ]
)


def test_a_csv_catalogue_creates_draft_items_grouped_by_handling_item(api, staff):
    response = _import(api, staff.amr_token, GOOD_CSV)
    assert response.status_code == 200, response.get_json()
    report = response.get_json()
    assert (report["created"], report["updated"], report["unchanged"]) == (2, 0, 0)
    food = api.get(f"/service-items/{report['item_ids'][0]}/latest", token=staff.amr_token)
    food = food.get_json()
    assert food["state"] == "draft" and food["department"]["code"] == "amr"
    assert [m["name"] for m in food["materials"]] == [
        "食品生产许可申请书",
        "营业执照",
        "食品安全管理制度",
    ]
    licence = food["materials"][1]
    assert licence["certificate_type"]["code"] == "business_licence"
    assert licence["certificate_fields"] == ["名称", "住所"]
    assert licence["issuing_department"] == "市市场监督管理局"
    assert food["materials"][2]["required"] is False and food["materials"][2]["notes"] == "可承诺"
    history = api.get(f"/service-items/{food['id']}/history", token=staff.amr_token).get_json()
    assert history["events"][0]["action"] == "imported"


def test_every_bad_row_is_reported_and_nothing_is_imported(api, staff):
    create_item(handling_item="已有事项")
    before = _counts()
    bad = "\n".join(
        [
            HEADER,
            "行政许可,主项,子项,好的办理项,申请书,,,,,是,",
            "行政许可,主项,子项,坏的办理项,营业执照,,no_such_type,,certificate,是,",
            "行政许可证,主项,子项,类别错误,申请书,,,,,是,",
            "行政许可,主项,子项,好的办理项,证明,某医院,,,verification_request,也许,",
            "行政确认,主项,子项,好的办理项,另一材料,,,,,是,",
        ]
    )
    response = _import(api, staff.amr_token, bad)
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "import_rejected" and error["error_count"] == 5
    problems = {(d["row"], d["field"], d["code"]) for d in error["details"]}
    assert problems == {
        (3, "certificate_type", "unknown_certificate_type"),
        (4, "category", "invalid_category"),
        (5, "required", "invalid_value"),
        (5, "issuing_department", "unknown_issuing_department"),
        (6, "category", "inconsistent_item"),
    }
    assert all(d["message"] for d in error["details"])
    assert _counts() == before


def test_export_then_import_changes_nothing(api, staff):
    create_item(materials=[material("申请书"), licence_material(certificate_fields=["名称"])])
    create_item(state="published")
    before = _counts()
    exported = api.get("/service-item-catalogue.csv", token=staff.amr_token)
    assert exported.status_code == 200 and exported.data.startswith("\ufeff".encode())
    report = _import(api, staff.amr_token, exported.data.decode("utf-8")).get_json()
    assert (report["created"], report["updated"], report["revised"]) == (0, 0, 0)
    assert report["unchanged"] == 2
    as_json = api.get("/service-item-catalogue.json", token=staff.amr_token).get_json()
    report = _import(api, staff.amr_token, json.dumps(as_json), "application/json").get_json()
    assert report["unchanged"] == 2
    assert _counts() == before


def test_the_csv_export_parses_back_with_chinese_intact(api, staff):
    create_item(handling_item="食品生产许可(新办)", materials=[licence_material(notes="原件核验")])
    exported = api.get("/service-item-catalogue.csv", token=staff.amr_token)
    rows = list(csv.DictReader(io.StringIO(exported.data.decode("utf-8-sig"))))
    assert rows == [
        {
            "category": "行政许可",
            "main_item": "食品生产许可",
            "sub_item": "食品生产许可证核发",
            "handling_item": "食品生产许可(新办)",
            "material": "营业执照",
            "issuing_department": "市市场监督管理局",
            "certificate_type": "business_licence",
            "certificate_fields": "",
            "exemption_basis": "certificate",
            "required": "是",
            "notes": "原件核验",
        }
    ]


def test_importing_a_change_to_a_published_item_starts_a_revision(api, staff):
    item = create_item(state="published", handling_item="食品生产许可(新办)")
    exported = api.get("/service-item-catalogue.json", token=staff.amr_token).get_json()
    exported["items"][0]["materials"].append(material("新增材料"))
    report = _import(api, staff.amr_token, json.dumps(exported), "application/json").get_json()
    assert report["revised"] == 1
    latest = api.get(f"/service-items/{item.id}/latest", token=staff.amr_token).get_json()
    assert (latest["state"], latest["version"], latest["material_count"]) == ("draft", 2, 3)
    public = api.get(f"/service-items/{item.id}").get_json()
    assert (public["version"], public["material_count"]) == (1, 2)


def test_an_item_under_review_cannot_be_changed_by_import(api, staff):
    create_item(state="submitted", handling_item="审核中的事项")
    exported = api.get("/service-item-catalogue.json", token=staff.amr_token).get_json()
    exported["items"][0]["main_item"] = "改名"
    response = _import(api, staff.amr_token, json.dumps(exported), "application/json")
    assert response.status_code == 422
    detail = error_of(response)["details"][0]
    assert (detail["row"], detail["code"]) == (1, "invalid_state")


def test_a_json_catalogue_reports_rows_and_fields(api, staff):
    items = [
        {
            "category": "行政许可",
            "main_item": "甲",
            "sub_item": "甲",
            "handling_item": "甲",
            "materials": [material("申请书")],
        },
        {
            "category": "行政许可",
            "main_item": "乙",
            "sub_item": "乙",
            "handling_item": "甲",
            "materials": [material("证照", certificate_type="nope"), {"name": "x", "colour": 1}],
        },
    ]
    response = _import(api, staff.amr_token, json.dumps({"items": items}), "application/json")
    problems = {(d["row"], d["field"], d["code"]) for d in error_of(response)["details"]}
    assert problems == {(2, "materials.1.colour", "unknown_field")}
    items[1]["materials"].pop()
    response = _import(api, staff.amr_token, json.dumps({"items": items}), "application/json")
    problems = {(d["row"], d["field"], d["code"]) for d in error_of(response)["details"]}
    assert problems == {(2, "materials.0.certificate_type", "unknown_certificate_type")}
    items[1]["materials"] = [material("申请书")]
    response = _import(api, staff.amr_token, json.dumps({"items": items}), "application/json")
    problems = {(d["row"], d["field"], d["code"]) for d in error_of(response)["details"]}
    assert problems == {(2, "handling_item", "duplicate_handling_item")}
    assert _counts() == (0, 0)


def test_bad_files_are_rejected_with_their_own_codes(api, staff):
    cases = [
        (GOOD_CSV.encode("gbk"), "text/csv", 422, "invalid_encoding"),
        (b"category,material\n", "text/csv", 422, "invalid_header"),
        (b"", "text/csv", 422, "empty_file"),
        (b"{not json", "application/json", 422, "invalid_file"),
        (b'{"items": [], "department": "psb"}', "application/json", 422, "department_mismatch"),
        (b"a,b", "text/plain", 415, "unsupported_media_type"),
        (HEADER.encode() + b'\n"unterminated', "text/csv", 422, "invalid_file"),
    ]
    for data, media_type, status, code in cases:
        response = api.post(
            "/service-item-imports",
            data=data,
            headers={"Content-Type": media_type},
            token=staff.amr_token,
        )
        assert (response.status_code, error_of(response)["code"]) == (status, code), data[:40]
    assert _counts() == (0, 0)


def test_a_header_error_names_the_missing_and_unknown_columns(api, staff):
    header = HEADER.replace("notes", "remarks")
    response = _import(api, staff.amr_token, header + "\n")
    message = error_of(response)["message"]
    assert "notes" in message and "remarks" in message


def test_only_officers_import_and_only_their_own_department_is_exported(api, staff):
    assert _import(api, staff.supervisor_token, GOOD_CSV).status_code == 403
    other = api.get("/service-item-catalogue.json?department=psb", token=staff.amr_token)
    assert other.status_code == 403
    missing = api.get("/service-item-catalogue.json", token=staff.supervisor_token)
    assert missing.status_code == 422 and error_of(missing)["field"] == "department"
    create_item("psb", handling_item="户口迁移")
    by_supervisor = api.get(
        "/service-item-catalogue.json?department=psb", token=staff.supervisor_token
    ).get_json()
    assert [i["handling_item"] for i in by_supervisor["items"]] == ["户口迁移"]


def test_a_nul_in_a_csv_or_json_catalogue_is_refused_naming_where(api, staff):
    """PostgreSQL cannot store a NUL: refused before anything is checked or stored."""
    lines = GOOD_CSV.split("\n")
    lines[3] = lines[3].replace("食品安全管理制度", "食品安全\x00管理制度")
    response = _import(api, staff.amr_token, "\n".join(lines))
    assert response.status_code == 422  # the file's content, like certificate imports
    error = error_of(response)
    assert (error["code"], error["field"], error["line"]) == ("nul_character", "file", 4)
    items = [
        {"category": "行政许可", "main_item": "甲", "sub_item": "甲", "handling_item": "甲\u0000"}
    ]
    response = _import(api, staff.amr_token, json.dumps({"items": items}), "application/json")
    assert response.status_code == 400
    error = error_of(response)
    assert (error["code"], error["field"]) == ("invalid_character", "items.0.handling_item")
    assert _counts() == (0, 0)
