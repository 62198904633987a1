"""The effective issuance rate: electronic within the issuing cycle after paper, per
department and city-wide, against the 80 % target."""

from datetime import UTC, datetime

from backend import clock
from backend.models import Role
from backend.services.certificate_issuing import issue_certificate
from tests.certificates.helpers import person_fields, person_type
from tests.factories import create_department, create_user, error_of, valid_id_number

NOW = datetime(2026, 3, 10, 4, 0, tzinfo=UTC)  # 12:00 in Asia/Shanghai


def _issue(cert_type, paper_issued_at):
    id_number = valid_id_number()
    return issue_certificate(
        officer=None,
        cert_type=cert_type,
        holder={"name": "王小明", "id_number": id_number},
        fields=person_fields(id_number),
        issued_on="2026-03-01",
        paper_issued_at=paper_issued_at,
    )


def test_the_rate_counts_electronic_issuance_within_the_cycle_after_paper(api):
    fast = person_type(create_department(), issuing_cycle_days=1)
    slow = person_type(create_department(), issuing_cycle_days=0)
    with clock.frozen(NOW):
        assert _issue(fast, "2026-03-09T16:00:00").issued_in_sync  # the next day: in cycle
        assert _issue(fast, None).issued_in_sync  # born electronic
        assert not _issue(fast, "2026-03-08T09:00:00").issued_in_sync  # two days late
        assert _issue(slow, "2026-03-10T08:00:00").issued_in_sync  # the same day
        assert not _issue(slow, "2026-03-09T23:59:00").issued_in_sync
    token = api.login(create_user(Role.SUPERVISOR))
    body = api.get("/supervision/issuance-rate", token=token).get_json()
    assert body["target"] == 0.8
    assert body["city"] == {
        "certificates": 5,
        "in_sync": 3,
        "late": 2,
        "with_paper": 4,
        "electronic_only": 1,
        "rate": 0.6,
        "meets_target": False,
    }
    by_code = {d["department"]["code"]: d for d in body["departments"]}
    assert by_code[fast.department.code]["rate"] == round(2 / 3, 4)
    assert by_code[slow.department.code]["rate"] == 0.5
    assert body["departments"][0]["department"]["code"] == slow.department.code  # worst first


def test_the_period_is_on_the_issuance_day_and_reissues_do_not_count(api):
    cert_type = person_type(issuing_cycle_days=0)
    with clock.frozen(NOW):
        early = _issue(cert_type, "2026-01-05T09:00:00")
        _issue(cert_type, "2026-03-10T09:00:00")
        from backend.services.certificate_issuing import reissue_certificate

        reissue_certificate(None, early.id, fields={"备注": "更正"})
    token = api.login(create_user(Role.SUPERVISOR))
    march = api.get("/supervision/issuance-rate?since=2026-03-01", token=token).get_json()
    assert (march["city"]["certificates"], march["city"]["rate"]) == (1, 1.0)
    january = api.get(
        "/supervision/issuance-rate?since=2026-01-01&until=2026-01-31", token=token
    ).get_json()
    assert (january["city"]["certificates"], january["city"]["rate"]) == (1, 0.0)
    everything = api.get("/supervision/issuance-rate", token=token).get_json()
    assert everything["city"]["certificates"] == 2


def test_an_empty_period_has_no_rate(api):
    token = api.login(create_user(Role.SUPERVISOR))
    body = api.get("/supervision/issuance-rate", token=token).get_json()
    assert body["city"]["rate"] is None and body["departments"] == []


def test_only_the_supervisor_sees_the_rate_and_dates_are_checked(api):
    assert api.get("/supervision/issuance-rate", token=api.login(create_user())).status_code == 403
    token = api.login(create_user(Role.SUPERVISOR))
    response = api.get("/supervision/issuance-rate?since=2026-02-30", token=token)
    assert response.status_code == 400 and error_of(response)["field"] == "since"
