"""One ``notify`` (the single-recipient path) reaches exactly whom a campaign batch reaches.

Each channel states its rule twice: set-based (``recipients``, for thousands at once) and
for one user (``reaches``, the path every scan takes). Same users in the same states must
get the same deliveries and use up the same one-time subscriptions either way.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from backend import clock, db_driver
from backend.extensions import db
from backend.models import Role
from notifications.channels import CHANNELS
from notifications.channels.base import PROBE_USER_ID, ReservationNeeded
from notifications.models import Delivery, Notification, WeChatSubscription
from notifications.outbox import channel_probes, create_deliveries, reached_channels
from notifications.service import notify
from notifications.templates import TEMPLATES, Template
from tests.factories import create_user
from tests.notifications.factories import subscribe

# (openid?, one-time acceptances, long-term?) for each user state.
STATES = {
    "no openid, subscribed": (False, 2, False),
    "openid, no subscription": (True, None, False),
    "openid, one-time left": (True, 1, False),
    "openid, one-time used up": (True, 0, False),
    "openid, long-term": (True, 0, True),
    "openid, long-term and one-time": (True, 3, True),
}


def _users(category: str, tag: str) -> dict[str, int]:
    template = TEMPLATES[category]
    users = {}
    for n, (state, (openid, one_time, long_term)) in enumerate(STATES.items()):
        user = create_user(Role.CITIZEN, wechat_openid=f"o-{tag}-{n}" if openid else None)
        if one_time is not None and template.wechat is not None:
            subscribe(user, template.wechat.key, one_time=one_time, long_term=long_term)
        users[state] = user.id
    return users


def _outcome(users: dict[str, int]) -> dict[str, tuple]:
    """Per state: the channels delivered to, and the one-time acceptances left."""
    result = {}
    for state, user_id in users.items():
        channels = db.session.scalars(
            select(Delivery.channel)
            .join(Notification, Notification.id == Delivery.notification_id)
            .where(Notification.user_id == user_id)
            .order_by(Delivery.channel)
        ).all()
        left = db.session.scalars(
            select(WeChatSubscription.one_time_remaining).where(
                WeChatSubscription.user_id == user_id
            )
        ).all()
        result[state] = (tuple(channels), tuple(left))
    return result


@pytest.mark.parametrize("category", sorted(TEMPLATES))
def test_one_notify_reaches_whom_a_batch_reaches(app, category):
    single, batch = _users(category, "single"), _users(category, "batch")
    for user_id in single.values():
        notify(user_id, category, "标题", "内容")
    db.session.commit()

    now = clock.now()
    rows = [
        Notification(user_id=u, category=category, title="标题", body="内容", created_at=now)
        for u in batch.values()
    ]
    db.session.add_all(rows)
    db.session.flush()
    create_deliveries([Notification.id.in_([r.id for r in rows])], category)
    db.session.commit()

    assert _outcome(single) == _outcome(batch)
    # And the rule is not vacuous: with a WeChat template, exactly the reachable states get one.
    wechat = {s for s, (channels, _) in _outcome(single).items() if "wechat" in channels}
    if TEMPLATES[category].wechat is None:
        assert wechat == set()
    else:
        assert wechat == {
            "openid, one-time left",
            "openid, long-term",
            "openid, long-term and one-time",
        }


def test_sms_always_reaches_only_people_with_a_phone(app):
    """No template sends SMS always today; the rule still agrees with the batch form."""
    template = Template("sms_always_probe", "测试", None, sms="always")
    with_phone = create_user(Role.CITIZEN)  # the factory's person has a phone number
    officer = create_user(Role.DEPARTMENT_OFFICER)  # no person, so no phone
    sms = CHANNELS["sms"]
    assert sms.reaches(with_phone.id, template) is True
    assert sms.reaches(officer.id, template) is False
    now = clock.now()
    rows = [
        Notification(user_id=u.id, category="general", title="t", body="b", created_at=now)
        for u in (with_phone, officer)
    ]
    db.session.add_all(rows)
    db.session.flush()
    users = select(Notification.user_id).where(Notification.id.in_([r.id for r in rows]))
    reached = db.session.scalars(
        select(Notification.user_id).where(
            Notification.id.in_([r.id for r in rows]), sms.recipients(users, template)
        )
    ).all()
    assert reached == [with_phone.id]


@pytest.mark.parametrize("category", sorted(TEMPLATES))
def test_the_driver_look_up_reaches_whom_the_session_look_up_reaches(app, category):
    """A scan decides its holder's channels on the bare driver, reading outside a
    transaction first and reserving inside one only when it must (``ReservationNeeded``):
    the same channels and the same acceptances used up as ``notify``'s look-up."""
    by_session, by_driver = _users(category, "s"), _users(category, "d")
    if not db_driver.usable():  # SQLite: scans notify through the session
        assert db.engine.dialect.name == "sqlite"
        return
    expected = {state: reached_channels(uid, category) for state, uid in by_session.items()}
    db.session.commit()
    got = {}
    with db_driver.connection() as conn:
        for state, user_id in by_driver.items():
            try:
                got[state] = reached_channels(user_id, category, conn=conn, reserve=False)
            except ReservationNeeded:
                with conn.transaction():
                    got[state] = reached_channels(user_id, category, conn=conn)
    assert got == expected
    db.session.expire_all()

    def left(users):
        return {
            state: db.session.scalars(
                select(WeChatSubscription.one_time_remaining).where(
                    WeChatSubscription.user_id == user_id
                )
            ).all()
            for state, user_id in users.items()
        }

    assert left(by_driver) == left(by_session)


def _probed(user_id: int, category: str, conn=None) -> dict:
    """The category's channel probes for one user, read in one statement of their own
    (a scan reads them along its load)."""
    probes, params = channel_probes(category)
    if not probes:
        return {}
    statement = select(*(expression.label(name) for name, expression in probes))
    row = db_driver.first_row(statement, {**params, PROBE_USER_ID: user_id}, conn)
    return dict(row._mapping)


@pytest.mark.parametrize("category", sorted(TEMPLATES))
def test_look_ups_read_along_another_statement_reach_whom_their_own_reach(app, category):
    """``channel_probes`` states each channel's look-up as SQL a hot path sends with a
    statement of its own: deciding from what it read gives the same channels, and a
    one-time acceptance is still reserved only inside a transaction."""
    by_look_up, by_probe = _users(category, "l"), _users(category, "p")
    expected = {state: reached_channels(uid, category) for state, uid in by_look_up.items()}
    db.session.commit()
    got = {}
    for state, user_id in by_probe.items():
        probed = _probed(user_id, category)
        try:
            got[state] = reached_channels(user_id, category, reserve=False, probed=probed)
        except ReservationNeeded:
            got[state] = reached_channels(user_id, category)  # reserves, as a scan does
    assert got == expected
    probed_channels = [name for name, _ in channel_probes(category)[0]]
    assert ("wechat" in probed_channels) is (TEMPLATES[category].wechat is not None)


def test_the_sms_probe_agrees_with_its_look_up(app):
    template = Template("sms_always_probe", "测试", None, sms="always")
    with_phone = create_user(Role.CITIZEN)
    officer = create_user(Role.DEPARTMENT_OFFICER)  # no person, so no phone
    sms = CHANNELS["sms"]
    expression, params = sms.probe(template)
    for user, expected in ((with_phone, True), (officer, False)):
        value = db.session.scalar(select(expression), {**params, PROBE_USER_ID: user.id})
        assert sms.reaches(user.id, template, probed=value) is expected
    app.config["SMS_PROVIDER"] = "none"
    try:
        assert sms.probe(template) is None  # SMS off: nothing to look up, nobody reached
        assert sms.reaches(with_phone.id, template, probed=True) is False
    finally:
        app.config["SMS_PROVIDER"] = "logging"
