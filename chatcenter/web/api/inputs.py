"""What the API's requests may hold, declared once as pydantic models: spectree validates
each request against its route's models and documents them in /api/openapi.json.

Strict: a query parameter or body field that a route does not declare is refused, and so is
a value in any other form than the documented one ("+5", "1.0", "yes" are not numbers or
booleans). Every refusal is a 400 whose detail starts with the name at fault.
"""
from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from flask import request
from werkzeug.datastructures import FileStorage
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator
from pydantic.fields import FieldInfo

from chatcenter.actions import IDEMPOTENCY_KEY_MAX
from chatcenter.chat_status import STATUSES
from chatcenter.wb_events import MESSAGE_MAX
from chatcenter.attachments import FILE_MAX, FILES_MAX, FILES_TOTAL_MAX, MB
from chatcenter.contract import ID_MAX
from chatcenter.errors import BadInput
from chatcenter.notes import NOTE_MAX
from chatcenter.prompt import CATEGORIES, SENTIMENTS, URGENCIES
from chatcenter.queries import MAX_LIMIT, ORDERS, UNASSIGNED
from chatcenter.search import SEARCH_MAX
from chatcenter.queues import QUEUE_NAMES

BODY_MAX = 64 * 1024  # bytes: a reply is at most 1000 characters
# A reply's files (30 MB in all) and its text and part headers.
FILES_BODY_MAX = FILES_TOTAL_MAX + MB
FILE_ENDPOINTS = {"api.chats.reply"}
DEFAULT_LIMIT = 50
CURSOR_MAX = 500
_DIGITS = re.compile(r"[0-9]{1,10}")
REPEATABLE = ("status",)  # query parameters that may be given more than once


def text_pattern(longest: int) -> str:
    """1 to `longest` characters once leading and trailing white space is trimmed, no NUL
    (the actions check it; the pattern tells clients and fuzzers)."""
    return r"^\s*[^\s\u0000](?:[^\u0000]{0,%d}[^\s\u0000])?\s*$" % (longest - 2)


REPLY_TEXT_PATTERN = text_pattern(MESSAGE_MAX)


def _whole_number(raw: Any) -> Any:
    """Query values are text: digits only (no sign, space, point or exponent)."""
    if isinstance(raw, str):
        if not _DIGITS.fullmatch(raw):
            raise ValueError("not a whole number")
        return int(raw)
    return raw


def _true_or_false(raw: Any) -> Any:
    if isinstance(raw, str):
        if raw not in ("true", "false"):
            raise ValueError("not true or false")
        return raw == "true"
    return raw


def whole_number(low: int, high: int, description: str):
    # The bounds before the validator: in that order pydantic puts them in the JSON Schema too.
    return Annotated[int, Field(ge=low, le=high, description=description), BeforeValidator(_whole_number)]


Flag = Annotated[bool, BeforeValidator(_true_or_false)]


def _listed(raw: Any) -> Any:
    """A parameter given more than once, or as comma-separated values: one list."""
    values = raw if isinstance(raw, list) else [raw]
    if not all(isinstance(v, str) for v in values):
        return raw
    return [part for value in values for part in value.split(",")]


def _operator_or_none(raw: Any) -> Any:
    return raw if raw == UNASSIGNED else _whole_number(raw)


class Request(BaseModel):
    """A part of a request; `kind` names its members in error details."""

    model_config = ConfigDict(extra="forbid")
    kind: ClassVar[str] = "query parameter of this route"


class NoQuery(Request):
    """No query parameters."""


class ChatListQuery(Request):
    seller_id: whole_number(1, ID_MAX, "only this seller's chats") = None
    awaiting_reply: Annotated[Flag, Field(description="true: only chats whose buyer waits for an answer")] = None
    sentiment: Annotated[Literal[SENTIMENTS], Field(description="of the latest analysis")] = None
    urgency: Annotated[Literal[URGENCIES], Field(description="of the latest analysis")] = None
    category: Annotated[Literal[CATEGORIES], Field(description="of the latest analysis")] = None
    # The length is checked by ChatFilter, whose refusal does not echo the words (a buyer's name).
    q: Annotated[str, Field(json_schema_extra={"maxLength": SEARCH_MAX}, description=(
        "words to find in the buyer's name or a message's text (plain words: quotes, *, -, OR are "
        "not operators); results come best match first: name matches, then message matches, each "
        "newest activity first; blank: no search. Not with order=queue"))] = None
    status: Annotated[list[Literal[STATUSES]], Field(
        min_length=1, max_length=len(STATUSES),
        description="only chats in these statuses: repeat the parameter or separate by commas "
                    "(status=open,snoozed); a snooze past its time counts as open"), BeforeValidator(_listed)] = None
    assignee_id: Annotated[Annotated[int, Field(ge=1, le=ID_MAX)] | Literal[UNASSIGNED], Field(
        description=f"an operator's id (their chats only), or `{UNASSIGNED}` (the chats nobody is assigned to)"),
        BeforeValidator(_operator_or_none)] = None
    order: Annotated[Literal[ORDERS], Field(
        description="activity: newest activity first; queue: awaiting a reply first (high urgency, longest "
                    "wait), then the rest by activity")] = "activity"
    limit: whole_number(1, MAX_LIMIT, "chats per page") = DEFAULT_LIMIT
    cursor: Annotated[str, Field(min_length=1, max_length=CURSOR_MAX,
                                 description="the previous page's next_cursor (same filters, q and order)")] = None


class ChatQuery(Request):
    limit: whole_number(1, MAX_LIMIT, "messages per page (the newest ones)") = DEFAULT_LIMIT
    before: whole_number(1, ID_MAX, "the previous page's messages_before: the messages older than it") = None


class Body(Request):
    kind: ClassVar[str] = "field of this request"


class NoBody(Body):
    """No parameters: send no body, or {}."""


class ReplyBody(Body):
    text: Annotated[str, Field(strict=True, json_schema_extra={"pattern": REPLY_TEXT_PATTERN},
                               description=f"1 to {MESSAGE_MAX} characters after trimming; no NUL characters")]


TEMPLATE_NAME = Annotated[str, Field(strict=True, min_length=1, max_length=100,
                                      description="1 to 100 characters; unique in the team")]
TEMPLATE_TEXT = Annotated[str, Field(strict=True, min_length=1, max_length=MESSAGE_MAX, description=(
    f"1 to {MESSAGE_MAX} characters; placeholders {{buyer_name}} and {{nm_id}}, any other {{word}} is refused"))]


class TemplateBody(Body):
    name: TEMPLATE_NAME
    text: TEMPLATE_TEXT


class TemplateChange(Body):
    name: TEMPLATE_NAME = None
    text: TEMPLATE_TEXT = None


def _as_list(raw: Any) -> Any:
    """One `file` part arrives alone, several as a list."""
    return raw if isinstance(raw, list) else [raw]


class FilePart(str):
    """A multipart file part as the models see it: its file name (what a refusal may show
    and spectree can write as JSON), with the part itself in `storage`."""

    storage: FileStorage

    @classmethod
    def of(cls, storage: FileStorage) -> "FilePart":
        part = cls(storage.filename or "")
        part.storage = storage
        return part


def _file_parts(data: Any) -> Any:
    if not isinstance(data, dict):
        return data
    wrap = lambda v: FilePart.of(v) if isinstance(v, FileStorage) else v  # noqa: E731
    return {name: [wrap(v) for v in value] if isinstance(value, list) else wrap(value)
            for name, value in data.items()}


class ReplyForm(Body):
    """A reply with files, as multipart/form-data (JSON stays for a text alone)."""

    _parts = model_validator(mode="before")(_file_parts)

    text: Annotated[str, Field(strict=True, json_schema_extra={"pattern": REPLY_TEXT_PATTERN},
                               description=f"1 to {MESSAGE_MAX} characters after trimming; no NUL characters")]
    file: Annotated[list[Any], BeforeValidator(_as_list), Field(
        max_length=FILES_MAX, json_schema_extra={"items": {"type": "string", "format": "binary"}},
        description=f"a JPEG, PNG or PDF file (judged by its content), at most {FILE_MAX // MB} MB; repeat the "
                    f"field for up to {FILES_MAX} files, {FILES_TOTAL_MAX // MB} MB in all")] = []


def _moment_text(raw: Any) -> Any:
    if not isinstance(raw, str):
        raise ValueError("not an ISO 8601 date-time string")
    return _moment(raw)


class ChatChangeBody(Body):
    """Any of the fields (at least one); the others stay as they are."""
    model_config = ConfigDict(extra="forbid", json_schema_extra={"minProperties": 1})
    status: Annotated[Literal[STATUSES], Field(description="snoozed needs snoozed_until")] = None
    snoozed_until: Annotated[datetime, Field(
        description="when the snoozed chat opens again by itself (with status snoozed only): ISO 8601 with its "
                    "offset, in the future", json_schema_extra={"format": "date-time"}),
        BeforeValidator(_moment_text)] = None
    assignee_id: Annotated[Annotated[int, Field(ge=1, le=ID_MAX, strict=True)] | None, Field(
        description="an active operator's id, or null (nobody)")] = None


class NoteBody(Body):
    text: Annotated[str, Field(strict=True, json_schema_extra={"pattern": text_pattern(NOTE_MAX)},
                               description=f"1 to {NOTE_MAX} characters after trimming; no NUL characters")]


class ReplyHeaders(BaseModel):
    model_config = ConfigDict(extra="ignore")  # every other header is the client's business
    kind: ClassVar[str] = "header"
    idempotency_key: Annotated[str, Field(
        alias="Idempotency-Key", json_schema_extra={"pattern": r"^[\x21-\x7e]{1,%d}$" % IDEMPOTENCY_KEY_MAX},
        description=f"1 to {IDEMPOTENCY_KEY_MAX} visible ASCII characters, e.g. a UUID; the same key (from "
                    "the same API key) within 24 h names the same reply")] = None


# ---------------------------------------------------------------------------- refusals

def limit_body() -> None:
    """Cap this request's body at BODY_MAX, or FILES_BODY_MAX for a reply with files (or
    the app's smaller MAX_CONTENT_LENGTH)."""
    cap = FILES_BODY_MAX if takes_files() else BODY_MAX
    request.max_content_length = min(request.max_content_length or cap, cap)


def takes_files() -> bool:
    """A multipart request to the one route that takes files (a reply)."""
    return request.mimetype == "multipart/form-data" and request.endpoint in FILE_ENDPOINTS


def require_json_object_body() -> None:
    """A body, if any, must be one JSON object, whatever the Content-Type says (the models then
    check its fields). Parsed here because spectree reads a body that is not JSON as none."""
    raw = request.get_data(cache=True)  # 413 past the limit (see limit_body), before any parsing
    if not raw.strip():
        return
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: [[[[... nested past the stack
        raise BadInput("body", "is not valid JSON (send Content-Type: application/json "
                               "and a JSON object)") from None
    if not isinstance(data, dict):
        raise BadInput("body", f"must be a JSON object, got {type(data).__name__}")
    if not request.is_json:
        raise BadInput("Content-Type", "must be application/json for a JSON body")


def refuse_repeats() -> None:
    for name in request.args:
        if name not in REPEATABLE and len(request.args.getlist(name)) > 1:
            raise BadInput(name or "(empty name)", "was given more than once")


def refusal(error: ValidationError, models: dict[str, type[BaseModel]]) -> BadInput:
    """The first thing pydantic found wrong, as a 400 naming it."""
    model = models.get(error.title)
    first = error.errors(include_url=False)[0]
    name = str(first["loc"][0]) if first["loc"] else "body"
    kind = getattr(model, "kind", "field")
    if first["type"] == "extra_forbidden":
        known = ", ".join(_names(model)) or "none"
        return BadInput(name or "(empty name)", f"is not a {kind} (it takes: {known})")
    if first["type"] == "missing":
        return BadInput(name, "is required")
    if first["type"] == "string_type":
        return BadInput(name, "must be a string")
    info = _field(model, name)
    rule = _rule(info) if info is not None else first["msg"]
    return BadInput(name, f"must be {rule}, got {_shown(first.get('input'))}")


def _names(model: type[BaseModel] | None) -> list[str]:
    if model is None:
        return []
    return [info.alias or name for name, info in model.model_fields.items()]


def _field(model: type[BaseModel] | None, name: str) -> FieldInfo | None:
    if model is None:
        return None
    return next((info for key, info in model.model_fields.items() if name in (key, info.alias)), None)


def _rule(info: FieldInfo) -> str:
    """What a field takes, in words, from its declaration."""
    bounds = {type(m).__name__: m for m in info.metadata}
    kind = info.annotation
    if getattr(kind, "__origin__", None) is list:  # a repeatable parameter: its values' rule
        choices = getattr(kind.__args__[0], "__args__", ())
        return f"one or more of {', '.join(choices)}"
    if (info.json_schema_extra or {}).get("format") == "date-time":
        return "an ISO 8601 date-time with its offset, e.g. 2026-12-01T09:00:00Z"
    if kind is int:
        return f"a whole number from {bounds['Ge'].ge} to {bounds['Le'].le}"
    if kind is bool:
        return "true or false"
    choices = getattr(kind, "__args__", ())
    if choices and all(isinstance(c, str) for c in choices):
        return f"one of {', '.join(choices)}"
    low, high = bounds.get("MinLen"), bounds.get("MaxLen")
    if low is not None and high is not None:
        return f"{low.min_length} to {high.max_length} characters"
    return info.description or "valid"


def _shown(raw: Any, limit: int = 40) -> str:
    """An input value echoed in an error detail: shortened, never a wall of text."""
    if isinstance(raw, list):
        return "more than one value"
    text = raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False, default=str)
    short = text if len(text) <= limit else text[:limit] + "…"
    return json.dumps(short, ensure_ascii=False)


class JobListQuery(Request):
    state: Annotated[Literal["queued", "scheduled", "started", "failed"], Field(
        description="scheduled: waiting for a retry")] = "failed"
    queue: Annotated[Literal[QUEUE_NAMES], Field(description="one queue only")] = None
    limit: whole_number(1, MAX_LIMIT, "jobs per page") = DEFAULT_LIMIT
    cursor: Annotated[str, Field(min_length=1, max_length=CURSOR_MAX,
                                 description="the previous page's next_cursor (same state and queue)")] = None


# ISO 8601 / RFC 3339 with its offset: pydantic alone would also take "0.5" as a Unix time.
_MOMENT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})")


def _moment(raw: Any) -> Any:
    if isinstance(raw, str):
        if not _MOMENT.fullmatch(raw):
            raise ValueError("not an ISO 8601 date-time with its offset, e.g. 2026-12-01T00:00:00Z")
        return datetime.fromisoformat(raw)
    return raw


Moment = Annotated[datetime, Field(description="ISO 8601 with its offset, e.g. 2026-12-01T00:00:00Z",
                                   json_schema_extra={"format": "date-time"}), BeforeValidator(_moment)]


class ReportQuery(Request):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    from_: Annotated[Moment, Field(alias="from", description="start of the period (default: 7 days before to)")] = None
    to: Annotated[Moment, Field(description="end of the period, not included (default: now)")] = None
    seller_id: whole_number(1, ID_MAX, "only this seller") = None
