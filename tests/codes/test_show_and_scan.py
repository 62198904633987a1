"""The whole path through the API: show a code, read its image, scan it, see the record."""

from __future__ import annotations

from sqlalchemy import select

from backend.extensions import db
from backend.models import Notification, UsageRecord
from backend.services.accounts import person_id_number
from backend.services.certificate_types import update_type
from backend.token_store import CODE_TOKEN_PREFIX, get_token_store
from tests.codes.conftest import decode_qr, scan, show, show_ok
from tests.factories import (
    ApiClient,
    create_certificate,
    create_company_representative,
    create_user,
    create_verifier_member,
    create_verifier_organisation,
    error_of,
)


def test_a_shown_code_is_read_from_its_png_and_scanned_with_only_the_fields_in_scope(api, world):
    code = show_ok(api, world.citizen_token, [world.id_card.id], purpose="酒店入住")
    assert code["ttl_s"] == 60 and code["refresh_after_s"] == 30
    assert code["qr_content"] == f"http://127.0.0.1:8000/c/{code['token']}"

    image = api.get(f"/codes/{code['token']}/qr.png", token=world.citizen_token)
    assert image.status_code == 200 and image.mimetype == "image/png"
    assert image.headers["Cache-Control"] == "no-store"
    decoded = decode_qr(image.data)
    assert decoded == code["qr_content"]

    response = scan(api, world.member_token, decoded)
    assert response.status_code == 200, response.get_json()
    result = response.get_json()
    assert result["valid"] is True and result["withheld"] == 0
    assert result["organisation"] == "西湖宾馆"
    [certificate] = result["certificates"]
    assert certificate["type"]["code"] == "id_card"
    assert certificate["status"] == "valid" and certificate["result"] == "ok"
    assert certificate["seal"] == {"valid": True, "reason": "ok"}
    assert certificate["fields"] == {
        "姓名": world.citizen.person.name,
        "公民身份号码": person_id_number(world.citizen.person),
    }

    [record] = db.session.scalars(select(UsageRecord)).all()
    assert record.organisation_id == world.hotel.id and record.member_id == world.member.id
    assert record.certificate_id == world.id_card.id
    assert record.fields_disclosed == ["姓名", "公民身份号码"]
    assert record.purpose == "入住登记" and record.result == "ok"

    [notification] = db.session.scalars(
        select(Notification).where(Notification.user_id == world.citizen.id)
    ).all()
    assert notification.category == "certificate_used"
    assert "西湖宾馆" in notification.body and "居民身份证" in notification.body


def test_the_svg_image_is_served_to_the_holder(api, world):
    code = show_ok(api, world.citizen_token, [world.id_card.id])
    image = api.get(f"/codes/{code['token']}/qr.svg", token=world.citizen_token)
    assert image.status_code == 200 and image.mimetype == "image/svg+xml"
    assert b"<svg" in image.data and b"<path" in image.data


def test_only_the_holder_gets_the_image_and_the_state_of_a_code(api, world):
    code = show_ok(api, world.citizen_token, [world.id_card.id])
    other = api.login(create_user())
    for path in ("", "/qr.png", "/qr.svg"):
        response = api.get(f"/codes/{code['token']}{path}", token=other)
        assert response.status_code == 404
        assert error_of(response)["code"] == "code_not_found"
    assert api.get(f"/codes/{code['token']}/qr.png", token=world.member_token).status_code == 403


def test_the_holder_sees_the_code_waiting_then_shown_to_the_organisation(api, world):
    code = show_ok(api, world.citizen_token, [world.id_card.id])
    status = api.get(f"/codes/{code['token']}", token=world.citizen_token).get_json()
    assert status["status"] == "waiting"
    assert scan(api, world.member_token, code["qr_content"]).status_code == 200
    status = api.get(f"/codes/{code['token']}", token=world.citizen_token).get_json()
    assert status["status"] == "scanned"
    assert status["scanned_by"] == {"organisation": "西湖宾馆"}
    image = api.get(f"/codes/{code['token']}/qr.png", token=world.citizen_token)
    assert image.status_code == 404


def test_a_new_code_for_the_same_certificates_replaces_the_previous_one(api, world):
    first = show_ok(api, world.citizen_token, [world.id_card.id])
    second = show_ok(api, world.citizen_token, [world.id_card.id])
    assert first["token"] != second["token"]
    response = scan(api, world.member_token, first["qr_content"])
    assert response.status_code == 410 and error_of(response)["code"] == "code_expired"
    status = api.get(f"/codes/{first['token']}", token=world.citizen_token).get_json()
    assert status["status"] == "replaced"
    assert scan(api, world.member_token, second["qr_content"]).status_code == 200


def test_a_code_for_another_set_of_certificates_leaves_the_first_one_working(api, world):
    first = show_ok(api, world.citizen_token, [world.id_card.id])
    show_ok(api, world.citizen_token, [world.id_card.id, world.marriage.id])
    assert scan(api, world.member_token, first["qr_content"]).status_code == 200


def test_the_code_lifetime_can_be_chosen_within_limits(api, world):
    code = show_ok(api, world.citizen_token, [world.id_card.id], ttl_s=120)
    assert code["ttl_s"] == 120 and code["refresh_after_s"] == 60
    assert 60 < get_token_store().ttl(CODE_TOKEN_PREFIX + code["token"]) <= 125
    for ttl in (14, 301):
        response = show(api, world.citizen_token, [world.id_card.id], ttl_s=ttl)
        assert response.status_code == 400 and error_of(response)["field"] == "ttl_s"


def test_a_code_token_carries_128_random_bits(api, world):
    tokens = {show_ok(api, world.citizen_token, [world.id_card.id])["token"] for _ in range(5)}
    assert len(tokens) == 5
    assert all(len(t) == 22 for t in tokens)  # base64url of 16 bytes


def test_only_own_valid_certificates_can_be_shown(api, world):
    stranger_card = create_certificate("id_card")
    response = show(api, world.citizen_token, [world.id_card.id, stranger_card.id])
    assert response.status_code == 404
    assert error_of(response)["code"] == "certificate_not_found"
    world.marriage.status = "revoked"
    db.session.commit()
    response = show(api, world.citizen_token, [world.marriage.id])
    assert response.status_code == 422
    assert error_of(response)["code"] == "certificate_not_valid"
    assert error_of(response)["status"] == "revoked"


def test_verifiers_cannot_show_codes_and_holders_cannot_scan(api, world):
    response = show(api, world.member_token, [world.id_card.id])
    assert response.status_code == 403
    code = show_ok(api, world.citizen_token, [world.id_card.id])
    assert scan(api, world.citizen_token, code["qr_content"]).status_code == 403


def test_out_of_scope_certificates_are_withheld_and_logged(api, world):
    code = show_ok(api, world.citizen_token, [world.id_card.id, world.marriage.id])
    result = scan(api, world.member_token, code["qr_content"]).get_json()
    assert [c["type"]["code"] for c in result["certificates"]] == ["id_card"]
    assert result["withheld"] == 1
    results = {
        r.certificate_id: (r.result, r.fields_disclosed)
        for r in db.session.scalars(select(UsageRecord))
    }
    assert results == {
        world.id_card.id: ("ok", ["姓名", "公民身份号码"]),
        world.marriage.id: ("out_of_scope", []),
    }


def test_a_scope_of_all_fields_discloses_every_field_with_id_numbers_masked(api, world):
    world.hotel.scope = {"id_card": None}
    db.session.commit()
    code = show_ok(api, world.citizen_token, [world.id_card.id])
    [certificate] = scan(api, world.member_token, code["qr_content"]).get_json()["certificates"]
    assert set(certificate["fields"]) == set(world.id_card.type.field_names())
    number = person_id_number(world.citizen.person)
    assert certificate["fields"]["公民身份号码"] == number[:4] + "*" * 10 + number[-4:]


def test_a_company_representative_shows_the_company_licence(api, seeded):
    representative = create_company_representative()
    company = representative.companies[0]
    licence = create_certificate("business_licence", holder=company)
    bank = create_verifier_organisation(name="银行网点", scope={"business_licence": ["名称"]})
    clerk = api.login(create_verifier_member(bank))
    code = show_ok(api, api.login(representative), [licence.id])
    [certificate] = scan(api, clerk, code["qr_content"]).get_json()["certificates"]
    assert certificate["fields"] == {"名称": company.name}


def test_a_representative_cannot_show_another_companys_licence(api, seeded):
    representative = create_company_representative()
    other = create_company_representative()  # represents a company of their own
    theirs = create_certificate("business_licence", holder=other.companies[0])
    ours = create_certificate("business_licence", holder=representative.companies[0])
    token = api.login(representative)
    for ids in ([theirs.id], [ours.id, theirs.id]):
        response = show(api, token, ids)
        assert response.status_code == 404
        assert error_of(response)["code"] == "certificate_not_found"
    show_ok(api, token, [ours.id])


def test_the_code_url_opens_a_page_that_reveals_and_consumes_nothing(client, api, world):
    code = show_ok(api, world.citizen_token, [world.id_card.id])
    page = client.get(f"/c/{code['token']}")
    assert page.status_code == 200 and page.mimetype == "text/html"
    text = page.get_data(as_text=True)
    assert "小程序" in text and world.citizen.person.name not in text
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert scan(api, world.member_token, code["qr_content"]).status_code == 200


def test_a_worker_may_serve_an_organisation_scope_from_memory_for_its_configured_time(
    make_app, world
):
    cached = make_app(SCOPE_CACHE_TTL_S=3600)
    api = ApiClient(cached.test_client())
    first = show_ok(api, world.citizen_token, [world.id_card.id])
    assert scan(api, world.member_token, first["qr_content"]).status_code == 200
    world.hotel.scope = {"id_card": ["姓名"]}
    db.session.commit()
    second = show_ok(api, world.citizen_token, [world.id_card.id])
    [certificate] = scan(api, world.member_token, second["qr_content"]).get_json()["certificates"]
    assert set(certificate["fields"]) == {"姓名", "公民身份号码"}  # still the cached scope
    cached.extensions["scope_cache"].clear()
    third = show_ok(api, world.citizen_token, [world.id_card.id])
    [certificate] = scan(api, world.member_token, third["qr_content"]).get_json()["certificates"]
    assert set(certificate["fields"]) == {"姓名"}


def test_a_scan_after_a_type_edit_shows_the_edited_type(api, world):
    """Workers keep each type's code, name and fields under its revision: an edit made
    anywhere replaces the revision, so the next scan reads the type again."""
    code = show_ok(api, world.citizen_token, [world.id_card.id])
    [before] = scan(api, world.member_token, code["qr_content"]).get_json()["certificates"]
    assert before["type"]["name"] == world.id_card.type.name
    update_type("id_card", {"name": "居民身份证(电子)"})
    db.session.commit()
    code = show_ok(api, world.citizen_token, [world.id_card.id])
    [after] = scan(api, world.member_token, code["qr_content"]).get_json()["certificates"]
    assert after["type"]["name"] == "居民身份证(电子)"
    assert after["fields"] == before["fields"]
