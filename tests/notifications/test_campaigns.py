"""Department campaigns: audiences, preview, access, fan-out in batches, the delivery report."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from backend.extensions import db
from backend.models import Role
from notifications import campaigns
from notifications.models import Campaign, Notification
from notifications.sweeper import sweep
from tests.factories import (
    create_certificate,
    create_certificate_type,
    create_company_representative,
    create_department,
    create_officer,
    create_user,
    error_of,
)
from tests.notifications.factories import create_holders, create_wechat_user


@pytest.fixture
def department():
    return create_department(name="市市场监督管理局")


@pytest.fixture
def officer(department):
    return create_officer(department)


@pytest.fixture
def cert_type(department):
    return create_certificate_type(department=department, name="食品经营许可证")


@pytest.fixture
def quick_fanout(app, monkeypatch):
    monkeypatch.setitem(app.config, "CAMPAIGN_BATCH_SIZE", 300)
    monkeypatch.setitem(app.config, "CAMPAIGN_FANOUT_RATE_PER_S", 0)


def holders_of(cert_type) -> dict:
    return {"kind": "certificate_type_holders", "certificate_type": cert_type.code}


def campaign_body(audience: dict, **extra) -> dict:
    return {
        "title": "年度报告提醒",
        "body": "请于6月30日前完成年度报告。",
        "audience": audience,
        **extra,
    }


def test_a_campaign_to_1000_holders_delivers_exactly_1000_per_channel(
    api, officer, cert_type, fake_wechat, run_worker, quick_fanout
):
    create_holders(cert_type, 1000)
    token = api.login(officer)

    preview = api.post("/campaigns/preview", json={"audience": holders_of(cert_type)}, token=token)
    assert preview.status_code == 200
    assert preview.get_json() == {"recipients": 1000, "wechat_reachable": 1000}

    created = api.post("/campaigns", json=campaign_body(holders_of(cert_type)), token=token)
    assert created.status_code == 202, created.get_json()
    campaign = created.get_json()
    assert (campaign["state"], campaign["audience_size"], campaign["deliveries"]) == (
        "queued",
        1000,
        {},
    )

    run_worker()

    report = api.get(f"/campaigns/{campaign['id']}", token=token).get_json()
    assert (report["state"], report["recipients"]) == ("sent", 1000)
    assert report["deliveries"] == {"inbox": {"sent": 1000}, "wechat": {"sent": 1000}}
    assert len(fake_wechat.state.sent) == 1000
    assert len({m["touser"] for m in fake_wechat.state.sent}) == 1000
    assert fake_wechat.state.sent[0]["template_id"] == "department_notice"
    assert fake_wechat.state.sent[0]["data"]["thing2"] == {"value": "市市场监督管理局"}


def test_each_holder_is_told_once_whether_person_or_company(
    api, officer, cert_type, department, run_worker, quick_fanout
):
    person_holder = create_user()
    create_certificate(cert_type=cert_type, holder=person_holder.person)
    create_certificate(cert_type=cert_type, holder=person_holder.person)  # two of them
    company_type = create_certificate_type(department=department, holder_kind="company")
    representative = create_company_representative()
    create_certificate(cert_type=company_type, holder=representative.companies[0])
    token = api.login(officer)

    for audience in (holders_of(cert_type), holders_of(company_type)):
        preview = api.post("/campaigns/preview", json={"audience": audience}, token=token)
        assert preview.get_json()["recipients"] == 1
        assert api.post("/campaigns", json=campaign_body(audience), token=token).status_code == 202
    run_worker()
    assert (
        db.session.scalar(
            select(func.count(Notification.id)).where(Notification.user_id == person_holder.id)
        )
        == 1
    )
    assert (
        db.session.scalar(
            select(func.count(Notification.id)).where(Notification.user_id == representative.id)
        )
        == 1
    )


def test_revoked_and_expired_certificates_are_not_in_the_audience(
    api, officer, cert_type, frozen_clock
):
    today = frozen_clock.now().date()
    valid, expired, revoked = create_user(), create_user(), create_user()
    create_certificate(cert_type=cert_type, holder=valid.person, expires_on=today)
    create_certificate(
        cert_type=cert_type, holder=expired.person, expires_on=today - timedelta(days=1)
    )
    create_certificate(cert_type=cert_type, holder=revoked.person).status = "revoked"
    db.session.commit()
    token = api.login(officer)
    preview = api.post("/campaigns/preview", json={"audience": holders_of(cert_type)}, token=token)
    assert preview.get_json()["recipients"] == 1


def test_holders_whose_certificate_expires_within_n_days(api, officer, cert_type, frozen_clock):
    today = date(2026, 5, 4)
    for days in (0, 5, 30, 31, -1):
        certificate = create_certificate(cert_type=cert_type, expires_on=today + timedelta(days))
        create_user(person_id=certificate.holder_person_id)
    token = api.login(officer)
    audience = {"kind": "expiring_certificates", "within_days": 30}
    assert (
        api.post("/campaigns/preview", json={"audience": audience}, token=token).get_json()[
            "recipients"
        ]
        == 3
    )
    audience["certificate_type"] = cert_type.code
    assert (
        api.post("/campaigns/preview", json={"audience": audience}, token=token).get_json()[
            "recipients"
        ]
        == 3
    )


@pytest.mark.parametrize(
    ("audience", "status", "code", "field"),
    [
        ({"kind": "certificate_type_holders"}, 422, "missing_field", "audience.certificate_type"),
        (
            {"kind": "certificate_type_holders", "certificate_type": "nope"},
            422,
            "unknown_certificate_type",
            "audience.certificate_type",
        ),
        (
            {"kind": "certificate_type_holders", "certificate_type": "OWN", "within_days": 3},
            422,
            "unknown_field",
            "audience.within_days",
        ),
        (
            {"kind": "bundle_applicants", "theme_id": 1},
            422,
            "unknown_theme",
            "audience.theme_id",
        ),
        ({"kind": "everyone"}, 400, "invalid_value", "audience.kind"),
        (
            {"kind": "expiring_certificates", "within_days": 0},
            400,
            "invalid_value",
            "audience.within_days",
        ),
    ],
)
def test_bad_audiences_are_refused_with_the_field_named(
    api, officer, cert_type, audience, status, code, field
):
    if audience.get("certificate_type") == "OWN":
        audience = {**audience, "certificate_type": cert_type.code}
    token = api.login(officer)
    for path, body in (
        ("/campaigns/preview", {"audience": audience}),
        ("/campaigns", campaign_body(audience)),
    ):
        response = api.post(path, json=body, token=token)
        assert response.status_code == status, response.get_json()
        assert (error_of(response)["code"], error_of(response)["field"]) == (code, field)
    assert db.session.scalar(select(func.count(Campaign.id))) == 0


def test_an_officer_may_only_address_holders_of_their_own_department_types(api, officer):
    foreign_type = create_certificate_type()
    create_certificate(cert_type=foreign_type)
    token = api.login(officer)
    response = api.post("/campaigns", json=campaign_body(holders_of(foreign_type)), token=token)
    assert response.status_code == 403
    assert error_of(response)["code"] == "certificate_type_not_yours"


def test_a_campaign_to_nobody_is_refused(api, officer, cert_type):
    response = api.post(
        "/campaigns", json=campaign_body(holders_of(cert_type)), token=api.login(officer)
    )
    assert response.status_code == 422
    assert error_of(response)["code"] == "empty_audience"
    assert db.session.scalar(select(func.count(Campaign.id))) == 0


def test_only_department_officers_send_campaigns(api, cert_type):
    body = campaign_body(holders_of(cert_type))
    assert api.post("/campaigns", json=body).status_code == 401
    for role in (Role.CITIZEN, Role.SUPERVISOR, Role.VERIFIER_MEMBER):
        token = api.login(create_user(role))
        assert api.post("/campaigns", json=body, token=token).status_code == 403


def test_another_departments_campaign_is_not_found(api, officer, cert_type, run_worker):
    create_holders(cert_type, 3)
    token = api.login(officer)
    campaign_id = api.post("/campaigns", json=campaign_body(holders_of(cert_type)), token=token)
    campaign_id = campaign_id.get_json()["id"]
    stranger = api.login(create_officer())
    response = api.get(f"/campaigns/{campaign_id}", token=stranger)
    assert response.status_code == 404 and error_of(response)["code"] == "campaign_not_found"
    assert api.get("/campaigns", token=stranger).get_json()["total"] == 0
    listed = api.get("/campaigns", token=token).get_json()
    assert [c["id"] for c in listed["items"]] == [campaign_id]


def test_an_interrupted_fan_out_resumes_without_telling_anyone_twice(
    app, officer, cert_type, run_worker, frozen_clock, quick_fanout
):
    user_ids = create_holders(cert_type, 10)
    campaign = campaigns.create(officer, campaign_body(holders_of(cert_type)))
    # A worker claims it, writes the first batch, and dies.
    assert campaigns._claim(campaign.id)
    campaigns._write_batch(campaign, sorted(user_ids)[:4])
    run_worker()  # the queued fan-out job finds the campaign claimed and leaves it
    assert db.session.scalar(select(func.count(Notification.id))) == 4

    frozen_clock.advance(timedelta(seconds=campaigns.FANOUT_LEASE_S + 1))
    assert sweep().campaigns == 1
    run_worker()
    told = db.session.scalars(select(Notification.user_id).order_by(Notification.user_id)).all()
    assert told == sorted(user_ids)
    db.session.expire_all()
    assert db.session.get(Campaign, campaign.id).state == "sent"
    assert campaigns.delivery_counts(campaign.id) == {
        "inbox": {"sent": 10},
        "wechat": {"sent": 10},
    }


def test_a_subscriber_with_one_time_acceptances_is_reached_while_they_last(
    api, officer, cert_type, run_worker, quick_fanout, fake_wechat
):
    user = create_wechat_user(template="department_notice", one_time=1, long_term=False)
    create_certificate(cert_type=cert_type, holder=user.person)
    token = api.login(officer)
    for _ in range(2):
        api.post("/campaigns", json=campaign_body(holders_of(cert_type)), token=token)
        run_worker()
    assert len(fake_wechat.state.sent) == 1
    assert db.session.scalar(select(func.count(Notification.id))) == 2


@pytest.mark.parametrize(
    ("link", "accepted"),
    [
        ("pages/notice/detail?id=3", True),
        ("https://zwfw.example.gov.cn/notice/3", True),
        ("javascript:alert(1)", False),
        ("http://example.com/", False),
        ("pages/x\nSet-Cookie: a", False),
    ],
)
def test_a_campaign_link_is_a_mini_program_page_or_an_https_address(
    api, officer, cert_type, link, accepted
):
    create_holders(cert_type, 1)
    token = api.login(officer)
    response = api.post(
        "/campaigns", json=campaign_body(holders_of(cert_type), link=link), token=token
    )
    if accepted:
        assert response.status_code == 202 and response.get_json()["link"] == link
    else:
        assert response.status_code == 400 and error_of(response)["field"] == "link"
