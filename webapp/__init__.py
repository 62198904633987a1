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

from webapp import pages_complaints, pages_public, pages_verification, views  # noqa: E402,F401
