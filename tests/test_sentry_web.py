"""Sentry in the web app, through the real transport into a local receiver."""
import json
import os
import subprocess
import sys

from chatcenter.config import PROJECT_ROOT
from tests.sentry_receiver import PUBLIC_KEY

TEST_DETAIL = "Test error triggered: Sentry test error - this is intentional for testing error tracking"


def test_empty_dsn_leaves_sentry_sdk_unimported():
    code = (
        "import sys\n"
        "from chatcenter import create_app\n"
        "app = create_app()\n"
        "r = app.test_client().get('/api/health')\n"
        "assert r.status_code == 200, r.status_code\n"
        "print('sentry_sdk' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTRY_")}
    env["SENTRY_DSN"] = ""
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
    assert "Sentry initialized" not in result.stderr


def test_dsn_set_initialises_flask_integration_environment_release_and_rate(make_app, sentry_receiver, caplog):
    import sentry_sdk

    caplog.set_level("INFO", logger="chatcenter.sentry")
    make_app(sentry_dsn=sentry_receiver.dsn, sentry_environment="staging",
             sentry_traces_sample_rate=0.25, sentry_release="")
    client = sentry_sdk.get_client()
    assert client.is_active()
    assert client.options["environment"] == "staging"
    sample = client.options["traces_sampler"]
    assert sample({"wsgi_environ": {"PATH_INFO": "/api/chats"}}) == 0.25
    assert client.options["release"].startswith("chatcenter@0.1.0")
    assert client.options["release"] != "1.0.0"
    assert "flask" in client.integrations
    assert "Sentry initialized for environment: staging" in caplog.messages


def test_sentry_test_route_is_404_without_debug(make_app):
    client = make_app(debug=False).test_client()
    response = client.get("/api/health/sentry-test")
    assert response.status_code == 404
    assert response.get_json() == {"detail": response.get_json()["detail"]}


def test_sentry_test_route_says_disabled_without_dsn(make_app):
    client = make_app(debug=True).test_client()
    response = client.get("/api/health/sentry-test")
    assert response.status_code == 200
    assert response.get_json() == {
        "status": "sentry_disabled",
        "message": "Sentry is not configured (SENTRY_DSN is empty)",
    }


def test_sentry_test_route_reports_exactly_one_event(sentry_app, sentry_receiver):
    import sentry_sdk

    response = sentry_app.test_client().get("/api/health/sentry-test")
    assert response.status_code == 500
    assert response.get_json() == {"detail": TEST_DETAIL}

    sentry_sdk.flush(timeout=5)
    events = sentry_receiver.wait_for("event", 1)
    assert len(events) == 1
    event = events[0]
    assert event["environment"] == "test"
    assert event["release"] == "chatcenter@test"
    assert event["tags"]["component"] == "web"
    assert event["exception"]["values"][-1]["type"] == "SentryTestError"
    assert event["transaction"] == "/api/health/sentry-test"


def test_not_found_sends_nothing(sentry_app, sentry_receiver):
    import sentry_sdk

    client = sentry_app.test_client()
    assert client.get("/api/nowhere").status_code == 404
    assert client.post("/api/health").status_code == 405
    sentry_sdk.flush(timeout=5)
    assert sentry_receiver.events == []


def test_unexpected_error_is_a_json_500_and_one_event(sentry_app, sentry_receiver):
    import sentry_sdk

    @sentry_app.get("/boom")
    def boom():
        raise RuntimeError("internal detail that the client must not see")

    response = sentry_app.test_client().get("/boom")
    assert response.status_code == 500
    assert response.get_json() == {"detail": "Internal server error"}
    sentry_sdk.flush(timeout=5)
    events = sentry_receiver.wait_for("event", 1)
    assert [e["exception"]["values"][-1]["type"] for e in events] == ["RuntimeError"]


def test_transactions_are_named_by_route_when_sampled(make_app, sentry_receiver):
    import sentry_sdk

    sentry_receiver.clear()
    app = make_app(sentry_dsn=sentry_receiver.dsn, sentry_traces_sample_rate=1.0)
    app.add_url_rule("/api/things/<int:thing_id>", "thing", lambda thing_id: {"id": thing_id})
    assert app.test_client().get("/api/things/7").status_code == 200
    sentry_sdk.flush(timeout=5)
    transactions = sentry_receiver.wait_for("transaction", 1)
    assert [t["transaction"] for t in transactions] == ["/api/things/<int:thing_id>"]
    assert transactions[0]["tags"]["component"] == "web"


def test_a_rate_traces_that_share_of_requests_each_reporting_the_rate(make_app, sentry_receiver):
    """The share of requests sent follows the rate, each reports the configured rate for
    Sentry to extrapolate from, and each is one the SDK itself samples (its trace's
    sample_rand under the rate)."""
    import sentry_sdk

    sentry_receiver.clear()
    app = make_app(sentry_dsn=sentry_receiver.dsn, sentry_traces_sample_rate=0.3)
    app.add_url_rule("/api/things", "things", lambda: {"things": []})
    client = app.test_client()
    for _ in range(200):
        assert client.get("/api/things").status_code == 200
    sentry_sdk.flush(timeout=5)
    traces = [r.envelope.headers["trace"] for r in sentry_receiver.received
              if any(item.type == "transaction" for item in r.envelope.items)]
    assert 30 <= len(traces) <= 90  # 200 x 0.3 = 60; 0.3 x 0.3 (deciding twice) would be 18
    assert {(t["sample_rate"], t["sampled"]) for t in traces} == {("0.3", "true")}
    assert all(float(t["sample_rand"]) < 0.3 for t in traces)
    assert len({t["trace_id"] for t in traces}) == len(traces)
    assert {t["public_key"] for t in traces} == {PUBLIC_KEY}  # Sentry finds the sampling rules by it


def test_the_dsn_key_is_masked_but_where_sentry_reads_it(make_app, sentry_receiver):
    """Sentry reads the DSN's public key in each envelope's trace header (the dynamic
    sampling context): masked there, it drops the whole context. Anywhere in an event's
    payload the key is still masked."""
    import sentry_sdk

    sentry_receiver.clear()
    app = make_app(sentry_dsn=sentry_receiver.dsn, sentry_traces_sample_rate=1.0)

    def boom():
        raise RuntimeError(f"could not reach {sentry_receiver.dsn}")

    app.add_url_rule("/api/boom", "boom", boom)
    assert app.test_client().get("/api/boom").status_code == 500
    sentry_sdk.flush(timeout=5)
    [event] = sentry_receiver.wait_for("event", 1)
    [transaction] = sentry_receiver.wait_for("transaction", 1)
    assert "could not reach http://[Filtered]@" in event["exception"]["values"][-1]["value"]
    assert PUBLIC_KEY not in json.dumps(event) + json.dumps(transaction)
    headers = [r.envelope.headers for r in sentry_receiver.received
               if any(item.type in ("event", "transaction") for item in r.envelope.items)]
    assert [h["trace"]["public_key"] for h in headers] == [PUBLIC_KEY, PUBLIC_KEY]
    assert len({h["trace"]["trace_id"] for h in headers}) == 1


def test_a_caller_cannot_force_its_requests_traced(make_app, sentry_receiver):
    """A tiny sample_rand in a client's baggage (with or without sentry-trace) would win
    against any rate: issue 28 found 50 of 50 such requests traced at 0.1. The sampler
    traces no request that brings a trace of its own; its errors still carry that trace."""
    import sentry_sdk

    sentry_receiver.clear()
    app = make_app(sentry_dsn=sentry_receiver.dsn, sentry_traces_sample_rate=0.1)
    app.add_url_rule("/api/things", "things", lambda: {"things": []})

    def boom():
        raise RuntimeError("boom")

    app.add_url_rule("/api/boom", "boom", boom)
    trace_id = "771a43a4192642f0b136d5159a501700"
    forcing = [{"baggage": "sentry-sample_rand=0.000001,sentry-sample_rate=1.0,sentry-sampled=true"},
               {"sentry-trace": f"{trace_id}-b7ad6b7169203331-1",
                "baggage": f"sentry-trace_id={trace_id},sentry-sample_rand=0.000001,sentry-sampled=true"}]
    client = app.test_client()
    for _ in range(25):
        for headers in forcing:
            assert client.get("/api/things", headers=headers).status_code == 200
    sentry_sdk.flush(timeout=5)
    assert sentry_receiver.transactions == []

    assert client.get("/api/boom", headers=forcing[1]).status_code == 500
    sentry_sdk.flush(timeout=5)
    [event] = sentry_receiver.wait_for("event", 1)
    assert event["contexts"]["trace"]["trace_id"] == trace_id


def test_health_probes_never_make_a_transaction(make_app, sentry_receiver):
    import sentry_sdk

    sentry_receiver.clear()
    app = make_app(sentry_dsn=sentry_receiver.dsn, sentry_traces_sample_rate=1.0)
    sampled_by_caller = {"sentry-trace": "771a43a4192642f0b136d5159a501700-b7ad6b7169203331-1"}
    for path in ("/api/health", "/api/health/ready"):
        assert app.test_client().get(path, headers=sampled_by_caller).status_code in (200, 503)
    app.test_client().get("/api/health/nothing-here")  # a 404 is traced: it is not a probe
    sentry_sdk.flush(timeout=5)
    transactions = sentry_receiver.wait_for("transaction", 1)
    assert [t["transaction"] for t in transactions] == ["generic WSGI request"]


def test_sample_rate_zero_sends_no_transaction(make_app, sentry_receiver):
    import sentry_sdk

    sentry_receiver.clear()
    app = make_app(sentry_dsn=sentry_receiver.dsn, sentry_traces_sample_rate=0.0)
    app.add_url_rule("/api/things", "things", lambda: {"things": []})
    sampled_by_caller = {"sentry-trace": "771a43a4192642f0b136d5159a501700-b7ad6b7169203331-1"}
    for _ in range(5):
        app.test_client().get("/api/health")
        # Tracing is off at 0: a caller asking for a trace does not get one either.
        assert app.test_client().get("/api/things", headers=sampled_by_caller).status_code == 200
    sentry_sdk.flush(timeout=5)
    assert sentry_receiver.transactions == []


def test_gunicorn_access_lines_make_no_breadcrumbs(sentry_app, sentry_receiver, caplog):
    """gunicorn logs each request after its response, outside the request's scope: those
    breadcrumbs would cost every request and reach no event. Other loggers still make them."""
    import logging

    import sentry_sdk

    caplog.set_level("INFO", logger="gunicorn.access")  # as gunicorn sets it

    @sentry_app.get("/boom")
    def boom():
        logging.getLogger("gunicorn.access").info("request_id=1 method=GET path=/boom status=200")
        logging.getLogger("chatcenter.errors").warning("about to fail")
        raise RuntimeError("boom")

    assert sentry_app.test_client().get("/boom").status_code == 500
    sentry_sdk.flush(timeout=5)
    [event] = sentry_receiver.wait_for("event", 1)
    crumbs = [c.get("category") for c in event["breadcrumbs"]["values"]]
    assert "chatcenter.errors" in crumbs
    assert "gunicorn.access" not in crumbs


def _failing_route_after_a_query(app):
    from sqlalchemy import text

    @app.get("/api/boom-after-query")
    def boom_after_query():
        with app.extensions["chatcenter"].db.session() as session:
            session.execute(text("SELECT 1"))
        raise RuntimeError("boom")


def test_with_tracing_off_each_request_has_its_own_trace_and_continues_a_callers(make_app, sentry_receiver):
    """No transaction is made at traces 0; each request's errors still carry a trace of
    their own, or the caller's."""
    import sentry_sdk

    sentry_receiver.clear()
    app = make_app(sentry_dsn=sentry_receiver.dsn, sentry_traces_sample_rate=0.0)
    _failing_route_after_a_query(app)
    client = app.test_client()
    callers = "771a43a4192642f0b136d5159a501700-b7ad6b7169203331-0"
    for headers in ({}, {}, {"sentry-trace": callers}):
        assert client.get("/api/boom-after-query", headers=headers).status_code == 500
    sentry_sdk.flush(timeout=5)
    events = sentry_receiver.wait_for("event", 3)
    trace_ids = [e["contexts"]["trace"]["trace_id"] for e in events]
    assert len(set(trace_ids)) == 3
    assert trace_ids[2] == callers.split("-")[0]
    assert sentry_receiver.transactions == []


def test_a_sampled_request_has_its_sql_spans_and_its_error_the_query_breadcrumbs(make_app, sentry_receiver):
    """The stock SQLAlchemy integration, on with tracing: spans in the transaction, query
    breadcrumbs on the error, both in one trace (without the statement's parameters)."""
    import sentry_sdk

    sentry_receiver.clear()
    app = make_app(sentry_dsn=sentry_receiver.dsn, sentry_traces_sample_rate=1.0)
    _failing_route_after_a_query(app)
    assert app.test_client().get("/api/boom-after-query").status_code == 500
    sentry_sdk.flush(timeout=5)
    [event] = sentry_receiver.wait_for("event", 1)
    crumbs = [c["message"] for c in event["breadcrumbs"]["values"] if c.get("category") == "query"]
    assert crumbs == ["SELECT 1"]
    [transaction] = sentry_receiver.wait_for("transaction", 1)
    assert [s["description"] for s in transaction["spans"] if s["op"] == "db"] == ["SELECT 1"]
    assert event["contexts"]["trace"]["trace_id"] == transaction["contexts"]["trace"]["trace_id"]
