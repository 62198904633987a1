"""A consent is single-use: of two submits, or a submit and a withdraw, racing for one
consent exactly one wins, and the loser changes nothing.

The races run through the real stack: each side is a request of its own test client in its
own thread, on the real database. To make an interleaving certain rather than likely, a
listener on the engine holds the submitting thread between its read of the consent and its
next statement (where the old code had read "active" and would later write "used" anyway).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import event, func, select

from backend.extensions import db
from backend.models.themes import ThemeApplication, ThemeApplicationPart, ThemeConsent
from tests.factories import ApiClient, error_of
from tests.themes.factories import new_key

FORM = {"经营场所": "杭州市西湖区文三路1号一楼"}
WAIT_S = 15


def give_consent(api, restaurant) -> int:
    response = api.post(f"/themes/{restaurant.bundle_id}/consents", token=restaurant.token)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def submit(api, restaurant, consent_id: int):
    return api.post(
        f"/themes/{restaurant.bundle_id}/applications",
        json={"consent_id": consent_id, "values": FORM},
        token=restaurant.token,
        headers={"Idempotency-Key": new_key()},
    )


def withdraw(api, restaurant, consent_id: int):
    return api.post(f"/consents/{consent_id}/withdraw", token=restaurant.token)


def applications() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count(ThemeApplication.id)))


def consent_state(consent_id: int) -> str:
    db.session.expire_all()
    return db.session.get(ThemeConsent, consent_id).state


@contextlib.contextmanager
def consent_hooks(
    threads: set[threading.Thread],
    after_read: Callable[[], None] | None = None,
    after_write: Callable[[], None] | None = None,
) -> Iterator[None]:
    """In ``threads`` only: call ``after_read`` once, before the first statement that follows
    reading the consent (the read is finished, no lock is held yet); ``after_write`` once,
    after the first statement that changes the consent."""
    engine = db.engine
    read: set[threading.Thread] = set()
    done: set[tuple[threading.Thread, str]] = set()

    def once(kind: str, hook: Callable[[], None] | None) -> None:
        me = threading.current_thread()
        if hook is not None and (me, kind) not in done:
            done.add((me, kind))
            hook()

    def before(conn, cursor, statement, parameters, context, executemany):
        if threading.current_thread() in read:
            once("read", after_read)

    def after(conn, cursor, statement, parameters, context, executemany):
        me = threading.current_thread()
        if me not in threads:
            return
        sql = " ".join(statement.split()).upper()
        if sql.startswith("SELECT") and "FROM THEME_CONSENTS" in sql:
            read.add(me)
        elif sql.startswith("UPDATE THEME_CONSENTS"):
            once("write", after_write)

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


class Racer(threading.Thread):
    """One request in a thread of its own, with its own test client (and app context)."""

    def __init__(self, app, call: Callable[[ApiClient], object], start_gate=None) -> None:
        super().__init__(daemon=True)
        self.app, self.call, self.start_gate = app, call, start_gate
        self.response = None
        self.failure: BaseException | None = None

    def run(self) -> None:
        try:
            if self.start_gate is not None:
                self.start_gate()
            self.response = self.call(ApiClient(self.app.test_client()))
        except BaseException as exc:  # noqa: BLE001  (reported by finish)
            self.failure = exc


def finish(*racers: Racer) -> None:
    for racer in racers:
        racer.join(timeout=WAIT_S * 2)
    assert not any(r.is_alive() for r in racers), "a racing request never finished"
    assert [r.failure for r in racers] == [None] * len(racers)


def test_two_submits_with_one_consent_make_one_application(app, api, restaurant):
    consent_id = give_consent(api, restaurant)
    db.session.remove()
    both_read = threading.Barrier(2)
    racers = [Racer(app, lambda c: submit(c, restaurant, consent_id)) for _ in range(2)]
    # Both have read the consent as active before either goes on to use it.
    with consent_hooks(set(racers), after_read=lambda: both_read.wait(timeout=WAIT_S)):
        for racer in racers:
            racer.start()
        finish(*racers)
    statuses = sorted(r.response.status_code for r in racers)
    assert statuses == [201, 409], [r.response.get_json() for r in racers]
    loser = next(r.response for r in racers if r.response.status_code == 409)
    error = error_of(loser)
    assert (error["code"], error["field"], error["current_state"]) == (
        "consent_not_active",
        "consent_id",
        "used",
    )
    assert "已用于提交申请" in error["message"]
    winner = next(r.response for r in racers if r.response.status_code == 201).get_json()
    assert applications() == 1
    assert db.session.scalar(select(func.count(ThemeApplicationPart.id))) == 3
    assert winner["consent_id"] == consent_id
    assert db.session.scalar(select(ThemeApplication.consent_id)) == consent_id
    consent = db.session.get(ThemeConsent, consent_id)
    assert consent.state == "used" and consent.used_at is not None


def assert_consistent(submitted, withdrawn, consent_id: int) -> str:
    """Either the submit won (application, consent used, withdraw 409) or the withdraw did
    (no application, consent withdrawn, submit 409); returns the winner."""
    state = consent_state(consent_id)
    if submitted.status_code == 201:
        assert withdrawn.status_code == 409, withdrawn.get_json()
        assert error_of(withdrawn)["code"] == "invalid_state"
        assert error_of(withdrawn)["current_state"] == "used"
        assert (state, applications()) == ("used", 1)
        return "submit"
    assert withdrawn.status_code == 200, withdrawn.get_json()
    assert submitted.status_code == 409, submitted.get_json()
    error = error_of(submitted)
    assert (error["code"], error["current_state"]) == ("consent_not_active", "withdrawn")
    assert (state, applications()) == ("withdrawn", 0)
    assert db.session.scalar(select(func.count(ThemeApplicationPart.id))) == 0
    return "withdraw"


@pytest.mark.parametrize(
    "order",
    [
        "withdraw_between_read_and_use",  # the submit read "active", then the withdraw commits
        "withdraw_after_use",  # the submit changed the consent and has not committed yet
        "free",  # both let go at once
    ],
)
def test_a_withdraw_racing_a_submit_leaves_one_consistent_outcome(app, api, restaurant, order):
    consent_id = give_consent(api, restaurant)
    db.session.remove()
    submit_paused, withdraw_done, submit_wrote = (threading.Event() for _ in range(3))
    both_go = threading.Barrier(2)

    def hold_submit() -> None:  # until the withdraw has answered
        submit_paused.set()
        assert withdraw_done.wait(timeout=WAIT_S)

    hooks: dict = {}
    gate = None
    if order == "withdraw_between_read_and_use":
        hooks = {"after_read": hold_submit}
        gate = lambda: submit_paused.wait(timeout=WAIT_S)  # noqa: E731
    elif order == "withdraw_after_use":
        hooks = {"after_write": submit_wrote.set}
        gate = lambda: submit_wrote.wait(timeout=WAIT_S)  # noqa: E731
    else:
        gate = lambda: both_go.wait(timeout=WAIT_S)  # noqa: E731

    def withdraw_then_release(client):
        try:
            return withdraw(client, restaurant, consent_id)
        finally:
            withdraw_done.set()

    submitter = Racer(
        app,
        lambda c: submit(c, restaurant, consent_id),
        start_gate=(lambda: both_go.wait(timeout=WAIT_S)) if order == "free" else None,
    )
    withdrawer = Racer(app, withdraw_then_release, start_gate=gate)
    with consent_hooks({submitter}, **hooks):
        submitter.start()
        withdrawer.start()
        finish(submitter, withdrawer)
    winner = assert_consistent(submitter.response, withdrawer.response, consent_id)
    if order == "withdraw_between_read_and_use":
        assert winner == "withdraw"
    elif order == "withdraw_after_use":
        assert winner == "submit"


def test_a_submit_after_the_consent_was_withdrawn_is_refused_and_writes_nothing(api, restaurant):
    consent_id = give_consent(api, restaurant)
    assert withdraw(api, restaurant, consent_id).status_code == 200
    response = submit(api, restaurant, consent_id)
    assert response.status_code == 409
    error = error_of(response)
    assert (error["code"], error["field"], error["current_state"]) == (
        "consent_not_active",
        "consent_id",
        "withdrawn",
    )
    assert "已撤回" in error["message"]
    assert (consent_state(consent_id), applications()) == ("withdrawn", 0)


def test_a_used_consent_cannot_serve_a_second_application(api, restaurant):
    consent_id = give_consent(api, restaurant)
    assert submit(api, restaurant, consent_id).status_code == 201
    response = submit(api, restaurant, consent_id)
    assert response.status_code == 409
    assert error_of(response)["code"] == "consent_not_active"
    assert error_of(response)["current_state"] == "used"
    assert applications() == 1


def test_two_submits_with_one_key_and_one_consent_end_with_one_application(app, api, restaurant):
    consent_id = give_consent(api, restaurant)
    db.session.remove()
    both_read = threading.Barrier(2)
    key = new_key()

    def same_key(client):
        return client.post(
            f"/themes/{restaurant.bundle_id}/applications",
            json={"consent_id": consent_id, "values": FORM},
            token=restaurant.token,
            headers={"Idempotency-Key": key},
        )

    racers = [Racer(app, same_key) for _ in range(2)]
    with consent_hooks(set(racers), after_read=lambda: both_read.wait(timeout=WAIT_S)):
        for racer in racers:
            racer.start()
        finish(*racers)
    assert sorted(r.response.status_code for r in racers) == [200, 201]
    assert len({r.response.get_json()["id"] for r in racers}) == 1
    assert (applications(), consent_state(consent_id)) == (1, "used")
