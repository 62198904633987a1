"""Accounts, people and real-name binding."""

from __future__ import annotations

import hashlib
import re

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from backend.errors import Conflict, Forbidden, Unauthorized, UnprocessableEntity
from backend.extensions import db
from backend.models import Company, CompanyRepresentative, Department, Person, Role, User
from backend.models.organisations import VerifierOrganisation
from backend.security.checksums import is_valid_id_number, normalise_id_number
from backend.security.crypto import get_cipher
from backend.services import rate_limits
from backend.services.tx import transactional

PHONE_RE = re.compile(r"^1[3-9]\d{9}$")
# Compared against when a username is unknown, so both paths cost one hash check.
_DUMMY_HASH = generate_password_hash("not-a-real-password")
LOGIN_THROTTLED = "登录尝试过于频繁,请稍后再试"


def hash_password(password: str) -> str:
    return generate_password_hash(password)


def check_id_number(value: str, field: str = "id_number") -> str:
    """Normalise an ID number and check it (GB 11643), or raise 422 ``invalid_id_number``."""
    normalised = normalise_id_number(value)
    if not is_valid_id_number(normalised):
        raise UnprocessableEntity(
            "公民身份号码校验未通过,请核对后重新输入", code="invalid_id_number", field=field
        )
    return normalised


def find_person(id_number: str, *, lock: bool = False) -> Person | None:
    """The person with this ID number. ``lock``: its row locked (PostgreSQL) until the
    commit and re-read, so bindings of one person run one after the other."""
    query = select(Person).where(Person.id_number_hash == get_cipher().index(id_number))
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return db.session.scalar(query)


def new_person(name: str, id_number: str, phone: str | None = None) -> Person:
    """A new person, added to the session (not flushed), ID number and phone encrypted."""
    cipher = get_cipher()
    person = Person(
        name=name,
        id_number_cipher=cipher.encrypt_text(id_number),
        id_number_hash=cipher.index(id_number),
        phone_cipher=cipher.encrypt_text(phone) if phone else None,
    )
    db.session.add(person)
    return person


def get_or_create_person(name: str, id_number: str, phone: str | None = None) -> Person:
    """The person with this ID number; created when new. Adds to the current transaction."""
    id_number = check_id_number(id_number)
    person = find_person(id_number)
    if person is None:
        person = new_person(name, id_number, phone)
        db.session.flush()
    elif person.name != name:
        raise UnprocessableEntity(
            "姓名与公民身份号码不一致", code="identity_mismatch", field="name"
        )
    return person


def person_id_number(person: Person) -> str:
    return get_cipher().decrypt_text(person.id_number_cipher)


def person_phone(person: Person) -> str | None:
    return get_cipher().decrypt_text(person.phone_cipher) if person.phone_cipher else None


def authenticate(username: str, password: str) -> User:
    """The enabled user with this username and password, or 401 ``invalid_credentials``."""
    user = db.session.scalar(select(User).where(User.username == username))
    hashed = user.password_hash if user is not None and user.password_hash else _DUMMY_HASH
    if not check_password_hash(hashed, password) or user is None or not user.enabled:
        raise Unauthorized("用户名或密码错误", code="invalid_credentials")
    return user


def log_in(username: str, password: str, address: str | None) -> User:
    """``authenticate`` behind brute-force limits, for the API and the web form alike.

    Failures count per username and per client address; once either limit is full every
    attempt is refused (429) before the password is checked, so guessing stops even with
    the right password. A successful login counts nothing. Redis down: 503 (fail closed).
    """
    limits = (
        (rate_limits.LOGIN_USER, "user:" + _key_of(username)),
        (rate_limits.LOGIN_ADDRESS, f"ip:{address or 'unknown'}"),
    )
    for setting, who in limits:
        rate_limits.refuse_when_full(setting, who, LOGIN_THROTTLED)
    try:
        return authenticate(username, password)
    except Unauthorized:
        for setting, who in limits:
            rate_limits.count(setting, who)
        raise


def _key_of(username: str) -> str:
    """A short key for whatever was typed (the form has no length limit)."""
    return hashlib.sha256(username.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _identity_mismatch() -> UnprocessableEntity:
    """One answer for a wrong name and a wrong phone, without a field: a binding attempt
    must not learn which part of someone's identity it got right."""
    return UnprocessableEntity(
        "身份信息不一致,请核对姓名、公民身份号码和手机号码", code="identity_mismatch"
    )


def _person_to_bind(name: str, id_number: str, phone: str) -> Person:
    """The existing person, checked against the name and the phone on record, or a new one.
    A person created by a concurrent transaction meanwhile is read and checked instead."""
    person = find_person(id_number, lock=True)
    if person is None:
        try:
            with db.session.begin_nested():
                person = new_person(name, id_number, phone)
            return person
        except IntegrityError:  # created concurrently (a binding, an issuance): use it
            person = find_person(id_number, lock=True)
            if person is None:
                raise
    if person.name != name or (person.phone_cipher and person_phone(person) != phone):
        raise _identity_mismatch()
    return person


@transactional
def bind_real_name(user: User, name: str, id_number: str, phone: str) -> User:
    """Link a citizen's (WeChat) account to the person with this ID number.

    Without a verified-identity service this is a knowledge check, and an ID card's name
    and number are seen by every front desk that scans it. So: citizen accounts only, only
    a person no other account holds, the phone on record must match, and every attempt
    counts against a per-account limit (no enumerating name/number pairs).
    """
    if user.role != Role.CITIZEN:
        raise Forbidden("仅市民账号可以进行实名绑定", code="bind_not_allowed")
    rate_limits.hit(rate_limits.BIND, f"user:{user.id}")
    if not PHONE_RE.match(phone):
        raise UnprocessableEntity("手机号码格式不正确", code="invalid_phone", field="phone")
    id_number = check_id_number(id_number)
    if user.person_id is not None:
        current = db.session.get(Person, user.person_id)
        if current is None or current.id_number_hash != get_cipher().index(id_number):
            raise Conflict("该账号已绑定其他身份", code="already_bound")
    person = _person_to_bind(name.strip(), id_number, phone)
    user.person_id = person.id
    db.session.flush()
    # Counted after our own write: on SQLite that write waited for any concurrent binding
    # to commit, on PostgreSQL the person's row lock did, so a winner is always seen here.
    holders = db.session.scalar(
        select(func.count()).select_from(User).where(User.person_id == person.id)
    )
    if holders > 1:
        raise Conflict(
            "该身份已绑定其他账号,如需找回账号请携带身份证到政务服务窗口办理",
            code="person_already_bound",
        )
    if user.display_name in ("", "微信用户"):
        user.display_name = person.name
    return user


@transactional
def find_or_create_wechat_user(openid: str) -> User:
    user = db.session.scalar(select(User).where(User.wechat_openid == openid))
    if user is None:
        user = User(display_name="微信用户", role=Role.CITIZEN, wechat_openid=openid)
        db.session.add(user)
    return user


def _check_username(username: str) -> None:
    if not re.fullmatch(r"[A-Za-z0-9_.-]{3,64}", username):
        raise UnprocessableEntity(
            "用户名须为 3-64 位字母、数字、下划线、点或连字符",
            code="invalid_username",
            field="username",
        )
    if db.session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict("用户名已存在", code="username_taken", field="username")


@transactional
def create_user(
    *,
    username: str,
    password: str,
    role: str,
    display_name: str,
    department_code: str | None = None,
    verifier_organisation: str | None = None,
    is_demo: bool = False,
    person: Person | None = None,
) -> User:
    """Create a staff or demo account with a hashed password."""
    if role not in {r.value for r in Role}:
        raise UnprocessableEntity("未知的角色", code="invalid_role", field="role")
    if len(password) < 10:
        raise UnprocessableEntity("密码至少 10 位", code="weak_password", field="password")
    _check_username(username)
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=role,
        display_name=display_name,
        is_demo=is_demo,
        person_id=person.id if person else None,
    )
    if role == Role.DEPARTMENT_OFFICER:
        department = db.session.scalar(select(Department).where(Department.code == department_code))
        if department is None:
            raise UnprocessableEntity("部门不存在", code="unknown_department", field="department")
        user.department_id = department.id
    if role == Role.VERIFIER_MEMBER:
        org = db.session.scalar(
            select(VerifierOrganisation).where(VerifierOrganisation.name == verifier_organisation)
        )
        if org is None:
            raise UnprocessableEntity(
                "用证单位不存在", code="unknown_verifier_organisation", field="organisation"
            )
        user.verifier_organisation_id = org.id
    db.session.add(user)
    db.session.flush()
    return user


def add_company_representative(user: User, company: Company, capacity: str) -> None:
    exists = db.session.scalar(
        select(CompanyRepresentative.id).where(
            CompanyRepresentative.user_id == user.id,
            CompanyRepresentative.company_id == company.id,
        )
    )
    if exists is None:
        db.session.add(
            CompanyRepresentative(user_id=user.id, company_id=company.id, capacity=capacity)
        )


def companies_of(user: User) -> list[Company]:
    return list(
        db.session.scalars(
            select(Company)
            .join(CompanyRepresentative, CompanyRepresentative.company_id == Company.id)
            .where(CompanyRepresentative.user_id == user.id)
            .order_by(Company.id)
        )
    )
