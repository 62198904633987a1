"""Server-rendered mobile web app for citizens, companies and verifiers."""

from flask import Blueprint

bp = Blueprint(
    "web",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

from webapp import assets  # noqa: E402

bp.after_app_request(assets.cache_static)
bp.add_app_template_global(assets.asset, "asset")

from webapp import forms  # noqa: E402

bp.add_app_template_global(forms.page_url, "page_url")

from webapp import (  # noqa: E402
    code_landing,  # noqa: F401
    pages_certificates,  # noqa: F401
    pages_codes,  # noqa: F401
    pages_complaints,  # noqa: F401
    pages_inbox,  # noqa: F401
    pages_public,  # noqa: F401
    pages_themes,  # noqa: F401
    pages_verification,  # noqa: F401
    views,  # noqa: F401
)
