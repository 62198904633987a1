"""What issuing one certificate of a type needs, read once per worker process.

Issuing a certificate needs the type (schema, validity, holder kind), the department that
issues it now (successors followed), the joint departments, and each sealing department's
current signing key, decrypted. Those change rarely (an administrator edits a type, rotates
or revokes a key, reorganises a department), so a worker keeps them in memory.

The invalidation rule: a cached profile is only ever *used* by a statement that checks, in
the database, in the same statement, that the type's ``revision`` is still the one the
profile was read at (every UPDATE of a type row changes it; ``reorganise_department`` changes
every type's) and that every signing key in it is still ``current``. When that check fails,
nothing is written: the issuer reloads the profile inside its transaction and starts again.
So a key revoked or rotated in one worker stops being used for new certificates by every
worker at once, and a type edited anywhere is validated by its new schema from then on.
Within the worker that makes the change the cache is also dropped directly.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from flask import current_app

from backend.extensions import db
from backend.models import CertificateType, Department
from backend.services import seals
from backend.services.certificate_types import get_type, issuing_department, joint_departments


@dataclass(frozen=True)
class Sealer:
    """One sealing department with its current key (private bytes decrypted)."""

    department_id: int
    department_code: str
    key_id: str
    algorithm: str
    private: bytes


@dataclass(frozen=True)
class IssuerRef:
    """The attributes of a department that serials and payloads use."""

    id: int
    code: str


@dataclass(frozen=True)
class IssuingProfile:
    """A read-only snapshot of a type for issuing; duck-types as the type for validation."""

    id: int
    code: str
    name: str
    holder_kind: str
    fields: list[dict[str, Any]]
    validity_years: int
    issuing_cycle_days: int
    revision: str
    issuer: IssuerRef
    sealers: tuple[Sealer, ...]  # the issuer first, then the joint departments

    @property
    def key_ids(self) -> list[str]:
        return [s.key_id for s in self.sealers]

    @property
    def sealed_by(self) -> list[str]:
        return [s.department_code for s in self.sealers]


def sealing_departments(department: Department, joint: list[Department]) -> list[Department]:
    """The issuer first, then each other joint department once."""
    ordered = [department]
    for other in joint:
        if all(other.id != d.id for d in ordered):
            ordered.append(other)
    return ordered


def _cache() -> dict[str, IssuingProfile]:
    return current_app.extensions.setdefault("issuing_profiles", {})


def build(cert_type: CertificateType) -> IssuingProfile:
    """Read a profile from the database (in the caller's transaction); creates missing keys."""
    department = issuing_department(cert_type)
    sealers = []
    for sealer in sealing_departments(department, joint_departments(cert_type)):
        key, private = seals.signing_key_material(sealer)
        sealers.append(Sealer(sealer.id, sealer.code, key.key_id, key.algorithm, private))
    return IssuingProfile(
        id=cert_type.id,
        code=cert_type.code,
        name=cert_type.name,
        holder_kind=cert_type.holder_kind,
        fields=copy.deepcopy(cert_type.fields),
        validity_years=cert_type.validity_years or 0,
        issuing_cycle_days=cert_type.issuing_cycle_days or 0,
        revision=cert_type.revision,
        issuer=IssuerRef(department.id, department.code),
        sealers=tuple(sealers),
    )


def cached(code: str) -> IssuingProfile | None:
    """This worker's profile of a type, if it has one (no database access)."""
    return _cache().get(code)


def get(code: str, *, fresh: bool = False) -> IssuingProfile:
    """The cached profile of a type (404 for an unknown type); ``fresh`` re-reads it."""
    cache = _cache()
    profile = None if fresh else cache.get(code)
    if profile is None:
        if fresh:
            # Objects this session loaded earlier would otherwise be reused as they were.
            db.session.flush()
            db.session.expire_all()
        profile = build(get_type(code))
        cache[code] = profile
    return profile


def forget(code: str | None = None) -> None:
    """Drop one type's profile (or all) in this worker; other workers notice by the check."""
    cache = current_app.extensions.get("issuing_profiles")
    if cache is None:
        return
    if code is None:
        cache.clear()
    else:
        cache.pop(code, None)
