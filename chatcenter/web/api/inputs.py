"""Reading the API's input strictly: every query parameter, header and body field is
checked, and anything wrong or unknown is a 400 whose detail starts with its name.

Parsers raise actions.InvalidInput(field, message); the API answers it as 400.
"""
from __future__ import annotations

import json
import re
from typing import Any, Callable

from flask import request

from chatcenter.actions import InvalidInput
from chatcenter.queries import KEY_INT_MAX

ID_MAX = KEY_INT_MAX  # ids are 32-bit integers in PostgreSQL: a larger one cannot exist
BODY_MAX = 64 * 1024  # bytes: a reply is at most 1000 characters
_DIGITS = re.compile(r"[0-9]{1,10}")

Parser = Callable[[str, str], Any]


def limit_body() -> None:
    """Cap this request's body at BODY_MAX (or the app's smaller MAX_CONTENT_LENGTH)."""
    request.max_content_length = min(request.max_content_length or BODY_MAX, BODY_MAX)


def whole_number(low: int, high: int) -> Parser:
    def parse(name: str, raw: str) -> int:
        if not _DIGITS.fullmatch(raw) or not low <= int(raw) <= high:
            raise InvalidInput(name, f"must be a whole number from {low} to {high}, got {_shown(raw)}")
        return int(raw)

    return parse


identifier = whole_number(1, ID_MAX)


def boolean(name: str, raw: str) -> bool:
    if raw not in ("true", "false"):
        raise InvalidInput(name, f"must be true or false, got {_shown(raw)}")
    return raw == "true"


def one_of(choices: tuple[str, ...]) -> Parser:
    def parse(name: str, raw: str) -> str:
        if raw not in choices:
            raise InvalidInput(name, f"must be one of {', '.join(choices)}, got {_shown(raw)}")
        return raw

    return parse


def token(max_length: int) -> Parser:
    """An opaque value such as a cursor: non-empty and not absurdly long."""
    def parse(name: str, raw: str) -> str:
        if not 1 <= len(raw) <= max_length:
            raise InvalidInput(name, f"must be 1 to {max_length} characters")
        return raw

    return parse


def query(**spec: Parser) -> dict[str, Any]:
    """The query parameters `spec` names, parsed; any other parameter is an error."""
    for name in request.args:
        if name not in spec:
            known = ", ".join(spec) if spec else "none"
            raise InvalidInput(name or "(empty name)", f"is not a query parameter of this route (it takes: {known})")
    values = {}
    for name, parse in spec.items():
        given = request.args.getlist(name)
        if len(given) > 1:
            raise InvalidInput(name, "was given more than once")
        if given:
            values[name] = parse(name, given[0])
    return values


def json_object(*, allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> dict[str, Any]:
    """The request body as a JSON object with only `allowed` fields and every `required` one.

    An empty body counts as {} (so POSTs without parameters need no body at all).
    """
    raw = request.get_data(cache=True)  # 413 past the limit (see limit_body), before any parsing
    if raw.strip():
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):  # RecursionError: [[[[... nested past the stack
            raise InvalidInput("body", "is not valid JSON (send Content-Type: application/json "
                                       "and a JSON object)") from None
    else:
        data = {}
    if not isinstance(data, dict):
        raise InvalidInput("body", f"must be a JSON object, got {type(data).__name__}")
    for name in data:
        if name not in allowed:
            known = ", ".join(allowed) if allowed else "none"
            raise InvalidInput(_shown(name, quoted=False), f"is not a field of this request (it takes: {known})")
    for name in required:
        if name not in data:
            raise InvalidInput(name, "is required")
    return data


def _shown(raw: str, quoted: bool = True, limit: int = 40) -> str:
    """An input value echoed in an error detail: shortened, never a wall of text."""
    short = raw if len(raw) <= limit else raw[:limit] + "…"
    return json.dumps(short, ensure_ascii=False) if quoted else short
