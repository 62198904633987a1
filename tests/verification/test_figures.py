"""Supervision figures on a known data set: answer time median and p90, overdue counts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from backend import clock
from backend.services import verification as service
from backend.services.verification_figures import percentile, verification_figures
from backend.services.verification_sweep import sweep_overdue
from tests.factories import error_of
from tests.verification.factories import ANSWER, create_route, submit


def _move_to(moment):
    clock.advance(moment - clock.now())


def _answer_at(world, request, hours_after_start, start, officer=None):
    _move_to(start + timedelta(hours=hours_after_start))
    officer = officer or world.responder
    if request.state == "submitted":  # an overdue request is answered directly
        service.accept_request(request.id, officer)
    service.answer_request(request.id, officer, result="confirmed", answer=ANSWER)


@pytest.fixture
def data_set(world, monday):
    """Submitted Monday 09:00. Health answers after 2, 4, 10, 30 and 96 hours (the last
    after Thursday's deadline), reuses one answer, rejects one, leaves one open past the
    deadline. Education answers one after 1 hour and has one withdrawn."""
    start = monday
    health = {n: submit(world, question=f"健康问题 {n}") for n in range(1, 9) if n != 6}
    teacher_route = create_route("teacher_check", "教师资格情况证明", world.bystander)
    edu_answered = submit(world, route=teacher_route, question="教育问题 1")
    edu_withdrawn = submit(world, route=teacher_route, question="教育问题 2")
    service.withdraw_request(edu_withdrawn.id, world.requester)
    service.reject_request(health[7].id, world.responder, "非本部门职责")
    _answer_at(world, edu_answered, 1, start, officer=world.outsider)
    _answer_at(world, health[1], 2, start)
    reused = submit(world, question="健康问题 1")
    assert reused.answered_from_id == health[1].id
    _answer_at(world, health[2], 4, start)
    _answer_at(world, health[3], 10, start)
    _answer_at(world, health[4], 30, start)
    _move_to(start + timedelta(days=3, hours=15, seconds=1))  # Friday 00:00:01
    assert sweep_overdue().flagged == [health[5].id, health[8].id]
    _answer_at(world, health[8], 96, start)
    _move_to(start + timedelta(days=10))
    return start


HEALTH = {
    "received": 8,
    "answered": 5,
    "answered_from_previous": 1,
    "rejected": 1,
    "withdrawn": 0,
    "open": 1,
    "overdue": 2,
    "overdue_open": 1,
    "answer_hours_median": 10.0,
    "answer_hours_p90": 69.6,
}
EDUCATION = {
    "received": 2,
    "answered": 1,
    "answered_from_previous": 0,
    "rejected": 0,
    "withdrawn": 1,
    "open": 0,
    "overdue": 0,
    "overdue_open": 0,
    "answer_hours_median": 1.0,
    "answer_hours_p90": 1.0,
}
TOTAL = {
    "received": 10,
    "answered": 6,
    "answered_from_previous": 1,
    "rejected": 1,
    "withdrawn": 1,
    "open": 1,
    "overdue": 2,
    "overdue_open": 1,
    "answer_hours_median": 7.0,
    "answer_hours_p90": 63.0,
}


def _strip(row):
    return {k: v for k, v in row.items() if k != "department"}


def test_figures_per_department_on_a_known_data_set(data_set):
    figures = verification_figures()
    assert [row["department"]["code"] for row in figures["departments"]] == ["edu", "health"]
    assert _strip(figures["departments"][0]) == EDUCATION
    assert _strip(figures["departments"][1]) == HEALTH
    assert figures["total"] == TOTAL


def test_the_supervisor_reads_the_figures_over_the_api_with_a_date_range(api, world, data_set):
    token = api.login(world.supervisor)
    response = api.get("/supervision/verification-figures", token=token)
    assert response.status_code == 200
    assert response.get_json()["total"] == TOTAL
    same_day = api.get(
        "/supervision/verification-figures?from=2026-03-02&to=2026-03-02", token=token
    )
    assert same_day.get_json()["total"]["received"] == 10
    before = api.get("/supervision/verification-figures?to=2026-03-01", token=token).get_json()
    assert before["departments"] == [] and before["total"]["received"] == 0
    assert before["total"]["answer_hours_median"] is None
    bad = api.get("/supervision/verification-figures?from=yesterday", token=token)
    assert bad.status_code == 400 and error_of(bad)["field"] == "from"


@pytest.mark.parametrize("who", ["requester", "responder", "citizen", "admin"])
def test_only_the_supervisor_reads_the_figures(api, world, who):
    token = api.login(getattr(world, who))
    assert api.get("/supervision/verification-figures", token=token).status_code == 403


def test_an_answer_after_the_deadline_counts_as_overdue_even_without_a_sweep(world, monday):
    late = submit(world)
    _answer_at(world, late, 96, monday)
    assert verification_figures()["total"]["overdue"] == 1


def test_percentiles_interpolate_between_ranks():
    assert percentile([], 90) is None
    assert percentile([5.0], 90) == 5.0
    assert percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90) == pytest.approx(9.1)
    assert percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50) == pytest.approx(5.5)
