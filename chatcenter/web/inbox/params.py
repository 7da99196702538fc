"""Reading the inbox's address parameters strictly: an id or a number outside what the
database can hold, a digit that only Unicode calls one ("²"), or a link target with a
line break is a 400 or 404 page, never a query that fails with a 500."""
from __future__ import annotations

import re

from flask import abort, request
from flask_babel import gettext as _

from chatcenter.errors import BadInput
from chatcenter.queries import KEY_INT_MAX

# ASCII digits only: str.isdigit() accepts "²", which int() then refuses.
_WHOLE_NUMBER = re.compile(r"[0-9]{1,10}")


def whole_number(raw: str, name: str) -> int | None:
    """An id-sized whole number (1 to KEY_INT_MAX), None when empty; BadInput otherwise."""
    raw = raw.strip()
    if not raw:
        return None
    if not _WHOLE_NUMBER.fullmatch(raw) or not 1 <= int(raw) <= KEY_INT_MAX:
        raise BadInput(name, f"must be a whole number from 1 to {KEY_INT_MAX}")
    return int(raw)


def refuse_impossible_ids() -> None:
    """A path id (`/chats/<int:chat_id>`) past the database's integer range names nothing:
    404, as for any id that does not exist, before a query would overflow."""
    for value in (request.view_args or {}).values():
        if isinstance(value, int) and not isinstance(value, bool) and value > KEY_INT_MAX:
            abort(404, _("There is no such page."))


def has_control_characters(text: str) -> bool:
    """A CR or LF in a redirect target would split the Location header (a 500 from Werkzeug)."""
    return any(ord(char) < 32 or ord(char) == 127 for char in text)
