"""Real-name binding: citizen accounts only, one account per person, the phone on record,
a limit per account; two accounts binding one person at once cannot both win."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select, text

from backend.errors import AppError
from backend.extensions import db
from backend.models import Person, Role, User
from backend.services import accounts
from backend.services.accounts import person_id_number, person_phone
from backend.services.tx import transactional
from tests.factories import (
    create_officer,
    create_person,
    create_user,
    create_verifier_member,
    error_of,
    valid_id_number,
)

PHONE = "13700137000"  # create_person's phone on record


def _bind(api, token, person: Person, *, name=None, phone=PHONE):
    body = {"name": name or person.name, "id_number": person_id_number(person), "phone": phone}
    return api.post("/auth/bind", token=token, json=body)


def _committed(query):
    """Rows as committed, on a connection of their own (not this test's session)."""
    with db.engine.connect() as conn:
        return list(conn.execute(query).scalars())


def _person_id_of(user_id: int) -> int | None:
    return _committed(select(User.person_id).where(User.id == user_id))[0]


def _holders_of(person_id: int) -> list[int]:
    return _committed(select(User.id).where(User.person_id == person_id).order_by(User.id))


def _unbound_citizen() -> User:
    return create_user(Role.CITIZEN, person_id=None)


@pytest.mark.parametrize("make_staff", [create_verifier_member, create_officer])
def test_only_citizen_accounts_may_bind(api, make_staff):
    guest = create_person(name="周芳", id_number=valid_id_number())
    staff = make_staff()
    response = _bind(api, api.login(staff), guest)
    assert response.status_code == 403
    error = error_of(response)
    assert error["code"] == "bind_not_allowed"
    assert error["message"] == "仅市民账号可以进行实名绑定"
    assert _person_id_of(staff.id) is None


def test_a_person_bound_to_another_account_cannot_be_bound_again(api):
    victim = create_user()
    person_id, name = victim.person_id, victim.person.name
    attacker = _unbound_citizen()
    response = _bind(api, api.login(attacker), victim.person)  # name, number, phone all right
    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "person_already_bound"
    assert "政务服务窗口" in error["message"]
    assert _person_id_of(attacker.id) is None
    assert _holders_of(person_id) == [victim.id]
    db.session.expire_all()
    person = db.session.get(Person, person_id)
    assert (person.name, person_phone(person)) == (name, PHONE)


def test_binding_the_own_person_again_is_accepted(api):
    citizen = create_user()
    response = _bind(api, api.login(citizen), citizen.person)
    assert response.status_code == 200, response.get_json()
    assert _holders_of(citizen.person_id) == [citizen.id]


def test_a_wrong_phone_gets_the_same_answer_as_a_wrong_name_and_binds_nothing(api):
    person = create_person(name="吴刚", id_number=valid_id_number())
    citizen = _unbound_citizen()
    token = api.login(citizen)
    wrong_phone = _bind(api, token, person, phone="13911112222")
    wrong_name = _bind(api, token, person, name="吴钢")
    assert wrong_phone.status_code == wrong_name.status_code == 422
    assert error_of(wrong_phone) == error_of(wrong_name)
    assert error_of(wrong_phone)["code"] == "identity_mismatch"
    assert "field" not in error_of(wrong_phone)
    assert _person_id_of(citizen.id) is None
    assert _bind(api, token, person).status_code == 200  # the phone on record: bound
    assert _holders_of(person.id) == [citizen.id]


def test_binding_attempts_are_limited_per_account_and_the_limit_writes_nothing(
    app, api, monkeypatch
):
    monkeypatch.setitem(app.config, "RATE_LIMIT_BIND", "3/hour")
    person = create_person(name="郑洁", id_number=valid_id_number())
    citizen = _unbound_citizen()
    token = api.login(citizen)
    for guess in ("郑杰", "郑婕", "郑捷"):
        assert _bind(api, token, person, name=guess).status_code == 422
    response = _bind(api, token, person)  # right this time, but the limit is full
    assert response.status_code == 429
    assert error_of(response)["code"] == "rate_limited"
    assert _person_id_of(citizen.id) is None
    other = _unbound_citizen()  # the limit is the account's, not the person's
    assert _bind(api, api.login(other), person).status_code == 200


def test_successful_binding_attempts_count_too(app, api, monkeypatch):
    monkeypatch.setitem(app.config, "RATE_LIMIT_BIND", "2/hour")
    citizen = create_user()
    token = api.login(citizen)
    assert _bind(api, token, citizen.person).status_code == 200
    assert _bind(api, token, citizen.person).status_code == 200
    assert _bind(api, token, citizen.person).status_code == 429


def _wait_until_blocked(seconds: float = 10) -> None:
    """Until a PostgreSQL session waits for a row lock (on SQLite, a short pause: a writer
    there waits for the other one's commit)."""
    if db.engine.dialect.name != "postgresql":
        time.sleep(0.5)
        return
    deadline = time.monotonic() + seconds
    with db.engine.connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar()
            if waiting:
                return
            conn.rollback()
            time.sleep(0.02)
    raise AssertionError("the second binding never waited for the first")


def test_two_accounts_binding_one_person_at_the_same_time_only_one_wins(app):
    """The first binding holds its transaction open until the second has reached the
    person; without the row lock (PostgreSQL) or the count after the write (SQLite) the
    second would not see the first and both would win."""
    person = create_person(name="冯莉", id_number=valid_id_number())
    args = (person.name, person_id_number(person), PHONE)
    first_id, second_id = _unbound_citizen().id, _unbound_citizen().id
    first_bound, release = threading.Event(), threading.Event()
    outcome: dict[str, str] = {}

    def run(key, user_id, hold):
        with app.app_context():

            @transactional
            def bind_and_hold():
                accounts.bind_real_name(db.session.get(User, user_id), *args)
                if hold:
                    first_bound.set()
                    assert release.wait(20)

            try:
                bind_and_hold()
                outcome[key] = "ok"
            except AppError as exc:
                outcome[key] = exc.code
            finally:
                first_bound.set()
                db.session.remove()

    first = threading.Thread(target=run, args=("first", first_id, True))
    second = threading.Thread(target=run, args=("second", second_id, False))
    first.start()
    assert first_bound.wait(20)
    second.start()
    try:
        _wait_until_blocked()
    finally:
        release.set()
        first.join(30)
        second.join(30)
    assert outcome == {"first": "ok", "second": "person_already_bound"}
    assert _holders_of(person.id) == [first_id]


def test_concurrent_bind_requests_for_one_new_person_bind_exactly_one_account(app, api):
    """Both through the API at once, for a person nobody has created yet."""
    id_number = valid_id_number()
    tokens = [api.login(_unbound_citizen()), api.login(_unbound_citizen())]
    start = threading.Barrier(2)
    statuses: list[int] = []

    def run(token):
        client = app.test_client()
        start.wait(10)
        response = client.post(
            "/api/mp/v1/auth/bind",
            headers={"Authorization": f"Bearer {token}"},
            json={"name": "褚明", "id_number": id_number, "phone": "13612345678"},
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=run, args=(t,)) for t in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(statuses) == [200, 409]
    person = accounts.find_person(id_number)
    assert len(_holders_of(person.id)) == 1
