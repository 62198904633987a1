"""A small world for verification requests: two departments, their officers, a citizen,
a company with its representative, a supervisor, and routes between the departments."""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace

import pytest

from backend import clock
from backend.models import Role
from tests.factories import (
    create_company,
    create_company_representative,
    create_department,
    create_officer,
    create_user,
)
from tests.verification.factories import create_route

# A Monday morning in Shanghai: deadlines below are counted from here.
MONDAY_9AM = datetime(2026, 3, 2, 9, 0, tzinfo=clock.SHANGHAI)


@pytest.fixture
def monday():
    """Freeze the clock at Monday 2026-03-02 09:00 Asia/Shanghai."""
    with clock.frozen(MONDAY_9AM):
        yield MONDAY_9AM


@pytest.fixture
def world():
    asking = create_department("amr", "市市场监督管理局")
    answering = create_department("health", "市卫生健康委员会")
    bystander = create_department("edu", "市教育局")
    company = create_company(name="杭味餐饮管理有限公司")
    return SimpleNamespace(
        asking=asking,
        answering=answering,
        bystander=bystander,
        requester=create_officer(asking, display_name="市场监管窗口"),
        colleague=create_officer(asking, display_name="市场监管同事"),
        responder=create_officer(answering, display_name="卫健委窗口"),
        outsider=create_officer(bystander, display_name="教育局窗口"),
        citizen=create_user(Role.CITIZEN, display_name="王小明"),
        other_citizen=create_user(Role.CITIZEN, display_name="路人"),
        company=company,
        representative=create_company_representative(company),
        other_representative=create_company_representative(),
        supervisor=create_user(Role.SUPERVISOR),
        admin=create_user(Role.SYSTEM_ADMINISTRATOR),
        person_route=create_route(
            "practitioner_health_proof", "从业人员健康合格证明", answering, "person"
        ),
        company_route=create_route(
            "public_hygiene_check", "公共场所卫生检查情况证明", answering, "company"
        ),
    )
