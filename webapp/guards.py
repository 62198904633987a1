"""Who may open a page: one decorator, so no view checks roles by hand."""

from __future__ import annotations

import functools

from flask_login import current_user, login_required

from backend.errors import Forbidden
from backend.models import Role

HOLDERS = (Role.CITIZEN, Role.COMPANY_REPRESENTATIVE)
VERIFIERS = (Role.VERIFIER_MEMBER,)


def page_for(*roles: str):
    """Logged-in users with one of ``roles``; others are sent to log in or get a 403 page."""

    def decorator(view):
        @functools.wraps(view)
        @login_required
        def wrapper(*args, **kwargs):
            if current_user.role not in roles:
                raise Forbidden("您的账号无权打开此页面")
            return view(*args, **kwargs)

        return wrapper

    return decorator
