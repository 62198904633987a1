"""Seed steps: the routing directory and, for demos, a few requests the demo accounts follow."""

from __future__ import annotations

from sqlalchemy import select

from backend.extensions import db
from backend.models import CertificateType, Company, Department, User
from backend.models.verification import VerificationRequest, VerificationRoute


def seed_verification_routes() -> None:
    """Seed step: the routing directory from ``seed_data/verification_routes.csv``."""
    from backend.services.seed import read_csv

    departments = {d.code: d for d in db.session.scalars(select(Department))}
    types = {t.code: t for t in db.session.scalars(select(CertificateType))}
    existing = {r.code for r in db.session.scalars(select(VerificationRoute))}
    for row in read_csv("verification_routes.csv"):
        if row["code"] in existing:
            continue
        cert_type = types.get(row["certificate_type"]) if row["certificate_type"] else None
        db.session.add(
            VerificationRoute(
                code=row["code"],
                name=row["name"],
                subject_kind=row["subject_kind"],
                department_id=departments[row["department"]].id,
                certificate_type_id=cert_type.id if cert_type else None,
                deadline_working_days=int(row["deadline_working_days"] or 3),
                answer_validity_days=int(row["answer_validity_days"] or 90),
                active=True,
            )
        )
    db.session.flush()


def _user(username: str) -> User | None:
    return db.session.scalar(select(User).where(User.username == username))


def seed_demo_verification_requests() -> None:
    """Seed step: one pending and one answered request about citizen-demo, one about the
    demo company. Skipped once officer-amr has asked anything (idempotent)."""
    from backend.services import verification as service
    from backend.services.seed import DEMO_CITIZEN, DEMO_COMPANY

    amr, hrss = _user("officer-amr"), _user("officer-hrss")
    if amr is None or hrss is None:
        return
    asked = db.session.scalar(
        select(VerificationRequest.id).where(VerificationRequest.requested_by_id == amr.id)
    )
    if asked is not None:
        return
    citizen = {"subject_name": DEMO_CITIZEN["name"], "subject_id_number": DEMO_CITIZEN["id_number"]}
    service.create_verification_request(
        requesting_department_id=amr.department_id,
        requested_by_id=amr.id,
        proof_type="从业人员健康合格证明",
        question="该人员是否持有有效的食品从业人员健康合格证明",
        purpose="食品经营许可申请:核验从业人员健康检查情况",
        legal_basis="《中华人民共和国食品安全法》第四十五条",
        related_application_id="demo-restaurant-opening",
        **citizen,
    )
    insured = service.create_verification_request(
        requesting_department_id=amr.department_id,
        requested_by_id=amr.id,
        proof_type="social_insurance_proof",
        question="该人员近 6 个月是否在本市连续缴纳职工社会保险",
        purpose="个体工商户登记:核验经营者社保缴纳情况",
        legal_basis="《浙江省优化营商环境条例》第二十六条",
        **citizen,
    )
    service.accept_request(insured.id, hrss)
    service.answer_request(
        insured.id,
        hrss,
        result="confirmed",
        answer="经核实,该人员自 2018 年 1 月起在本市连续缴纳职工养老、医疗、失业保险,无中断。",
        internal_note="已在社保核心系统查询参保记录。",
    )
    company = db.session.scalar(
        select(Company).where(Company.credit_code == DEMO_COMPANY["credit_code"])
    )
    if company is not None:
        service.create_verification_request(
            requesting_department_id=hrss.department_id,
            requested_by_id=hrss.id,
            proof_type="company_market_compliance_proof",
            subject_name=company.name,
            subject_credit_code=company.credit_code,
            question="该企业近三年在市场监管领域是否受到行政处罚",
            purpose="人力资源服务许可申请:核验企业守法情况",
            legal_basis="《人力资源市场暂行条例》第十八条",
        )
