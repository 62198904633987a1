def test_healthz_reports_the_database_and_redis(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {
        "status": "ok",
        "database": "ok",
        "token_store": "redis",
        "token_store_status": "ok",
    }


def test_healthz_is_503_when_redis_is_down(make_app):
    application = make_app(REDIS_URL="redis://127.0.0.1:1/0")
    response = application.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["token_store_status"] == "down"
