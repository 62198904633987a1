"""Accounts kept in worker memory are reloaded in every worker as soon as they change.

Two app instances on the same database and Redis stand for two gunicorn workers: the
first serves requests (and keeps the caller's account), the second changes the account.
"""

from __future__ import annotations

from backend.extensions import db
from backend.models import Role, User
from tests.factories import ApiClient, change_account_elsewhere, create_user


def test_a_role_taken_away_in_another_worker_applies_to_the_next_request(app, make_app):
    officer = create_user(Role.SYSTEM_ADMINISTRATOR)
    api = ApiClient(app.test_client())
    token = api.login(officer)
    assert api.get("/me", token=token).get_json()["role"] == Role.SYSTEM_ADMINISTRATOR
    assert api.get("/me", token=token).status_code == 200  # served from the copy
    assert officer.id in app.extensions["caller_cache"]

    change_account_elsewhere(make_app(), officer.id, role=Role.CITIZEN)

    after = api.get("/me", token=token)
    assert after.status_code == 200
    assert after.get_json()["role"] == Role.CITIZEN


def test_an_account_disabled_in_another_worker_is_refused_at_once(app, make_app):
    user = create_user(Role.CITIZEN)
    api = ApiClient(app.test_client())
    token = api.login(user)
    assert api.get("/me", token=token).status_code == 200
    assert user.id in app.extensions["caller_cache"]

    change_account_elsewhere(make_app(), user.id, enabled=False)

    refused = api.get("/me", token=token)
    assert refused.status_code == 401
    assert refused.get_json()["error"]["code"] == "invalid_token"


def test_a_change_rolled_back_leaves_the_copy_in_use(app, make_app):
    user = create_user(Role.CITIZEN)
    api = ApiClient(app.test_client())
    token = api.login(user)
    api.get("/me", token=token)
    version_before = app.extensions["caller_cache"][user.id].version

    other = make_app()
    with other.app_context():
        row = db.session.get(User, user.id)
        row.display_name = "未提交的名字"
        db.session.flush()
        db.session.rollback()
        db.session.remove()
    db.session.remove()

    assert api.get("/me", token=token).get_json()["display_name"] == user.display_name
    assert app.extensions["caller_cache"][user.id].version == version_before


def test_with_the_cache_off_every_request_reads_the_account(make_app):
    other = make_app(CALLER_CACHE_TTL_S=0)
    with other.app_context():
        user = create_user(Role.CITIZEN)
        user_id = user.id
    api = ApiClient(other.test_client())
    token = api.login(db_user(other, user_id))
    assert api.get("/me", token=token).status_code == 200
    assert "caller_cache" not in other.extensions


def db_user(application, user_id: int) -> User:
    with application.app_context():
        user = db.session.get(User, user_id)
        db.session.expunge(user)
        return user


def test_a_token_store_that_lost_its_data_never_brings_back_a_stale_copy(app, make_app):
    """Versions are random: after a restart of Redis (tokens and versions gone) and a new
    login, the old copy's version can never come back."""
    import redis

    from tests.conftest import TEST_REDIS_URL

    user = create_user(Role.CITIZEN)
    api = ApiClient(app.test_client())
    api.get("/me", token=api.login(user))
    assert user.id in app.extensions["caller_cache"]

    change_account_elsewhere(make_app(), user.id, display_name="改过的名字")
    redis.Redis.from_url(TEST_REDIS_URL).flushdb()  # as a restart without persistence

    token = api.login(user)
    assert api.get("/me", token=token).get_json()["display_name"] == "改过的名字"


def test_an_account_without_a_version_is_read_every_time(app):
    import redis

    from backend.token_store import USER_VERSION_PREFIX
    from tests.conftest import TEST_REDIS_URL

    user = create_user(Role.CITIZEN)
    api = ApiClient(app.test_client())
    token = api.login(user)
    redis.Redis.from_url(TEST_REDIS_URL).delete(f"{USER_VERSION_PREFIX}{user.id}")
    assert api.get("/me", token=token).status_code == 200
    assert user.id not in app.extensions.get("caller_cache", {})
