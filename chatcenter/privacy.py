"""Keep secrets and buyers' personal data out of everything sent to Sentry.

sentry-sdk's own scrubber matches whole key names only and leaves messages, query strings,
RQ job descriptions and frame variables alone, so every event, transaction and breadcrumb
goes through the filters below before it leaves the process (see docs/privacy.md).

Public API
- before_send, before_send_transaction, before_breadcrumb: the sentry_sdk.init hooks.
- register_secret(value): process-wide (DeepSeek key, DSN key, each seller's WB token).
- register_personal(value), clear_personal(), personal_data_scope(): per context
  (contextvars), for the buyer data the current job or request handles.

Three rules, applied in one recursive walk:
1. keys: a "secret" key (token, password, auth, cookie, ...) has its value replaced
   anywhere; a "personal" key (email, clientName, text, ...) only inside payload data
   (request, user, extra, tags, contexts of our own, frame vars, breadcrumb/span data),
   never Sentry's own structure (logentry "message", sdk "name", ...);
2. value patterns: Bearer/Basic credentials, JWTs, sk- keys, e-mails, phone numbers,
   credentials in URLs, `secret_key=value` inside text, URL query parameters, and IPv4
   addresses within request and user data;
3. registered values: any occurrence of a registered secret or personal value.
"""
from __future__ import annotations

import contextlib
import contextvars
import functools
import json
import logging
import re
import string
import threading
from typing import Any, Callable, Iterator
from urllib.parse import unquote_plus

__all__ = [
    "FILTERED",
    "before_send",
    "before_send_transaction",
    "before_breadcrumb",
    "register_secret",
    "register_personal",
    "clear_personal",
    "personal_data_scope",
]

FILTERED = "[Filtered]"
MIN_VALUE_LENGTH = 4  # shorter registered values would mask half of every event
MAX_PERSONAL_VALUES = 2000  # bound for values left behind by failed jobs (see scope)

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------- key rules

_SECRET_PARTS = (
    "password", "passwd", "secret", "token", "apikey", "auth", "cookie", "session",
    "csrf", "dsn", "credential", "privatekey",
)
# Addresses of the client: secret wherever they stand (headers, env, data), also as WSGI
# environ names (HTTP_X_FORWARDED_FOR).
_IP_KEYS = frozenset({
    "ip", "ipaddress", "remoteaddr", "xforwardedfor", "xrealip", "forwarded", "clientip",
    "trueclientip", "cfconnectingip",
})
# Buyers' personal data, by this project's names (normalised: lower case, no - or _).
_PERSONAL_KEYS = frozenset({
    "name", "text", "content", "summary", "message", "messages", "messagetext",
    "suggestedreply", "replysign", "fio", "firstname", "lastname", "fullname", "username",
})
_PERSONAL_PARTS = ("email", "phone", "clientname", "buyername")

_PLAIN, _SECRET, _PERSONAL = 0, 1, 2


def _normalise(key: str) -> str:
    return key.lower().replace("-", "").replace("_", "")


@functools.lru_cache(maxsize=4096)
def _key_kind(key: str) -> int:
    norm = _normalise(key)
    if norm in _IP_KEYS or norm.removeprefix("http") in _IP_KEYS:
        return _SECRET
    if any(part in norm for part in _SECRET_PARTS):
        return _SECRET
    if norm in _PERSONAL_KEYS or any(part in norm for part in _PERSONAL_PARTS):
        return _PERSONAL
    return _PLAIN


def _is_count(key: str, value: Any) -> bool:
    # "gen_ai.usage.input_tokens": 812 is a count, not a credential.
    return type(value) in (int, float) and _normalise(key).endswith("tokens")


# ------------------------------------------------------------------- value patterns

_VALUE_RE = re.compile(
    r"""
      (?P<scheme>(?i:bearer|basic)\s+)[A-Za-z0-9._~+/=-]+          # keep the scheme word
    | (?<![\w-])eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*    # JWT (WB tokens)
    | (?<![\w-])sk-[A-Za-z0-9_-]{16,}                               # OpenAI-style keys
    | (?P<url>://)[^/\s:@'"]*:[^/\s@'"]*(?=@)                       # user:pass@ in URLs
    | [\w.%+-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}                     # e-mail
    | (?<![\w+.-])(?:\+7|8)[ -]?\(?\d{3}\)?[ -]?\d{3}[ -]?\d{2}[ -]?\d{2}(?![\w-])  # RU phone
    | (?<![\w+.-])\+\d{1,3}[ -]?\(?\d{1,4}\)?(?:[ -]?\d){6,10}(?![\w-])          # intl phone
    """,
    re.VERBOSE,
)

# `key=value` / `"key": "value"` inside text: messages, reprs in frame vars, SQL, logs.
# Generic personal names only as `name=` (reprs, call strings) or quoted before a colon,
# `'text': ` (dict reprs, e.g. where Sentry's depth limit turned a dict into its repr, JSON).
_INLINE_RE = re.compile(
    r"""(?ix)
    ( (?:password|passwd|secret|token|api[_-]?key|auth|cookie|session|csrf|dsn|credential
        |private[_-]?key|client[_-]?name|buyer[_-]?name|reply[_-]?sign|suggested[_-]?reply
        |message[_-]?text|e[_-]?mail|phone)[\w.-]*["']?\s*[=:]\s*
    | \b(?:name|text|content|summary|messages?)["']?\s*=\s*
    | (?<![\w-])["'](?:name|text|content|summary|messages?)["']\s*:\s*(?![{\[]) )
    ( \[Filtered\] | "(?:[^"\\]|\\.)*" | '(?:[^'\\]|\\.)*' | [^\s&,;)\]}'"]+ )
    """
)

_IPV4_RE = re.compile(
    r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\d.])"
)
_URL_QUERY_RE = re.compile(r"\?([^\s#\"'<>]+)")

# Non-ASCII text as a bytes repr shows it (b'\xd0\x9e...', a response body in a frame
# variable) or as JSON escapes it ("\u041e..."), with single or doubled backslashes.
_ESCAPED_RUN_RE = re.compile(r"(?:\\{1,2}x[89a-f][0-9a-f])+|(?:\\{1,2}u[0-9a-fA-F]{4})+")
_ESCAPE_CODE_RE = re.compile(r"[xu]([0-9a-fA-F]+)")


def _unescape_run(match: re.Match) -> str:
    """The run decoded, so registered values can match it; left alone if it is no text."""
    run = match.group()
    codes = _ESCAPE_CODE_RE.findall(run)
    try:
        if "x" in run[:3]:
            return bytes.fromhex("".join(codes)).decode("utf-8")
        return json.loads('"' + "".join("\\u" + code for code in codes) + '"')
    except ValueError:  # UnicodeDecodeError (cut in the middle of a character) included
        return run


def _value_repl(match: re.Match) -> str:
    return (match.group("scheme") or match.group("url") or "") + FILTERED


# ------------------------------------------------------------------------ registries

_secrets: frozenset[str] = frozenset()
_secrets_lock = threading.Lock()
_personal: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar(
    "chatcenter_privacy_personal", default=()
)


def _variants(value: Any) -> set[str]:
    """The value, plus its escaped form as repr() shows it in frame variables."""
    if value is None:
        return set()
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    if len(text) < MIN_VALUE_LENGTH:
        return set()
    return {text, repr(text)[1:-1]}


def register_secret(value: Any) -> None:
    """Mask `value` in every event of this process from now on (empty/short: ignored)."""
    global _secrets
    new = _variants(value)
    if not new or new <= _secrets:
        return
    with _secrets_lock:  # copy-on-write: readers never see a half-updated set
        _secrets = _secrets | new


def register_personal(value: Any) -> None:
    """Mask `value` in events of the current context (job, request) until cleared."""
    current = _personal.get()
    new = [v for v in _variants(value) if v not in current]
    if new:
        _personal.set((current + tuple(new))[-MAX_PERSONAL_VALUES:])


def clear_personal() -> None:
    """Forget the personal values of the current context (start of a job or request)."""
    _personal.set(())


@contextlib.contextmanager
def personal_data_scope() -> Iterator[None]:
    """Values registered inside are forgotten on a normal exit.

    On an exception they stay registered (until clear_personal() or an enclosing scope
    ends), because the error event about to be captured by Flask or RQ is built after
    this block has exited and must still be masked.
    """
    token = _personal.set(_personal.get())
    yield  # an exception raised here skips the reset below, on purpose
    _personal.reset(token)


class _Registry:
    """The registered values, compiled; hashed by identity. mask()'s memo looks one up for
    every string, and hashing a compiled regex hashes its whole program each time (57 µs
    with 200 chat texts registered: 40 ms an event)."""

    __slots__ = ("pattern",)

    def __init__(self, pattern: re.Pattern):
        self.pattern = pattern


@functools.lru_cache(maxsize=64)
def _compile_registered(secrets: frozenset[str], personal: tuple[str, ...]) -> _Registry | None:
    # Longest first, so a value containing another is masked whole.
    values = sorted(secrets.union(personal), key=len, reverse=True)
    return _Registry(re.compile("|".join(map(re.escape, values)))) if values else None


def _registered_pattern() -> _Registry | None:
    return _compile_registered(_secrets, _personal.get())


_TOKEN_CHARS = frozenset(string.ascii_letters + string.digits + "_-")


def _mask_registered(pattern: re.Pattern, text: str) -> str:
    """Mask each registered value together with the token around it.

    Widening matters when a registered value is part of a longer key or JWT: masking the
    bare value first would leave "sk-[Filtered]xyz", which no pattern recognises any more.
    """
    spans: list[list[int]] = []
    for match in pattern.finditer(text):
        start, end = match.span()
        while start > 0 and text[start - 1] in _TOKEN_CHARS:
            start -= 1
        while end < len(text) and text[end] in _TOKEN_CHARS:
            end += 1
        if spans and start <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([start, end])
    if not spans:
        return text
    pieces, last = [], 0
    for start, end in spans:
        pieces += [text[last:start], FILTERED]
        last = end
    return "".join(pieces) + text[last:]


# ---------------------------------------------------------------------------- walker

# Modes of the walk. PAYLOAD: personal keys apply. IP: IPv4 addresses are masked (user,
# request env and headers; not the server's own address in a URL). REQUEST: the request
# itself, whose "data" may be a raw body string.
_STRUCT, _PAYLOAD, _IP, _CONTEXTS, _TOP, _REQUEST = 0, 1, 2, 4, 8, 16
_ENTER_PAYLOAD = {
    "request": _PAYLOAD | _REQUEST, "user": _PAYLOAD | _IP, "extra": _PAYLOAD,
    "tags": _PAYLOAD, "vars": _PAYLOAD, "data": _PAYLOAD,
}
_IP_CONTAINERS = frozenset({"env", "headers"})
_SENTRY_CONTEXTS = frozenset({
    "trace", "runtime", "os", "device", "app", "browser", "culture", "gpu", "otel",
    "response", "cloud_resource", "state", "profile", "replay", "flags", "monitor",
})
# Top-level fields with no user data; masking could only garble them (release "app@1.0").
_KEEP_TOP = frozenset({
    "event_id", "timestamp", "start_timestamp", "release", "dist", "environment",
    "platform", "level", "type", "sdk", "modules", "debug_meta", "_meta",
})
_QUERY_KEYS = frozenset({"query_string", "QUERY_STRING", "http.query", "query"})
# Source lines of frames: code, not data. Patterns and registered values still apply (a
# hard-coded key), `name=...` rules do not: they would garble every call in the snippet.
_CODE_KEYS = frozenset({"pre_context", "context_line", "post_context"})
_PAIR_CONTAINERS = frozenset({"headers", "query_string", "cookies", "data", "env"})


def _child_mode(mode: int, key: Any) -> int:
    if mode & _PAYLOAD:
        if key in _IP_CONTAINERS:
            return (mode | _IP) & ~_REQUEST
        return mode if key == "data" else mode & ~_REQUEST
    if mode & _CONTEXTS:
        return _STRUCT if key in _SENTRY_CONTEXTS else _PAYLOAD
    if key == "contexts":
        return _CONTEXTS
    return _ENTER_PAYLOAD.get(key, _STRUCT)


class _Walker:
    """One walk over an event: returns scrubbed copies, leaves the input untouched."""

    def __init__(self, registered: _Registry | None):
        self.registered = registered

    def walk(self, value: Any, mode: int, key: Any = None) -> Any:
        if isinstance(value, str):
            return self.text(value, mode, key)
        if isinstance(value, dict):
            return self.mapping(value, mode)
        if isinstance(value, (list, tuple)):
            return self.sequence(value, mode, key)
        return value

    def hidden(self, key: Any, value: Any, mode: int) -> bool:
        if not isinstance(key, str) or value is None or value == "":
            return False
        kind = _key_kind(key)
        if kind == _SECRET:
            return not _is_count(key, value)
        return kind == _PERSONAL and bool(mode & _PAYLOAD)

    def mapping(self, data: dict, mode: int) -> dict:
        out = {}
        for key, value in data.items():
            if mode & _TOP and key in _KEEP_TOP:
                out[key] = value
                continue
            new_key = self.text(key, mode) if mode & _PAYLOAD and isinstance(key, str) else key
            if self.hidden(key, value, mode):
                out[new_key] = FILTERED
            else:
                out[new_key] = self.walk(value, _child_mode(mode, key), key)
        return out

    def sequence(self, items: list | tuple, mode: int, key: Any) -> list:
        if key in _PAIR_CONTAINERS:  # [["X-Api-Key", "..."], ["page", "2"]]
            return [self.pair(item, mode) for item in items]
        return [self.walk(item, mode, key) for item in items]

    def pair(self, item: Any, mode: int) -> Any:
        if isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[0], str):
            name, value = item
            masked = FILTERED if self.hidden(name, value, mode | _PAYLOAD) else self.walk(value, mode, name)
            return [name, masked]
        return self.walk(item, mode)

    def text(self, value: str, mode: int, key: Any = None) -> str:
        if key in _QUERY_KEYS:
            return self.query(value)
        if key == "data" and mode & _REQUEST:  # a raw request body
            return self.body(value)
        return self.mask(value, ip=bool(mode & _IP), inline=key not in _CODE_KEYS)

    def mask(self, value: str, ip: bool = False, inline: bool = True) -> str:
        if len(value) < MIN_VALUE_LENGTH:
            return value
        if len(value) > _MEMO_MAX_LEN:
            return self.mask_uncached(value, ip, inline)
        return _memo_mask(self.registered, value, ip, inline)

    def mask_uncached(self, value: str, ip: bool, inline: bool) -> str:
        if "\\x" in value or "\\u" in value:
            value = _ESCAPED_RUN_RE.sub(_unescape_run, value)
        if self.registered is not None:
            value = _mask_registered(self.registered.pattern, value)
        if "?" in value:
            value = _URL_QUERY_RE.sub(lambda m: "?" + self.query(m.group(1)), value)
        value = _VALUE_RE.sub(_value_repl, value)
        if inline:
            value = _INLINE_RE.sub(lambda m: m.group(1) + FILTERED, value)
        return _IPV4_RE.sub(FILTERED, value) if ip else value

    def query(self, query: str) -> str:
        return "&".join(self.query_param(part) for part in query.split("&"))

    def query_param(self, part: str) -> str:
        name, sep, value = part.partition("=")
        if not sep:
            return self.mask(part, ip=True)
        if self.hidden(unquote_plus(name), value, _PAYLOAD):
            return name + "=" + FILTERED
        decoded = unquote_plus(value)  # "ivan%40mail.ru" hides its "@" until decoded
        return part if self.mask(decoded, ip=True) == decoded else name + "=" + FILTERED

    def body(self, body: str) -> str:
        stripped = body.strip()
        if stripped[:1] in ("{", "["):
            try:
                parsed = json.loads(stripped)
            except ValueError:
                return self.mask(body, ip=True)
            return json.dumps(self.walk(parsed, _PAYLOAD | _IP), ensure_ascii=False)
        if "=" in stripped and not any(c.isspace() for c in stripped):  # form-encoded
            return self.query(stripped)
        return self.mask(body, ip=True)


_MEMO_MAX_LEN = 512


@functools.lru_cache(maxsize=8192)
def _memo_mask(registered: _Registry | None, value: str, ip: bool, inline: bool) -> str:
    # Most strings of an event (modules, paths, routes, span ops, SQL) recur in every
    # event; the regex passes over them were most of a transaction's filtering time.
    return _Walker(registered).mask_uncached(value, ip, inline)


def _scrub_tree(event: dict) -> dict:
    return _Walker(_registered_pattern()).walk(event, _TOP)


# ------------------------------------------------------------------ event filters


def _filter_rq_job(event: dict) -> dict:
    """RQ's description is the call string with its arguments: keep only the function."""
    extra = event.get("extra")
    job = extra.get("rq-job") if isinstance(extra, dict) else None
    if isinstance(job, dict):
        job.pop("args", None)
        job.pop("kwargs", None)
        if "description" in job:
            job["description"] = job.get("func") or FILTERED
    return event


def _filter_user(event: dict) -> dict:
    """The operator's id only: no e-mail, name or IP address."""
    if "user" not in event:
        return event
    user = event["user"]
    user_id = user.get("id") if isinstance(user, dict) else None
    if user_id in (None, ""):
        del event["user"]
    else:
        event["user"] = {"id": user_id}
    return event


def _filter_request_env(event: dict) -> dict:
    env = (event.get("request") or {}).get("env")
    if isinstance(env, dict):
        env.pop("REMOTE_ADDR", None)
    return event


# Order matters: the structural filters first, then the walk masks whatever is left.
EVENT_FILTERS: tuple[Callable[[dict], dict], ...] = (
    _filter_rq_job,
    _filter_user,
    _filter_request_env,
    _scrub_tree,
)


# -------------------------------------------------------------------- safe fallback

_FRAME_KEYS = ("filename", "abs_path", "module", "function", "lineno", "colno", "in_app")
_SAFE_TOP = ("event_id", "timestamp", "start_timestamp", "type", "level", "platform",
             "release", "environment", "dist", "logger", "sdk")
_SAFE_SPAN = ("span_id", "parent_span_id", "trace_id", "op", "status", "start_timestamp",
              "timestamp", "same_process_as_parent")


def _minimal_exception(exc: dict) -> dict:
    frames = ((exc.get("stacktrace") or {}).get("frames")) or []
    mechanism = exc.get("mechanism") or {}
    return {
        "type": str(exc.get("type", "Error")),
        "module": exc.get("module"),
        "value": FILTERED,
        "mechanism": {"type": mechanism.get("type", "generic"), "handled": mechanism.get("handled")},
        "stacktrace": {"frames": [{k: f[k] for k in _FRAME_KEYS if k in f} for f in frames]},
    }


def _minimal_event(event: dict) -> dict:
    """What is sent when the filter chain itself fails: stack and types, no values.

    sentry-sdk drops an event whose before_send raises, and we would rather know about
    the error than lose it; but the half-filtered event cannot be trusted, so only fields
    that never hold user data are copied.
    """
    safe: dict = {k: event[k] for k in _SAFE_TOP if k in event}
    safe["tags"] = {"privacy_filter": "fallback"}
    exceptions = (event.get("exception") or {}).get("values") or []
    if exceptions:
        safe["exception"] = {"values": [_minimal_exception(e) for e in exceptions]}
    else:
        safe["message"] = "event replaced: privacy filter failed"
    if event.get("type") == "transaction":
        trace = (event.get("contexts") or {}).get("trace") or {}
        safe["contexts"] = {"trace": {k: trace[k] for k in _SAFE_SPAN if k in trace}}
        safe["spans"] = [{k: s[k] for k in _SAFE_SPAN if k in s} for s in event.get("spans") or []]
        safe["transaction"] = "<filtered>"
    return safe


def _fallback(event: Any, exc: BaseException) -> dict:
    # Only the exception type is logged: its message could hold the very data we hide.
    log.warning("privacy filter failed (%s); sending a minimal event", type(exc).__name__)
    try:
        return _minimal_event(event)
    except Exception:
        kind = event.get("type") if isinstance(event, dict) else None
        return {"level": "error", "message": "event replaced: privacy filter failed",
                "tags": {"privacy_filter": "fallback"}, **({"type": kind} if kind else {})}


def _run_chain(event: dict) -> dict:
    original = event
    try:
        for step in EVENT_FILTERS:
            event = step(event)
        return event
    except Exception as exc:  # never drop, never leak: see _minimal_event
        return _fallback(original, exc)


# ---------------------------------------------------------------------------- hooks


def before_send(event: dict, hint: dict) -> dict:
    """sentry_sdk before_send: errors are scrubbed; cron check-ins pass untouched."""
    if event.get("type") == "check_in":  # a check-in holds no user data; altering it breaks Crons
        return event
    return _run_chain(event)


def before_send_transaction(event: dict, hint: dict) -> dict:
    """sentry_sdk before_send_transaction: spans' descriptions and data are scrubbed too."""
    return _run_chain(event)


def before_breadcrumb(crumb: dict, hint: dict) -> dict:
    """sentry_sdk before_breadcrumb: message and data scrubbed as soon as recorded.

    If this hook raised, sentry-sdk would keep the crumb unfiltered; so errors yield a
    crumb with its category and level only.
    """
    try:
        return _scrub_tree(crumb)
    except Exception as exc:
        log.warning("breadcrumb filter failed (%s)", type(exc).__name__)
        safe = {k: crumb[k] for k in ("type", "category", "level", "timestamp")
                if isinstance(crumb, dict) and k in crumb}
        return {**safe, "message": FILTERED}
