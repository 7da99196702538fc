"""Health routes and JSON errors."""
import socket

import pytest


def test_liveness(client):
    response = client.get("/api/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_ready_when_database_and_redis_answer(client):
    response = client.get("/api/health/ready")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ready"
    assert body["checks"] == {"database": {"ok": True}, "redis": {"ok": True}}
    assert body["sentry"] == {"enabled": False, "environment": "test"}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_not_ready_when_redis_is_unreachable(make_app):
    app = make_app(redis_url=f"redis://127.0.0.1:{_closed_port()}/0")
    response = app.test_client().get("/api/health/ready")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable"
    assert body["checks"]["redis"] == {"ok": False, "error": "ConnectionError"}
    assert body["checks"]["database"] == {"ok": True}


def test_ready_answer_never_carries_the_dsn(sentry_app, sentry_receiver):
    body = sentry_app.test_client().get("/api/health/ready").get_data(as_text=True)
    assert "sentry" in body and '"enabled":true' in body.replace(" ", "")
    assert sentry_receiver.dsn not in body and "0123456789abcdef" not in body


@pytest.mark.parametrize("path, method, status", [("/api/nowhere", "get", 404), ("/api/health", "post", 405)])
def test_http_errors_are_json(client, path, method, status):
    response = getattr(client, method)(path)
    assert response.status_code == status
    assert response.is_json and set(response.get_json()) == {"detail"}


def test_bad_json_is_400_with_a_clear_detail(app):
    @app.post("/echo")
    def echo():
        from flask import request

        return request.get_json()

    response = app.test_client().post("/echo", data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["detail"].startswith("Request body is not valid JSON")


def test_too_large_body_is_413(make_app):
    app = make_app(max_content_length=100)

    @app.post("/echo")
    def echo():
        from flask import request

        return request.get_json()

    response = app.test_client().post("/echo", data="x" * 1000, content_type="application/json")
    assert response.status_code == 413
    assert set(response.get_json()) == {"detail"}


def test_sentry_test_answer_keeps_the_documented_key_order_byte_for_byte(make_app):
    response = make_app(debug=True).test_client().get("/api/health/sentry-test")
    assert response.get_data(as_text=True).strip() == (
        '{"status":"sentry_disabled","message":"Sentry is not configured (SENTRY_DSN is empty)"}')


@pytest.mark.parametrize("method", ["get", "post", "options", "head", "put", "delete"])
@pytest.mark.parametrize("path", ["/api/health/sentry-test", "/api/health/sentry-test/worker"])
def test_diagnostic_routes_do_not_exist_without_debug(make_app, path, method):
    response = getattr(make_app(debug=False).test_client(), method)(path)
    assert response.status_code == 404
    assert "Allow" not in response.headers


def test_flasks_own_static_route_is_not_registered(app):
    # The inbox serves its files itself (endpoint inbox.static); Flask's app-wide one is unused.
    assert [rule.endpoint for rule in app.url_map.iter_rules() if rule.rule.startswith("/static")] == ["inbox.static"]


@pytest.fixture
def hung_database():
    """A 'PostgreSQL' that accepts connections and then never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    yield f"postgresql+psycopg://chatcenter@127.0.0.1:{listener.getsockname()[1]}/chatcenter"
    listener.close()


def test_ready_gives_up_on_a_hung_database_within_its_timeout(settings, hung_database):
    from dataclasses import replace

    from chatcenter import create_app

    app = create_app(replace(settings, database_url=hung_database), component="web")
    response = app.test_client().get("/api/health/ready")
    assert response.status_code == 503
    # "timeout" is the probe's own deadline (1 s): the driver would give up only after 3 s.
    assert response.get_json()["checks"] == {"database": {"ok": False, "error": "timeout"}, "redis": {"ok": True}}
