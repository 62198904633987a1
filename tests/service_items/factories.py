"""Service-item test data: content dicts, and items taken to any workflow state."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from backend.extensions import db
from backend.models import Department, Role, User
from backend.models.service_items import PublicationBatch, ServiceItem
from backend.services import service_item_workflow as workflow
from backend.services.service_item_content import Lookups, checked_content
from backend.services.service_items import new_item, start_revision
from tests.factories import create_officer, create_user

_seq = itertools.count(1)


def material(name: str | None = None, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": name or f"材料{next(_seq)}",
        "issuing_department": None,
        "certificate_type": None,
        "certificate_fields": [],
        "exemption_basis": None,
        "required": True,
        "notes": "",
    }
    data.update(overrides)
    return data


def licence_material(**overrides: Any) -> dict[str, Any]:
    """The business licence, exempt by certificate."""
    return material(
        "营业执照",
        certificate_type="business_licence",
        exemption_basis="certificate",
        **overrides,
    )


def content(handling_item: str | None = None, **overrides: Any) -> dict[str, Any]:
    n = next(_seq)
    data: dict[str, Any] = {
        "category": "行政许可",
        "main_item": "食品生产许可",
        "sub_item": "食品生产许可证核发",
        "handling_item": handling_item or f"食品生产许可(新办{n})",
        "materials": [material("食品生产许可申请书"), licence_material()],
    }
    data.update(overrides)
    return data


def department(code: str) -> Department:
    return db.session.scalar(select(Department).where(Department.code == code))


def officer_of(code: str, **kwargs: Any) -> User:
    return create_officer(department(code), **kwargs)


def create_supervisor(**kwargs: Any) -> User:
    return create_user(Role.SUPERVISOR, **kwargs)


def create_item(
    department_code: str = "amr",
    state: str = "draft",
    batch: PublicationBatch | None = None,
    **content_overrides: Any,
) -> ServiceItem:
    """An item walked by the system to ``state`` (published ones go in ``batch`` or a new one)."""
    lookups = Lookups.load()
    item = new_item(
        department(department_code),
        checked_content(content(**content_overrides), lookups),
        lookups,
        None,
    )
    if state != "draft":
        workflow.submit(item, None)
    if state == "returned":
        workflow.send_back(item, None, "请补充材料依据")
    if state in ("approved", "published"):
        workflow.approve(item, None)
    if state == "published":
        workflow.publish_version(item, batch or workflow.new_batch("测试批次", None, None), None)
    db.session.commit()
    return item


def revise(item: ServiceItem) -> ServiceItem:
    start_revision(item, None)
    db.session.commit()
    return item


def run_concurrently(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls in threads released at the same moment; their results in order."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int, call: Callable[[], Any]) -> None:
        barrier.wait()
        results[i] = call()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results
