"""Reporting an office that still demanded a proof (stored for the supervisor)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from backend import clock
from backend.errors import AppError
from backend.services import complaints
from webapp import bp
from webapp.forms import field_errors, form_body
from webapp.guards import HOLDERS, page_for

LABELS = {
    "office_name": "办事单位",
    "department_id": "所属部门",
    "service_name": "办理的事项",
    "demanded_material": "被要求提供的证明",
    "occurred_on": "发生日期",
    "description": "情况说明",
}


@bp.route("/complaints/new", methods=["GET", "POST"])
@page_for(*HOLDERS)
def new_complaint():
    errors: dict[str, str] = {}
    message = None
    if request.method == "POST":
        try:
            body = form_body(complaints.COMPLAINT_BODY, integers=("department_id",))
            complaints.submit_complaint(current_user, body)
        except AppError as exc:
            errors = field_errors(exc, LABELS)
            message = exc.message if not errors else "请检查标出的内容"
        else:
            flash("已提交,感谢您的反映。减证便民专班将跟进处理。")
            return redirect(url_for("web.my_complaints"))
    status = 200 if not errors and message is None else 422
    return render_template(
        "complaints/new.html",
        departments=complaints.departments_for_choice(),
        form=request.form,
        today=clock.now().astimezone(clock.SHANGHAI).date().isoformat(),
        errors=errors,
        message=message,
        labels=LABELS,
    ), status


@bp.get("/complaints")
@page_for(*HOLDERS)
def my_complaints():
    items = [complaints.present_complaint(c) for c in complaints.complaints_of(current_user)]
    return render_template("complaints/list.html", items=items)
