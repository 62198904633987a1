"""Dynamic certificate codes: the one-time token a holder shows and a verifier scans.

A code token is 128 random bits kept in the token store under three keys:

- ``code:token:<t>``: the live code (holder, certificate ids, creation and expiry time,
  purpose). A scan takes it atomically and, in the same step, writes its outcome: of two
  scans exactly one gets it.
- ``code:state:<t>``: holder and expiry, kept ``CODE_TOMBSTONE_TTL_S`` longer, so a scan
  of an expired code is told apart from an unknown one.
- ``code:outcome:<t>``: what became of it (used by which organisation and when, or
  replaced by a newer code), so a reused code says so and the holder's phone can show
  "shown to ...".

Expiry is decided by the recorded expiry time against ``clock.now()`` (the live key
outlives it by a few seconds), so "expired" never looks like "unknown".
"""

from __future__ import annotations

import hashlib
import io
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import qrcode
import qrcode.image.svg
from flask import current_app
from sqlalchemy import bindparam, exists, select

from backend import clock
from backend.auth import take_caller_check
from backend.caller_cache import Caller
from backend.db_driver import ByIds, fetch_all
from backend.errors import AppError, Conflict, Gone, NotFound, UnprocessableEntity
from backend.models import Certificate, CompanyRepresentative, User
from backend.services import rate_limits
from backend.services.certificate_store import effective_status
from backend.token_store import (
    CODE_CURRENT_PREFIX,
    CODE_EXPIRY_SLACK_S,
    CODE_OUTCOME_PREFIX,
    CODE_STATE_PREFIX,
    CODE_TOKEN_PREFIX,
    CODE_TOMBSTONE_TTL_S,
    MAX_CODE_TTL_S,
    MIN_CODE_TTL_S,
    get_token_store,
)

CODE_PATH = "/c/"
TOKEN_BYTES = 16  # 128 random bits
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{22}$")
MAX_CERTIFICATES_PER_CODE = 10


class CodeInvalid(AppError):
    status_code = 400
    code = "code_invalid"
    message = "二维码内容无效,请扫描市民出示的证照码"


class CodeNotFound(NotFound):
    code = "code_not_found"
    message = "二维码不存在,请让持证人刷新后重新出示"


class CodeExpired(Gone):
    code = "code_expired"
    message = "二维码已过期,请刷新"


class CodeUsed(Conflict):
    code = "code_used"
    message = "二维码已被使用,请让持证人刷新后重新出示"


@dataclass(frozen=True)
class CodeRecord:
    """What a live code token holds."""

    holder_user_id: int
    certificate_ids: list[int]
    created_at: float  # epoch seconds
    expires_at: float
    purpose: str | None = None

    def dumps(self) -> str:
        return _dumps(
            {
                "h": self.holder_user_id,
                "c": self.certificate_ids,
                "t": self.created_at,
                "e": self.expires_at,
                "p": self.purpose,
            }
        )

    @classmethod
    def loads(cls, raw: str) -> CodeRecord:
        data = orjson.loads(raw)
        return cls(data["h"], data["c"], data["t"], data["e"], data.get("p"))


def _epoch_now() -> float:
    return clock.now().timestamp()


def _iso(epoch: float) -> str:
    return clock.to_local(datetime.fromtimestamp(epoch, UTC)) or ""


def code_ref(token: str) -> str:
    """A stable reference to a token for records and logs; the token itself is never stored."""
    return hashlib.sha256(token.encode()).hexdigest()[:32]


def qr_content(token: str) -> str:
    """The URL in the QR code: a phone camera opens a harmless page, the mini-program
    recognises the prefix (WeChat "scan ordinary link QR codes to open the mini-program")."""
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + CODE_PATH + token


def parse_qr_content(content: str) -> str:
    """The token in scanned content: our code URL, or the bare token typed by hand."""
    content = content.strip()
    prefix = current_app.config["PUBLIC_BASE_URL"].rstrip("/") + CODE_PATH
    if content.lower().startswith(prefix.lower()):
        content = content[len(prefix) :]
    if not TOKEN_RE.match(content):
        raise CodeInvalid(field="qr_content")
    return content


# --- showing a code --------------------------------------------------------------------------


# Built once, run on the bare driver (db_driver.fetch_all): showing a code is a hot path.
_OWNED = select(
    Certificate.id,
    Certificate.holder_person_id,
    Certificate.holder_company_id,
    Certificate.status,
    Certificate.expires_on,
    exists()
    .where(
        CompanyRepresentative.user_id == bindparam("user_id"),
        CompanyRepresentative.company_id == Certificate.holder_company_id,
    )
    .label("represented"),
)
_OWNERSHIP = _OWNED.where(Certificate.id.in_(bindparam("ids", expanding=True)))
_OWNERSHIP_BY_IDS = ByIds(_OWNED, Certificate.id)  # on the driver: one id or several


def _check_own_valid_certificates(user: Caller, certificate_ids: list[int]) -> None:
    """Every certificate exists, belongs to the user (or a company they represent), is
    valid: one query."""
    statement, params = _OWNERSHIP_BY_IDS.pick(certificate_ids)
    params.update(ids=certificate_ids, user_id=user.id)  # "ids": the portable statement's
    certificates = {row.id: row for row in fetch_all(statement, _OWNERSHIP, params)}
    for certificate_id in certificate_ids:
        certificate = certificates.get(certificate_id)
        if certificate is None or not (
            (certificate.holder_person_id and certificate.holder_person_id == user.person_id)
            or (certificate.holder_company_id and certificate.represented)
        ):
            raise NotFound("证照不存在", code="certificate_not_found", field="certificate_ids")
        status = effective_status(certificate)  # reads .status and .expires_on of the row
        if status != "valid":
            raise UnprocessableEntity(
                "所选证照已失效,不能出示",
                code="certificate_not_valid",
                field="certificate_ids",
                certificate_id=certificate_id,
                status=status,
            )


def _code_ttl(ttl_s: int | None) -> int:
    ttl = ttl_s if ttl_s is not None else int(current_app.config["CODE_TTL_S"])
    if not MIN_CODE_TTL_S <= ttl <= MAX_CODE_TTL_S:
        raise UnprocessableEntity(
            f"有效期须在 {MIN_CODE_TTL_S} 至 {MAX_CODE_TTL_S} 秒之间",
            code="invalid_ttl",
            field="ttl_s",
        )
    return ttl


def _code_items(token: str, record: CodeRecord, ttl: int) -> list[tuple[str, str, int]]:
    """The live code and its state, as token store items."""
    state = {"h": record.holder_user_id, "e": record.expires_at}
    return [
        (CODE_TOKEN_PREFIX + token, record.dumps(), ttl + CODE_EXPIRY_SLACK_S),
        (CODE_STATE_PREFIX + token, _dumps(state), ttl + CODE_TOMBSTONE_TTL_S),
    ]


def store_code(record: CodeRecord, ttl: int) -> str:
    """Write a new live code and its state, outside any "current code" (bench, seed)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    get_token_store().set_many(_code_items(token, record, ttl))
    return token


def _dumps(value: dict[str, Any]) -> str:
    """Compact UTF-8 JSON (what ``json.dumps`` with tight separators writes, for a fifth of
    the CPU): every scan and every shown code writes some."""
    return orjson.dumps(value).decode()


def show_code(
    user: Caller, certificate_ids: list[int], purpose: str | None = None, ttl_s: int | None = None
) -> dict[str, Any]:
    """A new code for these certificates; the previous code for the same set stops working."""
    ttl = _code_ttl(ttl_s)
    ids = sorted(set(certificate_ids))
    if len(ids) > MAX_CERTIFICATES_PER_CODE:
        raise UnprocessableEntity(
            f"一次最多出示 {MAX_CERTIFICATES_PER_CODE} 本证照",
            code="too_many_certificates",
            field="certificate_ids",
        )
    _check_own_valid_certificates(user, ids)
    now = _epoch_now()
    record = CodeRecord(user.id, ids, now, now + ttl, purpose)
    store = get_token_store()
    token = secrets.token_urlsafe(TOKEN_BYTES)
    current_key = f"{CODE_CURRENT_PREFIX}{user.id}:{','.join(map(str, ids))}"
    # One atomic round trip: confirm a provisional caller and count the holder's rate
    # limit (when either fails, nothing else happens), point "current" at the new code,
    # write it with its state, and retire the previous code if still unused (it then says
    # it was replaced; a used one keeps its outcome).
    with rate_limits.counted_along(rate_limits.CODES, f"user:{user.id}") as limit:
        store.rotate(
            (current_key, token, ttl + CODE_EXPIRY_SLACK_S),
            _code_items(token, record, ttl),
            (
                CODE_TOKEN_PREFIX,
                CODE_OUTCOME_PREFIX,
                _dumps({"s": "replaced"}),
                CODE_TOMBSTONE_TTL_S,
            ),
            limit,
            take_caller_check(),
        )
    return {
        "token": token,
        "qr_content": qr_content(token),
        "expires_at": _iso(record.expires_at),
        "ttl_s": ttl,
        "refresh_after_s": ttl // 2,
    }


# --- redeeming (scans) -----------------------------------------------------------------------


def redeem(token: str, organisation_name: str, counters=()) -> CodeRecord:
    """Consume a live code, recording who used it in the same step: one caller wins;
    the rest learn why they did not. ``counters``: token-store counters counted in that
    step (``rate_limits.counted_along``); a full one raises ``CounterExceeded``, nothing
    taken. A provisional caller's check rides on the step too (``auth``)."""
    store = get_token_store()
    now = _epoch_now()
    outcome = _dumps({"s": "used", "by": organisation_name, "at": now})
    raw = store.take_and_set(
        CODE_TOKEN_PREFIX + token,
        CODE_OUTCOME_PREFIX + token,
        outcome,
        CODE_TOMBSTONE_TTL_S,
        counters,
        take_caller_check(),
    )
    if raw is not None:
        record = CodeRecord.loads(raw)
        if now >= record.expires_at:
            store.set(CODE_OUTCOME_PREFIX + token, _dumps({"s": "expired"}), CODE_TOMBSTONE_TTL_S)
            raise CodeExpired()
        return record
    previous = store.get(CODE_OUTCOME_PREFIX + token)
    if previous is not None:
        raise CodeUsed() if orjson.loads(previous)["s"] == "used" else CodeExpired()
    if store.get(CODE_STATE_PREFIX + token) is None:
        raise CodeNotFound()
    raise CodeExpired()  # issued here once, no longer live, never used


# --- the holder's view of a code -------------------------------------------------------------


def _live_record_of(user: User, token: str) -> CodeRecord | None:
    if not TOKEN_RE.match(token):
        return None
    raw = get_token_store().get(CODE_TOKEN_PREFIX + token)
    if raw is None:
        return None
    record = CodeRecord.loads(raw)
    return record if record.holder_user_id == user.id else None


def code_status(user: User, token: str) -> dict[str, Any]:
    """waiting | scanned (by whom, when) | expired | replaced; only for the holder."""
    now = _epoch_now()
    record = _live_record_of(user, token)
    if record is not None:
        status = "waiting" if now < record.expires_at else "expired"
        return {"status": status, "expires_at": _iso(record.expires_at)}
    store = get_token_store()
    state_raw = store.get(CODE_STATE_PREFIX + token) if TOKEN_RE.match(token) else None
    state = orjson.loads(state_raw) if state_raw else None
    if state is None or state["h"] != user.id:
        raise CodeNotFound()
    body: dict[str, Any] = {"status": "expired", "expires_at": _iso(state["e"])}
    outcome_raw = store.get(CODE_OUTCOME_PREFIX + token)
    outcome = orjson.loads(outcome_raw) if outcome_raw else {"s": "expired"}
    if outcome["s"] == "used":
        body.update(
            status="scanned",
            scanned_at=_iso(outcome["at"]),
            scanned_by={"organisation": outcome["by"]},
        )
    elif outcome["s"] == "replaced":
        body["status"] = "replaced"
    return body


def qr_image(user: User, token: str, fmt: str) -> bytes:
    """The QR code of a live code as PNG or SVG (error correction Q); only for the holder."""
    record = _live_record_of(user, token)
    if record is None or _epoch_now() >= record.expires_at:
        raise CodeNotFound()
    return render_qr(qr_content(token), fmt)


def render_qr(content: str, fmt: str) -> bytes:
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_Q, box_size=10, border=4)
    qr.add_data(content)
    qr.make(fit=True)
    out = io.BytesIO()
    if fmt == "svg":
        qr.make_image(image_factory=qrcode.image.svg.SvgPathImage).save(out)
    else:
        qr.make_image().save(out, format="PNG")
    return out.getvalue()
