"""The JSON API under ``/api/mp/v1`` shared by the WeChat mini-program and the web app.

Each domain has one module of thin views declared with ``registry.endpoint``; importing
the module registers its routes on ``bp``.
"""

from flask import Blueprint

bp = Blueprint("mp", __name__, url_prefix="/api/mp/v1")

# Route modules, one per domain. Each import registers its endpoints on ``bp``.
from miniprogram_api import (  # noqa: E402
    auth,  # noqa: F401
    certificate_admin,  # noqa: F401
    certificate_imports,  # noqa: F401
    certificates,  # noqa: F401
    codes,  # noqa: F401
    complaints,  # noqa: F401
    exemption_list,  # noqa: F401
    notifications,  # noqa: F401
    service_items,  # noqa: F401
    themes,  # noqa: F401
    verification,  # noqa: F401
)
