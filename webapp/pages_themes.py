"""Theme bundles: browse (public), consent, the pre-filled form, apply once, follow it."""

from __future__ import annotations

import secrets

from flask import redirect, render_template, request, url_for
from flask_login import current_user

from backend.errors import AppError
from backend.services import theme_applications, theme_consents, themes
from backend.theme_presenters import (
    present_application,
    present_bundle,
    present_bundle_summary,
)
from backend.validation import ROW_ID, coerce_integer, validate
from webapp import bp
from webapp.guards import HOLDERS, page_for

CONSENT_QUERY = {"type": "object", "properties": {"consent": ROW_ID}}


@bp.get("/themes")
def themes_page():
    """Published bundles; anyone may browse them."""
    bundles = [present_bundle_summary(b, v) for b, v in themes.published_bundles()]
    return render_template("themes/list.html", bundles=bundles)


@bp.get("/themes/<int:bundle_id>")
def theme(bundle_id: int):
    """Items and materials; for a logged-in holder, what is still needed and what is exempt."""
    bundle, version = themes.published_bundle(bundle_id)
    caller = current_user if current_user.is_authenticated else None
    holder = caller is not None and caller.role in HOLDERS
    return render_template(
        "themes/detail.html", b=present_bundle(bundle, version, caller), holder=holder
    )


@bp.route("/themes/<int:bundle_id>/consent", methods=["GET", "POST"])
@page_for(*HOLDERS)
def theme_consent(bundle_id: int):
    """Which certificates and fields the form would use (no values), then agree."""
    if request.method == "POST":
        consent = theme_consents.give_consent(current_user, bundle_id)
        return redirect(url_for("web.theme_apply", bundle_id=bundle_id, consent=consent.id))
    preview = theme_consents.consent_preview(current_user, bundle_id)
    return render_template("themes/consent.html", preview=preview, bundle_id=bundle_id)


def _typed(kind: str, value: str):
    if kind == "number":
        try:
            return int(value) if value.lstrip("-").isdigit() else float(value)
        except ValueError:
            return value  # the service names the field
    return value


@bp.route("/themes/<int:bundle_id>/apply", methods=["GET", "POST"])
@page_for(*HOLDERS)
def theme_apply(bundle_id: int):
    """The unified form: pre-filled values shown read-only, the rest typed in; apply once
    (the form carries an idempotency key, so a double submit makes one application)."""
    raw = request.args.get("consent", "")
    if not raw:
        return redirect(url_for("web.theme_consent", bundle_id=bundle_id))
    consent_id = validate(CONSENT_QUERY, {"consent": coerce_integer(raw)})["consent"]
    filled = theme_consents.prefill(current_user, bundle_id, consent_id)
    error = None
    if request.method == "POST":
        values = {
            f["label"]: _typed(f["type"], request.form.get(f"field-{n}", "").strip())
            for n, f in enumerate(filled["fields"])
            if not f["prefilled"] and request.form.get(f"field-{n}", "").strip()
        }
        try:
            application, _ = theme_applications.submit_application(
                current_user,
                bundle_id,
                values,
                consent_id,
                request.form.get("idempotency_key", "")[:64] or None,
                None,
            )
        except AppError as exc:
            error = exc.message
        else:
            return redirect(url_for("web.application", application_id=application.id))
    page = render_template(
        "themes/apply.html",
        title=filled["version"].title,
        fields=filled["fields"],
        form=request.form,
        error=error,
        idempotency_key=request.form.get("idempotency_key") or secrets.token_urlsafe(16),
    )
    return page, 200 if error is None else 422


@bp.get("/applications")
@page_for(*HOLDERS)
def applications():
    items = [present_application(a) for a in theme_applications.list_applications(current_user)]
    return render_template("themes/applications.html", items=items)


@bp.get("/applications/<int:application_id>")
@page_for(*HOLDERS)
def application(application_id: int):
    app_data = present_application(theme_applications.own_application(current_user, application_id))
    return render_template("themes/application.html", a=app_data)
