"""A certificate issued as a transaction of its own is durable, whole, or not there at all.

On PostgreSQL such a call (an API request) is one statement in autocommit on a pooled
connection, outside the request's session; elsewhere the session commits. The outcomes
checked here are the same on both.
"""

import threading

import pytest
from sqlalchemy import create_engine, func, select, text, update
from sqlalchemy.exc import IntegrityError

from backend.errors import UnprocessableEntity
from backend.extensions import db
from backend.models import (
    Certificate,
    CertificateSeal,
    CertificateType,
    Company,
    Department,
    Person,
)
from backend.services import certificate_types
from backend.services.accounts import find_person
from backend.services.certificate_issuing import issue_certificate
from backend.services.certificate_store import format_serial, read_payload, verify_certificate
from tests.certificates.helpers import (
    PERSON_FIELDS,
    company_type,
    issue_body,
    issue_to_person,
    officer_of,
    person_type,
)
from tests.factories import create_company, create_person, valid_credit_code, valid_id_number

TWO_CONNECTIONS = {"pool_size": 2, "max_overflow": 0}
ISSUE = "/api/mp/v1/certificates"
APPLICATION_NAME = "test-lost-connection"  # PostgreSQL: tells this app's connections apart


def _caller(user):
    """The account as a request holds it: loaded, outside any session, no transaction open."""
    db.session.refresh(user)
    db.session.expunge(user)
    db.session.remove()
    return user


def _seen_by_another_worker(make_app, certificate_id):
    """The certificate's serial and seal count as another process reads them (committed)."""
    with make_app().app_context():
        serial = db.session.scalar(
            select(Certificate.serial).where(Certificate.id == certificate_id)
        )
        seals = db.session.scalar(
            select(func.count()).where(CertificateSeal.certificate_id == certificate_id)
        )
        return serial, seals


def _counts():
    """Certificates and persons, in a transaction of their own."""
    db.session.remove()
    counts = (
        db.session.scalar(select(func.count(Certificate.id))),
        db.session.scalar(select(func.count(Person.id))),
    )
    db.session.remove()
    return counts


def test_a_certificate_is_committed_when_the_call_returns_and_usable_by_the_caller(app, make_app):
    cert_type = person_type()
    code, officer = cert_type.code, _caller(officer_of(cert_type.department))
    issue_to_person(officer, code)  # this worker now has the type's profile
    db.session.remove()  # a new request
    certificate = issue_to_person(officer, code)
    assert _seen_by_another_worker(make_app, certificate.id) == (certificate.serial, 1)
    # The object returned belongs to the caller's session: relationships load on demand.
    assert db.session.get(Certificate, certificate.id) is certificate
    assert certificate.type.code == code and certificate.status == "valid"
    assert certificate.seals[0].department_id == officer.department_id
    assert certificate.electronic_issued_at.utcoffset().total_seconds() == 0
    assert verify_certificate(certificate).ok


def test_changes_pending_in_the_callers_session_are_committed_with_the_certificate(app, make_app):
    cert_type = person_type()
    code, officer = cert_type.code, _caller(officer_of(cert_type.department))
    issue_to_person(officer, code)
    db.session.remove()
    db.session.add(Department(code="pending", name="待提交部门"))
    certificate = issue_to_person(officer, code)
    with make_app().app_context():
        assert db.session.scalar(select(Department.name).where(Department.code == "pending"))
    assert _seen_by_another_worker(make_app, certificate.id)[1] == 1


def test_a_refusal_after_a_stale_profile_leaves_no_holder_behind(app, make_app):
    cert_type = person_type()
    code, officer = cert_type.code, _caller(officer_of(cert_type.department))
    issue_to_person(officer, code)
    card = {"name": "卡号", "type": "text", "required": True}
    with make_app().app_context():
        certificate_types.update_type(code, {"fields": PERSON_FIELDS + [card]})
    db.session.remove()
    before = _counts()
    id_number = valid_id_number()
    with pytest.raises(UnprocessableEntity) as refused:
        issue_to_person(officer, code, id_number)  # valid for this worker's stale copy of the type
    assert refused.value.field == "卡号"
    assert _counts() == before
    assert find_person(id_number) is None


@pytest.mark.parametrize("session_in_use", [False, True])
def test_a_statement_that_fails_half_way_writes_nothing(app, session_in_use):
    """With the request's session unused so far (on PostgreSQL: one statement in autocommit)
    or already reading (the certificate is written in the session's transaction)."""
    cert_type = person_type()
    code, officer = cert_type.code, _caller(officer_of(cert_type.department))
    first = issue_to_person(officer, code)
    type_id, (_, _, year, seq, _) = first.type_id, first.serial.split("-")
    cert_type = db.session.get(CertificateType, type_id)
    taken = format_serial(cert_type.department, cert_type, int(year), int(seq) + 1)
    # The next serial this worker hands out is already in use: the insert must fail.
    db.session.execute(
        update(Certificate).where(Certificate.serial == first.serial).values(serial=taken)
    )
    db.session.commit()
    db.session.remove()
    before = _counts()
    id_number = valid_id_number()
    if session_in_use:
        assert db.session.get(CertificateType, type_id).code == code
    with pytest.raises(IntegrityError):
        issue_to_person(officer, code, id_number)
    db.session.rollback()
    assert _counts() == before
    assert find_person(id_number) is None  # the new holder went with the certificate


@pytest.mark.parametrize("session_in_use", [False, True])
def test_a_person_known_under_another_name_is_refused_and_nothing_is_written(app, session_in_use):
    cert_type = person_type()
    code, officer = cert_type.code, _caller(officer_of(cert_type.department))
    issue_to_person(officer, code)
    id_number = valid_id_number()
    create_person(name="李四", id_number=id_number)
    before = _counts()
    if session_in_use:
        assert find_person(id_number).name == "李四"
    with pytest.raises(UnprocessableEntity) as refused:
        issue_to_person(officer, code, id_number)  # issued to 王小明
    assert (refused.value.code, refused.value.field) == ("identity_mismatch", "name")
    db.session.rollback()
    assert _counts() == before


@pytest.mark.parametrize("session_in_use", [False, True])
def test_a_company_is_sealed_under_its_registered_name(app, session_in_use):
    cert_type = company_type()
    registered = create_company(name="杭州登记名称有限公司")
    code, company_id, credit_code = cert_type.code, registered.id, registered.credit_code
    officer = _caller(officer_of(cert_type.department))

    def issue(credit_code, name):
        return issue_certificate(
            officer=officer,
            cert_type=code,
            holder={"name": name, "credit_code": credit_code},
            fields={"名称": name, "统一社会信用代码": credit_code},
            issued_on="2024-03-01",
        )

    issue(valid_credit_code(), "测试有限公司")
    db.session.remove()
    if session_in_use:
        assert db.session.get(Company, company_id).name == "杭州登记名称有限公司"
    certificate = issue(credit_code, "申报时的名称")
    assert certificate.holder_company_id == company_id
    assert read_payload(certificate)["holder"]["name"] == "杭州登记名称有限公司"
    assert verify_certificate(certificate).ok


def test_two_workers_issuing_at_once_hand_out_distinct_serials(app, make_app):
    cert_type = person_type()
    code, officer = cert_type.code, _caller(officer_of(cert_type.department))
    workers = [make_app(), make_app()]
    barrier, serials, failures = threading.Barrier(2), [], []

    def issue_many(worker):
        with worker.app_context():
            try:
                barrier.wait()
                for _ in range(12):
                    serials.append(issue_to_person(officer, code).serial)
                    db.session.remove()
            except Exception as error:  # reported below, with the thread's own traceback
                failures.append(error)

    threads = [threading.Thread(target=issue_many, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    assert len(serials) == len(set(serials)) == 24
    assert _counts()[0] == 24


def _issuing_worker(make_app, api, cert_type, ping_idle_s=3600):
    """A worker app (two pooled connections) that has issued; its caller's headers; a path
    that reads the database."""
    options = dict(TWO_CONNECTIONS)
    if db.engine.dialect.name == "postgresql":
        options["connect_args"] = {"application_name": APPLICATION_NAME}
    app = make_app(DB_PING_IDLE_S=ping_idle_s, SQLALCHEMY_ENGINE_OPTIONS=options)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {api.login(officer_of(cert_type.department))}"}
    for _ in range(2):  # the caller and the type are cached by this worker from now on
        response = client.post(ISSUE, json=issue_body(cert_type), headers=headers)
        assert response.status_code == 201, response.get_json()
    return app, client, headers, "/api/mp/v1/department-certificates"


def test_a_connection_lost_while_issuing_answers_503_then_recovers(make_app, api):
    cert_type = person_type()
    app, client, headers, reading = _issuing_worker(make_app, api, cert_type)
    _cut_every_connection(app)

    body = issue_body(cert_type)
    lost = client.post(ISSUE, json=body, headers=headers)
    assert lost.status_code == 503
    assert lost.get_json()["error"]["code"] == "database_unavailable"
    assert find_person(body["holder"]["id_number"]) is None
    again = client.post(ISSUE, json=body, headers=headers)  # every connection replaced
    assert again.status_code == 201, again.get_json()
    assert again.get_json()["verified"] is True


def test_once_a_lost_connection_was_answered_503_issuing_does_not_fail_again(make_app, api):
    cert_type = person_type()
    app, client, headers, reading = _issuing_worker(make_app, api, cert_type)
    _cut_every_connection(app)

    assert client.get(reading, headers=headers).status_code == 503
    response = client.post(ISSUE, json=issue_body(cert_type), headers=headers)
    assert response.status_code == 201, response.get_json()


def test_an_idle_issuing_connection_is_pinged_and_replaced_before_use(make_app, api):
    cert_type = person_type()
    app, client, headers, _ = _issuing_worker(make_app, api, cert_type, ping_idle_s=0)
    _cut_every_connection(app)

    response = client.post(ISSUE, json=issue_body(cert_type), headers=headers)
    assert response.status_code == 201, response.get_json()


def _cut_every_connection(app) -> None:
    """Kill every connection the app holds: both pooled ones, and (PostgreSQL) the issuing
    thread's own. On SQLite, where issuing goes through the session, the pooled connections
    are closed under the pool."""
    with app.app_context():
        engine = db.engine
        held = [engine.raw_connection() for _ in range(TWO_CONNECTIONS["pool_size"])]
        drivers = [connection.driver_connection for connection in held]
        for connection in held:
            connection.close()
        if engine.dialect.name != "postgresql":
            for driver in drivers:
                driver.close()
            return
        admin = create_engine(engine.url)
        with admin.begin() as conn:
            killed = conn.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE application_name = :name"
                ),
                {"name": APPLICATION_NAME},
            ).scalar()
        admin.dispose()
        assert killed == 3  # the issuing connection and both pooled
