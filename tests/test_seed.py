from sqlalchemy import func, select

from backend.extensions import db
from backend.models import CertificateType, Department, User


def test_seed_demo_creates_types_departments_and_demo_accounts(runner):
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert db.session.scalar(select(func.count(CertificateType.id))) == 50
    assert db.session.scalar(select(func.count(Department.id))) >= 20
    usernames = set(db.session.scalars(select(User.username)))
    assert {
        "citizen-demo",
        "company-demo",
        "verifier-demo",
        "officer-amr",
        "officer-psb",
        "officer-hrss",
        "theme-admin",
        "supervisor",
        "admin",
    } <= usernames


def test_seed_demo_is_idempotent(runner):
    runner.invoke(args=["seed-demo"])
    counts = [db.session.scalar(select(func.count(m.id))) for m in (CertificateType, User)]
    db.session.remove()
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert [db.session.scalar(select(func.count(m.id))) for m in (CertificateType, User)] == counts


def test_demo_accounts_log_in_with_the_documented_password(runner, api):
    runner.invoke(args=["seed-demo"])
    response = api.post(
        "/auth/password", json={"username": "officer-amr", "password": "demo-password"}
    )
    assert response.status_code == 200
    assert response.get_json()["user"]["department"]["name"] == "市市场监督管理局"


def test_field_schemas_are_inferred(runner):
    runner.invoke(args=["seed-demo"])
    id_card = db.session.scalar(select(CertificateType).where(CertificateType.code == "id_card"))
    types = {f["name"]: f["type"] for f in id_card.fields}
    assert types["公民身份号码"] == "id_number"
    assert types["出生日期"] == "date"
    assert types["性别"] == "enum"


def test_create_user_command_makes_a_real_account(runner, seeded):
    result = runner.invoke(
        args=[
            "create-user",
            "--username",
            "officer-real",
            "--role",
            "department_officer",
            "--display-name",
            "窗口人员",
            "--department",
            "psb",
        ],
        input="long-enough-password\nlong-enough-password\n",
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.username == "officer-real"))
    assert user.is_demo is False and user.department.code == "psb"


def test_create_user_command_reports_a_bad_department(runner, seeded):
    result = runner.invoke(
        args=[
            "create-user",
            "--username",
            "officer-x",
            "--role",
            "department_officer",
            "--display-name",
            "x",
            "--department",
            "nope",
        ],
        input="long-enough-password\nlong-enough-password\n",
    )
    assert result.exit_code != 0
    assert "部门不存在" in result.output
