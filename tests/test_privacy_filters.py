"""Unit tests of chatcenter.observability.scrubber over realistic event dicts, and once
through a real sentry-sdk client into the local Sentry receiver.

The end-to-end canary test (test_privacy_leaks.py) is the judge of the whole; these pin
down each filter so a regression says which rule broke.
"""
from __future__ import annotations

import copy
import json
import logging

import pytest

from chatcenter.observability import scrubber
from chatcenter.observability.scrubber import (
    FILTERED, before_breadcrumb, before_send, before_send_transaction, clear_personal, mask,
    register_personal, register_secret,
)

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


def assert_clean(obj, *canaries):
    text = json.dumps(obj, ensure_ascii=False, default=str)
    for canary in canaries:
        assert canary not in text, f"{canary!r} leaked: {text}"


def error_event(**overrides) -> dict:
    """An error event shaped like sentry-sdk's serialized output (before before_send)."""
    event = {
        "event_id": "a" * 32,
        "timestamp": "2026-11-28T10:00:00.000000Z",
        "level": "error",
        "platform": "python",
        "release": "chatcenter@2026.11.rc",  # shaped like an e-mail: must survive
        "environment": "production",
        "server_name": "web-1",
        "transaction": "/api/chats/<int:chat_id>",
        "sdk": {"name": "sentry.python.flask", "version": "2.75.0"},
        "exception": {"values": [{
            "type": "WBAuthError",
            "module": "chatcenter.clients.wb",
            "value": "401 for token " + WB_JWT,
            "stacktrace": {"frames": [{
                "filename": "chatcenter/clients/wb.py", "function": "list_chats", "lineno": 120,
                "context_line": "        raise WBAuthError(resp.status_code)", "in_app": True,
                "vars": {"token": repr(WB_JWT), "chat_id": "42"},
            }]},
        }]},
        "tags": {"component": "worker", "request_id": "4f1c2b"},
        "contexts": {"trace": {"trace_id": "b" * 32, "span_id": "c" * 16, "op": "http.server"}},
        "breadcrumbs": {"values": []},
    }
    event.update(overrides)
    return event


# ------------------------------------------------------------------- value patterns

@pytest.mark.parametrize("text, expected", [
    (f"401 for {WB_JWT}", f"401 for {FILTERED}"),
    (f"Authorization: Bearer {DEEPSEEK_KEY}", f"Authorization: Bearer {FILTERED}"),
    (f"key {DEEPSEEK_KEY} refused", f"key {FILTERED} refused"),
    (f"write to {EMAIL} please", f"write to {FILTERED} please"),
    (f"call {PHONE} or 8 (912) 345 67 89", f"call {FILTERED} or {FILTERED}"),
    ("redis://:s3cretpass@localhost:6379/0 down", f"redis://{FILTERED}@localhost:6379/0 down"),
    (f"Credentials(login='op', password='{PASSWORD}')", f"Credentials(login='op', password={FILTERED})"),
    (f"GET /x?token={WB_JWT}&page=2", f"GET /x?token={FILTERED}&page=2"),
    ("chat 42 synced: 3 messages in 12 ms", "chat 42 synced: 3 messages in 12 ms"),
    # WB's problem title is why WB refused, not a secret: "auth" inside a word is no name.
    ("WB API rejected the token (401): unauthorized: token expired",
     "WB API rejected the token (401): unauthorized: token expired"),
    (f"x-wb-token: {PASSWORD}", f"x-wb-token: {FILTERED}"),
])
def test_value_patterns_are_masked_inside_text(text, expected):
    assert mask(text) == expected


def test_registered_secret_masks_the_whole_word_around_it():
    register_secret("tok-1234-secret")
    assert mask("header x-tok-1234-secret-suffix sent") == f"header {FILTERED} sent"


def test_short_values_are_not_registered():
    register_secret("ab")
    register_personal("Ян")
    assert mask("ab Ян ab") == "ab Ян ab"


def test_registered_buyer_values_belong_to_the_current_request_or_job():
    register_personal(BUYER)
    assert mask(f"chat of {BUYER}") == f"chat of {FILTERED}"
    clear_personal()  # the worker and the web app do this before each job and request
    assert mask(f"chat of {BUYER}") == f"chat of {BUYER}"


# ------------------------------------------------------------------------ event filters

def test_frame_variables_are_dropped_whatever_the_sdk_collected():
    out = before_send(error_event(), {})
    frame = out["exception"]["values"][0]["stacktrace"]["frames"][0]
    assert "vars" not in frame
    assert (frame["function"], frame["lineno"], frame["context_line"]) == (
        "list_chats", 120, "        raise WBAuthError(resp.status_code)")


def test_request_keeps_method_path_parameter_names_and_harmless_headers():
    request = {
        "method": "POST", "url": f"https://chat.example.com/api/chats/7/reply?token={WB_JWT}",
        "query_string": f"token={WB_JWT}&q={EMAIL}&page=2",
        "headers": {"Authorization": f"Bearer {WB_JWT}", "X-Wb-Token": WB_JWT, "Cookie": "session=s-1",
                    "X-Forwarded-For": "198.51.100.7", "Content-Type": "application/json", "User-Agent": "curl/8"},
        "data": {"text": CHAT_TEXT, "password": PASSWORD},
        "cookies": {"session": "s-1"},
        "env": {"REMOTE_ADDR": "198.51.100.7"},
    }
    out = before_send(error_event(request=request), {})
    assert out["request"] == {
        "method": "POST", "url": "https://chat.example.com/api/chats/7/reply",
        "query_string": f"token={FILTERED}&q={FILTERED}&page={FILTERED}",
        "headers": {"Content-Type": "application/json", "User-Agent": "curl/8"},
    }


def test_user_keeps_only_its_id():
    out = before_send(error_event(user={"id": "operator:5", "email": EMAIL, "ip_address": "198.51.100.7"}), {})
    assert out["user"] == {"id": "operator:5"}
    assert "user" not in before_send(error_event(user={"ip_address": "198.51.100.7"}), {})


def test_rq_job_keeps_id_and_function_never_arguments():
    job = {"job_id": "reply-9", "func": "jobs.reply.send_reply", "args": [9], "kwargs": {"text": CHAT_TEXT},
           "description": f"jobs.reply.send_reply(9, text={CHAT_TEXT!r})", "enqueued_at": "2026-11-28T10:00:00Z"}
    out = before_send(error_event(extra={"rq-job": job}), {})
    assert out["extra"]["rq-job"] == {"job_id": "reply-9", "func": "jobs.reply.send_reply",
                                      "enqueued_at": "2026-11-28T10:00:00Z",
                                      "description": "jobs.reply.send_reply"}


def test_useful_fields_survive():
    out = before_send(error_event(), {})
    assert out["exception"]["values"][0]["value"] == f"401 for token {FILTERED}"
    assert out["release"] == "chatcenter@2026.11.rc"
    assert out["transaction"] == "/api/chats/<int:chat_id>"
    assert out["tags"] == {"component": "worker", "request_id": "4f1c2b"}


def test_messages_breadcrumbs_and_spans_are_masked():
    register_personal(BUYER)
    crumb = {"type": "log", "category": "jobs.reply", "level": "info", "message": f"reply to {BUYER} <{EMAIL}>"}
    event = error_event(logentry={"message": "refused %s", "params": [DEEPSEEK_KEY]},
                        breadcrumbs={"values": [copy.deepcopy(crumb)]})
    out = before_send(event, {})
    assert out["logentry"] == {"message": "refused %s", "params": [FILTERED]}
    assert out["breadcrumbs"]["values"][0]["message"] == f"reply to {FILTERED} <{FILTERED}>"
    assert before_breadcrumb(crumb, {})["message"] == f"reply to {FILTERED} <{FILTERED}>"
    spans = [{"op": "http.client", "description": f"GET https://wb/x?token={WB_JWT}", "data": {"u": EMAIL}}]
    tx = before_send_transaction({"type": "transaction", "transaction": "jobs.sync.sync_seller_chats",
                                  "spans": spans, "contexts": {"trace": {"op": "queue.task.rq"}}}, {})
    assert tx["spans"][0] == {"op": "http.client", "description": f"GET https://wb/x?token={FILTERED}",
                              "data": {"u": FILTERED}}


def test_sql_breadcrumbs_pass_as_they_are_but_never_with_their_parameters():
    """Our statements carry placeholders, not values: masking each query's breadcrumb when
    it is made would cost every request; whatever is sent is still masked by before_send.
    Parameters are row values (a buyer's text is no pattern to mask): they never go."""
    register_personal(BUYER)
    sql = {"type": "default", "category": "query", "message": "SELECT chats.id FROM chats WHERE chats.id = %(id)s",
           "data": {}}
    assert before_breadcrumb(sql, {}) is sql and sql["message"].endswith("%(id)s")
    with_params = {"category": "query", "message": "SELECT 1", "data": {"db.params": ["Куртка порвана"]}}
    assert before_breadcrumb(with_params, {})["data"] == {}
    span = {"op": "db", "description": "INSERT INTO replies", "data": {"db.params": ["Куртка порвана"]}}
    transaction = before_send_transaction({"type": "transaction", "spans": [span]}, {})
    assert transaction["spans"][0]["data"] == {}
    event = error_event(breadcrumbs={"values": [{"category": "query", "message": f"SELECT '{EMAIL}'"}]})
    assert before_send(event, {})["breadcrumbs"]["values"][0]["message"] == f"SELECT '{FILTERED}'"


def test_check_in_is_returned_unchanged():
    check_in = {"type": "check_in", "check_in_id": "f" * 32, "monitor_slug": "chatcenter-sync-all-sellers",
                "status": "ok", "monitor_config": {"schedule": {"type": "interval", "value": 1, "unit": "minute"}}}
    before = copy.deepcopy(check_in)
    assert before_send(check_in, {}) is check_in
    assert check_in == before


# ------------------------------------------------------------- a filter that breaks

def test_a_broken_filter_sends_a_minimal_event_not_the_raw_one(monkeypatch, caplog):
    def boom(event):
        raise RuntimeError(f"broken while looking at {WB_JWT}")

    monkeypatch.setattr(scrubber, "EVENT_FILTERS", (boom,))
    with caplog.at_level(logging.WARNING, logger=scrubber.__name__):
        out = before_send(error_event(extra={"k": WB_JWT}, message=EMAIL), {})
    assert_clean(out, WB_JWT, EMAIL)
    assert_clean(caplog.text, WB_JWT)
    exc = out["exception"]["values"][0]
    assert exc["type"] == "WBAuthError" and exc["value"] == FILTERED
    assert exc["stacktrace"]["frames"] == [{"filename": "chatcenter/clients/wb.py", "function": "list_chats",
                                            "lineno": 120, "in_app": True}]
    assert out["tags"] == {"privacy_filter": "fallback"}


def test_a_broken_filter_keeps_only_the_timing_of_a_transaction(monkeypatch):
    monkeypatch.setattr(scrubber, "EVENT_FILTERS", (lambda e: 1 / 0,))
    spans = [{"op": "http.client", "span_id": "e" * 16, "description": "GET ?token=" + WB_JWT,
              "data": {"x": EMAIL}, "start_timestamp": 1.0, "timestamp": 2.0}]
    out = before_send_transaction({"type": "transaction", "transaction": "/api/chats", "spans": spans,
                                   "contexts": {"trace": {"trace_id": "b" * 32, "op": "http.server",
                                                          "data": {"url": EMAIL}}}}, {})
    assert out["spans"] == [{"op": "http.client", "span_id": "e" * 16, "start_timestamp": 1.0, "timestamp": 2.0}]
    assert out["contexts"] == {"trace": {"op": "http.server", "trace_id": "b" * 32}}
    assert_clean(out, WB_JWT, EMAIL)


# --------------------------------------------------------- through a real SDK client

def _fail_in_job(seller_id, wb_token, buyer_email):
    raise PermissionError(f"WB rejected {wb_token} while replying to {buyer_email}")


def test_real_sdk_client_sends_keys_masked_by_the_event_scrubber(make_app, sentry_receiver):
    import sentry_sdk

    sentry_receiver.clear()
    make_app(sentry_dsn=sentry_receiver.dsn, deepseek_api_key=DEEPSEEK_KEY)
    # Built at run time: source lines of the frames (sent as context) must not hold them.
    address, opaque, plain = ".".join(["198", "51", "100", "7"]), "opaque-" + "value-77", "plain-" + "words"
    sentry_sdk.set_user({"id": "operator:3", "email": EMAIL, "ip_address": address})
    sentry_sdk.set_extra("wb_token", opaque)  # no pattern matches it: the key denylist does
    sentry_sdk.set_extra("payload", {"nested": {"password": plain}})
    logging.getLogger("chatcenter.test").warning("reply to %s (%s)", EMAIL, PHONE)
    try:
        _fail_in_job(7, WB_JWT, EMAIL)
    except PermissionError:
        sentry_sdk.capture_exception()
    sentry_sdk.flush(timeout=5)

    [event] = sentry_receiver.wait_for("event", 1)
    assert_clean(event, WB_JWT, DEEPSEEK_KEY, EMAIL, PHONE, address, opaque, plain)
    assert event["user"] == {"id": "operator:3"}
    assert event["exception"]["values"][-1]["stacktrace"]["frames"][-1]["function"] == "_fail_in_job"


def test_masking_a_breadcrumb_leaves_the_objects_it_refers_to_alone():
    """An SDK told to record query parameters hands the statement's live parameters to
    before_breadcrumb before the query runs: masked in place, the query would look for
    "[Filtered]" (a sign-in found no operator that way)."""
    params = {"email": EMAIL}
    crumb = {"category": "query", "message": "SELECT 1", "data": {"db.params": params}}
    sent = before_breadcrumb(crumb, {})
    assert "db.params" not in sent["data"]
    assert crumb["data"]["db.params"] is params and params == {"email": EMAIL}
