"""Seed steps of the certificate library (appended to ``SEED_STEPS``).

- seal keys for every department, and the public issuance list of every type;
- the demo citizen's and the demo company's certificates, issued through the service;
- a population of a few thousand holders across the 50 types, through the bulk path,
  with paper and electronic issuance times spread so the effective issuance rate means
  something (some departments in sync, some late, some paper-only history digitised later).

Idempotent: holders and natural keys are deterministic, existing ones are skipped.
"""

from __future__ import annotations

import hashlib
import random
from datetime import date, datetime, time, timedelta

from flask import current_app
from sqlalchemy import select

from backend import clock
from backend.extensions import db
from backend.models import CertificateType, Company, Department
from backend.security.checksums import make_id_number
from backend.services import seals
from backend.services.accounts import find_person
from backend.services.certificate_bulk import (
    BulkEntry,
    bulk_seal_and_store,
    create_companies,
    create_persons,
    existing_source_keys,
    find_companies,
    find_persons,
)
from backend.services.certificate_import_checks import source_key
from backend.services.certificate_issuing import issue_certificate
from backend.services.certificate_schema import add_years
from backend.services.certificate_seed_data import DemoCompany, DemoData, DemoPerson
from backend.services.certificate_store import held_valid_type_codes, issued_in_sync
from backend.services.certificate_types import issuing_department, joint_departments

# Holders in the demo population; a twentieth of that under test, where many tests seed.
POPULATION_PERSONS = 3000
POPULATION_COMPANIES = 500
# Types (by code) every person / company is likely to hold, with the share that does.
COMMON_PERSON_TYPES = {
    "id_card": 0.95,
    "household_register": 0.9,
    "social_security_card": 0.8,
    "marriage_certificate": 0.5,
    "driving_licence": 0.45,
}
# Joint issuance in the demo: the construction permit also carries the planning seal.
JOINT_SEALS = {"construction_permit": ["nrp"]}


def _department(code: str) -> Department:
    return db.session.scalar(select(Department).where(Department.code == code))


def seed_seal_keys() -> None:
    """A current seal key for every department."""
    for department in db.session.scalars(select(Department).order_by(Department.id)):
        seals.ensure_seal_key(department)


def seed_issuance_list() -> None:
    """Electronic-since dates, region and issuing cycle of every type; the joint seals."""
    rng = random.Random(7)
    for cert_type in db.session.scalars(select(CertificateType).order_by(CertificateType.id)):
        if cert_type.electronic_since is None:
            cert_type.electronic_since = date(2019, 1, 1) + timedelta(days=rng.randint(0, 1600))
            cert_type.issuing_cycle_days = rng.choice((0, 0, 0, 1, 1, 3, 5))
            cert_type.region = "全市"
        if cert_type.code in JOINT_SEALS and not cert_type.joint_department_ids:
            cert_type.joint_department_ids = [
                _department(c).id for c in JOINT_SEALS[cert_type.code]
            ]


# --- the demo citizen and company ----------------------------------------------------------


def _demo_certificates() -> list[tuple[str, str, dict, dict, str | None]]:
    """(type, holder kind, holder, fields, expires_on) of the demo accounts' certificates."""
    from backend.services.seed import DEMO_CITIZEN, DEMO_COMPANY, DEMO_COMPANY_REP

    citizen = {"name": DEMO_CITIZEN["name"], "id_number": DEMO_CITIZEN["id_number"]}
    id_number = DEMO_CITIZEN["id_number"]
    address = "浙江省杭州市西湖区文三路259号3幢502室"
    company = {"name": DEMO_COMPANY["name"], "credit_code": DEMO_COMPANY["credit_code"]}
    return [
        (
            "id_card",
            citizen,
            {
                "姓名": "张明",
                "性别": "男",
                "民族": "汉",
                "出生日期": "1990-03-07",
                "住址": address,
                "公民身份号码": id_number,
                "签发机关": "市公安局西湖分局",
                "有效期限": "2016-05-10至2036-05-10",
            },
            "2016-05-10",
        ),
        (
            "household_register",
            citizen,
            {
                "户主姓名": "张明",
                "户号": "330106512",
                "住址": address,
                "姓名": "张明",
                "与户主关系": "户主",
                "公民身份号码": id_number,
            },
            "2018-09-01",
        ),
        (
            "driving_licence",
            citizen,
            {
                "姓名": "张明",
                "性别": "男",
                "国籍": "中国",
                "住址": address,
                "出生日期": "1990-03-07",
                "初次领证日期": "2012-07-16",
                "准驾车型": "C1",
                "证号": id_number,
                "有效期限": "2024-07-16至2030-07-16",
            },
            "2024-07-16",
        ),
        (
            "marriage_certificate",
            citizen,
            {
                "持证人": "张明",
                "登记日期": "2019-10-01",
                "结婚证字号": "J330106-2019-004321",
                "男方姓名": "张明",
                "男方公民身份号码": id_number,
                "女方姓名": "陈静",
                "女方公民身份号码": make_id_number("330106", date(1992, 5, 18), 342),
            },
            "2019-10-01",
        ),
        (
            "business_licence",
            company,
            {
                "统一社会信用代码": DEMO_COMPANY["credit_code"],
                "名称": DEMO_COMPANY["name"],
                "类型": "有限责任公司(自然人投资或控股)",
                "法定代表人": DEMO_COMPANY_REP["name"],
                "经营范围": "餐饮服务;食品销售;餐饮管理",
                "注册资本": "100万元人民币",
                "成立日期": "2021-04-12",
                "住所": "浙江省杭州市西湖区文二路88号1层",
            },
            "2021-04-12",
        ),
    ]


def seed_demo_certificates() -> None:
    """The demo citizen's four certificates and the demo company's business licence."""
    for type_code, holder, fields, issued_on in _demo_certificates():
        if "id_number" in holder:
            person = find_person(holder["id_number"])
            holder_ids = (person.id if person else None, [])
        else:
            company = db.session.scalar(
                select(Company).where(Company.credit_code == holder["credit_code"])
            )
            holder_ids = (None, [company.id] if company else [])
        if type_code in held_valid_type_codes(*holder_ids):
            continue
        issue_certificate(
            officer=None,
            cert_type=type_code,
            holder=holder,
            fields=fields,
            issued_on=issued_on,
            paper_issued_at=issued_on,
        )


# --- the population ------------------------------------------------------------------------


def _department_sync_share(department: Department) -> float:
    """How reliably a department issues electronically in sync: 0.62 … 0.97."""
    digest = hashlib.sha256(department.code.encode()).digest()
    return 0.62 + (digest[0] / 255) * 0.35


def _issuance_times(
    rng: random.Random, cert_type: CertificateType, sync_share: float, today: date
) -> tuple[date, datetime | None, datetime]:
    """Issue day, paper time (None: born electronic) and electronic time of one certificate."""
    issued = today - timedelta(days=rng.randint(7, 3 * 365))
    paper = datetime.combine(issued, time(9, rng.randint(0, 59)), tzinfo=clock.SHANGHAI)
    if rng.random() < 0.08:
        return issued, None, paper
    since = cert_type.electronic_since or issued
    if issued < since:  # paper-only history, digitised once the type went electronic
        lag = (since - issued).days + rng.randint(0, 60)
    elif rng.random() < sync_share:
        lag = rng.randint(0, cert_type.issuing_cycle_days or 0)
    else:
        lag = (cert_type.issuing_cycle_days or 0) + rng.randint(1, 90)
    electronic = paper + timedelta(days=lag, hours=rng.randint(0, 6))
    return issued, paper, min(electronic, clock.now())


def seed_certificate_population() -> None:
    """A few thousand holders across the 50 types, sealed through the bulk path."""
    scale = 20 if current_app.testing else 1
    data = DemoData()
    used: set[str] = set()
    persons = [data.person(used) for _ in range(POPULATION_PERSONS // scale)]
    companies = [data.company(i) for i in range(POPULATION_COMPANIES // scale)]
    person_ids = _ensure_persons(persons)
    company_ids = _ensure_companies(companies)
    types = list(db.session.scalars(select(CertificateType).order_by(CertificateType.rank)))
    person_types = [t for t in types if t.holder_kind == "person"]
    company_types = [t for t in types if t.holder_kind == "company"]
    rng = random.Random(42)
    plan: dict[str, list[tuple[str, DemoPerson | DemoCompany]]] = {t.code: [] for t in types}
    others = [t for t in person_types if t.code not in COMMON_PERSON_TYPES]
    for n, person in enumerate(persons):
        for code, share in COMMON_PERSON_TYPES.items():
            if rng.random() < share:
                plan[code].append((f"P{n}", person))
        for cert_type in rng.sample(others, rng.randint(0, 3)):
            plan[cert_type.code].append((f"P{n}", person))
    for n, company in enumerate(companies):
        plan["business_licence"].append((f"C{n}", company))
        for cert_type in rng.sample(company_types[1:], rng.randint(1, 3)):
            plan[cert_type.code].append((f"C{n}", company))
    for cert_type in types:  # every type held by a few, however small the population
        pool = persons if cert_type.holder_kind == "person" else companies
        tag = "P" if cert_type.holder_kind == "person" else "C"
        planned = {t for t, _ in plan[cert_type.code]}
        for n in rng.sample(range(len(pool)), min(len(pool), 5)):
            if len(plan[cert_type.code]) >= 3:
                break
            if f"{tag}{n}" not in planned:
                plan[cert_type.code].append((f"{tag}{n}", pool[n]))
    today = clock.now().astimezone(clock.SHANGHAI).date()
    for cert_type in types:
        _seed_type(cert_type, plan[cert_type.code], data, rng, today, person_ids, company_ids)


def _ensure_persons(persons: list[DemoPerson]) -> dict[str, int]:
    found = {k: v[0] for k, v in find_persons(p.id_number for p in persons).items()}
    new = {p.id_number: p.name for p in persons if p.id_number not in found}
    found.update(create_persons(new))
    return found


def _ensure_companies(companies: list[DemoCompany]) -> dict[str, int]:
    found = {k: v[0] for k, v in find_companies(c.credit_code for c in companies).items()}
    new = {c.credit_code: c.name for c in companies if c.credit_code not in found}
    found.update(create_companies(new))
    return found


def _seed_type(cert_type, holders, data, rng, today, person_ids, company_ids) -> None:
    department = issuing_department(cert_type)
    sync_share = _department_sync_share(department)
    keys = {tag: source_key(cert_type, f"SEED-{tag}") for tag, _ in holders}
    existing = existing_source_keys(keys.values())
    entries = []
    for tag, holder in holders:
        issued, paper, electronic = _issuance_times(rng, cert_type, sync_share, today)
        expires = add_years(issued, cert_type.validity_years) if cert_type.validity_years else None
        fields = data.fields(cert_type.fields, holder, issued, expires)
        if keys[tag] in existing:
            continue
        is_person = isinstance(holder, DemoPerson)
        entries.append(
            BulkEntry(
                holder_kind="person" if is_person else "company",
                holder_row_id=(person_ids if is_person else company_ids)[
                    holder.id_number if is_person else holder.credit_code
                ],
                holder_identifier=holder.id_number if is_person else holder.credit_code,
                holder_name=holder.name,
                fields=fields,
                issued_on=issued,
                expires_on=expires,
                paper_issued_at=paper,
                electronic_issued_at=electronic,
                source_key=keys[tag],
                # Digitised after the issuing cycle: an import of paper history.
                source="issued" if issued_in_sync(cert_type, paper, electronic) else "imported",
            )
        )
    bulk_seal_and_store(
        cert_type,
        department,
        entries,
        sealing_departments=joint_departments(cert_type),
    )
