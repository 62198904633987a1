"""Who a campaign reaches: a small registry of audience resolvers.

A resolver turns ``(department_id, params)`` into a SELECT of ``user_id``s (duplicates are
fine; callers take distinct ids) after checking the department may address that audience.
``bundle_applicants`` is declared here with its parameters so the API schema is stable; the
theme-bundle domain supplies its resolver with ``set_resolver("bundle_applicants", fn)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Select, or_, select, union

from backend import clock
from backend.errors import Forbidden, UnprocessableEntity
from backend.extensions import db
from backend.models import Certificate, CertificateType, CompanyRepresentative, User
from backend.validation import parse_day

Resolver = Callable[[int, dict[str, Any]], Select]


@dataclass
class Audience:
    kind: str
    label: str  # Chinese, shown in the console
    params: dict[str, dict] = field(default_factory=dict)  # JSON Schema per parameter
    required: tuple[str, ...] = ()
    resolver: Resolver | None = None
    public: bool = True  # offered to officers; False: used by the platform itself


AUDIENCES: dict[str, Audience] = {}


def register_audience(audience: Audience) -> None:
    AUDIENCES[audience.kind] = audience


def set_resolver(kind: str, resolver: Resolver) -> None:
    """Supply the resolver of a declared audience (used by other domains)."""
    AUDIENCES[kind].resolver = resolver


def today() -> date:
    return clock.now().astimezone(clock.SHANGHAI).date()


def holders_of(*certificate_filter) -> Select:
    """Enabled accounts of the people holding, and of representatives of the companies
    holding, a valid certificate matching ``certificate_filter``."""
    valid = (Certificate.status == "valid", *certificate_filter)
    people = (
        select(User.id.label("user_id"))
        .join(Certificate, Certificate.holder_person_id == User.person_id)
        .where(User.enabled.is_(True), *valid)
    )
    companies = (
        select(CompanyRepresentative.user_id.label("user_id"))
        .join(Certificate, Certificate.holder_company_id == CompanyRepresentative.company_id)
        .join(User, User.id == CompanyRepresentative.user_id)
        .where(User.enabled.is_(True), *valid)
    )
    return union(people, companies)


def own_certificate_type(department_id: int, code: str) -> CertificateType:
    """The type with this code, if the department issues it."""
    cert_type = db.session.scalar(select(CertificateType).where(CertificateType.code == code))
    if cert_type is None:
        raise UnprocessableEntity(
            "证照类型不存在", code="unknown_certificate_type", field="audience.certificate_type"
        )
    if cert_type.department_id != department_id:
        raise Forbidden(
            "只能向本部门证照类型的持证人发送通知",
            code="certificate_type_not_yours",
            field="audience.certificate_type",
        )
    return cert_type


def _not_expired():
    return or_(Certificate.expires_on.is_(None), Certificate.expires_on >= today())


def type_holders(department_id: int, params: dict[str, Any]) -> Select:
    cert_type = own_certificate_type(department_id, params["certificate_type"])
    return holders_of(Certificate.type_id == cert_type.id, _not_expired())


def expiring_within(department_id: int, params: dict[str, Any]) -> Select:
    start = today()
    end = start + timedelta(days=params["within_days"])
    where = [Certificate.expires_on.is_not(None), Certificate.expires_on.between(start, end)]
    if params.get("certificate_type"):
        cert_type = own_certificate_type(department_id, params["certificate_type"])
        where.append(Certificate.type_id == cert_type.id)
    else:
        own = select(CertificateType.id).where(CertificateType.department_id == department_id)
        where.append(Certificate.type_id.in_(own))
    return holders_of(*where)


def expiring_on(department_id: int, params: dict[str, Any]) -> Select:
    cert_type = own_certificate_type(department_id, params["certificate_type"])
    day = parse_day(params["expires_on"])
    if day is None:  # the API's schema refuses it first; internal specs come here directly
        raise UnprocessableEntity(
            "日期无效:audience.expires_on", code="invalid_date", field="audience.expires_on"
        )
    return holders_of(Certificate.type_id == cert_type.id, Certificate.expires_on == day)


TYPE_CODE = {"type": "string", "minLength": 1, "maxLength": 64}
register_audience(
    Audience(
        "certificate_type_holders",
        "持有本部门某类证照的人",
        {"certificate_type": TYPE_CODE},
        ("certificate_type",),
        type_holders,
    )
)
register_audience(
    Audience(
        "expiring_certificates",
        "证照将在 N 天内到期的持证人",
        {
            "within_days": {"type": "integer", "minimum": 1, "maximum": 365},
            "certificate_type": TYPE_CODE,
        },
        ("within_days",),
        expiring_within,
    )
)
register_audience(
    Audience(
        "certificates_expiring_on",
        "证照在某日到期的持证人(自动到期提醒)",
        {"certificate_type": TYPE_CODE, "expires_on": {"type": "string", "format": "date"}},
        ("certificate_type", "expires_on"),
        expiring_on,
        public=False,
    )
)
# Filled in by the theme-bundle domain: set_resolver("bundle_applicants", resolver).
register_audience(
    Audience(
        "bundle_applicants",
        "主题套餐的申请人",
        {"theme_id": {"type": "integer", "minimum": 1}},
        ("theme_id",),
    )
)


def public_kinds() -> list[str]:
    return [kind for kind, audience in AUDIENCES.items() if audience.public]


def audience_schema() -> dict:
    """One closed JSON Schema for every public audience's parameters (the API body)."""
    properties: dict[str, dict] = {"kind": {"type": "string", "enum": public_kinds()}}
    for audience in AUDIENCES.values():
        if audience.public:
            properties.update(audience.params)
    return {
        "type": "object",
        "properties": properties,
        "required": ["kind"],
        "additionalProperties": False,
    }


def resolve(department_id: int, spec: dict[str, Any], *, internal: bool = False) -> Select:
    """The SELECT of user ids for an audience spec, checked for this department."""
    audience = AUDIENCES.get(spec.get("kind", ""))
    if audience is None or not (audience.public or internal):
        raise UnprocessableEntity("未知的受众类型", code="unknown_audience", field="audience.kind")
    for name in audience.required:
        if spec.get(name) in (None, ""):
            raise UnprocessableEntity(
                f"缺少必填字段:audience.{name}", code="missing_field", field=f"audience.{name}"
            )
    unexpected = sorted(set(spec) - set(audience.params) - {"kind"})
    if unexpected:
        raise UnprocessableEntity(
            f"该受众类型不接受字段:audience.{unexpected[0]}",
            code="unknown_field",
            field=f"audience.{unexpected[0]}",
        )
    if audience.resolver is None:
        raise UnprocessableEntity(
            "该受众类型暂未开放", code="audience_unavailable", field="audience.kind"
        )
    return audience.resolver(department_id, spec)
