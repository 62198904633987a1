"""Reference and demo data: departments, the 50 certificate types, demo accounts.

Every step is idempotent: running ``flask seed-demo`` twice changes nothing the second time.
Later domains add their steps to ``SEED_STEPS``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

from sqlalchemy import select

from backend.extensions import db
from backend.models import (
    CertificateType,
    Company,
    Department,
    Role,
    User,
    VerifierOrganisation,
)
from backend.security.checksums import make_credit_code, make_id_number
from backend.services import accounts
from backend.services.service_item_seed import seed_service_items
from backend.services.theme_seed import seed_theme_bundles
from backend.services.tx import transactional
from backend.services.verification_seed import (
    seed_demo_verification_requests,
    seed_verification_routes,
)
from notifications.seed import seed_demo_notifications

SEED_DIR = Path(__file__).resolve().parent.parent / "seed_data"
DEMO_PASSWORD = "demo-password"

DEMO_CITIZEN = {
    "name": "张明",
    "id_number": make_id_number("330106", date(1990, 3, 7), 123),
    "phone": "13800138000",
}
DEMO_COMPANY_REP = {
    "name": "李华",
    "id_number": make_id_number("330102", date(1985, 11, 20), 456),
    "phone": "13900139000",
}
DEMO_COMPANY = {"name": "杭味餐饮管理有限公司", "credit_code": make_credit_code("330106", 66610001)}
DEMO_VERIFIER = {
    "name": "西湖宾馆前台",
    "kind": "business",
    "scope": {"id_card": ["姓名", "公民身份号码"], "business_licence": None},
}

# field name → (type, extra). Anything not listed is text up to 200 characters.
_FIELD_RULES: list[tuple[Callable[[str], bool], dict]] = [
    (lambda n: n.endswith("公民身份号码"), {"type": "id_number"}),
    (lambda n: n == "统一社会信用代码", {"type": "credit_code"}),
    (lambda n: n == "性别", {"type": "enum", "options": ["男", "女"]}),
    (
        lambda n: n.endswith("日期") or n in ("有效期至", "出生时间", "签发日期"),
        {"type": "date"},
    ),
    (
        lambda n: n in ("累计缴费月数", "保障人数", "月保障金额", "月缴存额", "已缴税额", "面积"),
        {"type": "number"},
    ),
]


def infer_field(name: str, required: bool = True) -> dict:
    """A field schema entry for a field named in certificate_types.csv."""
    for matches, rule in _FIELD_RULES:
        if matches(name):
            return {"name": name, "required": required, **rule}
    return {"name": name, "type": "text", "required": required, "max_length": 200}


def read_csv(name: str) -> list[dict[str, str]]:
    with (SEED_DIR / name).open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def read_themes() -> dict:
    return json.loads((SEED_DIR / "themes.json").read_text(encoding="utf-8"))


def seed_departments() -> None:
    existing = {d.code for d in db.session.scalars(select(Department))}
    for row in read_csv("departments.csv"):
        if row["code"] not in existing:
            db.session.add(Department(code=row["code"], name=row["name"], region=row["region"]))
    db.session.flush()


def seed_certificate_types() -> None:
    departments = {d.name: d for d in db.session.scalars(select(Department))}
    existing = {t.code for t in db.session.scalars(select(CertificateType))}
    for rank, row in enumerate(read_csv("certificate_types.csv"), start=1):
        if row["code"] in existing:
            continue
        db.session.add(
            CertificateType(
                code=row["code"],
                name=row["name"],
                kind=row["kind"],
                holder_kind="company" if row["holder"] == "org" else "person",
                department_id=departments[row["issuer"]].id,
                validity_years=int(row["validity_years"]),
                fields=[infer_field(n) for n in row["fields"].split(";")],
                rank=rank,
            )
        )
    db.session.flush()


def _demo_user(username: str, role: str, display_name: str, **kwargs) -> User:
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        user = accounts.create_user(
            username=username,
            password=DEMO_PASSWORD,
            role=role,
            display_name=display_name,
            is_demo=True,
            **kwargs,
        )
    return user


def seed_demo_accounts() -> None:
    citizen = accounts.get_or_create_person(**DEMO_CITIZEN)
    _demo_user("citizen-demo", Role.CITIZEN, DEMO_CITIZEN["name"], person=citizen)

    rep = accounts.get_or_create_person(**DEMO_COMPANY_REP)
    company = db.session.scalar(
        select(Company).where(Company.credit_code == DEMO_COMPANY["credit_code"])
    )
    if company is None:
        company = Company(**DEMO_COMPANY)
        db.session.add(company)
        db.session.flush()
    company_user = _demo_user(
        "company-demo", Role.COMPANY_REPRESENTATIVE, DEMO_COMPANY_REP["name"], person=rep
    )
    accounts.add_company_representative(company_user, company, "legal_representative")

    org = db.session.scalar(
        select(VerifierOrganisation).where(VerifierOrganisation.name == DEMO_VERIFIER["name"])
    )
    if org is None:
        db.session.add(VerifierOrganisation(**DEMO_VERIFIER))
        db.session.flush()
    _demo_user(
        "verifier-demo",
        Role.VERIFIER_MEMBER,
        "前台接待员",
        verifier_organisation=DEMO_VERIFIER["name"],
    )
    _demo_user("officer-amr", Role.DEPARTMENT_OFFICER, "市场监管局窗口", department_code="amr")
    _demo_user("officer-psb", Role.DEPARTMENT_OFFICER, "公安局户政窗口", department_code="psb")
    _demo_user("officer-hrss", Role.DEPARTMENT_OFFICER, "人社局窗口", department_code="hrss")
    _demo_user("theme-admin", Role.THEME_ADMINISTRATOR, "主题服务管理员")
    _demo_user("supervisor", Role.SUPERVISOR, "减证便民专班")
    _demo_user("admin", Role.SYSTEM_ADMINISTRATOR, "系统管理员")


# Ordered steps of ``flask seed-demo``; each domain appends its own.
SEED_STEPS: list[tuple[str, Callable[[], None]]] = [
    ("departments", seed_departments),
    ("certificate types", seed_certificate_types),
    ("demo accounts", seed_demo_accounts),
    ("demo notifications", seed_demo_notifications),
    ("service items", seed_service_items),
    ("verification routes", seed_verification_routes),
    ("demo verification requests", seed_demo_verification_requests),
    ("theme bundles", seed_theme_bundles),
]


def _certificate_steps() -> list[tuple[str, Callable[[], None]]]:
    from backend.services import certificate_seed as cs

    return [
        ("seal keys", cs.seed_seal_keys),
        ("issuance list", cs.seed_issuance_list),
        ("demo certificates", cs.seed_demo_certificates),
        ("certificate population", cs.seed_certificate_population),
    ]


SEED_STEPS += _certificate_steps()


def run_seed(steps: list[str] | None = None, echo: Callable[[str], None] = print) -> None:
    """Run every seed step (or the named ones), each in its own transaction."""
    for name, step in SEED_STEPS:
        if steps is None or name in steps:
            transactional(step)()
            echo(f"seeded: {name}")
