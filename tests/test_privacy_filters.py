"""Unit tests of chatcenter.privacy over realistic event dicts.

The end-to-end leak test through a real Sentry receiver lives elsewhere; here the pure
filters are exercised directly, plus once through a real sentry-sdk client whose
transport only collects envelopes in memory (so the event shapes are the SDK's own).
"""
from __future__ import annotations

import copy
import json
import logging
import threading
import time

import pytest

from chatcenter import privacy
from chatcenter.privacy import (
    FILTERED,
    before_breadcrumb,
    before_send,
    before_send_transaction,
    clear_personal,
    personal_data_scope,
    register_personal,
    register_secret,
)

# Canaries: each must never survive a filter.
WB_JWT = "eyJhbGciOiJFUzI1NiIsImtpZCI6IjIwMjUifQ.eyJlbnQiOjEsInNpZCI6Ijk5In0.c2lnbmF0dXJl-_x"
DEEPSEEK_KEY = "sk-0123456789abcdef0123456789abcdef"
EMAIL = "ivan.petrov@example.ru"
PHONE = "+7 912 345-67-89"
BUYER = "Иван Петрович Сидоров"
CHAT_TEXT = "Верните деньги за куртку, заказ пришёл порванным"
PASSWORD = "hunter2-canary"


@pytest.fixture(autouse=True)
def _fresh_personal():
    clear_personal()
    yield
    clear_personal()


def dumps(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, default=str)


def assert_clean(obj, *canaries):
    text = dumps(obj)
    for canary in canaries:
        assert canary not in text, f"{canary!r} leaked: {text}"


def error_event(**overrides) -> dict:
    """An error event shaped like sentry-sdk's serialized output (before before_send)."""
    event = {
        "event_id": "a" * 32,
        "timestamp": "2026-11-28T10:00:00.000000Z",
        "level": "error",
        "platform": "python",
        "release": "chatcenter@0.1.0+abc123",
        "environment": "production",
        "server_name": "web-1",
        "transaction": "/api/chats/<int:chat_id>",
        "sdk": {"name": "sentry.python.flask", "version": "2.75.0"},
        "exception": {"values": [{
            "type": "WBAuthError",
            "module": "chatcenter.wb",
            "value": "401 for token " + WB_JWT,
            "mechanism": {"type": "flask", "handled": False},
            "stacktrace": {"frames": [{
                "filename": "chatcenter/wb.py",
                "abs_path": "/srv/chatcenter/wb.py",
                "function": "fetch_chats",
                "module": "chatcenter.wb",
                "lineno": 120,
                "context_line": "        raise WBAuthError(resp.status_code)",
                "in_app": True,
                "vars": {"chat_id": "42", "seller_id": "7", "self": "<WBClient>"},
            }]},
        }]},
        "contexts": {
            "runtime": {"name": "CPython", "version": "3.11.2"},
            "trace": {"trace_id": "b" * 32, "span_id": "c" * 16, "op": "http.server"},
        },
        "breadcrumbs": {"values": []},
    }
    event.update(overrides)
    return event


def frame_vars(event: dict) -> dict:
    return event["exception"]["values"][0]["stacktrace"]["frames"][0]["vars"]


# ------------------------------------------------------------------------- key rules

SECRET_KEYS = [
    "password", "passwd", "client_secret", "wb_token", "api_token", "apiKey", "api_key",
    "X-Api-Key", "auth", "Authorization", "Set-Cookie", "cookie", "session_id", "csrf_token",
    "SENTRY_DSN", "credentials", "private_key", "PRIVATE-KEY",
]


@pytest.mark.parametrize("key", SECRET_KEYS)
def test_secret_keys_are_filtered_everywhere(key):
    event = error_event(extra={key: "plain-value-1"}, tags={key: "plain-value-2"})
    frame_vars(event)[key] = "'plain-value-3'"
    event["request"] = {"headers": {key: "plain-value-4"}, "data": {"nested": [{key: "plain-value-5"}]}}
    out = before_send(event, {})
    assert out["extra"][key] == FILTERED
    assert out["tags"][key] == FILTERED
    assert frame_vars(out)[key] == FILTERED
    assert out["request"]["headers"][key] == FILTERED
    assert out["request"]["data"]["nested"][0][key] == FILTERED
    assert_clean(out, "plain-value")


PERSONAL_KEYS = [
    "client_name", "clientName", "buyer_name", "name", "email", "e_mail", "phone", "text",
    "message_text", "content", "summary", "suggested_reply", "reply_sign", "replySign",
    "messages",
]


@pytest.mark.parametrize("key", PERSONAL_KEYS)
def test_personal_keys_are_filtered_in_payload(key):
    event = error_event(extra={"chat": {key: "personal-value-1"}})
    frame_vars(event)[key] = "'personal-value-2'"
    event["request"] = {"data": {key: "personal-value-3"}}
    event["contexts"]["buyer"] = {key: "personal-value-4"}
    out = before_send(event, {})
    assert out["extra"]["chat"][key] == FILTERED
    assert frame_vars(out)[key] == FILTERED
    assert out["request"]["data"][key] == FILTERED
    assert out["contexts"]["buyer"][key] == FILTERED
    assert_clean(out, "personal-value")


def test_structural_keys_of_sentry_are_kept_but_their_values_masked():
    event = error_event(
        message="cannot reach " + EMAIL,
        logentry={"message": "reply to %s failed", "params": [EMAIL], "formatted": "x " + EMAIL},
    )
    out = before_send(event, {})
    assert out["contexts"]["runtime"]["name"] == "CPython"  # a Sentry context, not a buyer
    assert out["sdk"]["name"] == "sentry.python.flask"
    assert out["logentry"]["message"] == "reply to %s failed"
    assert out["logentry"]["params"] == [FILTERED]
    assert out["logentry"]["formatted"] == "x " + FILTERED
    assert out["message"] == "cannot reach " + FILTERED
    assert out["contexts"]["trace"]["op"] == "http.server"


def test_none_and_token_counts_stay():
    span_data = {"gen_ai.usage.input_tokens": 812, "password": None, "thread.name": "MainThread"}
    out = before_send_transaction(transaction_event(spans=[{"op": "http.client", "data": span_data}]), {})
    assert out["spans"][0]["data"] == span_data


# -------------------------------------------------------------------- value patterns

@pytest.mark.parametrize("secret", [
    "Bearer " + WB_JWT[:20],
    WB_JWT,
    DEEPSEEK_KEY,
    EMAIL,
    "ivan_99+shop@mail.ru",
    "+7 912 345-67-89",
    "8 (912) 345 67 89",
    "+79123456789",
    "89123456789",
    "8-912-345-67-89",
    "+44 20 7946 0958",
    "+1 (555) 123-4567",
])
def test_value_patterns_inside_longer_strings_and_nested(secret):
    sentence = f"buyer wrote: contact {secret} asap"
    event = error_event(
        extra={"deep": {"list": [{"note": sentence}, ("tuple", sentence)]}},
        tags={"note": sentence},
    )
    event["exception"]["values"][0]["value"] = sentence
    frame_vars(event)["note"] = repr(sentence)
    out = before_send(event, {})
    assert_clean(out, secret)
    assert "buyer wrote: contact" in out["exception"]["values"][0]["value"]
    assert FILTERED in out["extra"]["deep"]["list"][0]["note"]


def test_bearer_keeps_scheme_word():
    out = before_send(error_event(extra={"h": "Bearer abc.def-ghi"}), {})
    assert out["extra"]["h"] == "Bearer " + FILTERED


def test_inline_key_value_pairs_in_text():
    message = (
        f"login failed password={PASSWORD} wb_token: 'opaque-token-1' "
        "Chat(id=42, text='hello there', client_name=\"Olga\")"
    )
    out = before_send(error_event(message=message), {})
    assert_clean(out, PASSWORD, "opaque-token-1", "hello there", "Olga")
    assert "id=42" in out["message"]


def test_url_credentials_are_masked():
    out = before_send(error_event(message="redis://:s3cretpass@localhost:6379/0 down"), {})
    assert out["message"] == "redis://" + FILTERED + "@localhost:6379/0 down"


def test_ipv4_masked_in_request_and_user_but_not_elsewhere():
    event = error_event(
        request={"url": "http://10.0.0.5/api/chats", "env": {"REMOTE_ADDR": "203.0.113.9", "SERVER_PORT": "80"},
                 "headers": {"X-Real-Ip": "203.0.113.9", "Via": "1.1 203.0.113.10"}},
        extra={"upstream": "10.0.0.5:6379"},
    )
    out = before_send(event, {})
    assert_clean(out["request"], "203.0.113")
    assert out["request"]["env"] == {"SERVER_PORT": "80"}
    assert out["request"]["url"] == "http://10.0.0.5/api/chats"  # the server's own address
    assert out["extra"]["upstream"] == "10.0.0.5:6379"


# ----------------------------------------------------------------- registered values

def test_registered_secret_masked_inside_strings_everywhere():
    opaque = "opaque-deepseek-key-7f3a"  # matches no pattern: only the registry knows it
    register_secret(opaque)
    event = error_event(
        message=f"DeepSeek said no to key={opaque!r}",
        extra={"cfg": [{"x": f"prefix{opaque}suffix"}]},
        breadcrumbs={"values": [{"category": "log", "message": f"using {opaque}"}]},
    )
    frame_vars(event)["settings"] = f"Settings(deepseek={opaque!r})"
    out = before_send(event, {})
    assert_clean(out, opaque)
    assert out["extra"]["cfg"][0]["x"] == FILTERED  # the whole token around it goes


def test_registered_fragment_of_a_longer_token_masks_the_token():
    register_secret("fragment9876543210")
    out = before_send(error_event(message="key sk-00fragment9876543210zz1, chat 42"), {})
    assert out["message"] == f"key {FILTERED}, chat 42"


def test_short_and_empty_values_are_not_registered():
    register_secret("")
    register_secret(None)
    register_secret("abc")
    register_personal("Ян")
    out = before_send(error_event(extra={"word": "abc Ян abcdef"}), {})
    assert out["extra"]["word"] == "abc Ян abcdef"


def test_registered_personal_values_inside_strings_and_nested():
    register_personal(BUYER)
    register_personal(CHAT_TEXT)
    register_personal("It's \"quoted\"\nand multi-line")
    event = error_event(
        message=f"analysis failed for {BUYER}",
        extra={"deep": {"list": [f"last: {CHAT_TEXT}!"]}},
        logentry={"message": "chat %s", "params": [CHAT_TEXT]},
    )
    frame_vars(event)["msg"] = repr("It's \"quoted\"\nand multi-line")  # how vars show it
    frame_vars(event)["obj"] = f"<Chat author={BUYER!r}>"
    out = before_send(event, {})
    assert_clean(out, BUYER, CHAT_TEXT, "quoted")


def test_personal_values_are_context_local():
    results = {}

    def job(name):
        register_personal(f"buyer-{name}-value")
        time.sleep(0.01)
        out = before_send(error_event(extra={"a": "buyer-A-value", "b": "buyer-B-value"}), {})
        results[name] = out["extra"]

    threads = [threading.Thread(target=job, args=(n,)) for n in "AB"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results["A"] == {"a": FILTERED, "b": "buyer-B-value"}
    assert results["B"] == {"a": "buyer-A-value", "b": FILTERED}


def test_personal_scope_forgets_on_normal_exit_and_keeps_on_error():
    with personal_data_scope():
        register_personal("scoped-buyer-1")
    assert before_send(error_event(message="scoped-buyer-1"), {})["message"] == "scoped-buyer-1"

    with pytest.raises(RuntimeError):
        with personal_data_scope():
            register_personal("scoped-buyer-2")
            raise RuntimeError("job failed")
    # The error event is captured after the block: the value must still be masked.
    assert before_send(error_event(message="scoped-buyer-2"), {})["message"] == FILTERED
    clear_personal()
    assert before_send(error_event(message="scoped-buyer-2"), {})["message"] == "scoped-buyer-2"


# -------------------------------------------------------------- request, user, rq-job

def test_request_headers_cookies_query_and_bodies():
    event = error_event(request={
        "method": "POST",
        "url": f"https://chat.example/api/chats/42?api_token=t-123456&page=2&q={EMAIL.replace('@', '%40')}",
        "query_string": f"wb_token={WB_JWT}&page=2&phone=%2B79123456789",
        "headers": {"Authorization": "Bearer " + WB_JWT, "X-Api-Key": "op-key-123456",
                    "Cookie": "session=s-1", "X-Forwarded-For": "198.51.100.7", "Content-Type": "application/json"},
        "cookies": {"session": "s-1"},
        "data": {"chat_id": 42, "reply": {"text": CHAT_TEXT, "replySign": "sign-1234"}},
        "env": {"REMOTE_ADDR": "198.51.100.7", "SERVER_NAME": "chat.example"},
    })
    out = before_send(event, {})
    req = out["request"]
    assert_clean(req, WB_JWT, "t-123456", EMAIL, "ivan.petrov%40example.ru", "79123456789",
                 "op-key-123456", "s-1", "198.51.100.7", CHAT_TEXT, "sign-1234")
    assert req["url"] == f"https://chat.example/api/chats/42?api_token={FILTERED}&page=2&q={FILTERED}"
    assert req["query_string"] == f"wb_token={FILTERED}&page=2&phone={FILTERED}"
    assert req["headers"]["Content-Type"] == "application/json"
    assert req["data"]["chat_id"] == 42
    assert req["method"] == "POST"
    assert "REMOTE_ADDR" not in req["env"]


def test_query_string_list_form_and_header_pairs():
    event = error_event(request={
        "query_string": [["token", "abc-123456"], ["page", "2"], ["email", "x@y.ru"]],
        "headers": [["X-Api-Key", "op-key-123456"], ["Accept", "*/*"]],
    })
    out = before_send(event, {})
    assert out["request"]["query_string"] == [["token", FILTERED], ["page", "2"], ["email", FILTERED]]
    assert out["request"]["headers"] == [["X-Api-Key", FILTERED], ["Accept", "*/*"]]


@pytest.mark.parametrize("body,kept", [
    (json.dumps({"password": PASSWORD, "chat_id": 5, "clientName": BUYER}, ensure_ascii=False), '"chat_id": 5'),
    (f"password={PASSWORD}&chat_id=5&name=Olga", "chat_id=5"),
    (f"free text with {EMAIL} and {PHONE}", "free text with"),
])
def test_raw_request_bodies(body, kept):
    out = before_send(error_event(request={"data": body}), {})
    assert_clean(out, PASSWORD, BUYER, "Olga", EMAIL, PHONE)
    assert kept in out["request"]["data"]


def test_rq_job_description_args_and_kwargs():
    event = error_event(extra={"rq-job": {
        "job_id": "sync-7",
        "func": "jobs.sync.sync_seller_chats",
        "description": f"jobs.sync.sync_seller_chats(7, token='{WB_JWT}', note='opaque-arg')",
        "args": [7, WB_JWT],
        "kwargs": {"note": "opaque-arg"},
        "enqueued_at": "2026-11-28T10:00:00Z",
    }})
    job = before_send(event, {})["extra"]["rq-job"]
    assert job == {"job_id": "sync-7", "func": "jobs.sync.sync_seller_chats",
                   "description": "jobs.sync.sync_seller_chats", "enqueued_at": "2026-11-28T10:00:00Z"}


def test_user_keeps_only_id():
    out = before_send(error_event(user={"id": "op-3", "email": EMAIL, "username": "olga",
                                         "ip_address": "198.51.100.7", "name": BUYER}), {})
    assert out["user"] == {"id": "op-3"}
    assert "user" not in before_send(error_event(user={"ip_address": "{{auto}}"}), {})


# -------------------------------------------------------------------------- breadcrumbs

def test_http_breadcrumb_with_token_in_query():
    crumb = {"type": "http", "category": "httplib", "level": "info",
             "data": {"url": "https://buyer-chat-api.wildberries.ru/api/v1/seller/events",
                      "http.method": "GET", "http.query": f"next=1700000000000&token={WB_JWT}",
                      "status_code": 200}}
    out = before_breadcrumb(crumb, {})
    assert out["data"]["http.query"] == f"next=1700000000000&token={FILTERED}"
    assert out["data"]["url"].endswith("/api/v1/seller/events")
    assert out["data"]["status_code"] == 200
    assert crumb["data"]["http.query"].endswith(WB_JWT)  # the input is not mutated


def test_log_breadcrumb_with_email_and_datetime_timestamp():
    from datetime import datetime, timezone

    stamp = datetime.now(timezone.utc)
    crumb = {"type": "log", "category": "chatcenter.jobs", "level": "warning", "timestamp": stamp,
             "message": f"reply to {EMAIL} bounced", "data": {"buyer_email": EMAIL, "chat_id": 42}}
    out = before_breadcrumb(crumb, {"log_record": object()})
    assert out["message"] == f"reply to {FILTERED} bounced"
    assert out["data"] == {"buyer_email": FILTERED, "chat_id": 42}
    assert out["timestamp"] is stamp and out["category"] == "chatcenter.jobs"


def test_breadcrumbs_inside_an_event_are_scrubbed_again():
    register_personal(BUYER)  # registered after the crumb was recorded
    event = error_event(breadcrumbs={"values": [
        {"type": "log", "category": "x", "message": f"synced chat of {BUYER}", "data": {"text": CHAT_TEXT}},
    ]})
    out = before_send(event, {})
    assert_clean(out, BUYER, CHAT_TEXT)


# ------------------------------------------------------------------------- transactions

def transaction_event(spans=None, **overrides) -> dict:
    event = {
        "type": "transaction",
        "event_id": "d" * 32,
        "transaction": "/api/chats/<int:chat_id>",
        "transaction_info": {"source": "url"},
        "start_timestamp": "2026-11-28T10:00:00Z",
        "timestamp": "2026-11-28T10:00:01Z",
        "contexts": {"trace": {"trace_id": "b" * 32, "span_id": "c" * 16, "op": "http.server",
                               "status": "ok", "data": {"thread.name": "MainThread"}}},
        "spans": spans or [],
        "request": {"url": "https://chat.example/api/chats/42", "query_string": "token=abc-123456"},
    }
    event.update(overrides)
    return event


def test_transaction_spans_description_and_data():
    spans = [
        {"op": "http.client", "span_id": "e" * 16,
         "description": f"GET https://buyer-chat-api.wildberries.ru/api/v1/seller/chats?token={WB_JWT}",
         "data": {"http.query": f"token={WB_JWT}", "http.response.status_code": 200,
                  "headers": {"Authorization": WB_JWT}}},
        {"op": "http.client", "description": "POST https://api.deepseek.com/chat/completions",
         "data": {"messages": [{"role": "user", "content": CHAT_TEXT}], "Authorization": "Bearer " + DEEPSEEK_KEY}},
        {"op": "db", "description": f"SELECT * FROM chats WHERE client_email = '{EMAIL}'"},
    ]
    out = before_send_transaction(transaction_event(spans=spans), {})
    assert_clean(out, WB_JWT, DEEPSEEK_KEY, CHAT_TEXT, EMAIL, "abc-123456")
    assert out["transaction"] == "/api/chats/<int:chat_id>"
    assert [s["op"] for s in out["spans"]] == ["http.client", "http.client", "db"]
    assert out["spans"][0]["data"]["http.response.status_code"] == 200
    assert out["spans"][1]["description"] == "POST https://api.deepseek.com/chat/completions"
    assert out["contexts"]["trace"]["status"] == "ok"


# ------------------------------------------------------------ check-ins and fallback

def test_check_in_is_returned_unchanged():
    check_in = {"type": "check_in", "check_in_id": "f" * 32, "monitor_slug": "sync-all-sellers",
                "status": "ok", "monitor_config": {"schedule": {"type": "crontab", "value": "*/5 * * * *"}},
                "contexts": {"trace": {"trace_id": "b" * 32}}}
    before = copy.deepcopy(check_in)
    assert before_send(check_in, {}) is check_in
    assert check_in == before


def test_internal_error_returns_minimal_safe_event(monkeypatch, caplog):
    def boom(event):
        event["extra"]["half"] = "mutated"
        raise RuntimeError(f"broken while looking at {WB_JWT}")

    monkeypatch.setattr(privacy, "EVENT_FILTERS", (boom,))
    event = error_event(extra={"k": WB_JWT}, message=EMAIL)
    frame_vars(event)["wb_token"] = repr(WB_JWT)
    with caplog.at_level(logging.WARNING, logger="chatcenter.privacy"):
        out = before_send(event, {})
    assert out is not None
    assert_clean(out, WB_JWT, EMAIL)
    assert_clean(caplog.text, WB_JWT)
    exc = out["exception"]["values"][0]
    assert exc["type"] == "WBAuthError" and exc["value"] == FILTERED
    frame = exc["stacktrace"]["frames"][0]
    assert frame == {"filename": "chatcenter/wb.py", "abs_path": "/srv/chatcenter/wb.py",
                     "module": "chatcenter.wb", "function": "fetch_chats", "lineno": 120, "in_app": True}
    assert out["tags"] == {"privacy_filter": "fallback"}
    assert out["release"] == "chatcenter@0.1.0+abc123"


def test_internal_error_on_transaction_keeps_timing_only(monkeypatch):
    monkeypatch.setattr(privacy, "EVENT_FILTERS", (lambda e: 1 / 0,))
    spans = [{"op": "http.client", "span_id": "e" * 16, "description": "GET ?token=" + WB_JWT,
              "data": {"x": EMAIL}, "start_timestamp": 1.0, "timestamp": 2.0}]
    out = before_send_transaction(transaction_event(spans=spans), {})
    assert out["type"] == "transaction"
    assert out["spans"] == [{"op": "http.client", "span_id": "e" * 16, "start_timestamp": 1.0, "timestamp": 2.0}]
    assert_clean(out, WB_JWT, EMAIL, "abc-123456")


def test_fallback_of_the_fallback_is_still_an_event(monkeypatch):
    monkeypatch.setattr(privacy, "EVENT_FILTERS", (lambda e: 1 / 0,))
    event = error_event()
    event["exception"] = {"values": ["not a dict"]}  # makes the minimal builder fail too
    out = before_send(event, {})
    assert out["message"] == "event replaced: privacy filter failed"


def test_breadcrumb_internal_error_keeps_category_only(monkeypatch):
    monkeypatch.setattr(privacy, "_scrub_tree", lambda crumb: 1 / 0)
    out = before_breadcrumb({"type": "log", "category": "wb", "level": "info", "message": EMAIL}, {})
    assert out == {"type": "log", "category": "wb", "level": "info", "message": FILTERED}


# ------------------------------------------------------------------- useful data kept

def test_useful_fields_survive():
    event = error_event(extra={"rq-job": {"job_id": "analysis-42", "func": "jobs.analysis.analyze_chat_with_ai",
                                          "description": "jobs.analysis.analyze_chat_with_ai(42)"}},
                        tags={"component": "worker", "status_code": "502"},
                        release="chatcenter@2026.11.rc")  # would look like an e-mail to the walk
    out = before_send(event, {})
    exc = out["exception"]["values"][0]
    frame = exc["stacktrace"]["frames"][0]
    assert exc["type"] == "WBAuthError" and exc["value"] == "401 for token " + FILTERED
    assert (frame["filename"], frame["function"], frame["lineno"]) == ("chatcenter/wb.py", "fetch_chats", 120)
    assert frame["vars"] == {"chat_id": "42", "seller_id": "7", "self": "<WBClient>"}
    assert frame["context_line"] == "        raise WBAuthError(resp.status_code)"
    assert out["transaction"] == "/api/chats/<int:chat_id>"
    assert out["extra"]["rq-job"]["description"] == "jobs.analysis.analyze_chat_with_ai"
    assert out["tags"] == {"component": "worker", "status_code": "502"}
    assert out["release"] == "chatcenter@2026.11.rc"
    for key in ("event_id", "timestamp", "environment", "server_name", "sdk"):
        assert out[key] == event[key]


def test_source_lines_keep_code_but_lose_literal_secrets():
    event = error_event()
    frame = event["exception"]["values"][0]["stacktrace"]["frames"][0]
    frame["pre_context"] = ["    span = start_span(name=chat.title, text=body)", f"    key = '{DEEPSEEK_KEY}'"]
    frame["context_line"] = "    raise WBError(name=seller.name)"
    out_frame = before_send(event, {})["exception"]["values"][0]["stacktrace"]["frames"][0]
    assert out_frame["pre_context"] == ["    span = start_span(name=chat.title, text=body)", f"    key = '{FILTERED}'"]
    assert out_frame["context_line"] == "    raise WBError(name=seller.name)"


def test_scrubbing_is_fast_enough():
    for i in range(300):  # a realistic registry: many sellers' tokens
        register_secret(f"seller-token-{i:04d}-" + "x" * 40)
    event = error_event(request={"url": "https://x/api?page=2", "headers": {"A": "b"} | {f"H{i}": "v" for i in range(20)}})
    event["exception"]["values"][0]["stacktrace"]["frames"] *= 30
    before_send(event, {})  # warm the regex cache
    start = time.perf_counter()
    for _ in range(20):
        before_send(event, {})
    per_event = (time.perf_counter() - start) / 20
    assert per_event < 0.05, per_event


# -------------------------------------------------- real sentry-sdk shaped events

class _Collect:
    """Builds a sentry-sdk Transport that keeps envelopes in memory."""

    def __new__(cls):
        from sentry_sdk.transport import Transport

        class Collecting(Transport):
            def __init__(self, options=None):
                super().__init__(options)
                self.envelopes = []

            def capture_envelope(self, envelope):
                self.envelopes.append(envelope)

            def flush(self, timeout, callback=None):
                return None

        return Collecting()


def _fail_in_job(seller_id, wb_token, buyer_email):
    chat_id = 42
    raise PermissionError(f"WB rejected {wb_token} while replying to {buyer_email}")


def test_real_sdk_error_event_transaction_and_check_in():
    import sentry_sdk
    from sentry_sdk.crons import capture_checkin

    transport = _Collect()
    register_secret(DEEPSEEK_KEY)
    sentry_sdk.init(
        dsn="https://publickey1234@o0.ingest.invalid/1",
        transport=transport,
        traces_sample_rate=1.0,
        include_local_variables=True,
        # The worst case: collect everything; data_collection also switches the SDK's
        # own EventScrubber off, so only chatcenter.privacy stands in the way.
        data_collection={"user_info": True, "queues": True, "stack_frame_variables": True},
        before_send=before_send,
        before_send_transaction=before_send_transaction,
        before_breadcrumb=before_breadcrumb,
    )
    sentry_sdk.set_user({"id": "op-3", "email": EMAIL, "ip_address": "198.51.100.7"})
    register_personal(BUYER)
    logging.getLogger("chatcenter.test").warning("reply to %s (%s) for %s", EMAIL, PHONE, BUYER)
    sentry_sdk.add_breadcrumb(type="http", category="httplib",
                              data={"url": "https://buyer-chat-api.wildberries.ru/x", "http.query": "token=" + WB_JWT})
    with sentry_sdk.start_transaction(op="queue.task.rq", name="jobs.sync.sync_seller_chats"):
        with sentry_sdk.start_span(op="http.client", name=f"GET https://api.deepseek.com/x?key={DEEPSEEK_KEY}") as span:
            span.set_data("messages", [{"role": "user", "content": CHAT_TEXT}])
        try:
            _fail_in_job(7, WB_JWT, EMAIL)
        except PermissionError:
            sentry_sdk.capture_exception()
    capture_checkin(monitor_slug="sync-all-sellers", status="ok")
    sentry_sdk.flush()

    items = [item for env in transport.envelopes for item in env.items]
    by_type = {item.headers.get("type"): item.payload.json for item in items}
    assert set(by_type) >= {"event", "transaction", "check_in"}
    assert_clean([by_type["event"], by_type["transaction"]], WB_JWT, DEEPSEEK_KEY, EMAIL, PHONE,
                 BUYER, CHAT_TEXT, "198.51.100.7")

    event = by_type["event"]
    exc = event["exception"]["values"][-1]
    frame = exc["stacktrace"]["frames"][-1]
    assert exc["type"] == "PermissionError"
    assert frame["function"] == "_fail_in_job"
    assert frame["vars"]["chat_id"] == "42" and frame["vars"]["seller_id"] == "7"
    assert frame["vars"]["wb_token"] == FILTERED and frame["vars"]["buyer_email"] == FILTERED
    assert frame["pre_context"][-1] == "    chat_id = 42"  # source lines stay readable
    assert event["user"] == {"id": "op-3"}
    crumbs = event["breadcrumbs"]["values"]
    assert any(c.get("category") == "httplib" and c["data"]["http.query"] == "token=" + FILTERED for c in crumbs)

    transaction = by_type["transaction"]
    assert transaction["transaction"] == "jobs.sync.sync_seller_chats"
    assert transaction["spans"][0]["op"] == "http.client"
    assert by_type["check_in"]["monitor_slug"] == "sync-all-sellers"
    assert by_type["check_in"]["status"] == "ok"


# ------------------------------------------ shapes found by the end-to-end leak test

def test_escaped_non_ascii_is_decoded_before_registered_values_are_matched():
    register_personal(CHAT_TEXT)
    body = json.dumps({"error": {"detail": f"flagged: {CHAT_TEXT}"}}, ensure_ascii=False).encode()
    ascii_body = json.dumps({"error": {"detail": f"flagged: {CHAT_TEXT}"}}).encode()  # \uXXXX
    event = error_event()
    frame_vars(event).update(raw=repr(body), ascii_raw=repr(ascii_body), text_of_repr=repr(str(body)))
    frame_vars(event)["cut"] = repr(CHAT_TEXT.encode()[:5])  # ends inside a character
    out = frame_vars(before_send(event, {}))
    assert_clean(out, CHAT_TEXT, "\\xd0\\x92\\xd0\\xb5", "\\u0412\\u0435")
    assert out["raw"] == f"b'{{\"error\": {{\"detail\": \"flagged: {FILTERED}\"}}}}'"
    assert out["cut"] == repr(CHAT_TEXT.encode()[:5])  # no text: left as it was


def test_generic_personal_keys_in_dict_reprs_and_json_text():
    # Sentry turns a dict nested deeper than 5 into its repr; JSON bodies arrive as text.
    nested = repr({"clientName": BUYER, "message": {"text": CHAT_TEXT}, "chat_id": 42})
    out = before_send(error_event(extra={"deep": nested, "body": json.dumps({"summary": "s-1234"})}), {})
    assert_clean(out, BUYER, CHAT_TEXT, "s-1234")
    assert "'chat_id': 42" in out["extra"]["deep"]


def test_wsgi_environ_names_in_frame_variables():
    event = error_event()
    frame_vars(event)["environ"] = {
        "HTTP_X_FORWARDED_FOR": "'198.51.100.7, 10.0.0.1'", "HTTP_X_REAL_IP": "'198.51.100.7'",
        "QUERY_STRING": "'q=ivan.petrov%40example.ru&page=2'", "PATH_INFO": "'/api/chats'"}
    out = frame_vars(before_send(event, {}))["environ"]
    assert out["HTTP_X_FORWARDED_FOR"] == out["HTTP_X_REAL_IP"] == FILTERED
    assert out["QUERY_STRING"] == f"'q={FILTERED}&page=2'"
    assert out["PATH_INFO"] == "'/api/chats'"
