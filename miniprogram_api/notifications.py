"""Inbox, WeChat subscriptions and department campaigns: thin views over ``notifications``."""

from __future__ import annotations

from typing import Any

from backend.clock import to_local
from backend.models import Role
from miniprogram_api import bp
from miniprogram_api.registry import LOGGED_IN, endpoint, obj, page_query
from notifications import campaigns, service, subscriptions
from notifications.audiences import audience_schema
from notifications.models import Campaign, Notification, WeChatSubscription

OFFICER = (Role.DEPARTMENT_OFFICER.value,)
# Shown as a link in the inbox: a page of the mini-program or an https address, nothing else.
LINK_PATTERN = r"^(/?pages/[A-Za-z0-9_/\-]+(\?[A-Za-z0-9_=&%.\-]*)?|https://[^\s<>\"]+)$"
NOTIFICATION = obj(
    {
        "id": {"type": "integer"},
        "category": {"type": "string"},
        "title": {"type": "string"},
        "body": {"type": "string"},
        "link": {"type": ["string", "null"]},
        "created_at": {"type": "string", "description": "Asia/Shanghai, ISO 8601"},
        "read": {"type": "boolean"},
        "read_at": {"type": ["string", "null"]},
    }
)
SUBSCRIPTION = obj(
    {
        "template_id": {"type": "string"},
        "one_time_remaining": {"type": "integer"},
        "long_term": {"type": "boolean"},
        "last_status": {"type": "string"},
    }
)
COUNTS = {
    "type": "object",
    "description": "per channel (inbox, wechat, sms): per state (pending, sent, failed, read)",
    "additionalProperties": {"type": "object", "additionalProperties": {"type": "integer"}},
}
CAMPAIGN = obj(
    {
        "id": {"type": "integer"},
        "title": {"type": "string"},
        "body": {"type": "string"},
        "link": {"type": ["string", "null"]},
        "category": {"type": "string"},
        "audience": {"type": "object"},
        "audience_size": {"type": "integer"},
        "recipients": {"type": "integer"},
        "state": {"enum": ["queued", "sending", "sent"]},
        "created_at": {"type": "string"},
        "finished_at": {"type": ["string", "null"]},
        "deliveries": COUNTS,
    }
)
AUDIENCE = audience_schema()
CAMPAIGN_BODY = obj(
    {
        "title": {"type": "string", "minLength": 1, "maxLength": 100},
        "body": {"type": "string", "minLength": 1, "maxLength": 2000},
        "link": {
            "type": "string",
            "maxLength": 300,
            "pattern": LINK_PATTERN,
            "description": "a mini-program page path (pages/...) or an https:// address",
        },
        "audience": AUDIENCE,
    },
    ["title", "body", "audience"],
)


def present_notification(n: Notification) -> dict[str, Any]:
    return {
        "id": n.id,
        "category": n.category,
        "title": n.title,
        "body": n.body,
        "link": n.link,
        "created_at": to_local(n.created_at),
        "read": n.read_at is not None,
        "read_at": to_local(n.read_at),
    }


def present_subscription(s: WeChatSubscription) -> dict[str, Any]:
    return {
        "template_id": s.template_id,
        "one_time_remaining": s.one_time_remaining,
        "long_term": s.long_term,
        "last_status": s.last_status,
    }


def present_campaign(c: Campaign, with_counts: bool = True) -> dict[str, Any]:
    data = {
        "id": c.id,
        "title": c.title,
        "body": c.body,
        "link": c.link,
        "category": c.category,
        "audience": c.audience,
        "audience_size": c.audience_size,
        "recipients": c.recipients,
        "state": c.state,
        "created_at": to_local(c.created_at),
        "finished_at": to_local(c.finished_at),
    }
    if with_counts:
        data["deliveries"] = campaigns.delivery_counts(c.id)
    return data


def _page(result: dict[str, Any], present) -> dict[str, Any]:
    return {**result, "items": [present(item) for item in result["items"]]}


# --- inbox -----------------------------------------------------------------------------------


@endpoint(
    bp,
    "/notifications",
    summary="My notifications, unread first, newest first",
    tags=["notifications"],
    auth=LOGGED_IN,
    query=page_query(),
    response=obj(
        {
            "items": {"type": "array", "items": NOTIFICATION},
            "page": {"type": "integer"},
            "per_page": {"type": "integer"},
            "total": {"type": "integer"},
            "unread": {"type": "integer"},
        }
    ),
)
def list_notifications(caller, query):
    result = service.list_notifications(caller, query.get("page", 1), query.get("per_page", 20))
    return _page(result, present_notification)


@endpoint(
    bp,
    "/notifications/unread-count",
    summary="How many of my notifications are unread",
    tags=["notifications"],
    auth=LOGGED_IN,
    response=obj({"unread": {"type": "integer"}}),
)
def unread_count(caller):
    return {"unread": service.unread_count(caller)}


@endpoint(
    bp,
    "/notifications/<int:notification_id>/read",
    "POST",
    summary="Mark one of my notifications read (idempotent)",
    tags=["notifications"],
    auth=LOGGED_IN,
    response=NOTIFICATION,
    errors=[404],
)
def mark_read(caller, notification_id):
    return present_notification(service.mark_read(caller, notification_id))


# --- WeChat subscriptions --------------------------------------------------------------------


@endpoint(
    bp,
    "/subscriptions",
    summary="My WeChat subscribe-message subscriptions and the templates on offer",
    tags=["notifications"],
    auth=LOGGED_IN,
    response=obj(
        {
            "subscriptions": {"type": "array", "items": SUBSCRIPTION},
            "templates": {"type": "array", "items": {"type": "object"}},
        }
    ),
)
def list_subscriptions(caller):
    return {
        "subscriptions": [present_subscription(s) for s in subscriptions.subscriptions_of(caller)],
        "templates": subscriptions.offered_templates(),
    }


@endpoint(
    bp,
    "/subscriptions",
    "POST",
    summary="Record the templates I accepted in wx.requestSubscribeMessage",
    tags=["notifications"],
    auth=LOGGED_IN,
    body=obj(
        {
            "template_ids": {
                "type": "array",
                "minItems": 1,
                "maxItems": 10,
                "items": {"type": "string", "minLength": 1, "maxLength": 64},
            }
        },
        ["template_ids"],
    ),
    response=obj({"subscriptions": {"type": "array", "items": SUBSCRIPTION}}),
    errors=[409, 422],
)
def record_subscriptions(caller, body):
    rows = subscriptions.record_client_acceptance(caller, body["template_ids"])
    return {"subscriptions": [present_subscription(s) for s in rows]}


# --- campaigns -------------------------------------------------------------------------------


@endpoint(
    bp,
    "/campaigns/preview",
    "POST",
    summary="How many people an audience reaches now (before sending a campaign)",
    tags=["campaigns"],
    auth=OFFICER,
    body=obj({"audience": AUDIENCE}, ["audience"]),
    response=obj({"recipients": {"type": "integer"}, "wechat_reachable": {"type": "integer"}}),
    errors=[422],
)
def preview_campaign(caller, body):
    return campaigns.preview(caller, body["audience"])


@endpoint(
    bp,
    "/campaigns",
    "POST",
    summary="Send a notice to an audience of my department (fanned out by the worker)",
    tags=["campaigns"],
    auth=OFFICER,
    body=CAMPAIGN_BODY,
    response=CAMPAIGN,
    status=202,
    errors=[422],
)
def create_campaign(caller, body):
    return present_campaign(campaigns.create(caller, body))


@endpoint(
    bp,
    "/campaigns",
    summary="My department's campaigns, newest first",
    tags=["campaigns"],
    auth=OFFICER,
    query=page_query(),
    response=obj(
        {
            "items": {"type": "array", "items": CAMPAIGN},
            "page": {"type": "integer"},
            "per_page": {"type": "integer"},
            "total": {"type": "integer"},
        }
    ),
)
def list_campaigns(caller, query):
    result = campaigns.list_for(caller, query.get("page", 1), query.get("per_page", 20))
    return _page(result, lambda c: present_campaign(c, with_counts=False))


@endpoint(
    bp,
    "/campaigns/<int:campaign_id>",
    summary="A campaign of my department with delivery counts per channel and state",
    tags=["campaigns"],
    auth=OFFICER,
    response=CAMPAIGN,
    errors=[404],
)
def get_campaign(caller, campaign_id):
    return present_campaign(campaigns.get_for(caller, campaign_id))
