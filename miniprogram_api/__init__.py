"""The JSON API under ``/api/mp/v1`` shared by the WeChat mini-program and the web app.

Each domain has one module of thin views declared with ``registry.endpoint``; importing
the module registers its routes on ``bp``.
"""

from flask import Blueprint

bp = Blueprint("mp", __name__, url_prefix="/api/mp/v1")

# Route modules, one per domain. Each import registers its endpoints on ``bp``.
import miniprogram_api.certificate_admin  # noqa: E402,F401
import miniprogram_api.certificate_imports  # noqa: E402,F401
import miniprogram_api.certificates  # noqa: E402,F401
from miniprogram_api import auth  # noqa: E402,F401
