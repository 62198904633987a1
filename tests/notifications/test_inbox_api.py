"""The inbox API: paging with unread first, the unread count, marking read, and privacy."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from backend.extensions import db
from backend.services.tx import transactional
from notifications.models import Delivery
from notifications.service import notify
from tests.factories import create_user, error_of


@transactional
def inbox_of(user_id: int, titles: list[str], clock) -> list[int]:
    ids = []
    for title in titles:
        ids.append(notify(user_id, "general", title, f"{title}的内容"))
        clock.advance(timedelta(minutes=1))
    return ids


def test_the_inbox_lists_unread_first_then_newest_in_pages(api, frozen_clock):
    user = create_user()
    token = api.login(user)
    ids = inbox_of(user.id, ["一", "二", "三", "四", "五"], frozen_clock)
    for notification_id in (ids[1], ids[4]):  # read 二 and 五
        assert api.post(f"/notifications/{notification_id}/read", token=token).status_code == 200

    first = api.get("/notifications?per_page=2", token=token).get_json()
    assert (first["total"], first["unread"], first["page"], first["per_page"]) == (5, 3, 1, 2)
    assert [n["title"] for n in first["items"]] == ["四", "三"]
    second = api.get("/notifications?per_page=2&page=2", token=token).get_json()
    assert [n["title"] for n in second["items"]] == ["一", "五"]
    assert [n["read"] for n in second["items"]] == [False, True]
    third = api.get("/notifications?per_page=2&page=3", token=token).get_json()
    assert [n["title"] for n in third["items"]] == ["二"]
    assert third["items"][0]["created_at"].endswith("+08:00")


def test_marking_read_lowers_the_unread_count_once(api, frozen_clock):
    user = create_user()
    token = api.login(user)
    [notification_id] = inbox_of(user.id, ["通知"], frozen_clock)
    assert api.get("/notifications/unread-count", token=token).get_json() == {"unread": 1}

    first = api.post(f"/notifications/{notification_id}/read", token=token).get_json()
    frozen_clock.advance(timedelta(hours=1))
    again = api.post(f"/notifications/{notification_id}/read", token=token).get_json()
    assert first["read"] is True and again["read_at"] == first["read_at"]
    assert api.get("/notifications/unread-count", token=token).get_json() == {"unread": 0}
    inbox = db.session.scalar(select(Delivery).where(Delivery.channel == "inbox"))
    assert inbox.state == "read"


def test_nobody_can_read_or_mark_another_persons_notifications(api, frozen_clock):
    owner, other = create_user(), create_user()
    [notification_id] = inbox_of(owner.id, ["私人通知"], frozen_clock)
    token = api.login(other)
    response = api.post(f"/notifications/{notification_id}/read", token=token)
    assert response.status_code == 404
    assert error_of(response)["code"] == "notification_not_found"
    assert api.post("/notifications/999999/read", token=token).status_code == 404
    assert api.get("/notifications", token=token).get_json()["total"] == 0
    assert api.get("/notifications/unread-count", token=token).get_json() == {"unread": 0}
    owner_token = api.login(owner)
    assert api.get("/notifications/unread-count", token=owner_token).get_json() == {"unread": 1}


def test_the_inbox_needs_a_login_and_valid_paging(api):
    assert api.get("/notifications").status_code == 401
    assert api.get("/notifications/unread-count").status_code == 401
    assert api.post("/notifications/1/read").status_code == 401
    token = api.login(create_user())
    for query in ("per_page=0", "per_page=101", "page=0", "page=abc", "sort=new"):
        response = api.get(f"/notifications?{query}", token=token)
        assert response.status_code == 400, query
    assert error_of(api.get("/notifications?per_page=0", token=token))["field"] == "per_page"
