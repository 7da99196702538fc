"""Inbox sessions end on the server (issue 28 §2): sign-out, the absolute lifetime, the
idle timeout, a new password (page and CLI) and a disabled account; and sign-in throttling
that concurrent guesses cannot race, per account from an address and per account overall.
Flask's test client against real Redis and SQLite/PostgreSQL."""
from __future__ import annotations

import threading
import time
from email.utils import parsedate_to_datetime

import pytest
from sqlalchemy import select

from chatcenter.models import Operator
from chatcenter.web.inbox.login_throttle import PER_ACCOUNT, PER_ADDRESS
from chatcenter.web.inbox.security import SESSION_COOKIE
from tests.helpers import resources
from tests.inbox_support import PASSWORD, add_operator, csrf_token, sign_in

NEW_PASSWORD = "another long passphrase"


@pytest.fixture
def operator(app) -> int:
    return add_operator(app)


def signed_in_client(app, **headers):
    client = app.test_client()
    assert sign_in(client, **headers).status_code == 302
    return client


def cookie_of(client) -> str:
    return client.get_cookie(SESSION_COOKIE).value


def replayed(app, cookie: str, path: str = "/"):
    """A fresh client (another machine) presenting a copied session cookie."""
    thief = app.test_client()
    thief.set_cookie(SESSION_COOKIE, cookie)
    return thief.get(path)


def is_sign_in_page(response) -> bool:
    return response.status_code == 302 and response.headers["Location"].startswith("/login")


def forged_session(app, operator_id: int, signed_in_ago: float, seen_ago: float, generation: int = 0) -> str:
    """A cookie as the app itself would sign it, from a sign-in `signed_in_ago` seconds back."""
    now = time.time()
    serializer = app.session_interface.get_signing_serializer(app)
    return serializer.dumps({"operator_id": operator_id, "generation": generation,
                             "signed_in": int(now - signed_in_ago), "seen": int(now - seen_ago)})


# --------------------------------------------------------------------------- ending

def test_a_cookie_copied_before_sign_out_gets_the_sign_in_page(app, operator):
    client = signed_in_client(app)
    stolen = cookie_of(client)
    assert replayed(app, stolen).status_code == 200  # the copy works while the session lives
    response = client.post("/logout", data={"csrf_token": csrf_token(client.get("/").text)})
    assert response.headers["Location"] == "/login"
    assert is_sign_in_page(replayed(app, stolen))
    assert replayed(app, stolen, "/live/inbox").status_code == 401
    assert is_sign_in_page(client.get("/"))
    assert signed_in_client(app).get("/").status_code == 200  # signing in again works


def test_a_session_ends_after_its_lifetime_however_often_it_is_used(make_app):
    app = make_app(session_lifetime_hours=12)
    anna = add_operator(app)
    assert replayed(app, forged_session(app, anna, signed_in_ago=11.9 * 3600, seen_ago=5)).status_code == 200
    assert is_sign_in_page(replayed(app, forged_session(app, anna, signed_in_ago=12 * 3600 + 5, seen_ago=5)))
    short = make_app(session_lifetime_hours=1)
    boris = add_operator(short, "boris@shop.example")
    assert is_sign_in_page(replayed(short, forged_session(short, boris, signed_in_ago=3605, seen_ago=5)))
    # The browser is told to forget the cookie at the end of the lifetime too.
    login = sign_in(short.test_client(), email="boris@shop.example")
    expires = parsedate_to_datetime(login.headers["Set-Cookie"].split("Expires=")[1].split(";")[0])
    assert abs(expires.timestamp() - (time.time() + 3600)) < 60


def test_a_session_unused_for_the_idle_timeout_ends(make_app):
    app = make_app(session_idle_minutes=30)
    anna = add_operator(app)
    assert replayed(app, forged_session(app, anna, signed_in_ago=3600, seen_ago=29 * 60)).status_code == 200
    assert is_sign_in_page(replayed(app, forged_session(app, anna, signed_in_ago=3600, seen_ago=31 * 60)))


def test_using_a_session_keeps_it_from_idling(make_app):
    app = make_app(session_idle_minutes=30)
    anna = add_operator(app)
    client = app.test_client()
    client.set_cookie(SESSION_COOKIE, forged_session(app, anna, signed_in_ago=3600, seen_ago=29 * 60))
    assert client.get("/").status_code == 200  # used now: "last used" is renewed in the cookie
    renewed = app.session_interface.get_signing_serializer(app).loads(cookie_of(client))
    assert time.time() - renewed["seen"] < 5
    assert renewed["signed_in"] < time.time() - 3500  # the sign-in time is not renewed


def test_a_cookie_without_the_times_or_from_an_older_generation_is_refused(app, operator):
    serializer = app.session_interface.get_signing_serializer(app)
    assert is_sign_in_page(replayed(app, serializer.dumps({"operator_id": operator, "generation": 0})))
    assert is_sign_in_page(replayed(app, forged_session(app, operator, 10, 10, generation=-1)))
    assert replayed(app, forged_session(app, operator, 10, 10, generation=0)).status_code == 200


def test_a_new_password_on_the_page_ends_every_other_session_and_keeps_this_one(app, operator):
    here, elsewhere = signed_in_client(app), signed_in_client(app)
    page = here.get("/password")
    assert page.status_code == 200 and 'autocomplete="new-password"' in page.text
    response = here.post("/password", data={"csrf_token": csrf_token(page.text), "current_password": PASSWORD,
                                            "new_password": NEW_PASSWORD, "new_password_again": NEW_PASSWORD})
    assert response.headers["Location"] == "/"
    assert "Password changed. Your other sessions have ended." in here.get("/").text
    assert is_sign_in_page(elsewhere.get("/"))
    assert sign_in(app.test_client()).status_code == 401  # the old password no longer works
    assert sign_in(app.test_client(), password=NEW_PASSWORD).status_code == 302


@pytest.mark.parametrize("current, new, repeat, message", [
    ("not my password", NEW_PASSWORD, NEW_PASSWORD, "The current password is wrong."),
    (PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "x", "The two new passwords differ."),
    (PASSWORD, "short", "short", "The new password must be 12 to 256 characters."),
])
def test_a_refused_password_change_says_why_and_changes_nothing(app, operator, current, new, repeat, message):
    client, elsewhere = signed_in_client(app), signed_in_client(app)
    page = client.get("/password")
    response = client.post("/password", data={"csrf_token": csrf_token(page.text), "current_password": current,
                                              "new_password": new, "new_password_again": repeat})
    assert response.status_code == 400
    assert message in response.text
    assert elsewhere.get("/").status_code == 200
    assert sign_in(app.test_client()).status_code == 302


def test_a_password_set_on_the_command_line_or_a_disabled_account_ends_sessions_at_once(app, operator):
    client = signed_in_client(app)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["operators", "set-password", "anna@shop.example"], input=NEW_PASSWORD + "\n").exit_code == 0
    assert is_sign_in_page(client.get("/"))
    client = signed_in_client(app, password=NEW_PASSWORD)
    assert runner.invoke(args=["operators", "disable", "anna@shop.example"]).exit_code == 0
    assert client.get("/live/inbox").status_code == 401
    disabled = sign_in(app.test_client(), password=NEW_PASSWORD)
    wrong = sign_in(app.test_client(), password="a wrong password")
    assert (disabled.status_code, wrong.status_code) == (401, 401)
    assert "Wrong e-mail or password." in disabled.text and "disabled" not in disabled.text.lower()
    assert runner.invoke(args=["operators", "enable", "anna@shop.example"]).exit_code == 0
    assert sign_in(app.test_client(), password=NEW_PASSWORD).status_code == 302


# ------------------------------------------------------------------------- throttling

def test_concurrent_wrong_guesses_never_get_more_checks_than_the_limit(make_app):
    app = make_app(proxy_count=1)
    add_operator(app)
    here = {"X-Forwarded-For": "203.0.113.5"}
    guessers = 3 * PER_ADDRESS
    forms = []
    for _ in range(guessers):  # each guesser with its own form, ready before any sends
        client = app.test_client()
        forms.append((client, csrf_token(client.get("/login", headers=here).text)))
    start, statuses = threading.Barrier(guessers), []

    def guess(n):
        client, token = forms[n]
        start.wait()
        statuses.append(client.post("/login", headers=here, data={
            "csrf_token": token, "email": "anna@shop.example", "password": f"guess {n}"}).status_code)

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(guessers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(statuses) == [401] * PER_ADDRESS + [429] * (guessers - PER_ADDRESS)
    assert sign_in(app.test_client(), **here).status_code == 429  # the right password waits too


def test_an_account_is_throttled_across_addresses_and_a_success_does_not_count(make_app, redis_client):
    app = make_app(proxy_count=1)
    add_operator(app)
    for n in range(3):  # successes give their slot back
        assert sign_in(app.test_client(), **{"X-Forwarded-For": "198.51.100.1"}).status_code == 302
    for n in range(PER_ACCOUNT):
        address = {"X-Forwarded-For": f"203.0.113.{n + 1}"}
        assert sign_in(app.test_client(), password=f"guess {n}", **address).status_code == 401
    locked = sign_in(app.test_client(), **{"X-Forwarded-For": "198.51.100.1"})
    assert locked.status_code == 429
    assert "Too many failed sign-ins for this account. Try again in 15 min." in locked.text
    # Another account is not affected; Redis holds digests only.
    add_operator(app, "boris@shop.example")
    assert sign_in(app.test_client(), email="boris@shop.example").status_code == 302
    keys = b" ".join(redis_client.keys("chatcenter:login-failures:*"))
    assert keys and b"anna" not in keys and b"203.0.113" not in keys


def test_the_password_page_is_throttled_like_a_sign_in(app, operator):
    client = signed_in_client(app)
    for n in range(PER_ADDRESS):
        page = client.get("/password")
        client.post("/password", data={"csrf_token": csrf_token(page.text), "current_password": f"guess {n}",
                                       "new_password": NEW_PASSWORD, "new_password_again": NEW_PASSWORD})
    page = client.get("/password")
    response = client.post("/password", data={"csrf_token": csrf_token(page.text), "current_password": PASSWORD,
                                              "new_password": NEW_PASSWORD, "new_password_again": NEW_PASSWORD})
    assert response.status_code == 429
    with resources(app).db.session() as session:
        assert session.scalar(select(Operator.session_generation)) == 0  # nothing changed
