"""The inbox's views through Flask's test client, against real Redis and SQLite/PostgreSQL:
sessions, CSRF, the lock-out, security headers, escaping, order, filters, paging, replies,
errors and languages. The browser tests (test_inbox_browser.py) drive the same pages in
Chromium."""
from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

import pytest
from rq.job import Job
from sqlalchemy import select

from chatcenter.attachments import wb_files
from chatcenter.chat_store import record_message
from chatcenter.config import ConfigError, Settings
from chatcenter.models import Attachment, Chat, Message, Reply, ReplyState, Seller, SyncState, utcnow
from chatcenter.operators import disable_operator
from chatcenter.web.inbox.secret_key import resolve_secret_key
from tests.helpers import add_seller, resources
from tests.inbox_support import PASSWORD, add_operator, csrf_token, form_value, sign_in
from tests.test_queries import make_chat

DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens there


@pytest.fixture
def operator(app) -> int:
    return add_operator(app)


@pytest.fixture
def signed_in(app, client, operator):
    assert sign_in(client).status_code == 302
    return client


def text_chat(app, seller_id, text, *, sender="client", name="Анна Петрова", attachments=None) -> int:
    with resources(app).db.session() as session:
        chat = Chat(seller_id=seller_id, wb_chat_id=f"wb-{text[:20]}", client_name=name, reply_sign="sign-1",
                    awaiting_reply=False, analysis_due=False, priority=1, last_message_at=utcnow())
        session.add(chat)
        session.flush()
        message = Message(chat_id=chat.id, wb_event_id=f"e-{chat.id}", sender=sender, text=text,
                          attachments=attachments, sent_at=utcnow() - timedelta(minutes=5))
        session.add(message)
        session.flush()
        record_message(chat, message)
        return chat.id


def replies(app) -> list[Reply]:
    with resources(app).db.session() as session:
        return list(session.scalars(select(Reply).order_by(Reply.id)))


# ------------------------------------------------------------------------ sessions, CSRF

def test_every_page_but_the_login_needs_a_session(client):
    for path in ("/", "/chats/1", "/sellers", "/?show=awaiting"):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login?next=")
    assert client.get("/live/inbox").status_code == 401  # the page's script goes to the login
    assert client.get("/login").status_code == 200
    assert client.get("/static/inbox.css").status_code == 200
    assert client.post("/chats/1/reply", data={"text": "hi"}).status_code == 400  # no CSRF token


def test_signing_in_sets_a_strict_session_cookie_and_goes_where_the_operator_wanted(app, client, operator):
    page = client.get("/login?next=/sellers")
    response = client.post("/login", data={"csrf_token": csrf_token(page.text), "email": "Anna@Shop.Example",
                                           "password": PASSWORD, "next": "/sellers"})
    assert (response.status_code, response.headers["Location"]) == (302, "/sellers")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("chatcenter_session=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie  # plain http
    assert client.get("/sellers").status_code == 200
    with resources(app).db.session() as session:
        assert session.scalars(select(Reply)).first() is None
    # Somewhere else is never a target.
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        page = client.get("/language/en", query_string={"next": target})
        assert page.headers["Location"] == "/"


def test_the_cookie_is_secure_behind_an_https_proxy(make_app):
    app = make_app(proxy_count=1)
    add_operator(app)
    client = app.test_client()
    # Over https Flask-WTF also checks that a form comes from this site (browsers send Referer).
    https = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.7", "Referer": "https://localhost/login"}
    response = sign_in(client, **https)
    assert response.status_code == 302
    assert "Secure" in response.headers["Set-Cookie"]


def test_a_form_without_its_csrf_token_is_refused_with_a_page(signed_in, app):
    seller = add_seller(app)
    chat_id = text_chat(app, seller, "Где заказ?")
    response = signed_in.post(f"/chats/{chat_id}/reply", data={"text": "Уже едет", "idempotency_key": "k1"})
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert "This form has expired" in response.text
    assert replies(app) == []
    response = signed_in.post("/logout")
    assert response.status_code == 400
    assert signed_in.get("/").status_code == 200  # still signed in


def test_logout_ends_the_session(signed_in):
    page = signed_in.get("/")
    response = signed_in.post("/logout", data={"csrf_token": csrf_token(page.text)})
    assert response.headers["Location"] == "/login"
    assert signed_in.get("/").status_code == 302


def test_a_disabled_operator_is_signed_out_at_the_next_request(app, signed_in, operator):
    assert signed_in.get("/").status_code == 200
    with resources(app).db.session() as session:
        disable_operator(session, operator)
    assert signed_in.get("/").headers["Location"] == "/login?next=/"
    assert signed_in.get("/live/inbox").status_code == 401
    response = sign_in(signed_in)  # the right password: answered exactly like a wrong one
    assert response.status_code == 401
    assert "Wrong e-mail or password." in response.text and "disabled" not in response.text


# ------------------------------------------------------------------------------ lock-out

def test_wrong_and_unknown_accounts_get_the_same_answer(client, operator):
    wrong = sign_in(client, password="not the password")
    unknown = sign_in(client, email="nobody@shop.example")
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert "Wrong e-mail or password." in response.text
        assert "Set-Cookie" not in response.headers or "operator_id" not in response.headers["Set-Cookie"]
    assert client.get("/").status_code == 302


def test_five_failures_lock_the_account_for_that_client_for_15_minutes(make_app):
    app = make_app(proxy_count=1)
    add_operator(app)
    add_operator(app, "boris@shop.example")
    client = app.test_client()
    here = {"X-Forwarded-For": "203.0.113.5"}
    for attempt in range(4):
        assert sign_in(client, password=f"wrong {attempt}", **here).status_code == 401
    fifth = sign_in(client, password="wrong 5", **here)
    assert "Wrong e-mail or password. Too many failed sign-ins" in fifth.text
    assert "Try again in 15 min." in fifth.text
    locked = sign_in(client, **here)  # the right password, too late
    assert locked.status_code == 429
    assert "Try again in 15 min." in locked.text
    # Another client, or another account from this client, is not locked.
    assert sign_in(app.test_client(), **{"X-Forwarded-For": "203.0.113.99"}).status_code == 302
    assert sign_in(app.test_client(), email="boris@shop.example", **here).status_code == 302
    # Redis keeps digests, never the e-mail or the address.
    keys = b" ".join(resources(app).redis.keys("chatcenter:login-failures:*"))
    assert keys and b"anna" not in keys and b"203.0.113" not in keys


def test_without_redis_signing_in_is_refused_with_a_clear_message(make_app):
    app = make_app(redis_url=DEAD_REDIS)
    add_operator(app)
    response = sign_in(app.test_client())
    assert response.status_code == 503
    assert "Signing in is unavailable for a moment" in response.text


# ----------------------------------------------------------------------- headers, escaping

INLINE_CODE = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|\sstyle=|\son[a-z]+=", re.IGNORECASE)


def test_every_page_has_the_security_headers_and_no_inline_code(app, signed_in):
    seller = add_seller(app)
    chat_id = text_chat(app, seller, "Здравствуйте")
    anonymous = app.test_client()
    pages = [signed_in.get(p, headers={"Accept": "text/html"})
             for p in ("/", f"/chats/{chat_id}", "/sellers", "/chats/999", "/nope")]
    pages += [anonymous.get("/login"), anonymous.get("/static/inbox.js"), signed_in.get("/live/inbox")]
    for response in pages:
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Referrer-Policy"] == "same-origin"
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "style-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        if response.mimetype == "text/html":
            assert not INLINE_CODE.search(response.text), INLINE_CODE.search(response.text)
            assert response.headers["Cache-Control"] == "no-store"


def test_buyer_html_and_links_are_shown_as_text(app, signed_in):
    seller = add_seller(app)
    attachments = {"images": [{"downloadID": "p1", "url": "https://wb.example/photo.jpg"}],
                   "files": [{"downloadID": "f1", "name": "<b>счёт</b>.pdf", "url": "javascript:alert(1)"}]}
    chat_id = text_chat(app, seller, "<script>alert('x')</script> <img src=x onerror=alert(2)>",
                        name="<i>Ира</i> Смирнова", attachments=attachments)
    with resources(app).db.session() as session:  # as a sync stores them: files still to fetch
        message_id = session.scalar(select(Message.id).where(Message.chat_id == chat_id))
        session.add_all([Attachment(chat_id=chat_id, message_id=message_id, position=n, download_id=f.download_id,
                                    kind=f.kind, name=f.name, content_type=f.content_type, size=f.size)
                         for n, f in enumerate(wb_files(attachments))])
    for page in (signed_in.get(f"/chats/{chat_id}"), signed_in.get("/")):
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &lt;img src=x onerror=alert(2)&gt;" in page.text
        assert "<script>alert" not in page.text and "<img" not in page.text
        assert "&lt;i&gt;Ира&lt;/i&gt;" in page.text and "Смирнова" not in page.text  # first name only
    chat = signed_in.get(f"/chats/{chat_id}").text
    # WB's own URLs are never linked (they need the seller's token): our copies are, once fetched.
    assert "wb.example" not in chat and "Photo being fetched from Wildberries" in chat
    assert "javascript:" not in chat and "&lt;b&gt;счёт&lt;/b&gt;.pdf" in chat  # named, not linked


# -------------------------------------------------------------------------- inbox page

def row_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'class="chat-row[^"]*" data-key="(\d+)"', html)]


def test_the_inbox_lists_awaiting_chats_by_urgency_and_wait_then_the_rest(app, signed_in):
    seller = add_seller(app)
    answered = make_chat(app, seller, 1, buyer_at=1, seller_at=50, urgency="high")
    low_old = make_chat(app, seller, 2, buyer_at=2, urgency="low")
    high_new = make_chat(app, seller, 3, buyer_at=30, urgency="high")
    high_old = make_chat(app, seller, 4, buyer_at=10, urgency="high")
    unanalysed = make_chat(app, seller, 5, buyer_at=5)
    page = signed_in.get("/")  # "Needs reply": the answered chat is not in it
    assert row_ids(page.text) == [high_old, high_new, unanalysed, low_old]
    assert "4 chats await a reply" in page.text
    assert page.text.count("Not analysed yet") == 1
    assert row_ids(signed_in.get("/?view=all").text) == [high_old, high_new, unanalysed, low_old, answered]
    assert row_ids(signed_in.get("/?urgency=high").text) == [high_old, high_new]
    assert row_ids(signed_in.get("/?view=all&urgency=high").text) == [high_old, high_new, answered]
    assert row_ids(signed_in.get("/?view=all&show=answered").text) == [answered]
    assert row_ids(signed_in.get("/?show=awaiting&urgency=low").text) == [low_old]
    assert row_ids(signed_in.get(f"/?seller={seller + 1}").text) == []
    assert row_ids(signed_in.get("/?view=all&category=question&urgency=high").text) == [high_old, high_new, answered]


def test_bad_filters_are_a_clear_page_not_a_500(signed_in):
    for query, problem in (("seller=x", "seller: must be a whole number"),
                           ("urgency=extreme", "urgency: must be one of low, medium, high"),
                           ("show=everything", "show: must be one of awaiting, answered"),
                           ("view=closed", "view: must be one of needs_reply, mine, unassigned, snoozed, resolved, all"),
                           ("cursor=bm9wZQ", "cursor: is not a cursor this API gave out")):
        response = signed_in.get(f"/?{query}")
        assert response.status_code == 400 and response.mimetype == "text/html"
        assert problem in response.text


def _link(html: str, rel: str) -> str | None:
    found = re.search(rf'<a href="([^"]+)" rel="{rel}"', html)
    return found.group(1).replace("&amp;", "&") if found else None


def test_pages_of_25_go_forward_and_back_keeping_the_filters_and_count(app, signed_in):
    seller = add_seller(app)
    ids = [make_chat(app, seller, n, buyer_at=n, urgency="high") for n in range(60)]
    make_chat(app, seller, 99, buyer_at=99, urgency="low")  # filtered out
    first = signed_in.get("/?urgency=high")
    assert row_ids(first.text) == ids[:25] and _link(first.text, "prev") is None
    assert "1–25 of 60" in first.text
    assert "urgency=high" in _link(first.text, "next")
    second = signed_in.get(_link(first.text, "next"))
    assert row_ids(second.text) == ids[25:50] and "26–50 of 60" in second.text
    third = signed_in.get(_link(second.text, "next"))
    assert row_ids(third.text) == ids[50:] and "51–60 of 60" in third.text
    assert _link(third.text, "next") is None
    back = signed_in.get(_link(third.text, "prev"))
    assert row_ids(back.text) == ids[25:50] and "26–50 of 60" in back.text
    assert "urgency=high" in _link(back.text, "prev")
    start = signed_in.get(_link(back.text, "prev"))
    assert row_ids(start.text) == ids[:25] and _link(start.text, "prev") is None and "1–25 of 60" in start.text


def test_the_live_list_answers_304_until_something_changes(app, signed_in):
    seller = add_seller(app)
    make_chat(app, seller, 1, buyer_at=1, urgency="low")
    first = signed_in.get("/live/inbox")
    assert first.status_code == 200 and first.headers["ETag"]
    assert "<html" not in first.text and row_ids(first.text)
    again = signed_in.get("/live/inbox", headers={"If-None-Match": first.headers["ETag"]})
    assert (again.status_code, again.data) == (304, b"")
    newer = make_chat(app, seller, 2, buyer_at=2, urgency="high")
    changed = signed_in.get("/live/inbox", headers={"If-None-Match": first.headers["ETag"]})
    assert changed.status_code == 200 and row_ids(changed.text)[0] == newer


# ------------------------------------------------------------------------------ chat page

def chat_with_analysis(app) -> int:
    seller = add_seller(app)
    return make_chat(app, seller, 1, buyer_at=1, urgency="high")


def test_the_chat_page_prefills_the_suggested_reply_and_shows_the_analysis(app, signed_in):
    chat_id = chat_with_analysis(app)
    page = signed_in.get(f"/chats/{chat_id}")
    assert page.status_code == 200
    assert re.search(r'<textarea id="reply-text"[^>]*>r</textarea>', page.text)  # make_chat's suggestion
    assert "High urgency" in page.text and "By m," in page.text  # model and time
    assert "Pre-filled with the AI's suggested reply" in page.text
    missing = signed_in.get("/chats/999")
    assert missing.status_code == 404 and "Chat 999 does not exist." in missing.text


def test_a_reply_form_sent_twice_is_one_reply(app, signed_in, redis_client):
    chat_id = chat_with_analysis(app)
    page = signed_in.get(f"/chats/{chat_id}").text
    form = {"csrf_token": csrf_token(page), "idempotency_key": form_value(page, "idempotency_key"),
            "text": "  Здравствуйте! Уже отправили.  "}
    first = signed_in.post(f"/chats/{chat_id}/reply", data=form)
    second = signed_in.post(f"/chats/{chat_id}/reply", data=form)
    [reply] = replies(app)
    assert first.headers["Location"] == second.headers["Location"] == f"/chats/{chat_id}?reply={reply.id}#replies"
    assert (reply.text, reply.state, reply.requested_by) == ("Здравствуйте! Уже отправили.", "queued",
                                                              f"operator:{reply.requested_by.split(':')[1]}")
    assert Job.fetch(f"reply-{reply.id}", connection=redis_client).args == (reply.id,)  # ids only
    followed = signed_in.get(f"/chats/{chat_id}?reply={reply.id}")
    assert "Your reply: Queued" in followed.text
    assert re.search(r'<textarea id="reply-text"[^>]*></textarea>', followed.text)  # no second prefill
    assert 'data-live-every="2"' in followed.text  # the page watches it closely until it is sent


@pytest.mark.parametrize("redis_down, text, status, message", [
    (False, "   ", 400, "Write a reply of 1 to 1000 characters."),
    (False, "x" * 1001, 400, "Write a reply of 1 to 1000 characters."),
    (True, "Ответ, который ждёт очереди", 503, "Not sent: the job queue is unavailable."),
])
def test_a_bad_reply_keeps_the_text_and_says_why(make_app, redis_down, text, status, message):
    up = make_app()
    add_operator(up)
    chat_id = chat_with_analysis(up)
    client = up.test_client()
    sign_in(client)
    if redis_down:  # signed in before Redis went away: the same database, the same cookie
        app = make_app(redis_url=DEAD_REDIS)
        cookie = client.get_cookie("chatcenter_session").value
        client = app.test_client()
        client.set_cookie("chatcenter_session", cookie)
    else:
        app = up
    page = client.get(f"/chats/{chat_id}").text
    response = client.post(f"/chats/{chat_id}/reply", data={
        "csrf_token": csrf_token(page), "idempotency_key": "key-1", "text": text})
    assert response.status_code == status
    assert message in response.text
    if text.strip():
        assert text in response.text  # the operator's words are not lost
    assert replies(app) == []


def test_a_key_reused_for_other_text_asks_to_check_first(app, signed_in):
    chat_id = chat_with_analysis(app)
    page = signed_in.get(f"/chats/{chat_id}").text
    form = {"csrf_token": csrf_token(page), "idempotency_key": "same-key", "text": "Первый вариант"}
    signed_in.post(f"/chats/{chat_id}/reply", data=form)
    response = signed_in.post(f"/chats/{chat_id}/reply", data={**form, "text": "Второй вариант"})
    assert response.status_code == 409
    assert "already used to send a different reply" in response.text
    assert "Второй вариант" in response.text
    assert form_value(response.text, "idempotency_key") != "same-key"  # a new form, a new key
    assert len(replies(app)) == 1


def test_the_thread_shows_why_a_reply_failed_and_when_one_was_sent(app, signed_in):
    chat_id = chat_with_analysis(app)
    with resources(app).db.session() as session:
        failed = Reply(chat_id=chat_id, text="a", state=ReplyState.FAILED, requested_by="operator:1",
                       error="WB refused the reply (400): invalid replySign")
        sent = Reply(chat_id=chat_id, text="b", state=ReplyState.SENT, requested_by="operator:1", sent_at=utcnow())
        session.add_all([failed, sent])
        session.flush()
        sent_id = sent.id
    page = signed_in.get(f"/live/chats/{chat_id}/thread?reply={sent_id}").text
    assert "Your reply: Not sent" in page and "WB refused the reply (400): invalid replySign" in page
    assert "Your reply: Sent" in page and "Wildberries accepted it at" in page
    assert 'data-live-next="15"' in page


@pytest.mark.parametrize("key, expected", [
    ("", "Analysis is off: the server has no DeepSeek API key"),
    ("sk-test-key-for-the-inbox-view", "Analysis requested"),
])
def test_analyse_again_enqueues_or_says_analysis_is_off(make_app, redis_client, key, expected):
    app = make_app(deepseek_api_key=key)
    add_operator(app)
    client = app.test_client()
    sign_in(client)
    chat_id = chat_with_analysis(app)
    page = client.get(f"/chats/{chat_id}").text
    response = client.post(f"/chats/{chat_id}/analysis", data={"csrf_token": csrf_token(page)},
                           follow_redirects=True)
    assert expected in response.text
    assert bool(redis_client.exists(f"rq:job:analyze-chat-{chat_id}")) == bool(key)
    if key:
        assert "Analysis in progress" in response.text


# ---------------------------------------------------------------------------- sellers page

def test_sellers_page_explains_a_refused_token_and_syncs_on_request(app, signed_in, redis_client):
    good = add_seller(app, name="Куртки")
    refused = add_seller(app, name="Old shop")
    with resources(app).db.session() as session:
        seller = session.get(Seller, refused)
        seller.sync_state, seller.last_error = SyncState.AUTH_ERROR, "WB API rejected the token (401)"
    page = signed_in.get("/sellers")
    assert "Wildberries refused this seller's API token." in page.text
    assert f'printf %s "$TOKEN" | flask --app chatcenter sellers set-token {refused}' in page.text
    assert page.text.count(">Sync now</button>") == 1  # a refused token cannot sync
    response = signed_in.post(f"/sellers/{good}/sync", data={"csrf_token": csrf_token(page.text)},
                              follow_redirects=True)
    assert "Sync requested." in response.text and "Sync queued" in response.text
    assert redis_client.exists(f"rq:job:sync-seller-{good}")
    again = signed_in.post(f"/sellers/{good}/sync", data={"csrf_token": csrf_token(page.text)},
                           follow_redirects=True)
    assert "A sync of this seller is already under way." in again.text
    missing = signed_in.post("/sellers/999/sync", data={"csrf_token": csrf_token(page.text)})
    assert missing.status_code == 404 and "Seller 999 does not exist." in missing.text


# ----------------------------------------------------------------------- errors, language

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def test_errors_are_pages_for_the_inbox_and_json_for_the_api(signed_in):
    page = signed_in.get("/no-such-page", headers=BROWSER)
    assert page.status_code == 404 and page.mimetype == "text/html" and "There is no such page." in page.text
    assert signed_in.get("/no-such-page").is_json  # curl and scripts get JSON
    wrong_method = signed_in.get("/logout", headers=BROWSER)
    assert wrong_method.status_code == 405 and wrong_method.mimetype == "text/html"
    assert "POST" in wrong_method.headers["Allow"]
    assert signed_in.get("/chats/999").mimetype == "text/html"  # an inbox route: always a page
    api = signed_in.get("/api/no-such-route", headers=BROWSER)
    assert api.status_code == 404 and api.is_json and "detail" in api.get_json()


def test_the_language_follows_the_browser_and_the_switch(app, client, operator):
    russian = client.get("/login", headers={"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.5"})
    assert '<html lang="ru">' in russian.text and "Вход" in russian.text and "Войти" in russian.text
    assert '<html lang="en">' in client.get("/login", headers={"Accept-Language": "de, en;q=0.5"}).text
    client.get("/language/ru?next=/login")
    assert "Вход" in client.get("/login", headers={"Accept-Language": "en"}).text  # the choice wins
    client.get("/language/xx?next=/login")  # unknown: ignored
    assert "Вход" in client.get("/login").text
    response = sign_in(client, password="wrong password!")
    assert "Неверная почта или пароль." in response.text
    sign_in(client)
    inbox = client.get("/")
    assert "Входящие" in inbox.text and "Ни один чат не ждёт ответа." in inbox.text


def test_times_are_shown_in_the_browsers_zone(app, signed_in):
    seller = add_seller(app)
    chat_id = text_chat(app, seller, "Здравствуйте")
    with resources(app).db.session() as session:
        sent_at = session.scalars(select(Message.sent_at).where(Message.chat_id == chat_id)).one()
    signed_in.set_cookie("tz", "Asia/Vladivostok")
    page = signed_in.get(f"/chats/{chat_id}").text
    assert "Times are shown in Asia/Vladivostok." in page
    local = (sent_at + timedelta(hours=10)).strftime("%H:%M")  # UTC+10, no summer time
    assert re.search(rf"<time datetime=\"[^\"]+\">[^<]*{local}</time>", page)
    signed_in.set_cookie("tz", "Not/AZone")
    assert "Times are shown in UTC." in signed_in.get(f"/chats/{chat_id}").text


# ------------------------------------------------------------------------------ secret key

def test_the_secret_key_is_generated_once_per_machine_unless_set(tmp_path):
    key_file = tmp_path / "instance" / "secret_key"
    generated = resolve_secret_key(Settings(), key_file)
    assert len(generated) >= 32 and key_file.read_text() == generated
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert resolve_secret_key(Settings(), key_file) == generated  # every process reads the same
    assert resolve_secret_key(Settings(secret_key="k" * 40), key_file) == "k" * 40
    with pytest.raises(ConfigError, match="SECRET_KEY must be empty or at least 32 characters"):
        Settings.from_mapping({"SECRET_KEY": "too-short"})
    assert "too-short" not in repr(replace(Settings(), secret_key="too-short"))


def test_a_backlog_past_999_is_shown_as_999_plus_without_counting_it_all(signed_in, app):
    seller_id = add_seller(app)
    with resources(app).db.session() as session:
        session.add_all(Chat(seller_id=seller_id, wb_chat_id=f"backlog-{n}", awaiting_reply=True,
                             analysis_due=False, priority=2, waiting_since=utcnow(), last_message_at=utcnow())
                        for n in range(1001))
    page = signed_in.get("/").get_data(as_text=True)
    assert "More than 999 chats await a reply" in page
    assert "1–25 of 1000+" in page  # the list's count stops at 1000 too
