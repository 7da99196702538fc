"""WBClient against the local WB stub over loopback (and real Redis for the limiter)."""
import time
import uuid

import pytest
import requests

from chatcenter.clients.ratelimit import RedisRateLimiter
from chatcenter.clients.wb import (
    WBAuthError,
    WBBadResponse,
    WBClient,
    WBError,
    WBRateLimited,
    WBUnavailable,
)
from tests.stubs.wb_stub import WBStub

TOKEN = "eyJhbGciOiJFUzI1NiJ9.test-token-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def server():
    with WBStub(valid_tokens={TOKEN}) as stub:
        yield stub


@pytest.fixture
def stub(server):
    server.reset()
    server.chats.clear()
    server.events.clear()
    server.page_size = 3
    server.rate_limit = None
    yield server
    server.reset()


@pytest.fixture
def client(stub):
    with WBClient(stub.url, TOKEN, read_timeout=5.0, max_rate_wait=3.0) as c:
        yield c


@pytest.fixture
def limiter(redis_client):
    return RedisRateLimiter(redis_client, f"test:wb:rl:{uuid.uuid4().hex}", limit=10, period=1.0)


def assert_clean(exc, *secrets):
    text = str(exc) + repr(exc)
    for s in (TOKEN,) + secrets:
        assert s not in text


# ---- reading --------------------------------------------------------------


def test_list_chats_sends_raw_token(stub, client):
    stub.add_chat(chat_id="1:aaa", client_name="Мария")
    stub.add_chat(client_id="deprecated-id")
    chats = client.list_chats()
    assert [c["chatID"] for c in chats][0] == "1:aaa"
    assert chats[0]["clientName"] == "Мария" and "clientID" not in chats[0]
    assert chats[1]["clientID"] == "deprecated-id"
    method, path, query, headers = stub.requests[-1]
    assert (method, path, query) == ("GET", "/api/v1/seller/chats", {})
    assert headers["Authorization"] == TOKEN  # raw, no "Bearer "


def test_list_chats_rejects_chat_without_id(stub, client):
    stub.add_chat()["chatID"] = ""
    with pytest.raises(WBBadResponse, match="chat #0 has no chatID"):
        client.list_chats()


def test_events_paging(stub, client):
    chat = stub.add_chat()
    made = [stub.add_event(chat["chatID"], f"m{i}", is_new_chat=(i == 0)) for i in range(7)]
    seen, cursor, pages = [], None, 0
    while True:
        page = client.get_events(cursor)
        pages += 1
        assert set(page) >= {"next", "newestEventTime", "oldestEventTime", "totalEvents", "events"}
        if page["totalEvents"] == 0:
            assert page["next"] == cursor  # echoed when nothing is newer
            break
        seen += page["events"]
        cursor = page["next"]
        assert cursor == page["events"][-1]["addTimestamp"]
    assert [e["eventID"] for e in seen] == [e["eventID"] for e in made]
    assert pages == 4  # 3 + 3 + 1 + empty
    assert seen[0]["replySign"] == chat["replySign"] and "replySign" not in seen[1]
    queries = [q for _, p, q, _ in stub.requests if p == "/api/v1/seller/events"]
    assert queries[0] == {}  # no `next` on the first call
    assert queries[1] == {"next": str(made[2]["addTimestamp"])}


def test_events_next_zero(stub, client):
    chat = stub.add_chat()
    stub.add_event(chat["chatID"], "hi")
    # The stub, like WB, rejects next=0 ...
    raw = requests.get(stub.url + "/api/v1/seller/events", params={"next": 0},
                       headers={"Authorization": TOKEN}, timeout=5)
    assert raw.status_code == 400
    assert raw.headers["Content-Type"].startswith("application/problem+json")
    assert raw.json()["requestId"]
    # ... so the client treats 0 as "no cursor yet".
    page = client.get_events(0)
    assert page["totalEvents"] == 1
    assert stub.requests[-1].query == {}
    with pytest.raises(ValueError):
        client.get_events(-5)


def test_events_empty_feed(stub, client):
    page = client.get_events(None)
    assert page["totalEvents"] == 0 and page["events"] == []


def test_events_bad_shape(stub, client):
    stub.fail_next(200, body={"result": {"next": "soon", "totalEvents": 1, "events": []}, "errors": None})
    with pytest.raises(WBBadResponse, match="'next' or 'totalEvents'"):
        client.get_events(None)
    # A broken event is not the page's fault: it is passed on, for the sync to set aside.
    stub.fail_next(200, body={"result": {"next": 5, "totalEvents": 1, "events": [{"chatID": "x"}]}})
    assert client.get_events(None)["events"] == [{"chatID": "x"}]


def test_sync_cut_off_midway(stub, client):
    chat = stub.add_chat()
    for i in range(8):
        stub.add_event(chat["chatID"], f"m{i}")
    stub.fail_after_pages(2)
    first = client.get_events(None)
    second = client.get_events(first["next"])
    with pytest.raises(WBUnavailable) as info:
        client.get_events(second["next"])
    assert info.value.transient and info.value.status == 500
    stub.fail_after_pages(None)
    assert client.get_events(second["next"])["totalEvents"] == 2


# ---- errors -----------------------------------------------------------------


def test_401_is_auth_error_without_token(stub):
    bad = "wrong-" + uuid.uuid4().hex
    with WBClient(stub.url, bad) as c, pytest.raises(WBAuthError) as info:
        c.list_chats()
    exc = info.value
    assert exc.status == 401 and not exc.transient
    assert exc.request_id and exc.request_id in str(exc)
    assert str(exc).startswith("WB API rejected the token (401): unauthorized")
    assert bad not in str(exc) and bad not in repr(c)


def test_error_detail_echoing_token_is_scrubbed(stub, client):
    stub.fail_next(401, body={"title": "unauthorized", "detail": f"token {TOKEN} expired",
                              "requestId": "rid-1", "status": 401})
    with pytest.raises(WBAuthError) as info:
        client.list_chats()
    assert info.value.request_id == "rid-1"
    assert_clean(info.value)
    assert_clean(client)


def test_403_is_auth_error(stub, client):
    stub.fail_next(403)
    with pytest.raises(WBAuthError) as info:
        client.list_chats()
    assert info.value.status == 403


def test_429_waits_then_succeeds(stub, client, limiter):
    client.limiter = limiter
    stub.add_chat()
    stub.fail_next(429)  # X-Ratelimit-Retry: 1
    t0 = time.monotonic()
    assert len(client.list_chats()) == 1
    assert 0.9 <= time.monotonic() - t0 < 10  # waited the second WB asked for
    assert len(stub.requests) == 2


def test_429_beyond_budget(stub, client, limiter):
    client.limiter = limiter
    stub.fail_next(429, headers={"X-Ratelimit-Retry": "60", "X-Ratelimit-Reset": "60",
                                 "X-Ratelimit-Limit": "10"})
    t0 = time.monotonic()
    with pytest.raises(WBRateLimited) as info:
        client.list_chats()
    assert time.monotonic() - t0 < 10  # gives up at once, not after the 60 s WB asked for
    exc = info.value
    assert exc.retry_after == 60 and exc.status == 429 and exc.transient
    assert exc.request_id and isinstance(exc, WBError)
    assert_clean(exc)
    # Even when giving up, every other process is told to back off.
    assert limiter.try_acquire() > 50


def test_local_limiter_budget_exhausted(stub, client, limiter):
    client.limiter = limiter
    client.max_rate_wait = 0.2
    limiter.block_for(5)  # as if another process had just got a 429
    with pytest.raises(WBRateLimited) as info:
        client.list_chats()
    assert info.value.retry_after > 4 and info.value.status is None
    assert stub.requests == []  # nothing was sent


def test_client_respects_limiter(stub, client, redis_client):
    rds = redis_client
    key = f"test:wb:rl:{uuid.uuid4().hex}"
    client.limiter = RedisRateLimiter(rds, key, limit=3, period=0.5)
    client.max_rate_wait = 0.1
    try:
        for _ in range(3):
            client.list_chats()
        with pytest.raises(WBRateLimited):
            client.list_chats()
        assert len(stub.requests) == 3
    finally:
        rds.delete(key, key + ":blocked")


def test_500_is_unavailable(stub, client):
    stub.fail_next(500)
    with pytest.raises(WBUnavailable) as info:
        client.list_chats()
    assert info.value.status == 500 and info.value.transient
    assert "500" in str(info.value) and info.value.request_id


def test_502_html_is_unavailable(stub, client):
    stub.fail_next(502, body=b"<html>bad gateway</html>", headers={"Content-Type": "text/html"})
    with pytest.raises(WBUnavailable, match="502"):
        client.list_chats()


def test_read_timeout_is_unavailable(stub):
    stub.delay_next(0.6)
    with WBClient(stub.url, TOKEN, read_timeout=0.2) as c, pytest.raises(WBUnavailable) as info:
        c.list_chats()
    assert "read timeout" in str(info.value) and info.value.transient
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_connection_refused_is_unavailable_and_certainly_unsent():
    with WBClient("http://127.0.0.1:9", TOKEN, connect_timeout=0.5) as c:
        with pytest.raises(WBUnavailable, match="could not connect|connect timeout") as info:
            c.list_chats()
    assert info.value.unsent  # a message sent this way certainly never reached WB


def test_a_connection_cut_after_the_request_left_may_have_arrived(stub, client):
    stub.accept_then_hang_next(5)
    client.timeout = (3.05, 0.3)
    with pytest.raises(WBUnavailable, match="read timeout") as info:
        client.send_message(stub.add_chat()["replySign"], "Здравствуйте!")
    assert not info.value.unsent


def test_a_refusal_carries_wbs_errors(stub, client):
    stub.fail_next(400, body={"result": None, "errors": ["сообщение содержит ссылку"]})
    with pytest.raises(WBBadResponse, match="answered 400: сообщение содержит ссылку") as info:
        client.send_message(stub.add_chat()["replySign"], "Здравствуйте!")
    assert info.value.refusals == ["сообщение содержит ссылку"] and not info.value.unsent


def test_malformed_json_is_bad_response(stub, client):
    stub.malformed_next()
    with pytest.raises(WBBadResponse) as info:
        client.list_chats()
    assert "malformed JSON" in str(info.value) and not info.value.transient


def test_other_4xx_is_bad_response(stub, client):
    stub.fail_next(400)
    with pytest.raises(WBBadResponse) as info:
        client.get_events(None)
    assert info.value.status == 400 and info.value.request_id in str(info.value)


def test_bad_token_value_is_refused_unechoed():
    with pytest.raises(ValueError) as info:
        WBClient("http://127.0.0.1:1", "abc\ndef")
    assert "abc" not in str(info.value)


# ---- sending ---------------------------------------------------------------


def test_send_message_multipart(stub, client):
    chat = stub.add_chat()
    result = client.send_message(chat["replySign"], "Добрый день! Заказ уже в пути.")
    assert result["chatID"] == chat["chatID"]
    assert stub.sent_messages == [{"replySign": chat["replySign"],
                                   "message": "Добрый день! Заказ уже в пути.", "files": []}]
    method, path, _, headers = stub.requests[-1]
    assert (method, path) == ("POST", "/api/v1/seller/message")
    assert headers["Content-Type"].startswith("multipart/form-data")
    # The stub, like WB, shows the reply in the event feed.
    assert stub.events[-1]["sender"] == "seller"


def test_send_message_limits(stub, client):
    with pytest.raises(ValueError, match="replySign"):
        client.send_message("s" * 256, "hi")
    with pytest.raises(ValueError, match="message"):
        client.send_message("sign", "x" * 1001)
    with pytest.raises(ValueError, match="message"):
        client.send_message("sign", "")
    assert stub.requests == []
    chat = stub.add_chat()
    client.send_message(chat["replySign"], "я" * 1000)  # exactly at the limit
    assert len(stub.sent_messages[-1]["message"]) == 1000


def test_send_message_rejected_without_text_in_error(stub, client):
    secret_text = "мой адрес Ленина 1"
    with pytest.raises(WBBadResponse) as info:
        client.send_message("unknown-sign", secret_text)
    assert info.value.status == 400
    assert_clean(info.value, secret_text)


def test_stub_rate_limit_end_to_end(stub, client, limiter):
    # The stub enforces 2 per 1 s; the client waits out the 429 and gets through.
    stub.rate_limit = (2, 1.0)
    client.limiter = limiter
    for _ in range(3):
        client.list_chats()
    assert [r.path for r in stub.requests].count("/api/v1/seller/chats") == 4


def test_no_token_in_traceback_locals(stub):
    # Sentry sends frame locals; neither our frames nor a chained cause may hold the token.
    stub.delay_next(0.5)
    with WBClient(stub.url, TOKEN, read_timeout=0.1) as c:
        try:
            c.list_chats()
        except WBUnavailable as exc:
            caught = exc
    assert caught.__cause__ is None and caught.__suppress_context__
    tb = caught.__traceback__
    while tb is not None:
        for name, value in tb.tb_frame.f_locals.items():
            assert TOKEN not in repr(value), f"token in local {name!r} of {tb.tb_frame.f_code.co_name}"
        tb = tb.tb_next
