"""The operators' JSON API through the real app, database and Redis: every route's
answers, API-key auth, pagination, and every class of bad input. Each answer is also
checked against the OpenAPI document (tests/api_client.py)."""
from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from chatcenter.models import ApiKey, Chat, Reply, utcnow
from chatcenter.queries import ChatFilter
from tests.helpers import WB_TOKEN, add_seller, resources
from tests.test_queries import make_chat

API_ROUTES = [("GET", "/api/sellers"), ("POST", "/api/sellers/1/sync"), ("GET", "/api/chats"),
              ("GET", "/api/chats/1"), ("POST", "/api/chats/1/analysis"), ("POST", "/api/chats/1/reply"),
              ("GET", "/api/jobs/sync-seller-1"), ("GET", "/api/openapi.json")]


def chat_ids(response) -> list[int]:
    return [chat["id"] for chat in response.get_json()["chats"]]


# ------------------------------------------------------------------------------- auth

@pytest.mark.parametrize("method, url", API_ROUTES)
def test_every_api_route_needs_a_key(api, method, url):
    response = api.open(method, url, key=None)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="chatcenter"'
    assert response.get_json()["detail"].startswith("Authorization: missing; send the header")


@pytest.mark.parametrize("header, error, words", [
    ("Basic dXNlcjpwYXNz", "invalid_request", "not a Bearer credential"),
    ("Token cc_abc", "invalid_request", "not a Bearer credential"),
    ("Bearer", "invalid_request", "not a Bearer credential"),
    ("Bearer not-a-key", "invalid_token", "is not an API key of this service"),
    ("Bearer cc_" + "A" * 43, "invalid_token", "is not a known API key"),
    ("Bearer cc_" + "A" * 44, "invalid_token", "is not an API key of this service"),
])
def test_keys_of_another_format_or_unknown_are_refused(api, header, error, words):
    response = api.get("/api/chats", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == f'Bearer realm="chatcenter", error="{error}"'
    assert words in response.get_json()["detail"]


def test_a_valid_key_opens_the_api_and_a_revoked_one_no_longer(app, api):
    assert api.get("/api/chats").status_code == 200
    assert api.get("/api/chats", headers={"Authorization": f"bearer {api.key}"}).status_code == 200  # any case
    with resources(app).db.session() as session:
        session.scalars(select(ApiKey)).one().revoked_at = utcnow()
    response = api.get("/api/chats")
    assert response.status_code == 401
    assert "was revoked" in response.get_json()["detail"]


def test_health_routes_stay_open(app):
    client = app.test_client()
    assert client.get("/api/health").status_code == 200
    assert client.get("/api/health/ready").status_code == 200


def test_last_use_is_recorded_at_most_once_a_minute(app, api):
    def last_used():
        with resources(app).db.session() as session:
            return session.scalars(select(ApiKey.last_used_at)).one()

    assert last_used() is None
    api.get("/api/sellers")
    first = last_used()
    assert first is not None
    api.get("/api/sellers")
    assert last_used() == first  # no write within the minute
    with resources(app).db.session() as session:
        session.scalars(select(ApiKey)).one().last_used_at = first - timedelta(minutes=2)
    api.get("/api/sellers")
    assert last_used() > first


# ---------------------------------------------------------------------------- sellers

def test_sellers_show_their_state_but_never_the_token(app, api):
    one, two = add_seller(app, "Первый"), add_seller(app, "Second")
    response = api.get("/api/sellers")
    assert response.status_code == 200
    sellers = response.get_json()["sellers"]
    assert [(s["id"], s["name"], s["active"], s["sync_state"], s["last_synced_at"], s["last_error"])
            for s in sellers] == [(one, "Первый", True, "idle", None, None), (two, "Second", True, "idle", None, None)]
    assert WB_TOKEN not in response.get_data(as_text=True)


def test_sync_is_enqueued_once_while_pending(app, api, redis_client):
    seller = add_seller(app)
    first = api.post(f"/api/sellers/{seller}/sync")
    assert first.status_code == 202
    assert first.get_json() == {"job_id": f"sync-seller-{seller}"}
    assert first.headers["Location"] == f"/api/jobs/sync-seller-{seller}"
    again = api.post(f"/api/sellers/{seller}/sync", json={})
    assert again.status_code == 409
    assert again.get_json() == {"detail": f"a sync of seller {seller} is already queued or running: "
                                          f"follow job sync-seller-{seller}", "job_id": f"sync-seller-{seller}"}
    job = api.get(f"/api/jobs/sync-seller-{seller}")
    assert job.get_json() == {"id": f"sync-seller-{seller}", "kind": "sync_seller_chats", "status": "queued"}


def test_sync_of_an_unknown_seller_is_404(api):
    response = api.post("/api/sellers/999/sync")
    assert response.status_code == 404
    assert response.get_json() == {"detail": "seller 999 does not exist"}


# ------------------------------------------------------------------------------ chats

def test_chats_list_newest_activity_first_with_preview_analysis_and_first_name(app, api):
    seller = add_seller(app)
    older = make_chat(app, seller, 1, buyer_at=1, urgency="high", name="Анна Сергеевна Петрова")
    newer = make_chat(app, seller, 2, buyer_at=5, seller_at=6)
    response = api.get("/api/chats")
    assert response.status_code == 200
    body = response.get_json()
    assert chat_ids(response) == [newer, older] and body["next_cursor"] is None
    first, second = body["chats"]
    assert (first["awaiting_reply"], first["analysis"], first["last_message"]["sender"]) == (False, None, "seller")
    assert second["buyer_first_name"] == "Анна"
    assert second["analysis"]["urgency"] == "high" and second["analysis"]["covers_message_id"]
    assert second["last_message"]["text"] == "client 1"
    assert second["product"] == {"nmID": 1001, "price": 990, "priceCurrency": "RUB", "size": "M"}
    text = response.get_data(as_text=True)
    assert "Петрова" not in text and "Сергеевна" not in text and "reply_sign" not in text


def test_chats_filters(app, api):
    one, two = add_seller(app, "one"), add_seller(app, "two")
    a = make_chat(app, one, 1, buyer_at=1, urgency="high")
    b = make_chat(app, two, 2, buyer_at=2, urgency="low")
    c = make_chat(app, one, 3, buyer_at=3, seller_at=4)
    assert chat_ids(api.get(f"/api/chats?seller_id={one}")) == [c, a]
    assert chat_ids(api.get("/api/chats?awaiting_reply=true")) == [b, a]
    assert chat_ids(api.get("/api/chats?awaiting_reply=false")) == [c]
    assert chat_ids(api.get("/api/chats?urgency=high")) == [a]
    assert chat_ids(api.get("/api/chats?sentiment=neutral&category=question")) == [b, a]
    assert chat_ids(api.get("/api/chats?awaiting_reply=true&order=queue")) == [a, b]  # most urgent first
    assert chat_ids(api.get(f"/api/chats?seller_id={two}&urgency=high")) == []


def test_pages_stay_stable_while_new_chats_arrive(app, api):
    seller = add_seller(app)
    ids = [make_chat(app, seller, n, buyer_at=n) for n in range(7)]
    seen, url, n = [], "/api/chats?limit=2", 100
    while url:
        body = api.get(url).get_json()
        seen += [chat["id"] for chat in body["chats"]]
        make_chat(app, seller, n, buyer_at=n)  # a newer chat between every two pages
        n += 1
        url = f"/api/chats?limit=2&cursor={body['next_cursor']}" if body["next_cursor"] else None
    assert seen == list(reversed(ids))  # none skipped, none repeated


def test_chat_detail_has_product_messages_in_pages_and_analysis(app, api):
    seller = add_seller(app)
    chat_id = make_chat(app, seller, 1, buyer_at=1, seller_at=2, urgency="medium", name="Анна Петрова")
    with resources(app).db.session() as session:
        session.get(Chat, chat_id).reply_sign = "sign-secret-of-the-chat"
    response = api.get(f"/api/chats/{chat_id}?limit=1")
    assert response.status_code == 200
    chat = response.get_json()
    assert chat["id"] == chat_id and chat["buyer_first_name"] == "Анна"
    assert chat["product"]["rid"] == "x"  # the whole card
    assert [(m["sender"], m["text"]) for m in chat["messages"]] == [("seller", "seller 1")]
    assert chat["analysis"]["urgency"] == "medium" and chat["pending_replies"] == []
    older = api.get(f"/api/chats/{chat_id}?limit=1&before={chat['messages_before']}").get_json()
    assert [(m["sender"], m["text"]) for m in older["messages"]] == [("client", "client 1")]
    assert older["messages_before"] is None
    text = response.get_data(as_text=True)
    assert "sign-secret-of-the-chat" not in text and "Петрова" not in text


def test_unknown_chat_is_404(api):
    response = api.get("/api/chats/12345")
    assert response.status_code == 404
    assert response.get_json() == {"detail": "chat 12345 does not exist"}


def test_analysis_is_enqueued_once_while_pending(make_app, make_api):
    app = make_app(deepseek_api_key="sk-test-key-0123456789abcdef")
    api = make_api(app)
    chat_id = make_chat(app, add_seller(app), 1, buyer_at=1)
    first = api.post(f"/api/chats/{chat_id}/analysis")
    assert (first.status_code, first.get_json()) == (202, {"job_id": f"analyze-chat-{chat_id}"})
    again = api.post(f"/api/chats/{chat_id}/analysis")
    assert again.status_code == 409 and again.get_json()["job_id"] == f"analyze-chat-{chat_id}"
    assert api.post("/api/chats/999/analysis").status_code == 404


def test_analysis_off_is_409_saying_how_to_turn_it_on(app, api, redis_client):
    chat_id = make_chat(app, add_seller(app), 1, buyer_at=1)
    response = api.post(f"/api/chats/{chat_id}/analysis")
    assert response.status_code == 409
    assert response.get_json() == {"detail": "analysis is off: set DEEPSEEK_API_KEY to enable it"}
    assert redis_client.keys("*analyze-chat*") == []


# ----------------------------------------------------------------------------- replies

def reply_rows(app) -> list[Reply]:
    with resources(app).db.session() as session:
        return list(session.scalars(select(Reply).order_by(Reply.id)))


def test_a_reply_is_recorded_and_enqueued(app, api, redis_client):
    chat_id = make_chat(app, add_seller(app), 1, buyer_at=1)
    response = api.post(f"/api/chats/{chat_id}/reply", json={"text": "  Здравствуйте! Уже отправили.  "})
    assert response.status_code == 202
    [reply] = reply_rows(app)
    assert response.get_json() == {"job_id": f"reply-{reply.id}", "reply_id": reply.id, "state": "queued"}
    assert response.headers["Location"] == f"/api/jobs/reply-{reply.id}"
    assert (reply.text, reply.requested_by) == ("Здравствуйте! Уже отправили.", "api-key-1")
    assert "Idempotent-Replayed" not in response.headers
    job = api.get(f"/api/jobs/reply-{reply.id}").get_json()
    assert job == {"id": f"reply-{reply.id}", "kind": "send_reply", "status": "queued"}  # no arguments


def test_the_same_idempotency_key_names_the_same_reply(app, api):
    chat_id = make_chat(app, add_seller(app), 1, buyer_at=1)
    headers = {"Idempotency-Key": "3f1c9a2e-7b7d-4d7e-9a51-0c2b8d7f6e11"}
    first = api.post(f"/api/chats/{chat_id}/reply", json={"text": "Спасибо!"}, headers=headers)
    second = api.post(f"/api/chats/{chat_id}/reply", json={"text": "Спасибо!"}, headers=headers)
    assert first.status_code == second.status_code == 202
    assert first.get_json() == second.get_json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert len(reply_rows(app)) == 1
    other = api.post(f"/api/chats/{chat_id}/reply", json={"text": "Другой текст"}, headers=headers)
    assert other.status_code == 422
    assert other.get_json()["detail"].startswith("Idempotency-Key: was already used")
    assert len(reply_rows(app)) == 1


def test_idempotency_keys_belong_to_their_api_key(app, make_api):
    chat_id = make_chat(app, add_seller(app), 1, buyer_at=1)
    one, two = make_api(app, "one"), make_api(app, "two")
    headers = {"Idempotency-Key": "same-key-0001"}
    assert one.post(f"/api/chats/{chat_id}/reply", json={"text": "a"}, headers=headers).status_code == 202
    assert two.post(f"/api/chats/{chat_id}/reply", json={"text": "b"}, headers=headers).status_code == 202
    assert [r.requested_by for r in reply_rows(app)] == ["api-key-1", "api-key-2"]


def test_a_reply_to_an_unknown_chat_is_404(api):
    assert api.post("/api/chats/777/reply", json={"text": "hi"}).status_code == 404


# --------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("query, field", [
    ("limit=0", "limit"), ("limit=101", "limit"), ("limit=abc", "limit"), ("limit=1.5", "limit"),
    ("limit=99999999999999999999", "limit"), ("limit=", "limit"), ("limit=+5", "limit"),
    ("seller_id=-1", "seller_id"), ("seller_id=0", "seller_id"), ("seller_id=abc", "seller_id"),
    ("seller_id=2147483648", "seller_id"), ("awaiting_reply=yes", "awaiting_reply"),
    ("awaiting_reply=1", "awaiting_reply"), ("urgency=urgent", "urgency"), ("sentiment=", "sentiment"),
    ("category=refund", "category"), ("order=random", "order"), ("cursor=", "cursor"),
    ("cursor=garbage", "cursor"), ("cursor=" + "x" * 501, "cursor"), ("page=2", "page"),
    ("limit=5&limit=6", "limit"), ("=5", "(empty name)"),
])
def test_bad_list_parameters_are_400_naming_the_field(api, query, field):
    response = api.get(f"/api/chats?{query}")
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["detail"].startswith(f"{field}: ")


def _cursor(data) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize("keys, segment", [
    (["2026-11-01T12:00:00+00:00", 10**30], 1),          # an id larger than any column
    ([5, "2026-11-01T12:00:00+00:00"], 1),               # keys in the wrong order
    (["2026-11-01T12:00:00", 5], 1),                     # a time without its zone
    (["0001-01-01T00:00:00+05:00", 5], 1),               # before the start of time in UTC
    (["2026-11-01T12:00:00+00:00", True], 1),
    ([[1], "x", 2], 0),
    ([0, "2026-11-01T12:00:00+00:00", 5], 0),            # the queue's segment in the activity order
    (["2026-11-01T12:00:00+00:00", 5], True),
])
def test_forged_cursors_with_the_right_owner_are_refused(api, keys, segment):
    cursor = _cursor({"o": "activity", "f": ChatFilter().digest(), "s": segment, "k": keys})
    response = api.get(f"/api/chats?cursor={cursor}")
    assert response.status_code == 400
    assert response.get_json()["detail"].startswith("cursor: ")


def test_a_cursor_of_other_filters_is_refused(app, api):
    seller = add_seller(app)
    for n in range(3):
        make_chat(app, seller, n, buyer_at=n)
    cursor = api.get("/api/chats?limit=1").get_json()["next_cursor"]
    for other in (f"seller_id={seller}", "order=queue", "awaiting_reply=true"):
        response = api.get(f"/api/chats?limit=1&cursor={cursor}&{other}")
        assert response.status_code == 400
        assert response.get_json()["detail"] == ("cursor: belongs to another order or other filters; "
                                                 "start again without it")


@pytest.mark.parametrize("query, field", [("limit=0", "limit"), ("before=abc", "before"), ("before=99", "before"),
                                          ("before=0", "before"), ("after=5", "after")])
def test_bad_chat_parameters_are_400_naming_the_field(app, api, query, field):
    chat_id = make_chat(app, add_seller(app), 1, buyer_at=1)
    response = api.get(f"/api/chats/{chat_id}?{query}")
    assert response.status_code == 400
    assert response.get_json()["detail"].startswith(f"{field}: ")


@pytest.mark.parametrize("url", ["/api/chats/abc", "/api/chats/-1", "/api/chats/0", "/api/chats/2147483648",
                                 "/api/chats/99999999999999999999999", "/api/sellers/0/sync",
                                 "/api/jobs/reply-99999999999999999999", "/api/jobs/rq:job:abc",
                                 "/api/jobs/sync-seller-", "/api/jobs/reply-²", "/api/jobs/reply-١٢",
                                 "/api/jobs/reply-1%00", "/api/jobs/analyze-chat-" + "9" * 5000,
                                 "/api/jobs/" + "x" * 300])
def test_unknown_ids_are_404(api, url):
    response = api.open("POST" if url.endswith("sync") else "GET", url)
    assert response.status_code == 404
    assert set(response.get_json()) == {"detail"}


def test_a_job_of_another_kind_is_not_shown(app, api, redis_client):
    from chatcenter.queues import DEFAULT, queue

    job = queue(redis_client, DEFAULT).enqueue("jobs.diagnostics.raise_test_error")
    assert api.get(f"/api/jobs/{job.id}").status_code == 404


@pytest.mark.parametrize("body, content_type, detail", [
    (b"", "application/json", "text: is required"),
    (b"{}", "application/json", "text: is required"),
    (b"not json", "application/json", "body: is not valid JSON"),
    (b"text=hello", "application/x-www-form-urlencoded", "body: is not valid JSON"),
    (b'{"text": "hi",', "application/json", "body: is not valid JSON"),
    (b'["text"]', "application/json", "body: must be a JSON object, got list"),
    (b'"text"', "application/json", "body: must be a JSON object, got str"),
    (b"null", "application/json", "body: must be a JSON object, got NoneType"),
    (b"\xff\xfe{}", "application/json", "body: is not valid JSON"),
    (b"[" * 20000 + b"]" * 20000, "application/json", "body: is not valid JSON"),
    (b'{"text": "hi", "reply_sign": "x"}', "application/json", "reply_sign: is not a field of this request"),
    (b'{"text": 5}', "application/json", "text: must be a string"),
    (b'{"text": null}', "application/json", "text: must be a string"),
    (b'{"text": "   "}', "application/json", "text: must be 1 to 1000 characters after trimming, got 0"),
    (json.dumps({"text": "я" * 1001}).encode(), "application/json", "text: must be 1 to 1000 characters"),
    (b'{"text": "a\\u0000b"}', "application/json", "text: must not contain NUL characters"),
    (b'{"text": "\\ud800"}', "application/json", "text: is not valid Unicode text"),
])
def test_bad_reply_bodies_are_400_naming_the_field(app, api, body, content_type, detail):
    chat_id = make_chat(app, add_seller(app), 1, buyer_at=1)
    response = api.post(f"/api/chats/{chat_id}/reply", data=body, content_type=content_type)
    assert response.status_code == 400
    assert response.get_json()["detail"].startswith(detail)
    assert reply_rows(app) == []


@pytest.mark.parametrize("key", ["", "x" * 201, "has space", "кириллица", "tab\there"])
def test_bad_idempotency_keys_are_400(app, api, key):
    chat_id = make_chat(app, add_seller(app), 1, buyer_at=1)
    response = api.post(f"/api/chats/{chat_id}/reply", json={"text": "hi"}, headers={"Idempotency-Key": key})
    assert response.status_code == 400
    assert response.get_json()["detail"].startswith("Idempotency-Key: must be 1 to 200 visible ASCII")


def test_a_1000_character_reply_is_fine_after_trimming(app, api):
    chat_id = make_chat(app, add_seller(app), 1, buyer_at=1)
    response = api.post(f"/api/chats/{chat_id}/reply", json={"text": "\n " + "я" * 1000 + " \t"})
    assert response.status_code == 202


@pytest.mark.parametrize("url", ["/api/sellers/1/sync", "/api/chats/1/analysis"])
@pytest.mark.parametrize("body, detail", [(b'{"now": true}', "now: is not a field of this request (it takes: none)"),
                                          (b"[]", "body: must be a JSON object"), (b"{", "body: is not valid JSON")])
def test_posts_without_parameters_refuse_bodies_with_any(app, api, url, body, detail):
    add_seller(app)
    make_chat(app, 1, 1, buyer_at=1)
    response = api.post(url, data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["detail"].startswith(detail)


def test_oversized_bodies_are_413(app, api):
    chat_id = make_chat(app, add_seller(app), 1, buyer_at=1)
    body = json.dumps({"text": "a" * 70_000})
    response = api.post(f"/api/chats/{chat_id}/reply", data=body, content_type="application/json")
    assert response.status_code == 413
    assert set(response.get_json()) == {"detail"}
    assert reply_rows(app) == []


def test_unknown_query_parameters_are_refused_on_every_route(app, api):
    seller = add_seller(app)
    for method, url in API_ROUTES:
        response = api.open(method, url.replace("/1/", f"/{seller}/") + "?verbose=1")
        assert response.status_code == 400, (method, url)
        assert response.get_json()["detail"].startswith("verbose: is not a query parameter of this route")


# --------------------------------------------------------------------------- faults

def test_with_redis_down_enqueueing_is_503_and_reading_still_works(make_app, make_api):
    app = make_app(redis_url="redis://127.0.0.1:1/0")  # nothing listens there
    api = make_api(app)
    seller = add_seller(app)
    chat_id = make_chat(app, seller, 1, buyer_at=1)
    for url, body in ((f"/api/sellers/{seller}/sync", None), (f"/api/chats/{chat_id}/reply", {"text": "hi"})):
        response = api.post(url, json=body)
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "5"
        assert "job queue is unavailable" in response.get_json()["detail"]
    assert reply_rows(app) == []  # the failed reply request left nothing half-done
    assert api.get("/api/jobs/reply-1").status_code == 503
    assert chat_ids(api.get("/api/chats")) == [chat_id]
    assert api.get(f"/api/chats/{chat_id}").status_code == 200
    assert api.get("/api/sellers").status_code == 200


def test_no_sentry_event_from_any_4xx(make_app, make_api, sentry_receiver):
    import sentry_sdk

    sentry_receiver.clear()
    app = make_app(sentry_dsn=sentry_receiver.dsn, sentry_traces_sample_rate=0.0)
    api = make_api(app)
    chat_id = make_chat(app, add_seller(app), 1, buyer_at=1)
    statuses = {
        api.get("/api/chats", key=None).status_code,
        api.get("/api/chats?limit=0").status_code,
        api.get("/api/chats?cursor=garbage").status_code,
        api.get("/api/chats/999").status_code,
        api.post(f"/api/chats/{chat_id}/analysis").status_code,
        api.post(f"/api/chats/{chat_id}/reply", data=b"{", content_type="application/json").status_code,
        api.post(f"/api/chats/{chat_id}/reply", data=b"x" * 70_000).status_code,
        api.post(f"/api/chats/{chat_id}/reply", json={"text": "a"}, headers={"Idempotency-Key": "k-1"}).status_code,
        api.post(f"/api/chats/{chat_id}/reply", json={"text": "b"}, headers={"Idempotency-Key": "k-1"}).status_code,
    }
    assert statuses == {401, 400, 404, 409, 413, 202, 422}
    sentry_sdk.flush(timeout=5)
    assert sentry_receiver.events == []


def test_unknown_parameters_and_fields_are_refused_by_name_with_what_the_route_takes(app, api):
    chat_id = make_chat(app, add_seller(app), 1, buyer_at=1)
    listing = api.get("/api/chats?limit=5&sort=newest")
    assert listing.status_code == 400
    assert listing.get_json()["detail"] == ("sort: is not a query parameter of this route (it takes: seller_id, "
                                            "awaiting_reply, sentiment, urgency, category, q, status, assignee_id, "
                                            "order, limit, cursor)")
    detail = api.get(f"/api/chats/{chat_id}?page=2").get_json()["detail"]
    assert detail == "page: is not a query parameter of this route (it takes: limit, before)"
    reply = api.post(f"/api/chats/{chat_id}/reply", json={"text": "hi", "reply_sign": "x", "urgent": True})
    assert reply.status_code == 400
    assert reply.get_json()["detail"] == "reply_sign: is not a field of this request (it takes: text)"
    sync = api.post("/api/sellers/1/sync?force=1")
    assert sync.get_json()["detail"] == "force: is not a query parameter of this route (it takes: none)"
    assert reply_rows(app) == []
