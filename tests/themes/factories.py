"""Theme test data: the seeded catalogue and bundles, holders with certificates."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy import select

from backend.extensions import db
from backend.models import Department, Role, User
from backend.models.service_items import ServiceItem
from backend.models.themes import ThemeBundle
from tests.factories import create_certificate, create_officer, create_user

_keys = itertools.count(1)


def item_id(code: str) -> int:
    return db.session.scalar(select(ServiceItem.id).where(ServiceItem.code == code))


def bundle_id(code: str) -> int:
    return db.session.scalar(select(ThemeBundle.id).where(ThemeBundle.code == code))


def department(code: str) -> Department:
    return db.session.scalar(select(Department).where(Department.code == code))


def officer_of(code: str, **kwargs: Any) -> User:
    return create_officer(department(code), **kwargs)


def create_theme_admin(**kwargs: Any) -> User:
    return create_user(Role.THEME_ADMINISTRATOR, **kwargs)


def new_key() -> str:
    return f"apply-key-{next(_keys):06d}"


def restaurant_licence(company, **fields: Any):
    """A business licence of the company with known values."""
    values = {
        "统一社会信用代码": company.credit_code,
        "名称": company.name,
        "类型": "有限责任公司",
        "法定代表人": "李华",
        "经营范围": "餐饮服务",
        "注册资本": "100万元",
        "成立日期": "2023-05-01",
        "住所": "杭州市西湖区文三路1号",
    }
    values.update(fields)
    return create_certificate("business_licence", holder=company, fields=values)


def bundle_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "我要开咖啡馆",
        "summary": "食品经营与消防检查一次办",
        "icon": "coffee",
        "service_item_ids": [item_id("food_permit_new"), item_id("fire_inspection")],
        "form_fields": [
            {"label": "经营者名称", "source": "business_licence.名称", "required": True},
            {"label": "成立日期", "source": "business_licence.成立日期", "required": True},
            {"label": "经营场所", "source": None, "required": True, "type": "text"},
            {"label": "开业日期", "source": None, "required": True, "type": "date"},
            {"label": "座位数", "source": None, "required": False, "type": "number"},
        ],
    }
    body.update(overrides)
    return body
