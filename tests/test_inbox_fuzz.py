"""A fuzz of the inbox's routes against a live gunicorn, signed in and not (issue 28 §4):
hostile path ids, query parameters and form fields (Unicode digits, ids past the database's
range, line breaks in link targets, invalid UTF-8, NUL, huge values) on every page, live
fragment and form. No answer is a 5xx, gunicorn logs no traceback, and Sentry hears of
nothing. (The API's fuzz: tests/test_api_fuzz.py and tests/test_fuzz_http.py.)"""
from __future__ import annotations

import random
import re
import subprocess
import sys

import pytest
import requests
from sqlalchemy import update

from chatcenter import create_app
from chatcenter.config import PROJECT_ROOT
from chatcenter.models import Chat
from tests.helpers import add_seller, resources
from tests.inbox_support import PASSWORD
from tests.test_production import free_port, process_env, stop, wait_for_port
from tests.test_queries import make_chat

SEED = 20261207
CASES_PER_ROUTE = 40
HOSTILE = ["²", "١", "99999999999999999999", "2147483648", "-1", "0", "1e3", "1.5", "+1", " 1", "%00", "%0d%0a",
           "/%0d%0aSet-Cookie:x=1", "%ff%fe", "%c3%28", "%ed%a0%80", "'", "<script>", "a" * 3000, "", "1", "2",
           "//evil.example", "/\\evil", "javascript:alert(1)", "%2e%2e%2f", "true", "null", "[]"]
PATHS = ["/", "/chats/{id}", "/sellers", "/password", "/login", "/language/{id}", "/live/inbox",
         "/live/chats/{id}/thread", "/live/chats/{id}/analysis", "/live/sellers", "/no/such/page"]
PARAMS = ["seller", "before", "reply", "cursor", "page", "show", "urgency", "category", "next", "lang"]
FORMS = {"/chats/{id}/reply": ["text", "idempotency_key"], "/chats/{id}/analysis": [],
         "/sellers/{id}/sync": [], "/login": ["email", "password", "next"], "/password": ["current", "new", "repeat"]}


@pytest.fixture
def live_inbox(tmp_path, settings, redis_url, sentry_receiver):
    env = process_env(tmp_path, DATABASE_URL=settings.database_url, REDIS_URL=redis_url,
                      SECRET_KEY="fuzz-secret-key-for-the-inbox-session-cookies",
                      DEEPSEEK_API_KEY="sk-fuzz-0123456789abcdef0123")
    flask = [sys.executable, "-m", "flask", "--app", "chatcenter"]
    for command, stdin in ((["db", "upgrade"], None), (["operators", "add", "anna@shop.example"], PASSWORD + "\n")):
        done = subprocess.run(flask + command, cwd=PROJECT_ROOT, env=env, input=stdin, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stderr
    app = create_app(settings, component="cli")
    try:
        seller = add_seller(app)
        chats = [make_chat(app, seller, n, buyer_at=n, seller_at=n + 1 if n % 2 else None, urgency="high")
                 for n in range(1, 4)]
        with resources(app).db.session() as session:  # a price no decimal arithmetic can format
            session.execute(update(Chat).where(Chat.id == chats[0]).values(
                good_card={"nmID": 1, "price": 1e308, "priceCurrency": "RUB"}))
    finally:
        resources(app).close()

    sentry_receiver.clear()
    port = free_port()
    env.update(GUNICORN_BIND=f"127.0.0.1:{port}", WEB_CONCURRENCY="1", GUNICORN_THREADS="4",
               SENTRY_DSN=sentry_receiver.dsn, SENTRY_TRACES_SAMPLE_RATE="0", SENTRY_ENVIRONMENT="fuzz")
    log = (tmp_path / "gunicorn.log").open("w")
    web = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
                           cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, web, "gunicorn")
        yield {"url": f"http://127.0.0.1:{port}", "log": tmp_path / "gunicorn.log"}
    finally:
        stop(web)
        log.close()


def signed_in(url: str) -> requests.Session:
    browser = requests.Session()
    page = browser.get(f"{url}/login", timeout=10)
    answer = browser.post(f"{url}/login", data={"csrf_token": token(page.text), "email": "anna@shop.example",
                                                "password": PASSWORD}, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    return browser


def token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    return found.group(1) if found else ""


def cases(rng: random.Random):
    """(method, path and query as sent, form fields) triples, the same for every run."""
    for path in PATHS:
        for _ in range(CASES_PER_ROUTE):
            target = path.format(id=rng.choice(HOSTILE + ["1", "2", "3", "en", "ru"]))
            query = "&".join(f"{rng.choice(PARAMS)}={rng.choice(HOSTILE)}" for _ in range(rng.randint(0, 3)))
            yield "GET", target + (f"?{query}" if query else ""), None
    for path, fields in FORMS.items():
        for _ in range(CASES_PER_ROUTE):
            form = {name: rng.choice(HOSTILE + ["x" * 2000, "ok reply text"]) for name in fields}
            query = f"?{rng.choice(PARAMS)}={rng.choice(HOSTILE)}" if rng.random() < 0.3 else ""
            yield "POST", path.format(id=rng.choice(["1", "2", "99999999999999999999", "²", "0"])) + query, form


def test_the_inbox_never_answers_5xx_to_hostile_input(live_inbox, sentry_receiver):
    url = live_inbox["url"]
    statuses: dict[str, int] = {}
    for who in ("anonymous", "operator"):
        browser = signed_in(url) if who == "operator" else requests.Session()
        csrf = token(browser.get(f"{url}/login" if who == "anonymous" else f"{url}/sellers", timeout=10).text)
        for n, (method, target, form) in enumerate(cases(random.Random(SEED))):
            if form is not None:
                form = {**form, "csrf_token": csrf if n % 5 else "forged"}
            answer = browser.request(method, url + target, data=form, allow_redirects=False, timeout=15)
            statuses[f"{who} {method} {target[:120]}"] = answer.status_code
        assert who == "anonymous" or browser.get(f"{url}/", allow_redirects=False).status_code in (200, 302)

    server_errors = {case: status for case, status in statuses.items() if status >= 500}
    assert server_errors == {}
    # It really reached the pages: answers of every kind, signed in and not.
    assert {200, 302, 400, 401, 404} <= set(statuses.values()), sorted(set(statuses.values()))
    assert len(statuses) >= 500
    sentry_receiver.wait_for("event", 1, timeout=3)  # give a stray event time to arrive
    assert sentry_receiver.events == []
    assert "Traceback" not in live_inbox["log"].read_text()
