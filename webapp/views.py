"""Pages: thin views over the same services as the JSON API."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from backend.errors import AppError
from backend.services import accounts
from webapp import bp


@bp.get("/")
def index():
    return render_template("index.html")


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        password = request.form.get("password", "")
        if not username or not password:
            error = "请输入用户名和密码"
        else:
            try:
                user = accounts.authenticate(username, password)
            except AppError as exc:
                error = exc.message
            else:
                login_user(user)
                target = request.args.get("next", "")
                if not target.startswith("/") or target.startswith("//"):
                    target = url_for("web.index")
                return redirect(target)
    return render_template("login.html", error=error), 200 if error is None else 401


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    flash("您已退出登录")
    return redirect(url_for("web.index"))


@bp.get("/me")
@login_required
def me():
    return render_template("me.html", user=current_user)
