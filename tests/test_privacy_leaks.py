"""End-to-end leak test (issue 5): canaries through the real app and worker into a real Sentry.

Distinct canary values (a seller's WB token, the DeepSeek key, a password, an e-mail, a phone
number, a buyer's name, a chat text, a client IP, ...) are planted in every path we know of:
request headers, query string, JSON and form bodies, local variables of a failing view and of
failing jobs, job arguments, exception messages, log records (breadcrumbs and error events),
HTTP calls to WB and DeepSeek (breadcrumbs and spans) and transactions at sample rate 1.0.
Then every envelope the local Sentry receiver got is searched, as raw bytes, for each canary
in every spelling it could take there, and the events are checked to still be useful.

The web app runs in-process (test routes added to a real app). The worker is the real
`python worker.py --burst` subprocess: a forked work-horse per job, the real RqIntegration.
"""
from __future__ import annotations

import base64
import copy
import json
import logging
from dataclasses import dataclass, replace
from urllib.parse import quote, quote_plus, urlencode

import pytest
from chatcenter.queues import queue

from chatcenter.observability import scrubber as privacy
from tests.helpers import add_seller, overrides, resources, run_jobs, run_worker_process
from tests.stubs import deepseek_stub as ds

log = logging.getLogger("chatcenter.tests.leaky")


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


_JWT_HEADER = _b64('{"alg":"ES256","kid":"leak-canary","typ":"JWT"}')
_JWT_PAYLOAD = _b64('{"sid":"leak-canary-seller-77","exp":1999999999,"ent":1}')
_JWT_SIGNATURE = _b64("leak-canary-signature-of-the-wb-token")

# name: (value, distinctive fragments that must not show up either, e.g. after truncation)
CANARIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "wb_jwt": (f"{_JWT_HEADER}.{_JWT_PAYLOAD}.{_JWT_SIGNATURE}", (_JWT_PAYLOAD, _JWT_SIGNATURE)),
    "deepseek_key": (ds.DEFAULT_API_KEY, (ds.DEFAULT_API_KEY.rsplit("-", 1)[-1],)),
    "password": ("Canary-Pa55w0rd-0xBEEF", ("Pa55w0rd",)),
    "email": ("olga.canary@example.ru", ("olga.canary",)),
    "phone": ("+7 912 555-01-77", ("555-01-77", "9125550177")),
    "buyer_name": ("Ольга Канарейкина", ("Канарейкин",)),
    "chat_text": ("Куртка с канарейкой пришла порванной, верните деньги", ("канарейкой",)),
    # DeepSeek's answers about a chat are buyer data too (they retell it).
    "ai_summary": ("Покупательница просит вернуть деньги за рваную куртку (сводка-канарейка)",
                   ("сводка-канарейка",)),
    "ai_reply": ("Здравствуйте! Мы вернём деньги за куртку (ответ-канарейка)", ("ответ-канарейка",)),
    "client_ip": ("203.0.113.77", ()),
    "session": ("sess-canary-9d1e5a", ("canary-9d1e5a",)),
    "operator_email": ("operator.canary@chatcenter.example", ("operator.canary",)),
    "operator_name": ("Пётр Канареев", ("Канареев",)),
    # An operator's answer to a buyer, and the chat's reply sign WB gave (issue 10).
    "reply_text": ("Ольга, деньги за куртку вернём сегодня (ответ-оператора-канарейка)",
                   ("ответ-оператора-канарейка",)),
    "reply_sign": ("1:leak-canary-reply-sign-5f3e2a9c", ("leak-canary-reply-sign",)),
}
WB_JWT = CANARIES["wb_jwt"][0]
DEEPSEEK_KEY = CANARIES["deepseek_key"][0]
PASSWORD = CANARIES["password"][0]
EMAIL = CANARIES["email"][0]
PHONE = CANARIES["phone"][0]
BUYER = CANARIES["buyer_name"][0]
CHAT_TEXT = CANARIES["chat_text"][0]
AI_SUMMARY = CANARIES["ai_summary"][0]
AI_REPLY = CANARIES["ai_reply"][0]
CLIENT_IP = CANARIES["client_ip"][0]
SESSION = CANARIES["session"][0]
OPERATOR_EMAIL = CANARIES["operator_email"][0]
OPERATOR_NAME = CANARIES["operator_name"][0]
REPLY_TEXT = CANARIES["reply_text"][0]
REPLY_SIGN = CANARIES["reply_sign"][0]


def _spellings(text: str) -> set[str]:
    """Every way `text` can appear in an envelope's bytes (compared in lower case)."""
    shown = {text, repr(text.encode())[2:-1]}  # as typed; inside a bytes repr: \xd0\x9a...
    found: set[str] = set()
    for form in shown:
        ascii_json = json.dumps(form)[1:-1]  # \uXXXX: how sentry-sdk writes non-ASCII
        found |= {form, ascii_json, json.dumps(form, ensure_ascii=False)[1:-1],
                  json.dumps(ascii_json)[1:-1],  # JSON text inside a JSON string (raw bodies)
                  quote(form, safe=""), quote_plus(form, safe="")}
    return {s.lower() for s in found}


NEEDLES = {name: set().union(*(_spellings(t) for t in (value, *fragments)))
           for name, (value, fragments) in CANARIES.items()}


def assert_no_canary(bodies: list[bytes]) -> None:
    """No canary, in any spelling, in any of the raw (decompressed) envelope bodies."""
    assert bodies, "the receiver got nothing: the test would prove nothing"
    leaks = []
    for i, raw in enumerate(bodies):
        haystack = raw.decode("utf-8", "replace").lower()
        for name, needles in NEEDLES.items():
            for needle in needles:
                at = haystack.find(needle)
                if at >= 0:
                    context = raw.decode("utf-8", "replace")[max(0, at - 160):at + len(needle) + 60]
                    leaks.append(f"{name} as {needle!r} in envelope {i}: ...{context}...")
    assert not leaks, f"{len(leaks)} leak(s):\n" + "\n".join(leaks)


# ----------------------------------------------------------------------- event helpers

def exception_events(events: list[dict]) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for event in events:
        if event.get("exception"):
            found.setdefault(event["exception"]["values"][-1]["type"], []).append(event)
    return found


def frames(event: dict) -> list[dict]:
    return [f for value in event["exception"]["values"] for f in value["stacktrace"]["frames"]]


def function_names(event: dict) -> set[str]:
    return {f.get("function") for f in frames(event)}


def frame_of(event: dict, function: str) -> dict:
    return next(f for f in frames(event) if f.get("function") == function)


class LeakError(Exception):
    pass


@dataclass
class Credentials:
    login: str
    password: str


# ============================================================================== web app

def _add_leaky_routes(app) -> None:
    from flask import jsonify, request

    @app.post("/leaky/<int:chat_id>")
    def leaky(chat_id):
        # Sentry sends the first 10 locals of a frame, nested 5 deep: the riskiest go first.
        proxy_headers = {k: v for k, v in request.environ.items() if k.startswith("HTTP_X_")}
        wb_page = {"result": {"events": [{"event": {"clientName": BUYER, "message": {"text": CHAT_TEXT}}}]}}
        body = request.get_json(silent=True) or request.form.to_dict()
        wb_token, api_key, password = WB_JWT, DEEPSEEK_KEY, PASSWORD
        buyer_email, buyer_phone, client_name, text = EMAIL, PHONE, BUYER, CHAT_TEXT
        authorization = request.headers.get("Authorization")
        creds = Credentials(login="operator", password=password)
        log.info("chat %s: replying to %s, %s with %s", chat_id, buyer_email, buyer_phone, wb_token)
        log.error("chat %s: DeepSeek refused key %s", chat_id, api_key)
        try:
            raise KeyError(f"password={password}")
        except KeyError as cause:
            raise LeakError(f"chat {chat_id}: WB refused Bearer {wb_token} for {buyer_email} / "
                            f"{buyer_phone}; {creds!r}") from cause

    @app.post("/leaky-buyer/<int:chat_id>")
    def leaky_buyer(chat_id):
        # As a view that loads a chat would: what it handles is registered, then it fails.
        client_name, message_text = BUYER, CHAT_TEXT
        privacy.register_personal(client_name)
        privacy.register_personal(message_text)
        note = f"{client_name} wrote: {message_text}"
        log.info("chat %s: %s", chat_id, note)
        raise LeakError(f"cannot analyse the chat of {client_name}: {message_text!r}")

    @app.get("/leaky-ok/<int:chat_id>")
    def leaky_ok(chat_id):
        return jsonify(chat_id=chat_id)

    @app.post("/whoami")
    def whoami():
        import sentry_sdk

        sentry_sdk.set_user({"id": "op-17", "email": OPERATOR_EMAIL, "username": OPERATOR_NAME,
                             "name": OPERATOR_NAME, "ip_address": CLIENT_IP})
        raise LeakError("operator context test")

    @app.get("/personal-values")
    def personal_values():  # how many buyer values this request starts with registered
        return jsonify(count=len(privacy._personal.get()))


LEAKY_HEADERS = {
    "Authorization": f"Bearer {WB_JWT}",
    "Cookie": f"session={SESSION}; wb_token={WB_JWT}",
    "X-Api-Key": DEEPSEEK_KEY,
    "X-Forwarded-For": f"{CLIENT_IP}, 10.0.0.1",
    "X-Real-IP": CLIENT_IP,
    "X-Buyer-Email": EMAIL,
}
LEAKY_QUERY = urlencode({"token": WB_JWT, "email": EMAIL, "phone": PHONE, "client_name": BUYER,
                         "text": CHAT_TEXT, "search": EMAIL, "page": "2"})


# The production set-up, and the worst case: everything the SDK can collect, which also
# switches its own EventScrubber off (FACTS.md), so only chatcenter.privacy stands between.
SDK_CONFIGS = {
    "production": {},
    "collect_everything": {"data_collection": {"user_info": True, "queues": True,
                                               "stack_frame_variables": True}},
}


@pytest.fixture(params=sorted(SDK_CONFIGS))
def web_app(request, make_app, sentry_receiver, monkeypatch):
    import sentry_sdk

    extra = SDK_CONFIGS[request.param]
    if extra:
        real_init = sentry_sdk.init
        monkeypatch.setattr(sentry_sdk, "init", lambda *a, **kw: real_init(*a, **{**kw, **extra}))
    # Scopes outlive clients: drop the user, tags and breadcrumbs earlier tests left behind.
    sentry_sdk.get_isolation_scope().clear()
    sentry_sdk.get_current_scope().clear()
    sentry_receiver.clear()
    app = make_app(sentry_dsn=sentry_receiver.dsn, sentry_traces_sample_rate=1.0,
                   sentry_release="chatcenter@test", deepseek_api_key=DEEPSEEK_KEY)
    _add_leaky_routes(app)
    return app


def test_web_app_sends_no_canary_and_useful_events(web_app, sentry_receiver):
    import sentry_sdk

    client = web_app.test_client()
    buyer = {"clientName": BUYER, "email": EMAIL, "phone": PHONE, "contacts": [{"e_mail": EMAIL}]}
    json_body = {"chat_id": 42, "password": PASSWORD, "wb_token": WB_JWT, "buyer": buyer,
                 "reply": {"text": CHAT_TEXT, "replySign": SESSION}}
    form_body = {"password": PASSWORD, "email": EMAIL, "phone": PHONE, "client_name": BUYER,
                 "text": CHAT_TEXT, "page": "2"}

    assert client.post(f"/leaky/42?{LEAKY_QUERY}", json=json_body, headers=LEAKY_HEADERS).status_code == 500
    assert client.post(f"/leaky/43?{LEAKY_QUERY}", data=form_body, headers=LEAKY_HEADERS).status_code == 500
    assert client.post(f"/leaky-buyer/44?{urlencode({'q': BUYER, 'page': '2'})}",
                       json={"note": f"{BUYER}: {CHAT_TEXT}"}, headers=LEAKY_HEADERS).status_code == 500
    assert client.get(f"/leaky-ok/45?{LEAKY_QUERY}", headers=LEAKY_HEADERS).status_code == 200
    sentry_sdk.flush(timeout=5)

    events = sentry_receiver.wait_for("event", 5)
    transactions = sentry_receiver.wait_for("transaction", 4)
    assert len(events) == 5 and len(transactions) == 4
    assert_no_canary(sentry_receiver.raw_bodies)

    # Still useful: types, stacks with function names, routes, what was kept of the request.
    errors = [e for e in events if e.get("exception")]
    assert [e["exception"]["values"][-1]["type"] for e in errors] == ["LeakError"] * 3
    by_route = {e["transaction"]: e for e in errors}
    assert set(by_route) == {"/leaky/<int:chat_id>", "/leaky-buyer/<int:chat_id>"}
    leaky = errors[0]
    assert "leaky" in function_names(leaky)
    assert all("vars" not in frame for frame in frames(leaky))  # never collected, whatever the SDK is told
    assert leaky["exception"]["values"][0]["type"] == "KeyError"  # the cause is kept
    assert "WB refused Bearer [Filtered]" in leaky["exception"]["values"][-1]["value"]
    assert leaky["request"]["method"] == "POST"
    assert leaky["request"]["url"].endswith("/leaky/42")
    assert "page=[Filtered]" in leaky["request"]["query_string"]  # parameter names, never values
    assert "data" not in leaky["request"] and "cookies" not in leaky["request"]  # bodies are not sent
    assert leaky["tags"]["component"] == "web"
    assert "leaky_buyer" in function_names(by_route["/leaky-buyer/<int:chat_id>"])

    log_events = [e for e in events if not e.get("exception")]  # one log.error per /leaky request
    assert [(e["logger"], e["logentry"]["message"]) for e in log_events] == [
        ("chatcenter.tests.leaky", "chat %s: DeepSeek refused key %s")] * 2
    assert any(c.get("category") == "chatcenter.tests.leaky" and c["message"].startswith("chat 42: replying")
               for c in leaky["breadcrumbs"]["values"])

    assert sorted(t["transaction"] for t in transactions) == [
        "/leaky-buyer/<int:chat_id>", "/leaky-ok/<int:chat_id>"] + ["/leaky/<int:chat_id>"] * 2
    assert {t["contexts"]["trace"]["op"] for t in transactions} == {"http.server"}


def test_user_context_keeps_only_the_operator_id(web_app, sentry_receiver):
    import sentry_sdk

    client = web_app.test_client()
    assert client.post("/whoami", headers=LEAKY_HEADERS).status_code == 500
    assert client.post("/leaky-buyer/1", headers=LEAKY_HEADERS).status_code == 500  # no user set
    sentry_sdk.flush(timeout=5)

    events = sentry_receiver.wait_for("event", 2)
    transactions = sentry_receiver.wait_for("transaction", 2)
    assert_no_canary(sentry_receiver.raw_bodies)
    by_route = {e["transaction"]: e for e in events}
    assert by_route["/whoami"]["user"] == {"id": "op-17"}
    assert "user" not in by_route["/leaky-buyer/<int:chat_id>"]
    whoami_tx = next(t for t in transactions if t["transaction"] == "/whoami")
    assert whoami_tx["user"] == {"id": "op-17"}
    assert b"{{auto}}" not in b"".join(sentry_receiver.raw_bodies)


def test_personal_values_do_not_outlive_their_request(web_app):
    client = web_app.test_client()
    client.post("/leaky-buyer/1")
    assert client.get("/personal-values").get_json() == {"count": 0}


# ================================================================================= inbox

def test_inbox_forms_send_no_password_reply_text_or_csrf_token(web_app, sentry_receiver, monkeypatch):
    """The login and reply forms, through the real views, failing and succeeding, at trace rate 1."""
    import sentry_sdk

    from chatcenter.web.inbox import auth, pages
    from tests.inbox_support import add_operator, csrf_token
    from tests.test_queries import make_chat

    operator_id = add_operator(web_app, OPERATOR_EMAIL, PASSWORD)
    chat_id = make_chat(web_app, add_seller(web_app), 1, buyer_at=1, urgency="high", name=BUYER)
    client = web_app.test_client()
    login_page = client.get("/login")
    form_token = csrf_token(login_page.text)
    login = {"csrf_token": form_token, "email": OPERATOR_EMAIL, "password": PASSWORD, "next": "/"}

    def broken(*args, **kwargs):  # a fault deep inside the view, with the form's values in its frames
        raise LeakError("the store failed")

    assert client.post("/login", data={**login, "password": PASSWORD[::-1]}).status_code == 401
    with monkeypatch.context() as patched:
        patched.setattr(auth, "record_login", broken)
        assert client.post("/login", data=login, headers=LEAKY_HEADERS).status_code == 500
    assert client.post("/login", data=login).status_code == 302
    chat_page = client.get(f"/chats/{chat_id}")
    reply_token = csrf_token(chat_page.text)
    reply = {"csrf_token": reply_token, "idempotency_key": "k-1", "text": REPLY_TEXT}
    with monkeypatch.context() as patched:
        patched.setattr(pages, "request_reply", broken)
        assert client.post(f"/chats/{chat_id}/reply", data=reply, headers=LEAKY_HEADERS).status_code == 500
    assert client.post(f"/chats/{chat_id}/reply", data=reply).status_code == 302
    session_cookie = client.get_cookie("chatcenter_session").value
    sentry_sdk.flush(timeout=5)

    events = sentry_receiver.wait_for("event", 2)
    sentry_receiver.wait_for("transaction", 7)
    assert_no_canary(sentry_receiver.raw_bodies)
    raw_token = json.loads(base64.urlsafe_b64decode(form_token.split(".")[0] + "=="))  # what the session holds
    sent = b"".join(sentry_receiver.raw_bodies).decode("utf-8", "replace")
    signed_payload = max(session_cookie.split("."), key=len)  # the session's data, compressed or not
    for secret in (form_token, reply_token, raw_token, session_cookie, signed_payload):
        assert secret not in sent
    # Still useful: the failing views, their routes, and who was signed in (by id only).
    errors = {e["transaction"]: e for e in events if e.get("exception")}
    assert set(errors) == {"/login", "/chats/<int:chat_id>/reply"}
    assert "user" not in errors["/login"]
    assert errors["/chats/<int:chat_id>/reply"]["user"] == {"id": f"operator:{operator_id}"}
    assert "send_reply" in function_names(errors["/chats/<int:chat_id>/reply"])


# ================================================================================ worker

def leaky_job(chat_id, *, wb_token, api_key, password, buyer_email, phone, client_name, text):
    """A job that breaks every rule: canaries in its arguments, locals, logs and message."""
    privacy.clear_personal()
    privacy.register_personal(client_name)  # as every job handling buyer data does
    privacy.register_personal(text)
    creds = Credentials(login="operator", password=password)
    note = f"{client_name} <{buyer_email}>, {phone}: {text}"
    log.info("chat %s: answering %s", chat_id, note)
    log.error("chat %s: WB refused %s (DeepSeek key %s)", chat_id, wb_token, api_key)
    raise LeakError(f"cannot answer {note}: token {wb_token}, {creds!r}")


def ascii_json_error(status: int, message: str) -> ds.Behaviour:
    """Like ds.error, but the body is JSON with \\uXXXX escapes (json.dumps' default)."""
    body = json.dumps({"error": {"message": message, "type": "invalid_request_error"}}).encode()

    def serve(h):
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    return ds.Behaviour(f"ascii_json_error({status})", serve)


@pytest.fixture
def worker_settings(job_settings, sentry_receiver):
    sentry_receiver.clear()
    # No retries: the first failure, with its frames full of buyer data, is the reported one.
    return replace(job_settings, sentry_dsn=sentry_receiver.dsn, sentry_release="chatcenter@test",
                   sentry_traces_sample_rate=1.0, job_retry_delays=())


def test_worker_sends_no_canary_and_useful_events(make_app, worker_settings, wb_stub, deepseek_stub,
                                                  sentry_receiver, redis_client):
    # Set-up without Sentry in this process: everything received comes from the worker.
    app = make_app(**overrides(worker_settings, sentry_dsn=""))
    wb_stub.valid_tokens.add(WB_JWT)
    seller_id = add_seller(app, token=WB_JWT)
    chats = [wb_stub.add_chat(client_name=BUYER, text=CHAT_TEXT)["chatID"] for _ in range(3)]
    for chat in chats:
        wb_stub.add_event(chat, text=CHAT_TEXT, is_new_chat=True)
    wb_stub.add_event(chats[0], text=f"Пишите на {EMAIL} или звоните {PHONE}")
    wb_stub.add_event(chats[0], text="Алло?")  # on page 2, which fails
    wb_stub.page_size = 4
    wb_stub.fail_after_pages(1)
    # One analysis per chat. DeepSeek refuses the first two prompts and quotes them back in
    # its error message (in UTF-8, then as JSON \u escapes); its answer about the third chat
    # is rejected (sentiment out of the schema; the answer is then only in a frame variable
    # past the 10 Sentry sends, but if that ever changes the canaries are there).
    echo = f"Invalid request: content flagged: '{CHAT_TEXT}'"
    deepseek_stub.script(
        ds.error(400, echo),
        ascii_json_error(400, echo),
        ds.ok({"sentiment": "furious", "category": "return", "urgency": "high",
               "summary": AI_SUMMARY, "suggested_reply": AI_REPLY}),
    )

    from chatcenter.actions import request_sync
    from chatcenter.queues import queue

    request_sync(resources(app), seller_id)  # the sync then enqueues the analysis
    default = queue(redis_client, "default")
    # RQ's own description of these is the call with its arguments.
    default.enqueue(f"{__name__}.leaky_job", 7, wb_token=WB_JWT, api_key=DEEPSEEK_KEY,
                    password=PASSWORD, buyer_email=EMAIL, phone=PHONE, client_name=BUYER, text=CHAT_TEXT)
    default.enqueue("jobs.diagnostics.raise_test_error", label=f"for {EMAIL} {PHONE}")

    result = run_worker_process(worker_settings, "sync", "analysis", "default")

    assert result.returncode == 0, result.stderr
    events = sentry_receiver.wait_for("event", 7)
    transactions = sentry_receiver.wait_for("transaction", 6)
    assert len(events) == 7, [e.get("exception", {}).get("values", [{}])[-1].get("type") for e in events]
    assert len(transactions) == 6
    assert_no_canary(sentry_receiver.raw_bodies)

    # Still useful: exception types, stacks, job names, WB/DeepSeek breadcrumbs and spans.
    errors = exception_events(events)
    assert {kind: len(found) for kind, found in errors.items()} == {
        "WBUnavailable": 1, "DeepSeekConfigError": 2, "AnalysisRejected": 1, "LeakError": 1,
        "WorkerSentryTestError": 1}
    job_names = {"WBUnavailable": "jobs.sync.sync_seller_chats",
                 "DeepSeekConfigError": "jobs.analysis.analyze_chat_with_ai",
                 "AnalysisRejected": "jobs.analysis.analyze_chat_with_ai",
                 "LeakError": f"{__name__}.leaky_job",
                 "WorkerSentryTestError": "jobs.diagnostics.raise_test_error"}
    for kind, found in errors.items():
        for event in found:
            job = event["extra"]["rq-job"]
            assert job["func"] == job_names[kind]
            assert job["description"] == job["func"]  # not RQ's call string with the arguments
            assert event["transaction"] == job["func"]
            assert event["tags"]["component"] == "worker"

    [sync] = errors["WBUnavailable"]
    assert {"sync_seller_chats", "_sync", "get_events"} <= function_names(sync)
    assert all("vars" not in frame for event in events if event.get("exception") for frame in frames(event))
    assert "answered 500" in sync["exception"]["values"][-1]["value"]
    wb_crumbs = [c for c in sync["breadcrumbs"]["values"] if c.get("type") == "http"]
    assert any("/api/v1/seller/events" in c["data"]["url"] for c in wb_crumbs)

    for refused in errors["DeepSeekConfigError"]:
        assert {"analyze_chat_with_ai", "complete_json"} <= function_names(refused)
        assert refused["exception"]["values"][-1]["value"] == (
            "DeepSeek rejected the request as invalid (400): "
            "Invalid request: content flagged: '[Filtered]'")
    [rejected] = errors["AnalysisRejected"]
    assert "field 'sentiment' must be one of" in rejected["exception"]["values"][-1]["value"]
    assert rejected["extra"]["rq-job"]["job_id"] == "analyze-chat-3"

    [leak] = errors["LeakError"]
    assert "leaky_job" in function_names(leak)
    assert any(c.get("category") == "chatcenter.tests.leaky" and c["message"].startswith("chat 7: answering")
               for c in leak["breadcrumbs"]["values"])  # logged by the job itself
    [log_event] = [e for e in events if not e.get("exception")]
    assert log_event["logentry"]["message"] == "chat %s: WB refused %s (DeepSeek key %s)"

    assert sorted(t["transaction"] for t in transactions) == sorted(
        ["jobs.sync.sync_seller_chats"] + ["jobs.analysis.analyze_chat_with_ai"] * 3
        + [f"{__name__}.leaky_job", "jobs.diagnostics.raise_test_error"])
    spans = {t["transaction"]: t["spans"] for t in transactions}  # any one analysis will do
    assert any(s["op"] == "http.client" and "/api/v1/seller/chats" in s["description"]
               for s in spans["jobs.sync.sync_seller_chats"])
    assert any(s["op"] == "http.client" and "/chat/completions" in s["description"]
               for s in spans["jobs.analysis.analyze_chat_with_ai"])


# ================================================================================= crons

def test_cron_check_ins_arrive_exactly_as_the_sdk_made_them(make_app, job_settings, sentry_receiver,
                                                             monkeypatch):
    from chatcenter.observability.poller_monitor import MONITOR_SLUG, check_in, monitor_config

    made = []
    real_before_send = privacy.before_send

    def spy(event, hint):  # sees what sentry-sdk would send without our filter
        if event.get("type") == "check_in":
            made.append(copy.deepcopy(event))
        return real_before_send(event, hint)

    monkeypatch.setattr(privacy, "before_send", spy)  # init_sentry reads it at init time
    sentry_receiver.clear()
    app = make_app(**overrides(job_settings, sentry_dsn=sentry_receiver.dsn, sentry_traces_sample_rate=1.0))
    add_seller(app, token=WB_JWT)
    with app.app_context():  # as the poller's loop does, once per round
        check_in(ok=True)
        check_in(ok=False)
    import sentry_sdk

    sentry_sdk.flush(timeout=5)

    check_ins = sentry_receiver.wait_for("check_in", 2)
    assert [c["status"] for c in check_ins] == ["ok", "error"]
    # After before_send the SDK itself moves the trace's dynamic sampling context from the
    # payload into the envelope header; apart from that, what arrives is what it made.
    expected = json.loads(json.dumps(made))
    dscs = [made_one["contexts"]["trace"].pop("dynamic_sampling_context") for made_one in expected]
    assert check_ins == expected
    headers = [r.envelope.headers for r in sentry_receiver.received
               if any(item.type == "check_in" for item in r.envelope.items)]
    assert [h["trace"] for h in headers] == dscs
    for one in check_ins:
        assert one["monitor_slug"] == MONITOR_SLUG
        assert one["monitor_config"] == monitor_config() == {
            "schedule": {"type": "interval", "value": 1, "unit": "minute"},
            "checkin_margin": 1, "max_runtime": 10, "failure_issue_threshold": 1}
    assert_no_canary(sentry_receiver.raw_bodies)


# ======================================================================== reply path

def _chat_of(app, seller_id: int) -> int:
    from chatcenter.models import Chat

    with resources(app).db.session() as session:
        chat = Chat(seller_id=seller_id, wb_chat_id="1:leak-chat", client_name=BUYER, reply_sign=REPLY_SIGN,
                    awaiting_reply=True, analysis_due=False, priority=1)
        session.add(chat)
        session.flush()
        return chat.id


def test_web_reply_path_sends_no_text_sign_or_buyer_and_names_the_api_key(web_app, sentry_receiver):
    import sentry_sdk

    from chatcenter import api_keys

    with resources(web_app).db.session() as session:
        key = api_keys.create(session, f"operator {OPERATOR_NAME}")
    chat_id = _chat_of(web_app, add_seller(web_app, token=WB_JWT))
    client = web_app.test_client()
    auth = {"Authorization": f"Bearer {key.key}", "X-Forwarded-For": CLIENT_IP}
    body = {"text": REPLY_TEXT}

    assert client.post(f"/api/chats/{chat_id}/reply", json=body, headers=auth).status_code == 202
    assert client.get(f"/api/chats/{chat_id}", headers=auth).status_code == 200
    assert client.post(f"/api/chats/{chat_id}/reply", json=body,  # a 4xx: no event
                       headers={**auth, "Idempotency-Key": "не ascii"}).status_code == 400
    with resources(web_app).db.engine.begin() as conn:  # the next reply fails inside the request
        conn.exec_driver_sql("ALTER TABLE replies RENAME TO replies_gone")
    assert client.post(f"/api/chats/{chat_id}/reply", json=body, headers=auth).status_code == 500
    sentry_sdk.flush(timeout=5)

    events = sentry_receiver.wait_for("event", 1)
    transactions = sentry_receiver.wait_for("transaction", 4)
    assert_no_canary(sentry_receiver.raw_bodies)
    raw = b"".join(sentry_receiver.raw_bodies).decode("utf-8", "replace")
    assert key.key not in raw and key.key[3:20] not in raw  # the API key itself
    [error] = [e for e in events if e.get("exception")]
    assert error["transaction"] == "/api/chats/<int:chat_id>/reply"
    assert error["user"] == {"id": f"api-key-{key.id}"}  # the key's id, never the key or its name
    assert error["request"]["method"] == "POST" and "data" not in error["request"]
    assert len(events) == 1  # the 400 sent nothing
    assert sorted(t["transaction"] for t in transactions) == [
        "/api/chats/<int:chat_id>", "/api/chats/<int:chat_id>/reply", "/api/chats/<int:chat_id>/reply",
        "/api/chats/<int:chat_id>/reply"]
    assert {json.dumps(t.get("user")) for t in transactions} == {json.dumps({"id": f"api-key-{key.id}"})}


def test_failing_reply_job_with_wb_echoing_it_sends_no_text_sign_or_buyer(make_app, worker_settings, wb_stub,
                                                                          sentry_receiver):
    from chatcenter.actions import request_reply
    from tests.stubs.wb_stub import MESSAGE_PATH, problem

    app = make_app(**overrides(worker_settings, sentry_dsn=""))  # everything received comes from the worker
    wb_stub.valid_tokens.add(WB_JWT)
    chat_id = _chat_of(app, add_seller(app, token=WB_JWT))
    rejected = request_reply(resources(app), chat_id, REPLY_TEXT, requested_by="api-key-1")
    not_taken = request_reply(resources(app), chat_id, REPLY_TEXT + " (2)", requested_by="api-key-1")
    echo = (f"message «{REPLY_TEXT}» to {BUYER} rejected for replySign {REPLY_SIGN}; "
            f"first words: {REPLY_TEXT[:30]}")
    wb_stub.fail_next(400, path=MESSAGE_PATH, body=problem(400, echo, "bad request"))
    wb_stub.fail_next(404, path=MESSAGE_PATH, body=problem(404, echo, "not found"))  # not taken, no retries left

    result = run_worker_process(worker_settings, "reply")

    assert result.returncode == 0, result.stderr
    events = sentry_receiver.wait_for("event", 2)
    sentry_receiver.wait_for("transaction", 2)
    assert_no_canary(sentry_receiver.raw_bodies)
    for text in (REPLY_TEXT, REPLY_SIGN, BUYER, REPLY_TEXT[:30]):
        assert text not in result.stderr  # nor in the worker's log
    errors = exception_events(events)
    assert {kind: len(found) for kind, found in errors.items()} == {"ReplyRejected": 1, "ReplyNotTaken": 1}
    for event in (errors["ReplyRejected"][0], errors["ReplyNotTaken"][0]):
        assert event["extra"]["rq-job"]["func"] == "jobs.reply.send_reply"
        assert event["extra"]["rq-job"]["job_id"] in (rejected.job_id, not_taken.job_id)
        assert "send_reply" in function_names(event)
        assert "[Filtered]" in event["exception"]["values"][-1]["value"]
    assert "answered 400: bad request: message «[Filtered]»" in errors["ReplyRejected"][0]["exception"]["values"][-1]["value"]
