"""Notification test data: WeChat users with subscriptions, certificate holders in bulk."""

from __future__ import annotations

import itertools
from datetime import date

from sqlalchemy import insert, select

from backend import clock
from backend.extensions import db
from backend.models import Certificate, CertificateType, Department, Person, Role, User
from backend.security.crypto import get_cipher
from notifications.models import Delivery, Notification, WeChatSubscription
from notifications.templates import wechat_templates
from tests.factories import create_person, create_user, valid_id_number

_seq = itertools.count(1)


def subscribe(user: User, template_key: str, one_time: int = 0, long_term: bool = False):
    """A subscription row for a template key (the test config maps keys to themselves)."""
    row = WeChatSubscription(
        user_id=user.id,
        template_id=wechat_templates()[template_key].key,
        one_time_remaining=one_time,
        long_term=long_term,
    )
    db.session.add(row)
    db.session.commit()
    return row


def create_wechat_user(
    *, template: str | None = None, one_time: int = 1, long_term: bool = False, phone=True
) -> User:
    """A citizen logged in through WeChat; with a phone unless ``phone=False``."""
    n = next(_seq)
    person = create_person(id_number=valid_id_number(), phone="13800000000") if phone else None
    user = create_user(Role.CITIZEN, wechat_openid=f"openid-{n}", person=person)
    if not phone:
        user.person = None
        db.session.commit()
    if template:
        subscribe(user, template, one_time=one_time, long_term=long_term)
    return user


def create_holders(
    cert_type: CertificateType,
    count: int,
    *,
    expires_on: date | None = None,
    template: str | None = "department_notice",
) -> list[int]:
    """``count`` people, each with a WeChat account, a long-term subscription to ``template``
    and a valid certificate of ``cert_type``, written in bulk (the audience reads only the
    certificate's columns, so the payload is a placeholder)."""
    cipher = get_cipher()
    first = next(_seq) * 100_000
    people = [
        {
            "name": f"持证人{i}",
            "id_number_cipher": cipher.encrypt_text(f"id-{i}"),
            "id_number_hash": cipher.index(f"id-{first}-{i}"),
            "phone_cipher": cipher.encrypt_text("13900000000"),
        }
        for i in range(first, first + count)
    ]
    person_ids = list(db.session.scalars(insert(Person).returning(Person.id), people))
    users = [
        {
            "username": f"holder{pid}",
            "display_name": f"持证人{pid}",
            "role": Role.CITIZEN.value,
            "wechat_openid": f"openid-holder-{pid}",
            "person_id": pid,
        }
        for pid in person_ids
    ]
    user_ids = list(db.session.scalars(insert(User).returning(User.id), users))
    department = db.session.get(Department, cert_type.department_id)
    db.session.execute(
        insert(Certificate),
        [
            {
                "serial": f"{department.code}-{cert_type.id}-{pid}",
                "type_id": cert_type.id,
                "department_id": department.id,
                "holder_person_id": pid,
                "payload_cipher": b"placeholder",
                "payload_digest": "0" * 64,
                "status": "valid",
                "issued_on": date(2024, 1, 1),
                "expires_on": expires_on,
                "electronic_issued_at": clock.now(),
            }
            for pid in person_ids
        ],
    )
    if template:
        db.session.execute(
            insert(WeChatSubscription),
            [{"user_id": uid, "template_id": template, "long_term": True} for uid in user_ids],
        )
    db.session.commit()
    return user_ids


def deliveries_of(notification_id: int) -> dict[str, Delivery]:
    db.session.expire_all()
    rows = db.session.scalars(select(Delivery).where(Delivery.notification_id == notification_id))
    return {d.channel: d for d in rows}


def notifications_of(user_id: int) -> list[Notification]:
    return list(db.session.scalars(select(Notification).where(Notification.user_id == user_id)))
