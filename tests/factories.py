"""Test data as plain ``create_x(**kwargs)`` functions, and a small JSON API client."""

from __future__ import annotations

import itertools
import re
from datetime import date
from typing import Any

from werkzeug.security import generate_password_hash

from backend.extensions import db
from backend.models import Company, Department, Role, User, VerifierOrganisation
from backend.security.checksums import make_credit_code, make_id_number
from backend.services import accounts
from backend.services.accounts import add_company_representative

API = "/api/mp/v1"
PASSWORD = "correct-horse-battery"
# Hashing is deliberately slow; tests share one hash of the one test password.
_PASSWORD_HASH = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
_seq = itertools.count(1)


def valid_id_number(n: int | None = None) -> str:
    n = next(_seq) if n is None else n
    return make_id_number("330106", date(1980 + n % 30, 1 + n % 12, 1 + n % 28), n)


def valid_credit_code(n: int | None = None) -> str:
    return make_credit_code("330106", next(_seq) if n is None else n)


def create_department(code: str | None = None, name: str | None = None) -> Department:
    n = next(_seq)
    department = Department(code=code or f"dept{n}", name=name or f"测试部门{n}")
    db.session.add(department)
    db.session.commit()
    return department


def create_person(name: str = "王小明", id_number: str | None = None, phone: str = "13700137000"):
    person = accounts.get_or_create_person(name, id_number or valid_id_number(), phone)
    db.session.commit()
    return person


def create_user(role: str = Role.CITIZEN, **kwargs: Any) -> User:
    n = next(_seq)
    kwargs.setdefault("username", f"user{n}")
    kwargs.setdefault("display_name", f"用户{n}")
    if role == Role.CITIZEN and "person" not in kwargs and "person_id" not in kwargs:
        kwargs["person"] = create_person(id_number=valid_id_number(n))
    user = User(role=role, password_hash=_PASSWORD_HASH, **kwargs)
    db.session.add(user)
    db.session.commit()
    return user


def create_company(name: str | None = None, credit_code: str | None = None) -> Company:
    n = next(_seq)
    company = Company(name=name or f"测试公司{n}", credit_code=credit_code or valid_credit_code(n))
    db.session.add(company)
    db.session.commit()
    return company


def create_company_representative(company: Company | None = None, **kwargs: Any) -> User:
    company = company or create_company()
    kwargs.setdefault("person", create_person(id_number=valid_id_number()))
    user = create_user(Role.COMPANY_REPRESENTATIVE, **kwargs)
    add_company_representative(user, company, "legal_representative")
    db.session.commit()
    return user


def create_verifier_organisation(name: str | None = None, scope: dict | None = None):
    org = VerifierOrganisation(name=name or f"用证单位{next(_seq)}", scope=scope or {})
    db.session.add(org)
    db.session.commit()
    return org


def create_verifier_member(org: VerifierOrganisation | None = None, **kwargs: Any) -> User:
    org = org or create_verifier_organisation()
    return create_user(Role.VERIFIER_MEMBER, verifier_organisation_id=org.id, **kwargs)


def create_officer(department: Department | None = None, **kwargs: Any) -> User:
    department = department or create_department()
    return create_user(Role.DEPARTMENT_OFFICER, department_id=department.id, **kwargs)


def change_account_elsewhere(other_app, user_id: int, **values) -> None:
    """Change an account in another app (another worker), then end this test's own
    session, as a new request in a worker starts with a new session (the test keeps one
    app context open)."""
    with other_app.app_context():
        user = db.session.get(User, user_id)
        for name, value in values.items():
            setattr(user, name, value)
        db.session.commit()
        db.session.remove()
    db.session.remove()


class ApiClient:
    """JSON requests against ``/api/mp/v1`` with an optional bearer token."""

    def __init__(self, client) -> None:
        self.client = client

    def login(self, user: User) -> str:
        response = self.post(
            "/auth/password", json={"username": user.username, "password": PASSWORD}
        )
        assert response.status_code == 200, response.get_json()
        return response.get_json()["token"]

    def _headers(self, token: str | None, headers: dict | None) -> dict:
        out = dict(headers or {})
        if token:
            out["Authorization"] = f"Bearer {token}"
        return out

    def get(self, path: str, token: str | None = None, **kwargs):
        headers = self._headers(token, kwargs.pop("headers", None))
        return self.client.get(API + path, headers=headers, **kwargs)

    def post(self, path: str, token: str | None = None, **kwargs):
        headers = self._headers(token, kwargs.pop("headers", None))
        return self.client.post(API + path, headers=headers, **kwargs)

    def put(self, path: str, token: str | None = None, **kwargs):
        headers = self._headers(token, kwargs.pop("headers", None))
        return self.client.put(API + path, headers=headers, **kwargs)

    def patch(self, path: str, token: str | None = None, **kwargs):
        headers = self._headers(token, kwargs.pop("headers", None))
        return self.client.patch(API + path, headers=headers, **kwargs)

    def delete(self, path: str, token: str | None = None, **kwargs):
        headers = self._headers(token, kwargs.pop("headers", None))
        return self.client.delete(API + path, headers=headers, **kwargs)


def web_login(client, user) -> str:
    """Log ``user`` in through the web form; the session's CSRF token, for later posts."""
    html = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    client.post(
        "/login", data={"username": user.username, "password": PASSWORD, "csrf_token": token}
    )
    return token


def error_of(response) -> dict:
    """The error object of a failed JSON response."""
    body = response.get_json()
    assert body is not None and "error" in body, response.data[:300]
    return body["error"]


def create_certificate_type(
    code: str | None = None,
    department: Department | None = None,
    holder_kind: str = "person",
    fields: list[dict] | None = None,
    **kwargs: Any,
):
    from backend.models import CertificateType

    n = next(_seq)
    cert_type = CertificateType(
        code=code or f"type{n}",
        name=kwargs.pop("name", f"测试证照{n}"),
        kind=kwargs.pop("kind", "licence"),
        holder_kind=holder_kind,
        department_id=(department or create_department()).id,
        validity_years=kwargs.pop("validity_years", 0),
        fields=fields
        or [
            {"name": "姓名", "type": "text", "required": True, "max_length": 50},
            {"name": "公民身份号码", "type": "id_number", "required": True},
        ],
        **kwargs,
    )
    db.session.add(cert_type)
    db.session.commit()
    return cert_type


def create_certificate(
    cert_type=None,
    holder=None,
    fields: dict | None = None,
    issued_on: date | None = None,
    expires_on: date | None = None,
    **kwargs: Any,
):
    """A sealed certificate through the real store (seal keys created on first use)."""
    from backend.models import CertificateType, Person
    from backend.services.certificate_store import seal_and_store

    if isinstance(cert_type, str):
        cert_type = db.session.query(CertificateType).filter_by(code=cert_type).one()
    cert_type = cert_type or create_certificate_type()
    holder = holder or create_person(id_number=valid_id_number())
    if fields is None:
        fields = {}
        for f in cert_type.fields:
            if f["type"] == "id_number" and isinstance(holder, Person):
                fields[f["name"]] = accounts.person_id_number(holder)
            elif f["type"] == "credit_code" and isinstance(holder, Company):
                fields[f["name"]] = holder.credit_code
            elif f["type"] == "date":
                fields[f["name"]] = "2020-01-01"
            elif f["type"] == "enum":
                fields[f["name"]] = f["options"][0]
            elif f["type"] == "number":
                fields[f["name"]] = 1
            else:
                fields[f["name"]] = holder.name if f["name"] in ("姓名", "名称") else "测试值"
    certificate = seal_and_store(
        cert_type=cert_type,
        department=db.session.get(Department, cert_type.department_id),
        holder=holder,
        fields=fields,
        issued_on=issued_on or date(2024, 1, 1),
        expires_on=expires_on,
        **kwargs,
    )
    db.session.commit()
    return certificate
