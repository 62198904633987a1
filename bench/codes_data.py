"""Bench data for bench/codes.py: a PostgreSQL database holding >= 100,000 sealed certificates.

Certificates are built exactly as the store builds them (canonical payload, department
seal, AES-GCM at rest) but inserted in bulk: signing and encrypting in Python, one
multi-row INSERT per few thousand rows. Idempotent: a database that already holds
enough certificates is left as it is.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import psycopg
from sqlalchemy import func, insert, select

from backend import clock
from backend.auth import issue_api_token
from backend.extensions import db
from backend.models import (
    Certificate,
    CertificateSeal,
    CertificateType,
    Department,
    Person,
    Role,
    User,
    VerifierOrganisation,
)
from backend.security.checksums import make_id_number
from backend.security.crypto import get_cipher
from backend.services import seals
from backend.services.certificate_store import build_payload, format_serial
from backend.services.seed import run_seed
from backend.services.signers import get_signer

BENCH_TYPES = ("id_card", "household_register", "driving_licence", "marriage_certificate")
BENCH_SCOPE = {"id_card": ["姓名", "公民身份号码"], "household_register": None}
CHUNK = 5000
BORN_FROM = date(1950, 1, 1)
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"


def ensure_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def _fields(cert_type: CertificateType, name: str, id_number: str, n: int) -> dict:
    fields = {}
    for f in cert_type.fields:
        if f["type"] == "id_number":
            fields[f["name"]] = id_number
        elif f["type"] == "date":
            fields[f["name"]] = "2015-06-01"
        elif f["type"] == "enum":
            fields[f["name"]] = f["options"][n % len(f["options"])]
        elif f["type"] == "number":
            fields[f["name"]] = n % 100
        else:
            fields[f["name"]] = name if "姓名" in f["name"] else f"杭州市西湖区文三路{n}号"
    return fields


def populate(n_certificates: int, echo=print) -> None:
    """Seed departments and types, then persons (one citizen account each) with
    ``len(BENCH_TYPES)`` certificates apiece until ``n_certificates`` exist."""
    run_seed(["departments", "certificate types"], echo=lambda _: None)
    have = db.session.scalar(select(func.count()).select_from(Certificate))
    if have >= n_certificates:
        echo(f"database already holds {have} certificates")
        return
    types = [
        db.session.scalar(select(CertificateType).where(CertificateType.code == code))
        for code in BENCH_TYPES
    ]
    departments = {d.id: d for d in db.session.scalars(select(Department))}
    material = {}
    for t in types:
        key, private = seals.signing_key_material(departments[t.department_id])
        material[t.id] = (key, private, get_signer(key.algorithm))
    db.session.commit()
    cipher = get_cipher()
    start = db.session.scalar(select(func.count()).select_from(Person)) + 1
    n_persons = (n_certificates - have + len(types) - 1) // len(types)
    now = clock.now()
    for first in range(start, start + n_persons, CHUNK // len(types)):
        batch = range(first, min(first + CHUNK // len(types), start + n_persons))
        people = []
        for n in batch:
            name = SURNAMES[n % len(SURNAMES)] + "测试" + str(n % 97)
            # Unique per n: the birth date moves on every 1,000 sequence numbers.
            id_number = make_id_number("330106", BORN_FROM + timedelta(days=n // 1000), n)
            people.append((n, name, id_number))
        person_ids = db.session.scalars(
            insert(Person).returning(Person.id, sort_by_parameter_order=True),
            [
                {
                    "name": name,
                    "id_number_cipher": cipher.encrypt_text(id_number),
                    "id_number_hash": cipher.index(id_number),
                    "created_at": now,
                }
                for _, name, id_number in people
            ],
        ).all()
        db.session.execute(
            insert(User),
            [
                {
                    "username": f"bench-citizen-{n}",
                    "display_name": name,
                    "role": Role.CITIZEN.value,
                    "person_id": pid,
                    "is_demo": False,
                    "enabled": True,
                    "created_at": now,
                }
                for (n, name, _), pid in zip(people, person_ids, strict=True)
            ],
        )
        rows, signatures = [], []
        for (n, name, id_number), pid in zip(people, person_ids, strict=True):
            for t in types:
                department = departments[t.department_id]
                serial = format_serial(department, t, 2024, n)
                payload = build_payload(
                    serial=serial,
                    cert_type=t,
                    department=department,
                    holder={"kind": "person", "id": id_number, "name": name},
                    fields=_fields(t, name, id_number, n),
                    issued_on=date(2024, 1, 1),
                    expires_on=None,
                    version=1,
                )
                message = seals.canonical_json(payload)
                key, private, signer = material[t.id]
                rows.append(
                    {
                        "serial": serial,
                        "type_id": t.id,
                        "department_id": department.id,
                        "holder_person_id": pid,
                        "payload_cipher": cipher.encrypt(message),
                        "payload_digest": seals.digest(message),
                        "status": "valid",
                        "issued_on": date(2024, 1, 1),
                        "electronic_issued_at": now,
                        "version": 1,
                        "source": "issued",
                        "created_at": now,
                    }
                )
                signatures.append(
                    (department.id, key.key_id, key.algorithm, signer.sign(private, message))
                )
        certificate_ids = db.session.scalars(
            insert(Certificate).returning(Certificate.id, sort_by_parameter_order=True), rows
        ).all()
        db.session.execute(
            insert(CertificateSeal),
            [
                {
                    "certificate_id": cid,
                    "department_id": dep,
                    "key_id": kid,
                    "algorithm": alg,
                    "signature": sig,
                }
                for cid, (dep, kid, alg, sig) in zip(certificate_ids, signatures, strict=True)
            ],
        )
        db.session.commit()
        echo(f"  certificates: {have + (batch.stop - start) * len(types)}")


def actors(n_members: int, n_holders: int) -> dict:
    """A hotel with its scope, members and holders with bearer tokens, and their ID cards."""
    org = db.session.scalar(
        select(VerifierOrganisation).where(VerifierOrganisation.name == "压测宾馆")
    )
    if org is None:
        org = VerifierOrganisation(name="压测宾馆", kind="business", scope=BENCH_SCOPE)
        db.session.add(org)
        db.session.flush()
    members = []
    for i in range(n_members):
        username = f"bench-member-{i}"
        user = db.session.scalar(select(User).where(User.username == username))
        if user is None:
            user = User(
                username=username,
                display_name=f"前台{i}",
                role=Role.VERIFIER_MEMBER,
                verifier_organisation_id=org.id,
            )
            db.session.add(user)
        members.append(user)
    db.session.commit()
    id_card_type = db.session.scalar(
        select(CertificateType.id).where(CertificateType.code == "id_card")
    )
    # Holders spread over the whole table, so scans read cold rows too.
    total = db.session.scalar(select(func.count()).select_from(User))
    step = max(1, total // n_holders)
    holder_rows = db.session.execute(
        select(User, Certificate.id)
        .join(Certificate, Certificate.holder_person_id == User.person_id)
        .where(User.role == Role.CITIZEN, Certificate.type_id == id_card_type)
        .where(User.id % step == 0)
        .order_by(User.id)
        .limit(n_holders)
    ).all()
    return {
        "member_tokens": [issue_api_token(m)[0] for m in members],
        "holders": [(u.id, cid, issue_api_token(u)[0]) for u, cid in holder_rows],
    }


def dump_lines(path, lines) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for method, url, token, body in lines:
            text = json.dumps(body, ensure_ascii=False, separators=(",", ":")) if body else ""
            f.write(f"{method}\t{url}\t{token}\t{text}\n")
