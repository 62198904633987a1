"""Pages: thin views over the same services as the JSON API.

This module holds the frame every page shares (home, login, text size, the header's inbox
badge); each domain's pages live in their own ``webapp/pages_*.py``.
"""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from backend.errors import AppError, ValidationFailed
from backend.presenters import present_user
from backend.services import accounts
from webapp import bp
from webapp.guards import HOLDERS, VERIFIERS

TEXT_SIZE_COOKIE = "text_size"
TEXT_SIZES = ("normal", "large")
ONE_YEAR_S = 365 * 24 * 3600

# Home page tiles: (endpoint, title, hint, roles or None for everyone). A tile shows once
# its page exists, so pages appear as their domains land.
TILES = [
    ("web.certificates", "我的证照", "电子证照与证明", HOLDERS),
    ("web.show_code", "亮码", "出示证照二维码", HOLDERS),
    ("web.usage_records_page", "用证记录", "谁查看了我的证照", HOLDERS),
    ("web.applications", "我的办件", "主题服务申请进度", HOLDERS),
    ("web.verification_requests", "部门协查", "协查进度", HOLDERS),
    ("web.new_complaint", "反映索要证明", "仍被要求提交证明", HOLDERS),
    ("web.scan", "扫码核验", "扫描持证人二维码", VERIFIERS),
    ("web.scan_history", "核验记录", "本单位扫码记录", VERIFIERS),
    ("web.inbox", "消息", "通知与提醒", HOLDERS + VERIFIERS),
    ("web.exemption_list_page", "材料减免清单", "哪些材料可免提交", None),
    ("web.themes_page", "主题服务", "一件事一次办", None),
]


def safe_next(target: str | None, default: str = "web.index") -> str:
    """A same-site path to go back to; anything else goes home (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for(default)
    return target


def unread_count() -> int | None:
    """Unread notifications for the header badge; None where the inbox page does not exist."""
    if not current_user.is_authenticated or not has_page("web.inbox"):
        return None
    from notifications import service as notifications

    return notifications.unread_count(current_user)


def has_page(endpoint: str) -> bool:
    """Whether a page exists (pages of domains not yet on main are not imported)."""
    return endpoint in current_app.view_functions


@bp.app_context_processor
def page_context() -> dict:
    return {
        "large_text": request.cookies.get(TEXT_SIZE_COOKIE) == "large",
        "unread_count": unread_count(),
        "has_page": has_page,
    }


def tiles_for(user) -> list[dict]:
    role = user.role if user.is_authenticated else None
    return [
        {"url": url_for(endpoint), "title": title, "hint": hint}
        for endpoint, title, hint, roles in TILES
        if has_page(endpoint) and (roles is None or role in roles)
    ]


@bp.get("/")
def index():
    return render_template("index.html", tiles=tiles_for(current_user))


@bp.route("/login", methods=["GET", "POST"])
def login():
    error, status = None, 200
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        password = request.form.get("password", "")
        if not username or not password:
            error, status = "请输入用户名和密码", 401
        else:
            try:
                user = accounts.log_in(username, password, request.remote_addr)
            except AppError as exc:  # wrong password 401, throttled 429, Redis down 503
                error, status = exc.message, exc.status_code
            else:
                login_user(user)
                return redirect(safe_next(request.args.get("next")))
    return render_template("login.html", error=error), status


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    flash("您已退出登录")
    return redirect(url_for("web.index"))


@bp.get("/me")
@login_required
def me():
    return render_template("me.html", profile=present_user(current_user))


@bp.post("/preferences/text-size")
def text_size():
    """The large-text mode for older users: a cookie, so it works without any script."""
    size = request.form.get("size", "")
    if size not in TEXT_SIZES:
        raise ValidationFailed("字号设置无效", field="size")
    response = redirect(safe_next(request.form.get("next")))
    response.set_cookie(
        TEXT_SIZE_COOKIE,
        size,
        max_age=ONE_YEAR_S,
        httponly=True,
        samesite="Lax",
        secure=current_app.config["SESSION_COOKIE_SECURE"],
    )
    return response
