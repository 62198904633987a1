"""Server-rendered mobile web app for citizens, companies and verifiers."""

from flask import Blueprint

bp = Blueprint(
    "web",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

from webapp import code_landing, views  # noqa: E402,F401
