"""The Change password form never sends a password (nor the e-mail) to Sentry, even when the
view fails with the form in hand: a guard for the new form under every SDK configuration of
the privacy tests (tests/test_privacy_leaks.py)."""
from __future__ import annotations

from tests.test_privacy_leaks import (  # noqa: F401  (web_app: a fixture)
    OPERATOR_EMAIL, PASSWORD, LeakError, assert_no_canary, web_app,
)

NEW = "Canary-N3wPa55-0xF00D"


def test_a_failing_password_change_sends_no_password(web_app, sentry_receiver, monkeypatch):
    import sentry_sdk

    from chatcenter.web.inbox import account
    from tests.inbox_support import add_operator, csrf_token, sign_in

    add_operator(web_app, OPERATOR_EMAIL, PASSWORD)
    client = web_app.test_client()
    assert sign_in(client, OPERATOR_EMAIL, PASSWORD).status_code == 302
    form = {"csrf_token": csrf_token(client.get("/password").text), "current_password": PASSWORD,
            "new_password": NEW, "new_password_again": NEW}

    def broken(*args, **kwargs):
        raise LeakError("the store failed")

    with monkeypatch.context() as patched:
        patched.setattr(account, "set_password", broken)
        assert client.post("/password", data=form).status_code == 500
    sentry_sdk.flush(timeout=5)
    [event] = sentry_receiver.wait_for("event", 1)
    assert event["transaction"] == "/password"
    assert_no_canary(sentry_receiver.raw_bodies)
    assert NEW not in b"".join(sentry_receiver.raw_bodies).decode("utf-8", "replace")
