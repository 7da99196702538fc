"""Keep secrets and buyers' personal data out of everything sent to Sentry.

What is never collected (frame variables, request bodies) is sentry_sdk.init's. Here:
sentry-sdk's EventScrubber with this project's key denylist (`event_scrubber()`), then a
chain of small filters on every event and transaction (EVENT_FILTERS: no frame variables,
no SQL parameters, a request's outline, a user's id, a job's id and function), the last
masking every string for value patterns (bearer credentials, JWTs, API keys, e-mails,
phones, `secret=value`) and for values registered at run time (the DeepSeek key, the DSN
key; anything a caller registers for the current request or job).
"""
from __future__ import annotations

import contextvars
import functools
import logging
import re
import threading
from typing import Any, Callable

FILTERED = "[Filtered]"
MIN_VALUE_LENGTH = 4  # shorter registered values would mask half of every event
MAX_PERSONAL_VALUES = 2000

log = logging.getLogger(__name__)

# Keys whose values EventScrubber replaces anywhere in request, extra, user, breadcrumb,
# span and frame data (exact names, any case), on top of sentry-sdk's own list.
PROJECT_DENYLIST = [
    "wb_token", "wbtoken", "deepseek_api_key", "api_token", "access_token", "refresh_token",
    "key", "dsn", "sentry_dsn", "password_hash", "key_hash", "x-api-key", "x_api_key",
    "client_name", "clientname", "buyer_name", "email", "e_mail", "phone", "reply_sign",
    "replysign", "text", "message_text", "summary", "suggested_reply", "messages", "prompt",
]
SAFE_HEADERS = frozenset({"accept", "accept-encoding", "accept-language", "content-length",
                          "content-type", "host", "user-agent"})
KEPT_JOB_FIELDS = ("job_id", "func", "enqueued_at", "started_at", "ended_at")
SQL_PARAMETERS = "db.params"  # where sentry-sdk puts a statement's parameters
TIMING_FIELDS = ("op", "trace_id", "span_id", "parent_span_id", "start_timestamp", "timestamp")


def event_scrubber():
    from sentry_sdk.scrubber import DEFAULT_DENYLIST, DEFAULT_PII_DENYLIST, EventScrubber

    return EventScrubber(denylist=DEFAULT_DENYLIST + PROJECT_DENYLIST, recursive=True,
                         pii_denylist=DEFAULT_PII_DENYLIST + ["ip", "client_ip"])


_secrets: frozenset[str] = frozenset()
_secrets_lock = threading.Lock()
_personal: contextvars.ContextVar[frozenset[str]] = contextvars.ContextVar("personal", default=frozenset())
_sentry_key: str | None = None


def register_secret(value: str | None) -> None:
    """Mask `value` wherever it appears, in this process, from now on."""
    global _secrets
    if value and len(value) >= MIN_VALUE_LENGTH and value not in _secrets:
        with _secrets_lock:
            _secrets = _secrets | {value}


def register_sentry_key(public_key: str | None) -> None:
    """The DSN's public key: masked wherever it appears, but in the one place the SDK puts it
    for Sentry, the trace's dynamic sampling context (see _masked_payload)."""
    global _sentry_key
    register_secret(public_key)
    _sentry_key = public_key or None


def register_personal(value: str | None) -> None:
    """Mask a value (a buyer's) in whatever the current request or job sends."""
    values = _personal.get()
    if value and len(value) >= MIN_VALUE_LENGTH and value not in values and len(values) < MAX_PERSONAL_VALUES:
        _personal.set(values | {value})


def clear_personal() -> None:
    _personal.set(frozenset())


@functools.lru_cache(maxsize=64)
def _registered_patterns(personal: frozenset[str], secrets: frozenset[str]) -> tuple[re.Pattern, re.Pattern] | None:
    """(a finder of the values, the whole words around them)."""
    values = sorted(personal | secrets, key=len, reverse=True)
    if not values:
        return None
    alternatives = "|".join(map(re.escape, values))
    # The whole word around a match goes: no fragment of a longer token is left behind. That
    # pattern retries at every letter of every word; the bare values are found in one pass,
    # so the words are looked for only in the rare text that holds one.
    return re.compile(alternatives), re.compile(r"[\w-]*(?:" + alternatives + r")[\w-]*")


_VALUE_RE = re.compile(
    r"""
      (?P<scheme>(?i:bearer|basic)\s+)[A-Za-z0-9._~+/=-]+          # keep the scheme word
    | (?<![\w-])eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*    # JWT (WB tokens)
    | (?<![\w-])sk-[A-Za-z0-9_-]{16,}                               # OpenAI-style keys
    | (?<![\w-])cc_[A-Za-z0-9_-]{40,}                              # this service's API keys
    | (?P<url>://)[^/\s:@'"]*:[^/\s@'"]*(?=@)                       # user:pass@ in URLs
    | (?<![\w.%+-])[\w.%+-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}        # e-mail (from its first letter)
    | (?<![\w+.-])(?:\+7|8)[ -]?\(?\d{3}\)?[ -]?\d{3}[ -]?\d{2}[ -]?\d{2}(?![\w-])  # RU phone
    | (?<![\w+.-])\+\d{1,3}[ -]?\(?\d{1,4}\)?(?:[ -]?\d){6,10}(?![\w-])          # intl phone
    """,
    re.VERBOSE,
)
# `password=...`, `"token": "..."`, `client_name='...'` inside text (reprs, logs, URLs).
_INLINE_RE = re.compile(
    r"""(?ix)
    ( (?<![a-z0-9])  # a name, not the inside of a word ("unauthorized: token expired" stays)
      (?:password|passwd|secret|token|api[_-]?key|auth|cookie|session|csrf|dsn|credential
        |client[_-]?name|buyer[_-]?name|reply[_-]?sign|e[_-]?mail|phone)[\w.-]*["']?\s*[=:]\s*
      (?!(?i:bearer|basic)\s) )  # "Authorization: Bearer x": the pattern above keeps the word
    ( \[Filtered\] | "(?:[^"\\]|\\.)*" | '(?:[^'\\]|\\.)*' | [^\s&,;)\]}'"]+ )
    """
)


# What each pattern above cannot match without: most strings of an event (ids, timestamps,
# SQL) hold none of it, and finding that out is several times cheaper than a full search.
_VALUE_HINT = re.compile(r"(?i:bearer|basic)|eyJ|sk-|cc_|@|\+|8[ -]?\(?\d{3}")


def _value_repl(match: re.Match) -> str:
    return (match.group("scheme") or match.group("url") or "") + FILTERED


def mask(text: str) -> str:
    """`text` with every secret and registered buyer value replaced by [Filtered]."""
    registered = _registered_patterns(_personal.get(), _secrets)
    if registered is not None and registered[0].search(text):
        text = registered[1].sub(FILTERED, text)
    if _VALUE_HINT.search(text):
        text = _VALUE_RE.sub(_value_repl, text)
    if "=" in text or ":" in text:  # _INLINE_RE's name is followed by one
        text = _INLINE_RE.sub(lambda m: m.group(1) + FILTERED, text)
    return text


def _masked(node: Any) -> Any:
    """A masked copy: strings masked in every dict, list and tuple (a tuple becomes a list,
    as JSON has it). Never in place: a breadcrumb's data can be live objects, such as the
    parameters of a statement about to run."""
    if isinstance(node, str):
        return mask(node)
    if isinstance(node, dict):
        return {key: _masked(value) for key, value in node.items()}
    if isinstance(node, (list, tuple)):
        return [_masked(value) for value in node]
    return node


def _no_frame_variables(event: dict) -> None:
    for container in (event.get("exception"), event.get("threads")):
        for value in (container or {}).get("values") or []:
            for frame in (value.get("stacktrace") or {}).get("frames") or []:
                frame.pop("vars", None)


def _no_sql_parameters(event: dict) -> None:
    """A statement's parameters are row values (buyers' texts): only its SQL is sent."""
    crumbs = (event.get("breadcrumbs") or {}).get("values") or []
    for item in [*crumbs, *(event.get("spans") or [])]:
        if isinstance(item.get("data"), dict):
            item["data"].pop(SQL_PARAMETERS, None)


def _request_outline(event: dict) -> None:
    request = event.get("request")
    if not isinstance(request, dict):
        return
    query = request.get("query_string")
    if isinstance(query, list):  # some integrations send pairs
        query = "&".join(f"{k}={v}" for k, v in query)
    names = [pair.split("=", 1)[0] for pair in (query or "").split("&") if pair]
    event["request"] = {
        "method": request.get("method"),
        "url": str(request.get("url") or "").split("?", 1)[0],
        "query_string": "&".join(f"{name}={FILTERED}" for name in names),
        "headers": {k: v for k, v in (request.get("headers") or {}).items() if k.lower() in SAFE_HEADERS},
    }


def _user_id_only(event: dict) -> None:
    user = event.pop("user", None)
    if isinstance(user, dict) and user.get("id") is not None:
        event["user"] = {"id": user["id"]}


def _job_without_arguments(event: dict) -> None:
    job = (event.get("extra") or {}).get("rq-job")
    if isinstance(job, dict):
        kept = {k: job[k] for k in KEPT_JOB_FIELDS if k in job}
        kept["description"] = job.get("func")  # RQ's description is the call with its arguments
        event["extra"]["rq-job"] = kept


# Sentry's own fields: names and versions that could look like an e-mail (chatcenter@1.2.rc).
STRUCTURE = frozenset({"event_id", "timestamp", "start_timestamp", "level", "platform", "release", "dist",
                       "environment", "server_name", "sdk", "type", "modules"})


def _masked_payload(event: dict) -> None:
    sampling = ((event.get("contexts") or {}).get("trace") or {}).get("dynamic_sampling_context") or {}
    own_key = _sentry_key is not None and sampling.get("public_key") == _sentry_key
    for key, value in event.items():
        if key not in STRUCTURE:
            event[key] = _masked(value)
    if own_key:
        # The SDK moves this context into the envelope's header, where Sentry reads the key to
        # find the project's sampling rules and rates: masked, the whole context is dropped.
        event["contexts"]["trace"]["dynamic_sampling_context"]["public_key"] = _sentry_key


EVENT_FILTERS: tuple[Callable[[dict], None], ...] = (
    _no_frame_variables, _no_sql_parameters, _request_outline, _user_id_only, _job_without_arguments, _masked_payload,
)


def _filtered(event: dict) -> dict | None:
    try:
        for event_filter in EVENT_FILTERS:
            event_filter(event)
        return event
    except Exception as exc:  # never send what could not be filtered
        log.warning("privacy filter failed (%s); sending a minimal event", type(exc).__name__)
        return _minimal(event)


def _minimal(event: dict) -> dict:
    """What is safe unfiltered: exception types and where they were raised, or a transaction's timing."""
    minimal = {k: event[k] for k in ("event_id", "timestamp", "level", "platform", "environment", "release",
                                     "transaction", "type", "start_timestamp") if k in event}
    minimal["tags"] = {"privacy_filter": "fallback"}
    if event.get("type") == "transaction":
        trace = (event.get("contexts") or {}).get("trace") or {}
        minimal["contexts"] = {"trace": {k: trace[k] for k in TIMING_FIELDS + ("status",) if k in trace}}
        minimal["spans"] = [{k: s[k] for k in TIMING_FIELDS if k in s} for s in event.get("spans") or []]
        return minimal
    frame_keys = ("filename", "function", "lineno", "module", "in_app")
    minimal["exception"] = {"values": [
        {"type": v.get("type"), "value": FILTERED,
         "stacktrace": {"frames": [{k: f[k] for k in frame_keys if k in f} for f in v["stacktrace"]["frames"]]}}
        for v in (event.get("exception") or {}).get("values", []) if isinstance(v.get("stacktrace"), dict)]}
    minimal["message"] = "privacy filter failed: event reduced"
    return minimal


def before_send(event: dict, hint: dict) -> dict | None:
    if event.get("type") == "check_in":  # a cron check-in carries no data of ours
        return event
    return _filtered(event)


def before_send_transaction(event: dict, hint: dict) -> dict | None:
    return _filtered(event)


def before_breadcrumb(crumb: dict, hint: dict) -> dict | None:
    if crumb.get("category") == "query":
        # One of our statements, with placeholders: masking each cost a request 0.3 ms.
        # Its parameters (recorded only if someone told the SDK to) never go.
        if SQL_PARAMETERS in (crumb.get("data") or {}):
            crumb = {**crumb, "data": {k: v for k, v in crumb["data"].items() if k != SQL_PARAMETERS}}
        return crumb
    try:
        return _masked(crumb)
    except Exception:
        return {k: crumb[k] for k in ("type", "category", "level", "timestamp") if k in crumb}
