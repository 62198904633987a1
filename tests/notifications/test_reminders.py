"""Daily certificate expiry reminders, 30 and 7 days ahead, once per day however often run."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from backend.extensions import db
from notifications.models import Campaign, Notification
from tests.factories import create_certificate, create_certificate_type
from tests.notifications.factories import create_wechat_user

TODAY = date(2026, 5, 4)  # the frozen clock's day in Shanghai


def holder_expiring_in(cert_type, days: int | None, status: str = "valid"):
    user = create_wechat_user(template="certificate_expiry", long_term=True)
    expires = TODAY + timedelta(days=days) if days is not None else None
    certificate = create_certificate(cert_type=cert_type, holder=user.person, expires_on=expires)
    certificate.status = status
    db.session.commit()
    return user


def test_holders_are_reminded_30_and_7_days_before_expiry_once(
    runner, frozen_clock, run_worker, fake_wechat
):
    cert_type = create_certificate_type(name="食品经营许可证")
    in_30 = holder_expiring_in(cert_type, 30)
    in_7 = holder_expiring_in(cert_type, 7)
    others = [
        holder_expiring_in(cert_type, 10),
        holder_expiring_in(cert_type, None),
        holder_expiring_in(cert_type, 30, status="revoked"),
    ]

    first = runner.invoke(args=["notifications-expiry-reminders"])
    assert first.exit_code == 0, first.output
    assert "created 2 reminder campaigns" in first.output
    again = runner.invoke(args=["notifications-expiry-reminders", "--date", TODAY.isoformat()])
    assert "created 0 reminder campaigns" in again.output
    assert len(db.session.scalars(select(Campaign)).all()) == 2

    run_worker()
    told = {n.user_id: n for n in db.session.scalars(select(Notification))}
    assert set(told) == {in_30.id, in_7.id}
    assert told[in_30.id].title == "食品经营许可证将于30天后到期"
    assert told[in_7.id].category == "certificate_expiry"
    assert all(u.id not in told for u in others)
    by_user = {m["touser"]: m for m in fake_wechat.state.sent}
    assert by_user[in_30.wechat_openid]["data"]["date2"] == {"value": "2026年6月3日"}
    assert by_user[in_7.wechat_openid]["data"]["thing1"] == {"value": "食品经营许可证"}


def test_a_type_name_as_long_as_the_title_column_still_gets_its_reminder(runner, frozen_clock):
    """One failing insert would stop every type's reminders for the day."""
    cert_type = create_certificate_type(name="证" * 100)
    holder_expiring_in(cert_type, 30)
    result = runner.invoke(args=["notifications-expiry-reminders"])
    assert result.exit_code == 0, result.output
    (campaign,) = db.session.scalars(select(Campaign)).all()
    assert len(campaign.title) == 100 and campaign.title.endswith("证…将于30天后到期")


def test_a_bad_date_is_refused(runner):
    result = runner.invoke(args=["notifications-expiry-reminders", "--date", "2026-13-01"])
    assert result.exit_code == 2 and "YYYY-MM-DD" in result.output
