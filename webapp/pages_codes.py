"""Show code, scan code, usage records: pages over the codes domain's services.

The show-code page itself only lists the chosen certificates; its script asks the JSON API
(``POST /codes``, ``GET /codes/{token}``) for codes and their status, so a refresh moves one
small JSON body and never reloads the page.
"""

from __future__ import annotations

import json

from flask import flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user

from backend.errors import AppError
from backend.services import certificate_store, scans, usage_records
from webapp import bp
from webapp.forms import PER_PAGE, field_errors, form_body, page_number
from webapp.guards import HOLDERS, VERIFIERS, page_for

API_PREFIX = "/api/mp/v1"
DEFAULT_PURPOSE = "窗口核验"
SCAN_FORM = {
    "type": "object",
    "additionalProperties": False,
    "required": ["qr_content", "purpose"],
    "properties": {
        "qr_content": {"type": "string", "minLength": 1, "maxLength": 500},
        "purpose": {"type": "string", "minLength": 1, "maxLength": 100},
    },
}
REPORT_FORM = {
    "type": "object",
    "additionalProperties": False,
    "required": ["reason"],
    "properties": {"reason": {"type": "string", "minLength": 1, "maxLength": 500}},
}
SCAN_LABELS = {"qr_content": "码内容", "purpose": "核验事由"}
RESULT_LABELS = {
    "ok": "有效",
    "expired": "已过期",
    "revoked": "已注销",
    "superseded": "已被新版本取代",
    "seal_invalid": "印章验证未通过",
    "out_of_scope": "超出授权范围",
}


def _no_store(response):
    response = make_response(response)
    response.headers["Cache-Control"] = "no-store"
    return response


# --- holder: show code -----------------------------------------------------------------------


def _certificate_choice(certificate) -> dict:
    return {
        "id": certificate.id,
        "name": certificate.type.name,
        "serial": certificate.serial,
        "expires_on": certificate.expires_on.isoformat() if certificate.expires_on else None,
    }


@bp.get("/show-code")
@page_for(*HOLDERS)
def show_code():
    """Choose certificates (a GET form), then the page that shows and refreshes the code."""
    person_id, company_ids = certificate_store.holder_ids(current_user)
    choices = [
        _certificate_choice(c)
        for c in certificate_store.valid_certificates_of(person_id, company_ids)
    ]
    wanted = request.args.getlist("certificate")
    chosen = [c for c in choices if str(c["id"]) in wanted]
    if not wanted or len(chosen) != len(set(wanted)):
        error = "所选证照不可出示,请重新选择" if wanted else None
        page = render_template("codes/choose.html", choices=choices, error=error)
        return page, 422 if error else 200
    purpose = request.args.get("purpose", "").strip()[:100]
    page = render_template(
        "codes/show.html",
        chosen=chosen,
        certificate_ids=json.dumps([c["id"] for c in chosen]),
        purpose=purpose,
        api=API_PREFIX,
    )
    return _no_store(page)


# --- holder: usage records -------------------------------------------------------------------


@bp.get("/usage-records")
@page_for(*HOLDERS)
def usage_records_page():
    page = page_number()
    listing = usage_records.list_usage_records(current_user, page=page, per_page=PER_PAGE)
    return render_template(
        "codes/usage_records.html",
        listing=listing,
        labels=RESULT_LABELS,
        has_next=page * PER_PAGE < listing["total"],
    )


@bp.post("/usage-records/<int:record_id>/report")
@page_for(*HOLDERS)
def report_usage_record(record_id: int):
    """Report a use as suspicious; the form sits on each record of the list."""
    try:
        body = form_body(REPORT_FORM)
    except AppError:
        flash("请填写举报原因", "error")
    else:
        usage_records.report_usage_record(current_user, record_id, body["reason"])
        flash("已举报,减证便民专班将核实处理")
    return redirect(url_for("web.usage_records_page", _anchor=f"record-{record_id}"))


# --- verifier: scan --------------------------------------------------------------------------


@bp.route("/scan", methods=["GET", "POST"])
@page_for(*VERIFIERS)
def scan():
    """The scan form; posting it consumes the code and shows the result (never cached)."""
    errors: dict[str, str] = {}
    failure = None
    if request.method == "POST":
        try:
            body = form_body(SCAN_FORM)
            result = scans.scan_code(current_user, body["qr_content"], body["purpose"])
        except AppError as exc:
            errors = field_errors(exc, SCAN_LABELS)
            failure = exc
        else:
            page = render_template("codes/scan_result.html", result=result, labels=RESULT_LABELS)
            return _no_store(page)
    page = render_template(
        "codes/scan.html",
        errors=errors,
        failure=failure,
        purpose=request.form.get("purpose") or request.args.get("purpose") or DEFAULT_PURPOSE,
    )
    status = failure.status_code if failure is not None else 200
    return _no_store(page), status


@bp.get("/scans")
@page_for(*VERIFIERS)
def scan_history():
    page = page_number()
    listing = usage_records.list_usage_records(current_user, page=page, per_page=PER_PAGE)
    return render_template(
        "codes/scan_history.html",
        listing=listing,
        labels=RESULT_LABELS,
        has_next=page * PER_PAGE < listing["total"],
    )
